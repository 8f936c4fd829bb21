// The response cache through the real CLI: --cache-config local,size=BYTES and a model whose
// config enables response_cache. The model counts its calls in an output, so an answer
// from the cache shows the count of the request that filled it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect } from 'nats';
import type { ModelInferRequest, ModelInferResponse } from '../../generated/grpc_service.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { call, PROJECT_ROOT, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { request as httpRequest } from './http-fixtures.js';
import { index, infer } from './repository-fixtures.js';

const CACHE_BYTES = 6000;
/** A BIG output this long makes an entry of which one fits in CACHE_BYTES and two do not. */
const BIG_BYTES = 4000;

const COUNTER_CONFIG = (cache: boolean, extra = '') => `backend: "nodejs"
max_batch_size: 0
input [ { name: "IN" data_type: TYPE_INT32 dims: [ -1 ] } ]
output [
  { name: "CALLS" data_type: TYPE_INT32 dims: [ 1 ] },
  { name: "OUT" data_type: TYPE_INT32 dims: [ -1 ] },
  { name: "BIG" data_type: TYPE_UINT8 dims: [ -1 ] }
]
${cache ? 'response_cache { enable: true }' : ''}
${extra}`;

/** CALLS: how many times predict() ran; OUT = 2 × IN; BIG: IN[0] bytes. */
const COUNTER = `import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';

let calls = 0;

export default class Counter extends ModelServer {
  async predict(request: InferRequest): Promise<PredictOutputs> {
    calls += 1;
    const input = request.tensors['IN']!.data as Int32Array;
    return { CALLS: new Int32Array([calls]), OUT: input.map((v) => v * 2), BIG: new Uint8Array(Math.max(0, input[0] ?? 0)).fill(7) };
  }
}
`;

/** An ensemble of one counter step, its tensors named as the step's. */
const ENSEMBLE_CONFIG = (step: string) => `platform: "ensemble"
max_batch_size: 0
input [ { name: "IN" data_type: TYPE_INT32 dims: [ -1 ] } ]
output [ { name: "CALLS" data_type: TYPE_INT32 dims: [ 1 ] }, { name: "OUT" data_type: TYPE_INT32 dims: [ -1 ] } ]
response_cache { enable: true }
ensemble_scheduling {
  step { model_name: "${step}" model_version: -1 input_map { key: "IN" value: "IN" } output_map { key: "CALLS" value: "CALLS" } output_map { key: "OUT" value: "OUT" } }
}
`;

function counterRequest(model: string, values: number[], extra: Partial<ModelInferRequest> = {}): ModelInferRequest {
  return {
    modelName: model,
    modelVersion: '',
    id: '',
    parameters: new Map(),
    inputs: [{ name: 'IN', datatype: 'INT32', shape: [BigInt(values.length)], parameters: new Map(), contents: undefined }],
    outputs: [],
    rawInputContents: [Buffer.from(new Int32Array(values).buffer)],
    ...extra,
  };
}

function output(response: ModelInferResponse, name: string): Buffer {
  const i = response.outputs.findIndex((o) => o.name === name);
  assert.ok(i >= 0, `no output ${name}`);
  return Buffer.from(response.rawOutputContents[i]!);
}

const calls = (response: ModelInferResponse): number => output(response, 'CALLS').readInt32LE(0);

const CLI = join(PROJECT_ROOT, 'bin', 'v2serve.js');
const ENSEMBLE_CONFIG_OF = (step: string) => ({ config: ENSEMBLE_CONFIG(step) });

describe('response cache', () => {
  let cli: RunningCli;
  const repo = tempRepository({
    counter: { config: COUNTER_CONFIG(true), versions: { '1': COUNTER } },
    counted: { config: COUNTER_CONFIG(true), versions: { '1': COUNTER } },
    counted_ids: { config: COUNTER_CONFIG(true), versions: { '1': COUNTER } },
    evicted: { config: COUNTER_CONFIG(true), versions: { '1': COUNTER } },
    uncached: { config: COUNTER_CONFIG(false), versions: { '1': COUNTER } },
    sequenced: { config: COUNTER_CONFIG(true, 'sequence_batching { }'), versions: { '1': COUNTER } },
    sequence_step: { config: COUNTER_CONFIG(false, 'sequence_batching { }'), versions: { '1': COUNTER } },
    step_uncached: { config: COUNTER_CONFIG(false), versions: { '1': COUNTER } },
    cached_ensemble: ENSEMBLE_CONFIG_OF('step_uncached'),
    sequence_ensemble: ENSEMBLE_CONFIG_OF('sequence_step'),
  });
  for (const name of ['cached_ensemble', 'sequence_ensemble']) repo.write(`${name}/1/.keep`, '');
  const statistics = async (name: string) => {
    const { modelStats } = await call(cli.client, cli.client.modelStatistics, { name, version: '' });
    return modelStats[0]!;
  };

  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`, `--cache-config=local,size=${CACHE_BYTES}`]);
    const deadline = Date.now() + 15_000;
    while ((await index(cli, true)).length < 8) {
      if (Date.now() > deadline) throw new Error(`models never became ready: ${JSON.stringify(await index(cli))}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  test('the second identical request does not reach the model; statistics show 1 miss and 1 hit', async () => {
    const first = await infer(cli, counterRequest('counted', [1, 2, 3], { id: 'first' }));
    const second = await infer(cli, counterRequest('counted', [1, 2, 3], { id: 'second' }));
    assert.equal(calls(first), 1);
    assert.equal(calls(second), 1, 'the model ran again');
    assert.equal(second.id, 'second', "a hit answers under its own request's id");
    const stats = await statistics('counted');
    const inference = stats.inferenceStats!;
    assert.deepEqual(
      { hit: inference.cacheHit!.count, miss: inference.cacheMiss!.count, success: inference.success!.count, inferences: stats.inferenceCount, executions: stats.executionCount },
      { hit: 1n, miss: 1n, success: 2n, inferences: 1n, executions: 1n },
    );
    assert.ok(inference.cacheHit!.ns > 0n && inference.cacheMiss!.ns > 0n);
    assert.equal(inference.computeInfer!.count, 1n, 'a hit records no compute phase');
  });

  test('requests seen before are answered from the kept answer under each one\'s own id, each counted a hit (from the third on without decoding)', async () => {
    const ids = ['seen-first', '', 'é — ид', 'seen-first', 'x'.repeat(300)];
    const answers = [];
    for (const id of ids) answers.push(await infer(cli, counterRequest('counted_ids', [4, 2], { id })));
    const [first, ...rest] = answers;
    for (const [i, answer] of rest.entries()) {
      assert.equal(answer.id, ids[i + 1]);
      assert.deepEqual({ ...answer, id: '' }, { ...first!, id: '' }, `answer ${i + 1}`);
    }
    const inference = (await statistics('counted_ids')).inferenceStats!;
    assert.deepEqual([inference.cacheMiss!.count, inference.cacheHit!.count, inference.success!.count], [1n, 4n, 5n]);
  });

  test('a hit returns the bytes the miss returned (gRPC raw outputs)', async () => {
    const miss = await infer(cli, counterRequest('counter', [5, 6, 7, 8]));
    const hit = await infer(cli, counterRequest('counter', [5, 6, 7, 8]));
    assert.deepEqual(hit.outputs, miss.outputs);
    assert.deepEqual(hit.rawOutputContents.map((b) => Buffer.from(b)), miss.rawOutputContents.map((b) => Buffer.from(b)));
    assert.deepEqual([...new Int32Array(new Uint8Array(output(hit, 'OUT')).buffer)], [10, 12, 14, 16]);
  });

  test('a hit returns the JSON the miss returned (REST)', async () => {
    const body = { inputs: [{ name: 'IN', datatype: 'INT32', shape: [2], data: [40, 41] }], parameters: { tag: 'rest' } };
    const miss = await httpRequest(cli.http as string, '/v2/models/counter/infer', body);
    const hit = await httpRequest(cli.http as string, '/v2/models/counter/infer', body);
    assert.equal(miss.status, 200, miss.text);
    assert.equal(hit.text, miss.text);
  });

  test('a different parameter, requested output or input misses', async () => {
    const base = await infer(cli, counterRequest('counter', [9]));
    const count = calls(base);
    const tagged = await infer(cli, counterRequest('counter', [9], { parameters: new Map([['tag', { stringParam: 'a' }]]) }));
    assert.equal(calls(tagged), count + 1);
    const retagged = await infer(cli, counterRequest('counter', [9], { parameters: new Map([['tag', { stringParam: 'b' }]]) }));
    assert.equal(calls(retagged), count + 2);
    const onlyCalls = await infer(cli, counterRequest('counter', [9], { outputs: [{ name: 'CALLS', parameters: new Map() }] }));
    assert.equal(onlyCalls.outputs.length, 1);
    assert.equal(calls(onlyCalls), count + 3);
    const otherInput = await infer(cli, counterRequest('counter', [9, 0]));
    assert.equal(calls(otherInput), count + 4);
    // And each of them is now kept.
    const again = await infer(cli, counterRequest('counter', [9], { parameters: new Map([['tag', { stringParam: 'a' }]]) }));
    assert.equal(calls(again), count + 1);
  });

  test('a model without response_cache.enable never uses the cache', async () => {
    const first = await infer(cli, counterRequest('uncached', [1]));
    const second = await infer(cli, counterRequest('uncached', [1]));
    assert.equal(calls(second), calls(first) + 1);
    const inference = (await statistics('uncached')).inferenceStats!;
    assert.deepEqual([inference.cacheHit!.count, inference.cacheMiss!.count], [0n, 0n]);
  });

  test('a second answer that does not fit beside the first evicts it: the first misses again', async () => {
    const first = await infer(cli, counterRequest('evicted', [BIG_BYTES]));
    assert.equal(calls(await infer(cli, counterRequest('evicted', [BIG_BYTES]))), calls(first), 'the first answer was not kept');
    const second = await infer(cli, counterRequest('evicted', [BIG_BYTES + 1]));
    assert.equal(calls(second), calls(first) + 1);
    const firstAgain = await infer(cli, counterRequest('evicted', [BIG_BYTES]));
    assert.equal(calls(firstAgain), calls(first) + 2, 'the first answer was still kept');
    assert.deepEqual(output(firstAgain, 'BIG'), output(first, 'BIG'));
  });

  test("Triton's cache metrics: per model for the models using the cache, and the cache's own", async () => {
    const text = await (await fetch(cli.metrics as string)).text();
    const value = (name: string) => {
      const line = text.split('\n').find((l) => l.startsWith(name.includes('{') ? name : `${name} `));
      assert.ok(line, `no ${name} in\n${text}`);
      return Number(line.split(' ').at(-1));
    };
    assert.equal(value('nv_cache_num_hits_per_model{model="counted",version="1"}'), 1);
    assert.equal(value('nv_cache_num_misses_per_model{model="counted",version="1"}'), 1);
    assert.ok(value('nv_cache_hit_duration_per_model{model="counted",version="1"}') >= 0);
    assert.ok(!text.includes('nv_cache_num_hits_per_model{model="uncached"'));
    assert.ok(value('nv_cache_num_entries') >= 1);
    assert.ok(value('nv_cache_num_evictions') >= 1);
    assert.ok(value('nv_cache_num_hits') >= 4);
    const util = value('nv_cache_util');
    assert.ok(util > 0 && util <= 1, String(util));
  });

  test('an output placed in shared memory is written on every hit, and the kept answer stays whole', async () => {
    const key = `/v2serve-cache-test-${process.pid}`;
    const region = `/dev/shm${key}`;
    writeFileSync(region, Buffer.alloc(16));
    try {
      await call(cli.client, cli.client.systemSharedMemoryRegister, { name: 'cache_out', key, offset: 0n, byteSize: 16n });
      const placed = counterRequest('counter', [21, 22], {
        outputs: [
          {
            name: 'OUT',
            parameters: new Map([
              ['shared_memory_region', { stringParam: 'cache_out' }],
              ['shared_memory_byte_size', { int64Param: 8n }],
            ]),
          },
          { name: 'CALLS', parameters: new Map() },
        ],
      });
      const miss = await infer(cli, placed);
      const written = (): number[] => [...new Int32Array(new Uint8Array(readFileSync(region)).buffer, 0, 2)];
      assert.deepEqual(written(), [42, 44]);
      for (let i = 0; i < 2; i++) {
        writeFileSync(region, Buffer.alloc(16));
        const hit = await infer(cli, placed);
        assert.equal(calls(hit), calls(miss));
        assert.equal(hit.rawOutputContents[0]!.byteLength, 0, 'a placed output travels in the region only');
        assert.deepEqual(written(), [42, 44], `hit ${i + 1}`);
      }
    } finally {
      await call(cli.client, cli.client.systemSharedMemoryUnregister, { name: 'cache_out' });
      rmSync(region, { force: true });
    }
  });

  test('an ensemble answers from the cache without running its steps', async () => {
    const first = await infer(cli, counterRequest('cached_ensemble', [3]));
    const second = await infer(cli, counterRequest('cached_ensemble', [3]));
    assert.equal(calls(second), calls(first));
    assert.deepEqual(second.rawOutputContents.map((b) => Buffer.from(b)), first.rawOutputContents.map((b) => Buffer.from(b)));
    const step = (await statistics('step_uncached')).inferenceStats!;
    assert.equal(step.success!.count, 1n);
  });

  test('an ensemble with a sequence step model refuses the cache at load, naming the step', async () => {
    const entry = (await index(cli)).find((m) => m.name === 'sequence_ensemble');
    assert.equal(entry?.state, 'UNAVAILABLE');
    assert.match(entry?.reason ?? '', /config field 'response_cache\.enable' cannot be used with step model 'sequence_step' with 'sequence_batching'/);
  });

  test('a model with a sequence batcher refuses the cache at load, naming the field', async () => {
    const entry = (await index(cli)).find((m) => m.name === 'sequenced');
    assert.equal(entry?.state, 'UNAVAILABLE');
    assert.match(entry?.reason ?? '', /config field 'response_cache\.enable' cannot be used with 'sequence_batching'/);
  });
});

describe('response cache flags', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });

  test('an unknown cache, a bad size or a malformed setting is a usage error (exit 2)', () => {
    const redis = run(['--cache-config=redis,host=localhost']);
    assert.equal(redis.status, 2);
    assert.match(redis.stderr, /--cache-config 'redis,host=localhost': unknown cache 'redis' \(v2serve has only the 'local' cache\)/);
    const size = run(['--cache-config=local,size=lots']);
    assert.equal(size.status, 2);
    assert.match(size.stderr, /--cache-config local,size must be an integer/);
    assert.equal(run(['--cache-config=size=100']).status, 2);
  });

  test("a reloaded version never answers with what its predecessor kept", async () => {
    const repo = tempRepository({ counter: { config: COUNTER_CONFIG(true), versions: { '1': COUNTER } } });
    const cli = await startCli([`--model-repository=${repo.root}`, '--model-control-mode=explicit', '--load-model=counter', '--cache-config=local,size=100000']);
    try {
      await cli.waitForLog((l) => l['msg'] === 'model loaded' && l['model'] === 'counter');
      const first = await infer(cli, counterRequest('counter', [1]));
      assert.equal(calls(await infer(cli, counterRequest('counter', [1]))), calls(first));
      repo.write('counter/1/model.ts', COUNTER.replace('v * 2', 'v * 3'));
      await call(cli.client, cli.client.repositoryModelLoad, { repositoryName: '', modelName: 'counter', parameters: new Map() });
      const reloaded = await infer(cli, counterRequest('counter', [1]));
      assert.deepEqual([...new Int32Array(new Uint8Array(output(reloaded, 'OUT')).buffer)], [3]);
      assert.equal(calls(await infer(cli, counterRequest('counter', [1]))), calls(reloaded), 'the reloaded version keeps its own answer');
      await call(cli.client, cli.client.repositoryModelUnload, { repositoryName: '', modelName: 'counter', parameters: new Map() });
      await assert.rejects(infer(cli, counterRequest('counter', [1])), (err: { code: number; details: string }) => {
        assert.equal(err.code, 5, err.details);
        assert.match(err.details, /counter/);
        return true;
      }, 'an unloaded model is not answered from the cache');
    } finally {
      await cli.stop();
      repo.remove();
    }
  });

  test('without --cache-config a model enabling the cache loads, uncached, and the load says so once', async () => {
    const repo = tempRepository({ counter: { config: COUNTER_CONFIG(true), versions: { '1': COUNTER } } });
    const cli = await startCli([`--model-repository=${repo.root}`]);
    try {
      await cli.waitForLog((l) => l['msg'] === 'model loaded' && l['model'] === 'counter');
      const first = await infer(cli, counterRequest('counter', [1]));
      const second = await infer(cli, counterRequest('counter', [1]));
      assert.equal(calls(second), calls(first) + 1);
      const notes = cli.logs.filter((l) => String(l['msg']).includes("'response_cache.enable' is set but the server has no response cache"));
      assert.equal(notes.length, 1);
      assert.equal(notes[0]!['model'], 'counter');
    } finally {
      await cli.stop();
      repo.remove();
    }
  });
});

describe('response cache with monitoring', () => {
  test('every hit is an inference event marked cache_hit, with its own request id', async () => {
    const nats = await startNatsServer();
    const nc = await connect({ servers: nats.url });
    const repo = tempRepository({ counter: { config: COUNTER_CONFIG(true), versions: { '1': COUNTER } } });
    const subscription = nc.subscribe('v2serve.inference.counter');
    const events: Record<string, unknown>[] = [];
    void (async () => {
      for await (const message of subscription) events.push(message.json<Record<string, unknown>>());
    })();
    const cli = await startCli([`--model-repository=${repo.root}`, '--cache-config=local,size=100000', `--monitoring-nats=${nats.url}`]);
    try {
      await cli.waitForLog((l) => l['msg'] === 'model loaded' && l['model'] === 'counter');
      for (let i = 0; i < 4; i++) await infer(cli, counterRequest('counter', [1], { id: `m-${i}` }));
      const deadline = Date.now() + 10_000;
      while (events.length < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      const seen = events.map((e) => [(e['request'] as { id: string }).id, (e['resp'] as { cache_hit?: boolean }).cache_hit === true]);
      assert.deepEqual(seen, [
        ['m-0', false],
        ['m-1', true],
        ['m-2', true],
        ['m-3', true],
      ]);
    } finally {
      subscription.unsubscribe();
      await cli.stop();
      await nc.close();
      await nats.cleanup();
      repo.remove();
    }
  });
});
