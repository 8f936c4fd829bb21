// Choosing and reporting instances: instance_group normalization, and a repository serving
// the same model in-process and in worker instances, seen through its events and statistics.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { ModelInstanceGroup, ModelInstanceGroup_Kind } from '../../generated/model_config.js';
import type { InferenceEvent, ModelEvent } from '../../src/events.js';
import type { InferCall } from '../../src/pipeline/index.js';
import { ModelRepository, parseConfigText } from '../../src/repository/index.js';
import { workerCount } from '../../src/repository/instance-factory.js';
import { normalizeConfig } from '../../src/repository/model-config.js';
import { tempRepository } from '../helpers/server.js';

const IO = `
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
`;

function normalized(instanceGroup: string) {
  return normalizeConfig(parseConfigText(`name: "m"\n${IO}\n${instanceGroup}`, 'config.pbtxt'), 'm');
}

describe('instance groups', () => {
  test('no instance_group: one KIND_MODEL instance, on the main thread', () => {
    const config = normalized('');
    assert.deepEqual(
      config.instanceGroup.map((g) => [g.name, g.count, g.kind]),
      [['m', 1, ModelInstanceGroup_Kind.KIND_MODEL]],
    );
    assert.equal(workerCount(config), 0);
  });

  test('KIND_CPU groups are reported as loaded and add up to the worker count', () => {
    const config = normalized('instance_group [ { count: 2 kind: KIND_CPU }, { name: "extra" kind: KIND_CPU } ]');
    assert.deepEqual(
      config.instanceGroup.map((g) => [g.name, g.count, g.kind]),
      [
        ['m_0', 2, ModelInstanceGroup_Kind.KIND_CPU],
        ['extra', 1, ModelInstanceGroup_Kind.KIND_CPU],
      ],
    );
    assert.equal(workerCount(config), 3);
  });

  test('KIND_AUTO is KIND_CPU, as in Triton on a machine without GPUs', () => {
    const config = normalized('instance_group [ { count: 2 } ]');
    assert.equal(config.instanceGroup[0]?.kind, ModelInstanceGroup_Kind.KIND_CPU);
    assert.equal(workerCount(config), 2);
  });

  test('an explicit KIND_MODEL group keeps the model on the main thread', () => {
    assert.equal(workerCount(normalized('instance_group [ { kind: KIND_MODEL } ]')), 0);
  });

  test('KIND_GPU runs as KIND_CPU worker threads: v2serve has no GPU', () => {
    const config = normalized('instance_group [ { count: 2 kind: KIND_GPU gpus: [ 0 ] } ]');
    assert.equal(config.instanceGroup[0]?.kind, ModelInstanceGroup_Kind.KIND_CPU);
    assert.equal(workerCount(config), 2);
  });

  test('a kind the proto does not have is refused, naming the group', () => {
    const config = parseConfigText(`name: "m"\n${IO}`, 'config.pbtxt');
    const group = ModelInstanceGroup.fromPartial({ count: 1, kind: 7 as ModelInstanceGroup_Kind });
    assert.throws(() => normalizeConfig({ ...config, instanceGroup: [group] }, 'm'), {
      code: 'INVALID_ARGUMENT',
      message: /'m: instance_group\[0\]\.kind' is not an instance group kind \(7\)/,
    });
  });

  test('KIND_MODEL with a count above 1, or mixed with other groups, is refused', () => {
    assert.throws(() => normalized('instance_group [ { count: 2 kind: KIND_MODEL } ]'), {
      code: 'INVALID_ARGUMENT',
      message: /instance_group\[0\]\.count' must be 1 for KIND_MODEL/,
    });
    assert.throws(() => normalized('instance_group [ { kind: KIND_MODEL }, { kind: KIND_CPU } ]'), {
      code: 'INVALID_ARGUMENT',
      message: /cannot be combined/,
    });
  });

  test('a negative count is refused', () => {
    assert.throws(() => normalized('instance_group [ { count: -1 kind: KIND_CPU } ]'), { code: 'INVALID_ARGUMENT' });
  });
});

const TAGGER = `
import { isMainThread } from 'node:worker_threads';
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class Tagger extends ModelServer {
  private calls = 0;
  load(): void { this.labels['thread'] = isMainThread ? 'main' : 'worker'; }
  predict(request: InferRequest): PredictOutputs {
    const until = Date.now() + Number(this.getParam('busy_ms', 0, request));
    while (Date.now() < until) { /* CPU work */ }
    this.setMetric('calls', ++this.calls);
    this.labels['last_request'] = request.id;
    return { OUTPUT0: (request.tensors['INPUT0']!.data as Float32Array).map((v) => v * 2) };
  }
}`;

const MODES = [
  { name: 'in-process', instanceGroup: '', thread: 'main', instances: ['main'] },
  { name: '1 worker instance', instanceGroup: 'instance_group [ { count: 1 kind: KIND_CPU } ]', thread: 'worker', instances: ['0'] },
] as const;

function call(id: string, values: number[], busyMs = 0): InferCall {
  return {
    model: 'tagger',
    version: '',
    id,
    requestId: id,
    parameters: busyMs ? { busy_ms: busyMs } : {},
    // A view inside a larger buffer, as gRPC hands raw inputs over.
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [values.length], raw: new Uint8Array(new Float32Array([0, ...values]).buffer, 4) }],
    outputs: [],
    arrivedNs: process.hrtime.bigint(),
  };
}

async function startRepository(t: TestContext, instanceGroup: string): Promise<{ repository: ModelRepository; events: ModelEvent[] }> {
  const repo = tempRepository({ tagger: { config: `name: "tagger"\n${IO}\n${instanceGroup}`, versions: { '1': TAGGER } } });
  const events: ModelEvent[] = [];
  const repository = new ModelRepository({
    root: repo.root,
    controlMode: 'none',
    startupModels: [],
    strictReadiness: true,
    serverParameters: {},
    logger: pino({ level: 'silent' }),
    events: { emit: (event) => events.push(event) },
    loadWaitMs: 30_000,
  });
  t.after(async () => {
    await repository.close();
    repo.remove();
  });
  repository.start();
  await repository.settled();
  return { repository, events };
}

for (const mode of MODES) {
  describe(`repository with the model ${mode.name}`, () => {
    test('setMetric and labels reach the inference event, with the instance and the request inputs intact', async (t) => {
      const { repository, events } = await startRepository(t, mode.instanceGroup);
      const result = await repository.infer(call('first', [1, 2]), new AbortController().signal);
      assert.deepEqual([...new Float32Array(result.raw[0]?.slice().buffer as ArrayBuffer)], [2, 4]);
      const event = events.find((e): e is InferenceEvent => e.kind === 'inference');
      assert.ok(event);
      assert.deepEqual({ ...event.metrics }, { calls: 1 });
      assert.deepEqual({ ...event.labels }, { thread: mode.thread, last_request: 'first' });
      assert.ok((mode.instances as readonly string[]).includes(event.instance));
      assert.equal(event.modelClass, 'Tagger');
      assert.deepEqual([...(event.inputs[0]?.data as Float32Array)], [1, 2]);
      assert.deepEqual([...(event.outputs[0]?.data as Float32Array)], [2, 4]);
    });

    test('statistics: waiting for the instance counts as queue time, not infer time', async (t) => {
      const { repository } = await startRepository(t, mode.instanceGroup);
      const signal = new AbortController().signal;
      await Promise.all([repository.infer(call('a', [1], 200), signal), repository.infer(call('b', [1], 200), signal)]);
      const [entry] = repository.statistics('tagger', '');
      const stats = entry?.statistics;
      assert.ok(stats);
      assert.equal(stats.success.count, 2);
      const inferMs = Number(stats.computeInfer.ns) / 1e6;
      const queueMs = Number(stats.queue.ns) / 1e6;
      if (mode.instanceGroup) {
        // The worker reports its own time; the second request's ~200 ms wait for it is queue time.
        // Timers may fire a fraction of a millisecond early by the monotonic clock.
        assert.ok(inferMs >= 390 && inferMs < 600, `infer ${inferMs} ms for two 200 ms requests`);
        assert.ok(queueMs >= 150, `queue ${queueMs} ms`);
      } else {
        // On the main thread the event loop is the queue: the other request's work blocks this one mid-infer.
        assert.ok(inferMs >= 390, `infer ${inferMs} ms for two 200 ms requests`);
      }
    });
  });
}

describe('repository with worker instances', () => {
  test('an invalid worker_max_old_generation_mb fails the load naming the parameter', async (t) => {
    const { repository } = await startRepository(
      t,
      'instance_group [ { count: 1 kind: KIND_CPU } ]\nparameters { key: "worker_max_old_generation_mb" value: { string_value: "lots" } }',
    );
    assert.equal(repository.modelReady('tagger', ''), false);
    assert.match(repository.index(false)[0]?.reason ?? '', /parameters\.worker_max_old_generation_mb' must be a positive integer \(MB\), got 'lots'/);
  });

  test('a version is UNAVAILABLE with the reason while no instance is alive, READY again after the restart', async (t) => {
    const repo = tempRepository({
      fragile: {
        config: `name: "fragile"\n${IO}\ninstance_group [ { count: 1 kind: KIND_CPU } ]`,
        versions: {
          '1': `import { ModelServer, type PredictOutputs } from 'v2serve';
export default class Fragile extends ModelServer {
  load(): void {}
  predict(): PredictOutputs { return { OUTPUT0: new Float32Array([1]) }; }
  opExit(): PredictOutputs { process.exit(9); }
}`,
        },
      },
    });
    const states: [string, string][] = [];
    const repository = new ModelRepository({
      root: repo.root,
      controlMode: 'none',
      startupModels: [],
      strictReadiness: true,
      serverParameters: {},
      logger: pino({ level: 'silent' }),
      events: { emit: (e) => e.kind === 'model-state' && states.push([e.state, e.reason]) },
      loadWaitMs: 30_000,
    });
    t.after(async () => {
      await repository.close();
      repo.remove();
    });
    repository.start();
    await repository.settled();
    const exit: InferCall = { ...call('x', [1]), model: 'fragile', parameters: { operation: 'exit' } };
    await assert.rejects(repository.infer(exit, new AbortController().signal), {
      code: 'UNAVAILABLE',
      message: /model 'fragile' version 1 instance 0 failed: its worker thread exited with code 9/,
    });
    assert.equal(repository.modelReady('fragile', ''), false);
    assert.match(repository.index(false)[0]?.reason ?? '', /no instance is alive \(instance 0: worker thread exited with code 9\)/);
    await assert.rejects(repository.infer({ ...call('y', [1]), model: 'fragile', version: '1' }, new AbortController().signal), {
      code: 'UNAVAILABLE',
      message: /not at ready state \(UNAVAILABLE: no instance is alive/,
    });
    const deadline = Date.now() + 15_000;
    while (!repository.modelReady('fragile', '') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(repository.modelReady('fragile', ''), true);
    assert.deepEqual(
      states.map(([state]) => state),
      ['READY', 'UNAVAILABLE', 'READY'],
    );
  });
});
