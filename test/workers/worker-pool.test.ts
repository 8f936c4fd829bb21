// WorkerPool with real worker threads and the fixture models: scheduling, cancellation,
// zero-copy inputs, errors, crashes and restarts, unload.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { InferenceError } from '../../src/errors.js';
import type { ExecutionJob } from '../../src/model/index.js';
import { configParameters, ioSpec, normalizeConfig, parseConfigText } from '../../src/repository/model-config.js';
import type { ModelContext } from '../../src/model/model-server.js';
import { WorkerPool, type WorkerPoolOptions } from '../../src/workers/worker-pool.js';
import type { Parameters } from '../../src/model/types.js';
import { tempRepository } from '../helpers/server.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/worker-models/', import.meta.url));

function poolOptions(model: string, overrides: Partial<WorkerPoolOptions> = {}): WorkerPoolOptions {
  const dir = join(FIXTURES, model);
  const config = normalizeConfig(parseConfigText(readFileSync(join(dir, 'config.pbtxt'), 'utf8'), 'config.pbtxt'), model);
  const context: ModelContext = {
    name: model,
    version: '1',
    config,
    io: ioSpec(config),
    parameters: configParameters(config),
    serverParameters: {},
    versionPath: join(dir, '1'),
    logger: pino({ level: 'silent' }),
  };
  return { modulePath: join(dir, '1', 'model.ts'), generation: 1, context, count: 1, ...overrides };
}

async function startPool(t: TestContext, model: string, overrides: Partial<WorkerPoolOptions> = {}): Promise<WorkerPool> {
  const pool = await WorkerPool.start(poolOptions(model, overrides));
  t.after(() => pool.unload());
  return pool;
}

function job(values: number[] | Float32Array, parameters: Parameters = {}, operation = 'infer'): ExecutionJob {
  const data = values instanceof Float32Array ? values : new Float32Array(values);
  return {
    id: 'r',
    tensors: [{ name: 'INPUT0', datatype: 'FP32', shape: [data.length], data }],
    parameters,
    outputs: [],
    operation,
  };
}

const never = new AbortController().signal;

describe('worker pool', () => {
  test('runs the hooks in a worker thread and reports the instance and its own execution time', async (t) => {
    const pool = await startPool(t, 'worker_probe');
    assert.equal(pool.modelClass, 'Probe');
    const output = await pool.run(job([1, 2, 3]), never);
    const probe = output.outputs.find((o) => o.name === 'PROBE')?.data as Float64Array;
    assert.equal(probe[3], 0, 'ran off the main thread');
    assert.equal(probe[4], 6);
    assert.equal(output.instance, '0');
    assert.equal(typeof output.inferNs, 'bigint');
    assert.ok((output.inferNs as bigint) > 0n);
  });

  test('an input alone on its buffer is transferred: the worker sees that buffer, the job gets it back', async (t) => {
    const pool = await startPool(t, 'worker_probe');
    const data = new Float32Array(1024).fill(1);
    const input = job(data);
    const output = await pool.run(input, never);
    assert.equal(data.buffer.byteLength, 0, 'the sender side is detached: moved, not copied');
    const probe = output.outputs.find((o) => o.name === 'PROBE')?.data as Float64Array;
    assert.deepEqual([...probe.subarray(0, 3)], [4096, 0, 1]);
    assert.equal(output.inputs?.[0]?.data.length, 1024, 'the inputs come back for monitoring');
  });

  test('an input viewing a larger buffer reaches the worker on a buffer of exactly its size', async (t) => {
    const pool = await startPool(t, 'worker_probe');
    const message = new ArrayBuffer(4096 + 64);
    const view = new Float32Array(message, 32, 1024).fill(2);
    const output = await pool.run(job(view), never);
    assert.equal(message.byteLength, 4096 + 64, 'the shared buffer stays with the sender');
    const probe = output.outputs.find((o) => o.name === 'PROBE')?.data as Float64Array;
    assert.deepEqual([...probe], [4096, 0, 1, 0, 2048]);
  });

  test('inputs that view a larger buffer are copied, not moved: the answer sends none back and the job keeps its own', async (t) => {
    const pool = await startPool(t, 'worker_probe');
    const view = new Float32Array(new ArrayBuffer(64), 16, 4).fill(3);
    const output = await pool.run(job(view), never);
    assert.equal(output.inputs, undefined, 'monitoring reads the job\'s own inputs, still whole');
    assert.deepEqual([...view], [3, 3, 3, 3]);
  });

  // Short: under 100 ms, a margin no busy machine eats; long: 300 ms.
  const SHORT = { shortJobMs: 100 };

  test('short jobs are sent ahead to a busy instance; long ones wait in the pool for a free one', async (t) => {
    const pool = await startPool(t, 'worker_busy', SHORT);
    await pool.run(job([0], { busy_ms: 0 }), never);
    const short = [1, 2, 3].map(() => pool.run(job([0], { busy_ms: 0 }), never));
    assert.equal(pool.queued, 0, 'the last job was short: all three went to the instance');
    assert.deepEqual(
      (await Promise.all(short)).map((r) => r.metrics['calls']),
      [2, 3, 4],
      'run one at a time, in order, each answer to its own request',
    );
    const long = pool.run(job([0], { busy_ms: 300 }), never);
    await long;
    const behind = [1, 2].map(() => pool.run(job([0], { busy_ms: 0 }), never));
    assert.equal(pool.queued, 1, 'the last job was long: one at a time');
    await Promise.all(behind);
  });

  test('a job aborted while it waits in its instance\'s thread fails and never reaches the model', async (t) => {
    const pool = await startPool(t, 'worker_busy', SHORT);
    await pool.run(job([0], { busy_ms: 0 }), never);
    const running = pool.run(job([0], { busy_ms: 300 }), never);
    const controller = new AbortController();
    const waiting = pool.run(job([0], { busy_ms: 0 }), controller.signal);
    assert.equal(pool.queued, 0, 'sent ahead');
    controller.abort(new InferenceError('CANCELLED', 'the client cancelled the call'));
    await assert.rejects(waiting, { name: 'InferenceError', code: 'CANCELLED', message: 'the client cancelled the call' });
    assert.equal((await running).metrics['calls'], 2);
    const next = await pool.run(job([0], { busy_ms: 0 }), never);
    assert.equal(next.metrics['calls'], 3, 'the aborted job never ran');
  });

  test('requests queue for an idle instance and run one at a time on it', async (t) => {
    const pool = await startPool(t, 'worker_busy');
    const started = Date.now();
    const results = await Promise.all([1, 2, 3].map(() => pool.run(job([0], { busy_ms: 150 }), never)));
    assert.ok(Date.now() - started >= 450, 'three 150 ms jobs on one instance take 450 ms');
    assert.deepEqual(
      results.map((r) => r.metrics['calls']),
      [1, 2, 3],
    );
  });

  test('two instances run two requests at once', async (t) => {
    const pool = await startPool(t, 'worker_busy', { count: 2 });
    const started = Date.now();
    const results = await Promise.all([1, 2].map(() => pool.run(job([0], { busy_ms: 400 }), never)));
    assert.ok(Date.now() - started < 750, 'in parallel, not one after the other');
    assert.deepEqual(new Set(results.map((r) => r.instance)), new Set(['0', '1']));
  });

  test('an aborted queued request fails at once and never reaches the model', async (t) => {
    const pool = await startPool(t, 'worker_busy');
    const running = pool.run(job([0], { busy_ms: 300 }), never);
    const controller = new AbortController();
    const queued = pool.run(job([0], { busy_ms: 0 }), controller.signal);
    assert.equal(pool.queued, 1);
    controller.abort(new InferenceError('CANCELLED', 'the client cancelled the call'));
    await assert.rejects(queued, { name: 'InferenceError', code: 'CANCELLED' });
    assert.equal(pool.queued, 0);
    assert.equal((await running).metrics['calls'], 1);
    const next = await pool.run(job([0], { busy_ms: 0 }), never);
    assert.equal(next.metrics['calls'], 2, 'the aborted request was never run');
  });

  test('aborting a running request aborts the signal its hooks see, with the same reason', async (t) => {
    const pool = await startPool(t, 'worker_busy');
    const controller = new AbortController();
    const running = pool.run(job([0], {}, 'wait'), controller.signal);
    setTimeout(() => controller.abort(new InferenceError('DEADLINE_EXCEEDED', 'deadline passed')), 50);
    await assert.rejects(running, (err: InferenceError) => {
      assert.equal(err.code, 'DEADLINE_EXCEEDED');
      assert.match(err.message, /model 'worker_busy' version 1 operation 'wait': deadline passed/);
      return true;
    });
  });

  test("a hook's InferenceError keeps its code; other errors are INTERNAL naming the model", async (t) => {
    const pool = await startPool(t, 'worker_busy');
    await assert.rejects(pool.run(job([0], {}, 'nope'), never), {
      name: 'InferenceError',
      code: 'INVALID_ARGUMENT',
      message: /'nope' is not an operation of model 'worker_busy'/,
    });
    await assert.rejects(pool.run(job([0], { fail: 'throw' }), never), (err: InferenceError) => {
      assert.ok(err instanceof InferenceError);
      assert.equal(err.code, 'INTERNAL');
      assert.match(err.message, /model 'worker_busy' version 1 operation 'infer' failed: predict exploded/);
      return true;
    });
  });

  test('a failing load() rejects the start with its error, code included', async (t) => {
    const repo = tempRepository({
      worker_broken: {
        config: 'name: "worker_broken"',
        versions: {
          '1': `import { InferenceError, ModelServer, type PredictOutputs } from 'v2serve';
export default class Broken extends ModelServer {
  load(): void { throw new InferenceError('FAILED_PRECONDITION', 'weights file is corrupt'); }
  predict(): PredictOutputs { return []; }
}`,
        },
      },
    });
    t.after(() => repo.remove());
    const options = poolOptions('worker_probe', { count: 2, modulePath: join(repo.root, 'worker_broken', '1', 'model.ts') });
    await assert.rejects(WorkerPool.start(options), {
      name: 'InferenceError',
      code: 'FAILED_PRECONDITION',
      message: 'weights file is corrupt',
    });
  });

  test('a model returning an array it keeps fails the next request INTERNAL naming the output, not silently empty', async (t) => {
    const repo = tempRepository({
      worker_cache: {
        config: 'name: "worker_cache"',
        versions: {
          '1': `import { ModelServer, type PredictOutputs } from 'v2serve';
export default class Cache extends ModelServer {
  private readonly constant = new Float32Array([1, 2, 3]);
  load(): void {}
  predict(): PredictOutputs { return { ECHO: this.constant }; }
}`,
        },
      },
    });
    t.after(() => repo.remove());
    const pool = await startPool(t, 'worker_probe', { modulePath: join(repo.root, 'worker_cache', '1', 'model.ts') });
    const first = await pool.run(job([0]), never);
    assert.deepEqual([...(first.outputs[0]?.data as Float32Array)], [1, 2, 3]);
    await assert.rejects(pool.run(job([0]), never), {
      code: 'INTERNAL',
      message: /model 'worker_probe' version 1 operation 'infer'.*tensor 'ECHO' is on a buffer already moved/,
    });
  });

  for (const [operation, reason] of [
    ['throw', /threw an uncaught exception: model bug in a timer/],
    ['exit', /exited with code 3/],
    ['oom', /ran out of memory \(worker_max_old_generation_mb 64\)/],
  ] as const) {
    test(`crash (${operation}) - fails the running request UNAVAILABLE naming model and instance; the instance restarts`, async (t) => {
      const pool = await startPool(t, 'worker_crash', {
        restartDelayMs: 20,
        resourceLimits: { maxOldGenerationSizeMb: 64 },
      });
      const changes: [boolean, string][] = [];
      pool.watch((available, why) => changes.push([available, why]));
      await assert.rejects(pool.run(job([0], {}, operation), never), (err: InferenceError) => {
        assert.equal(err.code, 'UNAVAILABLE');
        assert.match(err.message, /model 'worker_crash' version 1 instance 0/);
        assert.match(err.message, reason);
        return true;
      });
      assert.equal(pool.aliveCount, 0);
      assert.equal(changes[0]?.[0], false);
      assert.match(changes[0]?.[1] ?? '', reason);
      const output = await pool.run(job([4]), never);
      assert.deepEqual([...(output.outputs[0]?.data as Float32Array)], [4]);
      assert.equal(pool.aliveCount, 1);
      assert.deepEqual(changes[1], [true, '']);
    });
  }

  test('crash - the jobs sent ahead behind the running one go back to the queue and run after the restart', async (t) => {
    const pool = await startPool(t, 'worker_crash', { restartDelayMs: 20, ...SHORT });
    await pool.run(job([0]), never);
    const crashing = pool.run(job([0], {}, 'exit'), never);
    // Views on a larger buffer, as decoded requests are: copied, so they can be sent again.
    const behind = [5, 6].map((value) => pool.run(job(new Float32Array(new ArrayBuffer(64), 16, 1).fill(value)), never));
    assert.equal(pool.queued, 0, 'sent ahead');
    await assert.rejects(crashing, { code: 'UNAVAILABLE', message: /exited with code 3/ });
    const outputs = await Promise.all(behind);
    assert.deepEqual(
      outputs.map((output) => [...(output.outputs[0]?.data as Float32Array)]),
      [[5], [6]],
    );
  });

  test('crash - a job sent ahead whose inputs moved to the dead thread fails UNAVAILABLE, as it cannot be sent again', async (t) => {
    const pool = await startPool(t, 'worker_crash', { restartDelayMs: 20, ...SHORT });
    await pool.run(job([0]), never);
    const crashing = pool.run(job([0], {}, 'exit'), never);
    const behind = pool.run(job([5]), never);
    await assert.rejects(crashing, { code: 'UNAVAILABLE', message: /exited with code 3/ });
    await assert.rejects(behind, { code: 'UNAVAILABLE', message: /instance 0 failed before running a request whose inputs it held/ });
  });

  test('crash - with two instances the pool stays available and serves on the other one', async (t) => {
    const pool = await startPool(t, 'worker_crash_pair', { count: 2, restartDelayMs: 5_000 });
    const changes: boolean[] = [];
    pool.watch((available) => changes.push(available));
    await assert.rejects(pool.run(job([0], {}, 'exit'), never), { code: 'UNAVAILABLE' });
    assert.equal(pool.aliveCount, 1);
    const output = await pool.run(job([7]), never);
    assert.deepEqual([...(output.outputs[0]?.data as Float32Array)], [7]);
    assert.deepEqual(changes, []);
  });

  test('unload waits for the running request, fails queued ones, then ends the threads', async (t) => {
    const pool = await startPool(t, 'worker_busy');
    const running = pool.run(job([0], { busy_ms: 200 }), never);
    const queued = pool.run(job([0], { busy_ms: 0 }), never);
    const unloaded = pool.unload();
    await assert.rejects(queued, { code: 'UNAVAILABLE', message: /is unloading/ });
    assert.equal((await running).metrics['calls'], 1);
    await unloaded;
    assert.equal(pool.aliveCount, 0);
    await assert.rejects(pool.run(job([0]), never), { code: 'UNAVAILABLE' });
  });
});
