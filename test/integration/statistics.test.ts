// ModelConfig and ModelStatistics through the real CLI, on a copy of the bundled `simple`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { ModelInferRequest, ModelStatistics } from '../../generated/grpc_service.js';
import { DataType } from '../../generated/model_config.js';
import { call, PROJECT_ROOT, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { ADDER_CONFIG, adderSource, grpcError, index, infer } from './repository-fixtures.js';

const SIMPLE_DIR = join(PROJECT_ROOT, 'models', 'simple');

/** A request to `simple` with `batch` rows of 16 INT32 per input. */
function simpleRequest(batch: number, overrides: Partial<ModelInferRequest> = {}): ModelInferRequest {
  const raw = () => Buffer.from(new Int32Array(batch * 16).fill(1).buffer);
  return {
    modelName: 'simple',
    modelVersion: '',
    id: '',
    parameters: new Map(),
    inputs: ['INPUT0', 'INPUT1'].map((name) => ({
      name,
      datatype: 'INT32',
      shape: [BigInt(batch), 16n],
      parameters: new Map(),
      contents: undefined,
    })),
    outputs: [],
    rawInputContents: [raw(), raw()],
    ...overrides,
  };
}

describe('statistics and ModelConfig', () => {
  let cli: RunningCli;
  const repo = tempRepository({
    simple: {
      config: readFileSync(join(SIMPLE_DIR, 'config.pbtxt'), 'utf8'),
      versions: { '1': readFileSync(join(SIMPLE_DIR, '1', 'model.ts'), 'utf8') },
    },
    batched: { config: `${ADDER_CONFIG}dynamic_batching { }\n`, versions: { '1': adderSource(0) } },
    idle: { config: ADDER_CONFIG, versions: { '1': adderSource(0), '2': adderSource(0) } },
  });
  const statistics = (name: string, version = '') => call(cli.client, cli.client.modelStatistics, { name, version });

  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`]);
    const deadline = Date.now() + 15_000;
    while (!(await call(cli.client, cli.client.serverReady, {})).ready) {
      if (Date.now() > deadline) throw new Error('server never became ready');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  test('config - ModelConfig of simple matches its config.pbtxt, with Triton defaults filled', async () => {
    const { config } = await call(cli.client, cli.client.modelConfig, { name: 'simple', version: '' });
    assert.ok(config);
    assert.equal(config.name, 'simple');
    assert.equal(config.backend, 'nodejs');
    assert.equal(config.platform, '');
    assert.equal(config.maxBatchSize, 8);
    const tensors = (list: { name: string; dataType: DataType; dims: bigint[] }[]) =>
      list.map((t) => [t.name, t.dataType, t.dims]);
    assert.deepEqual(tensors(config.input), [
      ['INPUT0', DataType.TYPE_INT32, [16n]],
      ['INPUT1', DataType.TYPE_INT32, [16n]],
    ]);
    assert.deepEqual(tensors(config.output), [
      ['OUTPUT0', DataType.TYPE_INT32, [16n]],
      ['OUTPUT1', DataType.TYPE_INT32, [16n]],
    ]);
    assert.deepEqual(config.versionPolicy?.latest, { numVersions: 1 });
    assert.equal(config.instanceGroup.length, 1);
    assert.equal(config.instanceGroup[0]?.name, 'simple');
    assert.equal(config.instanceGroup[0]?.count, 1);
    assert.equal(config.dynamicBatching, undefined);
  });

  test('config - dynamic_batching {} gets preferred_batch_size = max_batch_size', async () => {
    const { config } = await call(cli.client, cli.client.modelConfig, { name: 'batched', version: '' });
    assert.deepEqual(config?.dynamicBatching?.preferredBatchSize, [8]);
  });

  test('config - an unknown model is NOT_FOUND', async () => {
    await assert.rejects(
      call(cli.client, cli.client.modelConfig, { name: 'nope', version: '' }),
      grpcError(status.NOT_FOUND, "Request for unknown model: 'nope' is not found"),
    );
  });

  test('statistics - a loaded model that served nothing has an entry of zeros, for its served version', async () => {
    const { modelStats } = await statistics('idle');
    assert.deepEqual(
      modelStats.map((s) => [s.name, s.version]),
      [['idle', '2']],
    );
    const [stats] = modelStats as [ModelStatistics];
    assert.equal(stats.lastInference, 0n);
    assert.equal(stats.inferenceCount, 0n);
    assert.equal(stats.executionCount, 0n);
    assert.deepEqual(stats.inferenceStats?.success, { count: 0n, ns: 0n });
    assert.deepEqual(stats.inferenceStats?.fail, { count: 0n, ns: 0n });
    assert.deepEqual(stats.batchStats, []);
  });

  test('statistics - N successes and M failures are counted exactly, with sensible durations', async () => {
    const before = BigInt(Date.now());
    // N = 5 successes: three of batch 1, two of batch 4.
    for (const batch of [1, 4, 1, 4, 1]) await infer(cli, simpleRequest(batch));
    // M = 3 failures from bad inputs to a READY model.
    const bad = [
      simpleRequest(1, { rawInputContents: [Buffer.alloc(60), Buffer.alloc(64)] }),
      simpleRequest(1, { inputs: simpleRequest(1).inputs.slice(0, 1), rawInputContents: [Buffer.alloc(64)] }),
      simpleRequest(1, { outputs: [{ name: 'NO_SUCH_OUTPUT', parameters: new Map() }] }),
    ];
    for (const request of bad) await assert.rejects(infer(cli, request), { code: status.INVALID_ARGUMENT });
    // Requests that never reach a version are not the model's failures.
    await assert.rejects(infer(cli, simpleRequest(1, { modelVersion: '7' })), { code: status.NOT_FOUND });
    const after = BigInt(Date.now());

    const { modelStats } = await statistics('simple');
    assert.equal(modelStats.length, 1);
    const stats = modelStats[0] as ModelStatistics;
    assert.equal(stats.name, 'simple');
    assert.equal(stats.version, '1');
    assert.ok(stats.lastInference >= before && stats.lastInference <= after, `last_inference ${stats.lastInference}`);
    assert.equal(stats.inferenceCount, 11n); // rows: 1 + 4 + 1 + 4 + 1
    assert.equal(stats.executionCount, 5n);
    const s = stats.inferenceStats;
    assert.ok(s?.success && s.fail && s.queue && s.computeInput && s.computeInfer && s.computeOutput);
    assert.equal(s.success.count, 5n);
    assert.equal(s.fail.count, 3n);
    for (const phase of [s.queue, s.computeInput, s.computeInfer, s.computeOutput]) assert.equal(phase.count, 5n);
    for (const duration of [s.success, s.fail, s.computeInput, s.computeInfer, s.computeOutput]) {
      assert.ok(duration.ns > 0n, 'every duration is non-zero');
    }
    // The phases of a request are parts of its whole time in the server.
    assert.ok(s.success.ns >= s.computeInfer.ns);
    assert.ok(s.success.ns >= s.queue.ns + s.computeInput.ns + s.computeInfer.ns + s.computeOutput.ns);
    // All of it took less than the wall time of the test.
    assert.ok(s.success.ns + s.fail.ns < (after - before + 1n) * 1_000_000n);
    assert.deepEqual(
      stats.batchStats.map((b) => [b.batchSize, b.computeInput?.count, b.computeInfer?.count, b.computeOutput?.count]),
      [
        [1n, 3n, 3n, 3n],
        [4n, 2n, 2n, 2n],
      ],
    );
    const inferNs = stats.batchStats.reduce((sum, b) => sum + (b.computeInfer?.ns ?? 0n), 0n);
    assert.equal(inferNs, s.computeInfer.ns);
    assert.deepEqual(s.cacheHit, { count: 0n, ns: 0n });
  });

  test('statistics - an empty name lists every ready model', async () => {
    const { modelStats } = await statistics('');
    const ready = (await index(cli, true)).map((m) => `${m.name}:${m.version}`).sort();
    assert.deepEqual(modelStats.map((s) => `${s.name}:${s.version}`).sort(), ready);
    assert.ok(ready.includes('simple:1'));
  });

  test('statistics - a named version gives that version only', async () => {
    const { modelStats } = await statistics('simple', '1');
    assert.deepEqual(
      modelStats.map((s) => [s.name, s.version]),
      [['simple', '1']],
    );
  });

  test('statistics - an unknown model is INVALID_ARGUMENT "requested model \'X\' is not available"', async () => {
    await assert.rejects(statistics('nope'), grpcError(status.INVALID_ARGUMENT, /requested model 'nope' is not available/));
    // Version 1 exists on disk but the policy (latest 1) does not serve it.
    await assert.rejects(statistics('idle', '1'), grpcError(status.INVALID_ARGUMENT, /requested model 'idle'.* is not available/));
  });
});
