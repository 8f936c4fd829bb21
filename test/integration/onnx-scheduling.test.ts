// ONNX models scheduled as any model, through the real server, with a slow MLP (4096 rows of
// 16 features through 8 layers of 512: a small request, then a run of a few hundred
// milliseconds): onnxruntime-node's run() holds its thread, so the default worker keeps the
// main thread answering; instance_group count N gives N sessions; deadlines and shutdown
// behave as for TypeScript models.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { call, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { mlpModel } from '../onnx/onnx-fixtures.js';
import { inferRequest, rawBytes, settledModels } from './onnx-fixtures.js';

const FEATURES = 16;
const ROWS = 4096;
const SLOW_MODEL = mlpModel([FEATURES, ...Array.from({ length: 8 }, () => 512), FEATURES]);
/** Long enough after sending for the request to have arrived and its run to have started. */
const RUN_STARTED_MS = 50;
/** One intra-op thread: a run's length does not depend on how many cores are free. */
const CONFIG = (extra = '') => `max_batch_size: ${ROWS}
parameters { key: "intra_op_thread_count" value: { string_value: "1" } }
${extra}`;

function slowRequest(model: string) {
  const x = new Float32Array(ROWS * FEATURES).fill(0.25);
  return inferRequest(model, [{ name: 'x', datatype: 'FP32', shape: [ROWS, FEATURES], raw: rawBytes(x) }]);
}

const MODELS = ['slow', 'slow_main', 'slow_pair'];

describe('onnx scheduling', () => {
  const repo = tempRepository({});
  repo.write('slow/config.pbtxt', CONFIG());
  repo.write('slow_main/config.pbtxt', CONFIG('instance_group [ { kind: KIND_MODEL } ]'));
  repo.write('slow_pair/config.pbtxt', CONFIG('instance_group [ { count: 2 kind: KIND_CPU } ]'));
  for (const model of MODELS) repo.write(`${model}/1/model.onnx`, SLOW_MODEL);
  let cli: RunningCli;
  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`]);
    const index = await settledModels(cli, MODELS);
    for (const model of MODELS) assert.equal(index.get(model)?.state, 'READY', `${model}: ${index.get(model)?.reason}`);
    // A first run of each: sessions allocate their buffers on the first run.
    await Promise.all(MODELS.map((model) => call(cli.client, cli.client.modelInfer, slowRequest(model))));
  });
  after(async () => {
    await cli?.stop();
    repo.remove();
  });

  /** Sends the slow request, then ServerLive once its run has started: when each was answered, from the first send. */
  async function liveDuringRun(model: string): Promise<{ inferMs: number; liveMs: number; liveLatencyMs: number }> {
    const start = performance.now();
    const infer = call(cli.client, cli.client.modelInfer, slowRequest(model)).then(() => performance.now() - start);
    await new Promise((resolve) => setTimeout(resolve, RUN_STARTED_MS));
    const liveSent = performance.now();
    const live = await call(cli.client, cli.client.serverLive, {});
    const liveAnswered = performance.now();
    assert.equal(live.live, true);
    return { inferMs: await infer, liveMs: liveAnswered - start, liveLatencyMs: liveAnswered - liveSent };
  }

  test('scheduling - by default a session runs in a worker: ServerLive is answered while it runs', async (t) => {
    const { config } = await call(cli.client, cli.client.modelConfig, { name: 'slow', version: '' });
    assert.equal(config?.instanceGroup[0]?.count, 1);
    const { inferMs, liveMs, liveLatencyMs } = await liveDuringRun('slow');
    t.diagnostic(`worker: ServerLive ${liveLatencyMs.toFixed(1)} ms during a ${inferMs.toFixed(0)} ms inference`);
    assert.ok(liveMs < inferMs, `ServerLive answered at ${liveMs.toFixed(0)} ms, the inference at ${inferMs.toFixed(0)} ms`);
    assert.ok(liveLatencyMs < (inferMs - RUN_STARTED_MS) / 2, `ServerLive took ${liveLatencyMs.toFixed(0)} ms during a ${inferMs.toFixed(0)} ms run`);
  });

  test('scheduling - on the main thread (KIND_MODEL) the same run holds ServerLive until it ends, which is why workers are the default', async (t) => {
    // ServerLive sent one after another for as long as the inference runs: whenever the run
    // starts (late, on a loaded machine), the one in flight then waits for the run to end.
    const computeNs = async () => (await call(cli.client, cli.client.modelStatistics, { name: 'slow_main', version: '' })).modelStats[0]!.inferenceStats!.computeInfer!.ns;
    const computedBefore = await computeNs();
    let done = false;
    const infer = call(cli.client, cli.client.modelInfer, slowRequest('slow_main')).finally(() => (done = true));
    let longestLiveMs = 0;
    while (!done) {
      const sent = performance.now();
      assert.equal((await call(cli.client, cli.client.serverLive, {})).live, true);
      longestLiveMs = Math.max(longestLiveMs, performance.now() - sent);
    }
    await infer;
    const runMs = Number((await computeNs()) - computedBefore) / 1e6;
    t.diagnostic(`main thread: longest ServerLive ${longestLiveMs.toFixed(1)} ms during a ${runMs.toFixed(0)} ms run`);
    assert.ok(longestLiveMs > runMs / 2, `the longest ServerLive took ${longestLiveMs.toFixed(0)} ms during a ${runMs.toFixed(0)} ms run`);
  });

  /** `count` slow requests at once; the version's queue time and compute time, summed over them. */
  async function atOnce(model: string, count: number): Promise<{ queueMs: number; computeMs: number }> {
    const statistics = async () => (await call(cli.client, cli.client.modelStatistics, { name: model, version: '' })).modelStats[0]!.inferenceStats!;
    const before = await statistics();
    await Promise.all(Array.from({ length: count }, () => call(cli.client, cli.client.modelInfer, slowRequest(model))));
    const after = await statistics();
    const ms = (pick: (s: typeof after) => bigint) => Number(pick(after) - pick(before)) / 1e6;
    return { queueMs: ms((s) => s.queue!.ns), computeMs: ms((s) => s.computeInfer!.ns) };
  }

  test('scheduling - instance_group count 2 runs two sessions: two requests at once do not queue, with one session the second waits', async () => {
    const pair = await atOnce('slow_pair', 2);
    assert.ok(pair.queueMs < pair.computeMs / 4, `count 2: queued ${pair.queueMs.toFixed(1)} ms, computed ${pair.computeMs.toFixed(1)} ms`);
    // Four on one session queue 0 + 1 + 2 + 3 runs' worth (1.5× the compute): a margin that
    // holds even when a loaded machine delivers the requests far apart (two once queued 0.08×).
    const single = await atOnce('slow', 4);
    assert.ok(single.queueMs > single.computeMs / 4, `count 1: queued ${single.queueMs.toFixed(1)} ms, computed ${single.computeMs.toFixed(1)} ms`);
  });

  test('scheduling - a request whose deadline passes behind a running execution is DEADLINE_EXCEEDED; the next is served', async () => {
    const running = call(cli.client, cli.client.modelInfer, slowRequest('slow'));
    await new Promise((resolve) => setTimeout(resolve, RUN_STARTED_MS));
    await assert.rejects(call(cli.client, cli.client.modelInfer, slowRequest('slow'), { deadline: Date.now() + 30 }), {
      code: status.DEADLINE_EXCEEDED,
    });
    await running;
    const next = await call(cli.client, cli.client.modelInfer, slowRequest('slow'));
    assert.deepEqual(next.outputs[0]?.shape.map(Number), [ROWS, FEATURES]);
  });

  test('scheduling - SIGTERM during a run lets it finish, then the server exits 0', async () => {
    const running = call(cli.client, cli.client.modelInfer, slowRequest('slow'));
    await new Promise((resolve) => setTimeout(resolve, RUN_STARTED_MS));
    cli.process.kill('SIGTERM');
    const response = await running;
    assert.deepEqual(response.outputs[0]?.shape.map(Number), [ROWS, FEATURES]);
    assert.equal(await cli.exited, 0);
  });
});
