// Dynamic batching through the real CLI, with test/fixtures/batching-models: concurrent
// single-row requests run as batches, each client gets its own rows back, and
// ModelStatistics counts executions, rows and batch sizes as Triton does.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { InferParameter, ModelInferRequest, ModelInferResponse, ModelStatistics } from '../../generated/grpc_service.js';
import { call, PROJECT_ROOT, startCli, tempRepository, type RunningCli } from '../helpers/server.js';

const FIXTURES = join(PROJECT_ROOT, 'test', 'fixtures', 'batching-models');
const fixture = (path: string) => readFileSync(join(FIXTURES, path), 'utf8');
const RECORDER_SOURCE = fixture('batch_recorder/1/model.ts');
const REEXPORT = fixture('batch_recorder_workers/1/model.ts');

/** batch_recorder's config under another name, with a bounded queue and slow executions. */
const BOUNDED_CONFIG = fixture('batch_recorder/config.pbtxt')
  .replace('name: "batch_recorder"', 'name: "batch_bounded"')
  .replace(
    'dynamic_batching { max_queue_delay_microseconds: 20000 }',
    'dynamic_batching { preferred_batch_size: [ 4 ] max_queue_delay_microseconds: 20000 default_queue_policy { max_queue_size: 4 } }',
  )
  .replace('max_batch_size: 8', 'max_batch_size: 4')
  .replace('string_value: "5"', 'string_value: "400"');

function lengthPrefixed(text: string): Buffer {
  const body = Buffer.from(text);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(body.length);
  return Buffer.concat([length, body]);
}

/** One row: INPUT0 = [4k, 4k+1, 4k+2, 4k+3], TAG = "client-<k>". */
function request(model: string, k: number, parameters: Record<string, InferParameter> = {}): ModelInferRequest {
  return {
    modelName: model,
    modelVersion: '',
    id: `client-${k}`,
    parameters: new Map(Object.entries(parameters)),
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1n, 4n], parameters: new Map(), contents: undefined },
      { name: 'TAG', datatype: 'BYTES', shape: [1n, 1n], parameters: new Map(), contents: undefined },
    ],
    outputs: [],
    rawInputContents: [Buffer.from(new Int32Array([4 * k, 4 * k + 1, 4 * k + 2, 4 * k + 3]).buffer), lengthPrefixed(`client-${k}`)],
  };
}

function int32Output(response: ModelInferResponse, name: string): number[] {
  const at = response.outputs.findIndex((o) => o.name === name);
  assert.ok(at >= 0, `output ${name} missing`);
  const raw = response.rawOutputContents[at] as Buffer;
  return [...new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))];
}

function bytesOutput(response: ModelInferResponse, name: string): string {
  const at = response.outputs.findIndex((o) => o.name === name);
  const raw = response.rawOutputContents[at] as Buffer;
  assert.equal(raw.readUInt32LE(0), raw.length - 4, 'one element');
  return raw.subarray(4).toString();
}

interface Execution {
  readonly size: number;
  readonly thread: number;
  /** Clients whose row ran in it. */
  readonly clients: number[];
}

/**
 * Sends `count` single-row requests at once, checks every client got its own row back, and
 * regroups the rows into the predict() calls that computed them (BATCH = [size, thread, call]).
 */
async function burst(cli: RunningCli, model: string, first: number, count: number): Promise<Map<string, Execution>> {
  const clients = Array.from({ length: count }, (_, i) => first + i);
  const responses = await Promise.all(clients.map((k) => call(cli.client, cli.client.modelInfer, request(model, k))));
  const executions = new Map<string, Execution>();
  for (const [i, response] of responses.entries()) {
    const k = clients[i] as number;
    assert.equal(response.id, `client-${k}`);
    assert.deepEqual(int32Output(response, 'OUTPUT0'), [0, 1, 2, 3].map((j) => 2 * (4 * k + j) + 1), `client ${k} got its own OUTPUT0`);
    assert.equal(bytesOutput(response, 'ECHO'), `echo:client-${k}`, `client ${k} got its own ECHO`);
    const [size, thread, number] = int32Output(response, 'BATCH') as [number, number, number];
    const key = `${thread}/${number}`;
    const execution = executions.get(key) ?? { size, thread, clients: [] };
    assert.equal(execution.size, size, `every row of execution ${key} reports one size`);
    execution.clients.push(k);
    executions.set(key, execution);
  }
  return executions;
}

function histogram(sizes: Iterable<number>): Map<number, number> {
  const counts = new Map<number, number>();
  for (const size of sizes) counts.set(size, (counts.get(size) ?? 0) + 1);
  return counts;
}

describe('dynamic batching', () => {
  let cli: RunningCli;
  const repo = tempRepository({
    batch_recorder: { config: fixture('batch_recorder/config.pbtxt'), versions: { '1': RECORDER_SOURCE } },
    batch_recorder_workers: { config: fixture('batch_recorder_workers/config.pbtxt'), versions: { '1': REEXPORT } },
    batch_bounded: { config: BOUNDED_CONFIG, versions: { '1': REEXPORT } },
  });
  const statistics = async (name: string): Promise<ModelStatistics> => {
    const { modelStats } = await call(cli.client, cli.client.modelStatistics, { name, version: '' });
    assert.equal(modelStats.length, 1);
    return modelStats[0] as ModelStatistics;
  };

  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`]);
    for (const model of ['batch_recorder', 'batch_recorder_workers', 'batch_bounded']) {
      await cli.waitForLog((l) => l['model'] === model && l['msg'] === 'model loaded');
    }
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  for (const [model, instances] of [
    ['batch_recorder', 'one in-process instance'],
    ['batch_recorder_workers', 'two worker instances'],
  ] as const) {
    test(`dynamic batching - ${instances}: 64 concurrent single-row requests run in batches, each client gets its own row, statistics agree`, async (t) => {
      const before = await statistics(model);
      const executions = new Map<string, Execution>();
      const rounds = 3;
      for (let round = 0; round < rounds; round++) {
        for (const [key, execution] of await burst(cli, model, round * 64, 64)) executions.set(key, execution);
      }
      const sizes = [...executions.values()].map((e) => e.size);
      t.diagnostic(`batch sizes: ${[...histogram(sizes)].sort((a, b) => a[0] - b[0]).map(([size, n]) => `${n}×${size}`).join(' ')}`);
      for (const [key, execution] of executions) {
        assert.equal(execution.clients.length, execution.size, `execution ${key} of ${execution.size} rows answered exactly that many clients`);
        assert.ok(execution.size <= 8, `execution ${key} has ${execution.size} rows, above max_batch_size`);
      }
      assert.ok(sizes.some((size) => size > 1), `batch sizes ${sizes.join(',')}`);
      assert.ok(executions.size < rounds * 64);
      const threads = new Set([...executions.values()].map((e) => e.thread));
      if (model === 'batch_recorder_workers') {
        assert.equal(threads.size, 2, 'batches went to both instances');
        assert.ok(!threads.has(0), 'none ran on the main thread');
      } else {
        assert.deepEqual([...threads], [0]);
      }

      const after = await statistics(model);
      const executed = after.executionCount - before.executionCount;
      const rows = after.inferenceCount - before.inferenceCount;
      assert.equal(rows, BigInt(rounds * 64), 'inference_count counts rows');
      assert.equal(executed, BigInt(executions.size), 'execution_count counts predict() calls');
      assert.ok(executed < rows);
      assert.equal(after.inferenceStats!.success!.count - before.inferenceStats!.success!.count, BigInt(rounds * 64), 'one success per request');
      const batchCount = (stats: ModelStatistics, size: number) =>
        stats.batchStats.find((b) => Number(b.batchSize) === size)?.computeInfer?.count ?? 0n;
      const expected = histogram(sizes);
      for (const b of after.batchStats) {
        const size = Number(b.batchSize);
        assert.equal(batchCount(after, size) - batchCount(before, size), BigInt(expected.get(size) ?? 0), `batch_stats for size ${size}`);
      }
      for (const size of expected.keys()) assert.ok(after.batchStats.some((b) => Number(b.batchSize) === size), `batch_stats has size ${size}`);
    });
  }

  test('dynamic batching - a lone request waits max_queue_delay for others, and the wait is queue time', async () => {
    const before = await statistics('batch_recorder');
    const started = Date.now();
    const executions = await burst(cli, 'batch_recorder', 1000, 1);
    const waited = Date.now() - started;
    assert.deepEqual([...executions.values()].map((e) => e.size), [1]);
    assert.ok(waited >= 20, `answered after ${waited} ms, max_queue_delay is 20 ms (+ 5 ms execution)`);
    const after = await statistics('batch_recorder');
    const queueNs = after.inferenceStats!.queue!.ns - before.inferenceStats!.queue!.ns;
    const inferNs = after.inferenceStats!.computeInfer!.ns - before.inferenceStats!.computeInfer!.ns;
    assert.ok(queueNs >= 15_000_000n, `queue ${queueNs} ns`);
    assert.ok(inferNs >= 4_000_000n && inferNs < queueNs, `compute_infer ${inferNs} ns`);
  });

  test('dynamic batching - a request whose timeout expires while queued is DEADLINE_EXCEEDED and never computed', async () => {
    const before = await statistics('batch_recorder');
    await assert.rejects(call(cli.client, cli.client.modelInfer, request('batch_recorder', 2000, { timeout: { int64Param: 5000n } })), (err: ServiceError) => {
      assert.equal(err.code, status.DEADLINE_EXCEEDED, err.details);
      return true;
    });
    // Past the 20 ms delay: had it stayed in the queue, it would have run by now.
    await new Promise((resolve) => setTimeout(resolve, 60));
    const after = await statistics('batch_recorder');
    assert.equal(after.executionCount, before.executionCount);
    assert.equal(after.inferenceCount, before.inferenceCount);
    assert.equal(after.inferenceStats!.fail!.count - before.inferenceStats!.fail!.count, 1n);
  });

  test('dynamic batching - requests whose parameters differ are never in one execution', async () => {
    const responses = await Promise.all(
      Array.from({ length: 16 }, (_, k) =>
        call(cli.client, cli.client.modelInfer, request('batch_recorder', 3000 + k, { execution_ms: { int64Param: BigInt(5 + (k % 2)) } })),
      ),
    );
    const parity = new Map<string, Set<number>>();
    for (const [k, response] of responses.entries()) {
      const [, thread, number] = int32Output(response, 'BATCH');
      const key = `${thread}/${number}`;
      parity.set(key, (parity.get(key) ?? new Set()).add(k % 2));
    }
    for (const [key, kinds] of parity) assert.equal(kinds.size, 1, `execution ${key} mixed parameters`);
    assert.ok(parity.size < 16, 'yet each kind was batched');
  });

  test('dynamic batching - max_queue_size bounds the requests waiting; those in an executing batch have left the queue', async (t) => {
    const outcomes = await Promise.all(
      Array.from({ length: 32 }, (_, k) =>
        call(cli.client, cli.client.modelInfer, request('batch_bounded', 4000 + k)).then(
          () => ({ ok: true, details: '' }),
          (err: ServiceError) => {
            assert.equal(err.code, status.RESOURCE_EXHAUSTED, err.details);
            return { ok: false, details: err.details };
          },
        ),
      ),
    );
    const ok = outcomes.filter((o) => o.ok).length;
    t.diagnostic(`${ok} of 32 admitted`);
    // 4 queued plus at most one executing batch of 4 (max_batch_size); executions take 400 ms.
    assert.ok(ok >= 4 && ok <= 8, `${ok} admitted`);
    for (const o of outcomes.filter((x) => !x.ok)) {
      assert.match(o.details, /Exceeds maximum queue size: model 'batch_bounded' version 1 already has \d executing and 4 queued \(max_queue_size 4\)/);
    }
    const again = await burst(cli, 'batch_bounded', 5000, 4);
    assert.deepEqual([...again.values()].map((e) => e.size), [4], 'the queue frees up, and 4 make a preferred batch');
  });
});

/** batch_recorder's config under another name, one request per execution, and these `dynamic_batching` settings. */
function priorityConfig(name: string, settings: string): string {
  return fixture('batch_recorder/config.pbtxt')
    .replace('name: "batch_recorder"', `name: "${name}"`)
    .replace('dynamic_batching { max_queue_delay_microseconds: 20000 }', `dynamic_batching { preferred_batch_size: [ 1 ] ${settings} }`)
    .replace('string_value: "5"', 'string_value: "0"');
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('dynamic batching - priorities and queue policies', () => {
  let cli: RunningCli;
  const repo = tempRepository({
    batch_recorder: { config: fixture('batch_recorder/config.pbtxt'), versions: { '1': RECORDER_SOURCE } },
    batch_priority: { config: priorityConfig('batch_priority', 'priority_levels: 2 default_priority_level: 2'), versions: { '1': REEXPORT } },
    batch_queue_timeout: {
      config: priorityConfig('batch_queue_timeout', 'default_queue_policy { default_timeout_microseconds: 200000 }'),
      versions: { '1': REEXPORT },
    },
  });
  let holds = 0;

  /** Sends a request that holds the model's one instance; resolves once it executes, with the release and its answer. */
  async function holdInstance(model: string): Promise<{ release: () => void; answered: Promise<ModelInferResponse> }> {
    const file = join(repo.dir, `hold-${++holds}`);
    const answered = call(cli.client, cli.client.modelInfer, request(model, 0, { hold_until: { stringParam: file } }));
    await until(() => existsSync(`${file}.started`), 'the holding request to execute');
    return { release: () => writeFileSync(file, ''), answered };
  }

  const pending = async (model: string): Promise<number> => {
    const text = await (await fetch(cli.metrics as string)).text();
    const line = text.split('\n').find((l) => l.startsWith(`nv_inference_pending_request_count{model="${model}",`));
    return Number(line?.split(' ').pop() ?? NaN);
  };
  const statistics = async (name: string): Promise<ModelStatistics> => {
    const { modelStats } = await call(cli.client, cli.client.modelStatistics, { name, version: '' });
    return modelStats[0] as ModelStatistics;
  };

  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`]);
    for (const model of ['batch_recorder', 'batch_priority', 'batch_queue_timeout']) {
      await cli.waitForLog((l) => l['model'] === model && l['msg'] === 'model loaded');
    }
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  test('with the instance busy, a queued priority-1 request runs before earlier priority-2 ones, which keep their order', async () => {
    const hold = await holdInstance('batch_priority');
    const answers: Promise<ModelInferResponse>[] = [];
    // Each request is in the queue before the next is sent, so that arrival order is known.
    for (const [k, priority] of [[1, 2n], [2, 2n], [3, 1n]] as const) {
      answers.push(call(cli.client, cli.client.modelInfer, request('batch_priority', k, { priority: { uint64Param: priority } })));
      await until(async () => (await pending('batch_priority')) === k, `request ${k} to queue`);
    }
    hold.release();
    await hold.answered;
    const callNumbers = (await Promise.all(answers)).map((response) => int32Output(response, 'BATCH')[2]);
    const [first, second, urgent] = callNumbers as [number, number, number];
    assert.ok(urgent < first && first < second, `call numbers: priority 2 #1 → ${first}, #2 → ${second}, priority 1 → ${urgent}`);
  });

  test('a request past its queue timeout is UNAVAILABLE "Request timeout expired" on gRPC and 503 on REST, and never reaches the model', async () => {
    const before = await statistics('batch_queue_timeout');
    const hold = await holdInstance('batch_queue_timeout');
    const grpcAnswer = call(cli.client, cli.client.modelInfer, request('batch_queue_timeout', 1)).then(
      () => assert.fail('answered'),
      (err: ServiceError) => err,
    );
    const restAnswer = fetch(`${cli.http}/v2/models/batch_queue_timeout/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 4], data: [1, 2, 3, 4] },
          { name: 'TAG', datatype: 'BYTES', shape: [1, 1], data: ['rest'] },
        ],
      }),
    });
    const err = await grpcAnswer;
    assert.equal(err.code, status.UNAVAILABLE, err.details);
    assert.equal(err.details, 'Request timeout expired');
    const rest = await restAnswer;
    assert.equal(rest.status, 503);
    assert.deepEqual(await rest.json(), { error: 'Request timeout expired' });
    hold.release();
    await hold.answered;
    const after = await statistics('batch_queue_timeout');
    assert.equal(after.executionCount - before.executionCount, 1n, 'only the holding request executed');
    assert.equal(after.inferenceStats!.fail!.count - before.inferenceStats!.fail!.count, 2n);
  });

  test('with queue timeouts configured the policy reads the request timeout: without an override, a 1 ms timeout is no deadline', async () => {
    const hold = await holdInstance('batch_queue_timeout');
    // No override allowed: a 1 ms request timeout is not read; the policy's 200 ms still applies.
    const started = Date.now();
    const answer = call(cli.client, cli.client.modelInfer, request('batch_queue_timeout', 2, { timeout: { int64Param: 1000n } })).then(
      () => assert.fail('answered'),
      (err: ServiceError) => err,
    );
    const err = await answer;
    const waited = Date.now() - started;
    assert.equal(err.details, 'Request timeout expired');
    assert.ok(waited >= 150, `failed after ${waited} ms: the 1 ms request timeout was applied`);
    hold.release();
    await hold.answered;
  });
});
