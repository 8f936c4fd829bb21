// Worker instances through the real CLI: a busy model never stalls the server, crashes
// stay inside their instance, and large inputs reach the worker without copies.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus, HealthClient } from '../../generated/grpc/health/v1/health.js';
import type { InferParameter, ModelInferRequest, ModelInferResponse } from '../../generated/grpc_service.js';
import { ModelInstanceGroup_Kind } from '../../generated/model_config.js';
import { call, PROJECT_ROOT, startCli, tempRepository, type RunningCli } from '../helpers/server.js';

const FIXTURES = join(PROJECT_ROOT, 'test', 'fixtures', 'worker-models');
/** How long worker_busy holds its thread by default (its busy_ms parameter). */
const BUSY_MS = 2_000;

/** A model of test/fixtures/worker-models, or of the bundled models/, as tempRepository takes it. */
function fixture(dir: string): { config: string; versions: Record<string, string> } {
  return {
    config: readFileSync(join(dir, 'config.pbtxt'), 'utf8'),
    versions: { '1': readFileSync(join(dir, '1', 'model.ts'), 'utf8') },
  };
}

function fp32Request(model: string, data: Float32Array, parameters: Record<string, InferParameter> = {}): ModelInferRequest {
  return {
    modelName: model,
    modelVersion: '',
    id: `${model}-req`,
    parameters: new Map(Object.entries(parameters)),
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [BigInt(data.length)], parameters: new Map(), contents: undefined }],
    outputs: [],
    rawInputContents: [Buffer.from(data.buffer, data.byteOffset, data.byteLength)],
  };
}

function simpleRequest(): ModelInferRequest {
  const raw = (values: number[]) => Buffer.from(new Int32Array(values).buffer);
  return {
    modelName: 'simple',
    modelVersion: '',
    id: 'simple-req',
    parameters: new Map(),
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n], parameters: new Map(), contents: undefined },
      { name: 'INPUT1', datatype: 'INT32', shape: [1n, 16n], parameters: new Map(), contents: undefined },
    ],
    outputs: [],
    rawInputContents: [raw(Array.from({ length: 16 }, (_, i) => i)), raw(Array(16).fill(1))],
  };
}

function output<T extends Float32Array | Float64Array>(response: ModelInferResponse, name: string, View: new (b: ArrayBuffer) => T): T {
  const index = response.outputs.findIndex((o) => o.name === name);
  assert.ok(index >= 0, `output ${name} missing`);
  const raw = response.rawOutputContents[index] as Buffer;
  return new View(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer);
}


async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, value };
}

describe('worker instances', () => {
  let cli: RunningCli;
  let repo: ReturnType<typeof tempRepository>;
  let health: HealthClient;
  before(async () => {
    repo = tempRepository({
      simple: fixture(join(PROJECT_ROOT, 'models', 'simple')),
      worker_busy: fixture(join(FIXTURES, 'worker_busy')),
      worker_crash: fixture(join(FIXTURES, 'worker_crash')),
      worker_crash_pair: fixture(join(FIXTURES, 'worker_crash_pair')),
      worker_probe: fixture(join(FIXTURES, 'worker_probe')),
    });
    cli = await startCli([`--model-repository=${repo.root}`, '--exit-timeout-secs=2']);
    health = new HealthClient(cli.address, credentials.createInsecure());
    await waitUntil('server ready', async () => (await call(cli.client, cli.client.serverReady, {})).ready, 30_000);
  });
  after(async () => {
    health.close();
    await cli.stop();
    repo.remove();
  });

  const ready = (name: string) => call(cli.client, cli.client.modelReady, { name, version: '' }).then((r) => r.ready);
  const infer = (request: ModelInferRequest) => call(cli.client, cli.client.modelInfer, request);
  const check = () =>
    new Promise<HealthCheckResponse_ServingStatus>((resolve, reject) => health.check({ service: '' }, (err, r) => (err ? reject(err) : resolve(r.status))));

  test('responsiveness - while both instances busy-loop 2 s, Health Check, ServerReady and ModelInfer(simple) answer in well under the busy time', async () => {
    // Warm the connection and the simple path first: the first call pays for setup.
    await check();
    await infer(simpleRequest());
    const started = Date.now();
    const busy = [1, 2].map(() => infer(fp32Request('worker_busy', new Float32Array([1]))));
    await new Promise((r) => setTimeout(r, 100));
    const times = { 'Health Check': [] as number[], ServerReady: [] as number[], 'ModelInfer(simple)': [] as number[] };
    while (Date.now() - started < BUSY_MS - 200) {
      const h = await timed(check);
      assert.equal(h.value, HealthCheckResponse_ServingStatus.SERVING);
      const r = await timed(() => call(cli.client, cli.client.serverReady, {}));
      assert.equal(r.value.ready, true);
      const s = await timed(() => infer(simpleRequest()));
      assert.equal(s.value.modelName, 'simple');
      times['Health Check'].push(h.ms);
      times.ServerReady.push(r.ms);
      times['ModelInfer(simple)'].push(s.ms);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const responses = await Promise.all(busy);
    const elapsed = Date.now() - started;
    for (const [rpc, ms] of Object.entries(times)) {
      assert.ok(ms.length >= 10, `only ${ms.length} rounds during the busy loop`);
      const slowest = Math.max(...ms);
      // A main thread held by a busy model would answer only after the 2 s loop: a quarter of it
      // separates the two on a loaded machine too.
      assert.ok(slowest < BUSY_MS / 4, `${rpc} took ${slowest.toFixed(1)} ms (all: ${ms.map((m) => m.toFixed(1)).join(', ')})`);
    }
    // Run one after the other they would take twice the busy time.
    assert.ok(elapsed >= BUSY_MS && elapsed < BUSY_MS * 1.75, `the two 2 s requests ran in parallel (${elapsed} ms)`);
    const threads = new Set(responses.map((r) => r.parameters.get('thread_id')?.int64Param));
    assert.equal(threads.size, 2, 'each request ran on its own worker thread');
    assert.ok(!threads.has(0n), 'neither ran on the main thread');
  });

  test('config - ModelConfig reports instance groups as loaded: KIND_CPU × 2 for workers, KIND_MODEL × 1 by default', async () => {
    const busy = await call(cli.client, cli.client.modelConfig, { name: 'worker_busy', version: '' });
    assert.deepEqual(
      busy.config?.instanceGroup.map((g) => [g.name, g.count, g.kind]),
      [['worker_busy_0', 2, ModelInstanceGroup_Kind.KIND_CPU]],
    );
    const simple = await call(cli.client, cli.client.modelConfig, { name: 'simple', version: '' });
    assert.deepEqual(
      simple.config?.instanceGroup.map((g) => [g.count, g.kind]),
      [[1, ModelInstanceGroup_Kind.KIND_MODEL]],
    );
  });

  test('logs - a model logs from its worker with the model logger bindings plus its instance index', async () => {
    const lines = cli.logs.filter((l) => l['msg'] === 'probe loaded');
    assert.deepEqual(lines.map((l) => l['instance']).sort(), [0, 1]);
    for (const line of lines) {
      assert.equal(line['model'], 'worker_probe');
      assert.equal(line['version'], '1');
      assert.equal(line['name'], 'v2serve');
      assert.equal(line['pid'], cli.process.pid);
    }
  });

  test('tensors - a 4 MiB FP32 input reaches the worker as a Float32Array on a moved buffer of exactly 4 MiB', async () => {
    const data = new Float32Array(1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = i % 7;
    const response = await infer(fp32Request('worker_probe', data));
    const probe = output(response, 'PROBE', Float64Array);
    const expectedSum = data.reduce((a, b) => a + b, 0);
    assert.deepEqual([...probe], [4 * 1024 * 1024, 0, 1, 0, expectedSum]);
    const echo = output(response, 'ECHO', Float32Array);
    assert.equal(echo.length, data.length);
    assert.deepEqual([...echo.subarray(0, 8)], [...data.subarray(0, 8)]);
  });

  for (const [operation, reason] of [
    ['throw', /threw an uncaught exception: model bug in a timer/],
    ['exit', /exited with code 3/],
    ['oom', /ran out of memory/],
  ] as const) {
    test(`crash (${operation}) - the request fails UNAVAILABLE naming model and instance; the restarted instance serves; others unaffected`, async () => {
      const otherBefore = await infer(fp32Request('worker_crash_pair', new Float32Array([1])));
      await assert.rejects(
        infer(fp32Request('worker_crash', new Float32Array([1]), { operation: { stringParam: operation } })),
        (err: ServiceError) => {
          assert.equal(err.code, status.UNAVAILABLE);
          assert.match(err.details, /model 'worker_crash' version 1 instance 0/);
          assert.match(err.details, reason);
          return true;
        },
      );
      // Its only instance is down: not ready, with the reason, until the restart has loaded.
      const index = await call(cli.client, cli.client.repositoryIndex, { repositoryName: '', ready: false });
      const entry = index.models.find((m) => m.name === 'worker_crash');
      if (entry?.state !== 'READY') {
        assert.equal(entry?.state, 'UNAVAILABLE');
        assert.match(entry?.reason ?? '', reason);
      }
      assert.equal(await ready('simple'), true);
      assert.equal(await ready('worker_crash_pair'), true);
      await waitUntil('worker_crash ready again', () => ready('worker_crash'));
      const response = await infer(fp32Request('worker_crash', new Float32Array([2, 3])));
      assert.deepEqual([...output(response, 'OUTPUT0', Float32Array)], [2, 3]);
      assert.notEqual(response.parameters.get('thread_id')?.int64Param, undefined);
      const simple = await infer(simpleRequest());
      assert.equal(simple.modelName, 'simple');
      const otherAfter = await infer(fp32Request('worker_crash_pair', new Float32Array([1])));
      assert.deepEqual([...output(otherAfter, 'OUTPUT0', Float32Array)], [...output(otherBefore, 'OUTPUT0', Float32Array)]);
      await cli.waitForLog((l) => l['model'] === 'worker_crash' && l['msg'] === 'model instance restarted');
    });
  }

  test('crash - with two instances, one dying leaves the model READY and the other serves at once', async () => {
    await assert.rejects(
      infer(fp32Request('worker_crash_pair', new Float32Array([1]), { operation: { stringParam: 'exit' } })),
      { code: status.UNAVAILABLE },
    );
    assert.equal(await ready('worker_crash_pair'), true);
    const response = await infer(fp32Request('worker_crash_pair', new Float32Array([5])));
    assert.deepEqual([...output(response, 'OUTPUT0', Float32Array)], [5]);
  });
});
