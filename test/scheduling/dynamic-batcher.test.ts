// DynamicBatcher with a fake instance and a manual clock: batch formation (preferred sizes,
// max_batch_size, max_queue_delay), merging and splitting rows, cancellation, errors,
// statistics hook.
import assert from 'node:assert/strict';
import { getEventListeners, setMaxListeners } from 'node:events';
import { describe, test } from 'node:test';
import { ModelConfig } from '../../generated/model_config.js';
import type { RequestSignal } from '../../src/cancellation.js';
import { InferenceError } from '../../src/errors.js';
import { realClock, type Clock } from '../../src/scheduling/clock.js';
import {
  DynamicBatcher,
  batchable,
  batchRows,
  batchingSettings,
  type BatchShare,
  type DynamicBatcherOptions,
  type Execution,
} from '../../src/scheduling/dynamic-batcher.js';
import type { ExecutionJob, ExecutionOutput } from '../../src/model/index.js';
import type { Parameters, RequestedOutput } from '../../src/model/types.js';
import type { Tensor } from '../../src/tensor/index.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { parseConfigText } from '../../src/repository/index.js';
import { priorityQueues } from '../../src/scheduling/queue-policy.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A job of `rows` rows: X INT32 [rows, 2] = (first, first + 1), (first + 2, …); T BYTES [rows, 1] = "t<first>-<row>". */
function job(
  first: number,
  rows = 1,
  { parameters = {}, operation = 'infer', cols = 2, outputs = [] }: { parameters?: Parameters; operation?: string; cols?: number; outputs?: RequestedOutput[] } = {},
): ExecutionJob {
  return {
    id: `r${first}`,
    tensors: [
      { name: 'X', datatype: 'INT32', shape: [rows, cols], data: Int32Array.from({ length: rows * cols }, (_, i) => first + i) },
      { name: 'T', datatype: 'BYTES', shape: [rows, 1], data: Array.from({ length: rows }, (_, r) => enc.encode(`t${first}-${r}`)) },
    ],
    parameters,
    outputs,
    operation,
  };
}

interface Call {
  readonly job: ExecutionJob;
  readonly signal: RequestSignal;
  resolve(output?: ExecutionOutput): void;
  reject(err: Error): void;
}

/** An instance whose executions finish when the test says so; by default Y = X * 10 and U = upper-cased T. */
function fakeInstance(autoFinish = false) {
  const calls: Call[] = [];
  const executions: Execution[] = [];
  const compute = (j: ExecutionJob): ExecutionOutput => {
    const x = j.tensors[0] as Tensor;
    const t = j.tensors[1] as Tensor;
    return {
      outputs: [
        { name: 'Y', datatype: 'INT32', shape: x.shape, data: (x.data as Int32Array).map((v) => v * 10) },
        { name: 'U', datatype: 'BYTES', shape: t.shape, data: (t.data as readonly Uint8Array[]).map((e) => enc.encode(dec.decode(e).toUpperCase())) },
      ],
      parameters: { p: 1 },
      metrics: {},
      labels: {},
      logged: { inputs: 'whole batch', outputs: 'whole batch' },
    };
  };
  const run = (j: ExecutionJob, signal: RequestSignal): Promise<ExecutionOutput> => {
    if (autoFinish) return Promise.resolve(compute(j));
    return new Promise((resolve, reject) => {
      calls.push({ job: j, signal, resolve: (output) => resolve(output ?? compute(j)), reject });
    });
  };
  return { calls, executions, run, onExecution: (e: Execution) => executions.push(e) };
}

/** A batcher on a manual clock (unless `options` gives another): its delays pass only when the test advances it. */
function batcher(
  instance: ReturnType<typeof fakeInstance>,
  options: Partial<DynamicBatcherOptions> = {},
): DynamicBatcher {
  return new DynamicBatcher({
    describe: "model 'm' version 1",
    maxBatchSize: 8,
    preferredBatchSizes: [8],
    maxQueueDelayUs: 10_000_000,
    executors: 1,
    run: instance.run,
    onExecution: instance.onExecution,
    clock: new ManualClock(),
    ...options,
  });
}

const never = new AbortController().signal;
setMaxListeners(0, never); // shared by every request of a test
const rowsOf = (j: ExecutionJob) => (j.tensors[0] as Tensor).shape[0];
const values = (t: Tensor | undefined) => [...((t?.data ?? []) as Int32Array)];
const strings = (t: Tensor | undefined) => ((t?.data ?? []) as readonly Uint8Array[]).map((e) => dec.decode(e));

describe('DynamicBatcher - batch formation', () => {
  test('requests reaching a preferred size run at once as one execution', async () => {
    const instance = fakeInstance();
    const b = batcher(instance, { preferredBatchSizes: [4] });
    const shares = [0, 10, 20, 30].map((first) => b.submit(job(first), never));
    assert.equal(instance.calls.length, 1, 'sent without waiting for the 10 s delay');
    assert.equal(rowsOf(instance.calls[0]!.job), 4);
    instance.calls[0]!.resolve();
    for (const share of await Promise.all(shares)) assert.equal(share.batchSize, 4);
  });

  test('below a preferred size, the oldest request waits max_queue_delay, then what is there runs', async () => {
    const instance = fakeInstance(true);
    const clock = new ManualClock();
    const b = batcher(instance, { maxQueueDelayUs: 40_000, clock });
    const shares = [0, 10, 20].map((first) => b.submit(job(first), never));
    clock.advance(39);
    assert.equal(b.queued, 3, 'all wait until the delay is over');
    clock.advance(1);
    assert.equal(b.queued, 0);
    assert.deepEqual((await Promise.all(shares)).map((s) => s.batchSize), [3, 3, 3]);
    assert.deepEqual(instance.executions.map((e) => e.batchSize), [3]);
  });

  test('the delay counts from the oldest request\'s arrival, not from the latest', () => {
    const instance = fakeInstance();
    const clock = new ManualClock();
    const b = batcher(instance, { maxQueueDelayUs: 40_000, clock });
    void b.submit(job(0), never);
    clock.advance(30);
    void b.submit(job(10), never);
    clock.advance(10);
    assert.equal(instance.calls.length, 1);
    assert.equal(rowsOf(instance.calls[0]!.job), 2);
    assert.equal(clock.pendingTimers, 0, 'no timer left behind');
  });

  test('a delay of 0 sends what is there as soon as an instance is free', async () => {
    const instance = fakeInstance();
    const b = batcher(instance, { maxQueueDelayUs: 0 });
    const first = b.submit(job(0), never);
    assert.equal(instance.calls.length, 1, 'the first request runs alone at once');
    const rest = [1, 2, 3].map((n) => b.submit(job(n * 10), never));
    assert.equal(instance.calls.length, 1, 'the others wait for the busy instance');
    instance.calls[0]!.resolve();
    await first;
    assert.equal(instance.calls.length, 2);
    assert.equal(rowsOf(instance.calls[1]!.job), 3, 'then go together');
    instance.calls[1]!.resolve();
    await Promise.all(rest);
  });

  test('never more than max_batch_size rows: the request that does not fit waits for the next batch', async () => {
    const instance = fakeInstance();
    const b = batcher(instance, { maxQueueDelayUs: 0 });
    const blocker = b.submit(job(0), never);
    const shares = [10, 20, 30].map((first) => b.submit(job(first, 3), never));
    instance.calls[0]!.resolve();
    await blocker;
    assert.equal(rowsOf(instance.calls[1]!.job), 6, '3 + 3; another 3 would make 9 > 8');
    instance.calls[1]!.resolve();
    await shares[0];
    assert.equal(rowsOf(instance.calls[2]!.job), 3);
    instance.calls[2]!.resolve();
    assert.deepEqual((await Promise.all(shares)).map((s) => s.batchSize), [6, 6, 3]);
  });

  test('the largest preferred size reachable is sent first; the rest waits its delay', async () => {
    const instance = fakeInstance();
    const clock = new ManualClock();
    const b = batcher(instance, { preferredBatchSizes: [2, 4], maxQueueDelayUs: 30_000, clock });
    const blocker = b.submit(job(0), never);
    clock.advance(30);
    assert.equal(instance.calls.length, 1, 'the blocker ran alone after its delay');
    const shares = [10, 20, 30].map((first) => b.submit(job(first), never));
    instance.calls[0]!.resolve();
    await blocker;
    assert.equal(rowsOf(instance.calls[1]!.job), 2, 'preferred size 2 of the 3 waiting');
    instance.calls[1]!.resolve();
    await shares[0];
    clock.advance(29);
    assert.equal(instance.calls.length, 2, 'the third waits for others until its delay');
    clock.advance(1);
    assert.equal(rowsOf(instance.calls[2]!.job), 1);
    instance.calls[2]!.resolve();
    assert.deepEqual((await Promise.all(shares)).map((s) => s.batchSize), [2, 2, 1]);
  });

  test('with two executors two batches run at once', async () => {
    const instance = fakeInstance();
    const b = batcher(instance, { preferredBatchSizes: [2], executors: 2 });
    const shares = [0, 1, 2, 3, 4, 5].map((n) => b.submit(job(n * 10), never));
    assert.equal(instance.calls.length, 2);
    assert.deepEqual(instance.calls.map((c) => rowsOf(c.job)), [2, 2]);
    instance.calls[1]!.resolve();
    await shares[2];
    assert.equal(instance.calls.length, 3, 'a free executor takes the next batch');
    for (const c of instance.calls) c.resolve();
    await Promise.all(shares);
    assert.deepEqual(instance.executions.map((e) => e.batchSize), [2, 2, 2]);
  });
});

describe('DynamicBatcher - compatibility', () => {
  test('requests differing only in timeout or priority may share an execution; other parameters may not', () => {
    const withParameters = (parameters: Parameters) => job(0, 1, { parameters });
    const together = (a: Parameters, b: Parameters) => batchable(withParameters(a), withParameters(b));
    assert.equal(together({ timeout: 5, priority: 1, scale: 2 }, { scale: 2 }), true);
    assert.equal(together({ scale: 2, offset: 1 }, { offset: 1, scale: 2 }), true, 'key order does not matter');
    assert.equal(together({ scale: 2 }, { scale: 3 }), false);
    assert.equal(together({ scale: 2 }, { scale: '2' }), false);
    assert.equal(together({ scale: 2 }, { scale: 2n }), false);
    assert.equal(together({ scale: 2 }, { scale: 2, extra: true }), false);
    assert.equal(together({ scale: NaN }, { scale: NaN }), true);
    assert.equal(together({ sequence_id: 1 }, { sequence_id: 2 }), false);
  });

  test('the operation, the requested outputs and the row shape must match; the rows need not', () => {
    const base = job(0, 1);
    assert.equal(batchable(job(5, 3), base), true);
    assert.equal(batchRows(job(5, 3)), 3);
    assert.equal(batchable(job(0, 1, { operation: 'explain' }), base), false);
    assert.equal(batchable(job(0, 1, { cols: 3 }), base), false);
    assert.equal(batchable(job(0, 1, { outputs: [{ name: 'Y', parameters: {} }] }), base), false);
    // Applied per request after the model ran: no reason to split a batch.
    assert.equal(
      batchable(job(0, 1, { outputs: [{ name: 'Y', parameters: { classification: 2 } }] }), job(0, 1, { outputs: [{ name: 'Y', parameters: {} }] })),
      true,
    );
  });

  test('inputs without a common batch dim are never merged', () => {
    const odd: ExecutionJob = { ...job(0, 2), tensors: [(job(0, 2).tensors[0] as Tensor), (job(0, 1).tensors[1] as Tensor)] };
    assert.equal(batchRows(odd), undefined);
  });

  test('incompatible requests go in separate executions, compatible ones still merge', async () => {
    const instance = fakeInstance();
    const b = batcher(instance, { maxQueueDelayUs: 0 });
    const blocker = b.submit(job(0), never);
    const shares = [
      b.submit(job(10, 1, { parameters: { scale: 2 } }), never),
      b.submit(job(20, 1, { cols: 3 }), never),
      b.submit(job(30, 1, { parameters: { scale: 2, timeout: 99 } }), never),
    ];
    instance.calls[0]!.resolve();
    await blocker;
    assert.deepEqual(instance.calls[1]!.job.parameters, { scale: 2 }, 'the model does not see one request\'s timeout');
    assert.equal(rowsOf(instance.calls[1]!.job), 2, 'the two scale-2 requests');
    instance.calls[1]!.resolve();
    await shares[0];
    assert.equal((instance.calls[2]!.job.tensors[0] as Tensor).shape[1], 3);
    instance.calls[2]!.resolve();
    assert.deepEqual((await Promise.all(shares)).map((s) => s.batchSize), [2, 1, 2]);
  });
});

describe('DynamicBatcher - merge and split', () => {
  test('the merged input is one new concatenation, in queue order', async () => {
    const instance = fakeInstance();
    const b = batcher(instance, { preferredBatchSizes: [3] });
    const jobs = [job(0), job(100, 2)];
    const shares = jobs.map((j) => b.submit(j, never));
    const [x, t] = instance.calls[0]!.job.tensors as [Tensor, Tensor];
    assert.deepEqual(x.shape, [3, 2]);
    assert.deepEqual(values(x), [0, 1, 100, 101, 102, 103]);
    assert.equal((x.data as Int32Array).byteLength, ((x.data as Int32Array).buffer as ArrayBuffer).byteLength, 'alone on its buffer');
    for (const j of jobs) assert.notEqual((x.data as Int32Array).buffer, (j.tensors[0]!.data as Int32Array).buffer);
    assert.deepEqual(strings(t), ['t0-0', 't100-0', 't100-1']);
    instance.calls[0]!.resolve();
    await Promise.all(shares);
  });

  test('every request gets its own rows back, numeric as views on the batched output, BYTES as its elements', async () => {
    const instance = fakeInstance();
    const b = batcher(instance, { preferredBatchSizes: [4] });
    const shares = [b.submit(job(0), never), b.submit(job(100, 2), never), b.submit(job(200), never)];
    const batchedY = new Int32Array(8).map((_, i) => i * 7);
    instance.calls[0]!.resolve({
      outputs: [
        { name: 'Y', datatype: 'INT32', shape: [4, 2], data: batchedY },
        { name: 'U', datatype: 'BYTES', shape: [4, 1], data: ['a', 'b', 'c', 'd'].map((s) => enc.encode(s)) },
      ],
      parameters: {},
      metrics: {},
      labels: {},
    });
    const [a, mid, c] = await Promise.all(shares);
    assert.deepEqual(values(a!.output.outputs[0]), [0, 7]);
    assert.deepEqual(values(mid!.output.outputs[0]), [14, 21, 28, 35]);
    assert.deepEqual(mid!.output.outputs[0]!.shape, [2, 2]);
    assert.deepEqual(values(c!.output.outputs[0]), [42, 49]);
    for (const share of [a, mid, c]) assert.equal((share!.output.outputs[0]!.data as Int32Array).buffer, batchedY.buffer);
    assert.deepEqual([a, mid, c].map((s) => strings(s!.output.outputs[1])), [['a'], ['b', 'c'], ['d']]);
  });

  test('no cross-talk: 64 requests with distinct values each get their own rows, whatever the batches', async () => {
    const instance = fakeInstance(true);
    // The real clock: its 1 ms delays pass on their own, as on a server.
    const b = batcher(instance, { preferredBatchSizes: [4, 8], maxQueueDelayUs: 1000, executors: 2, clock: realClock });
    const shares = await Promise.all(Array.from({ length: 64 }, (_, n) => b.submit(job(n * 1000, 1 + (n % 3)), never)));
    for (const [n, share] of shares.entries()) {
      const rows = 1 + (n % 3);
      assert.deepEqual(values(share.output.outputs[0]), Array.from({ length: rows * 2 }, (_, i) => (n * 1000 + i) * 10));
      assert.deepEqual(strings(share.output.outputs[1]), Array.from({ length: rows }, (_, r) => `T${n * 1000}-${r}`));
      if (share.batchSize > rows) assert.equal(share.output.logged, undefined, 'the batch\'s logged results are not any one request\'s');
    }
    const sent = Array.from({ length: 64 }, (_, n) => 1 + (n % 3)).reduce((sum, n) => sum + n, 0);
    assert.equal(instance.executions.reduce((sum, e) => sum + e.batchSize, 0), sent, 'every row ran exactly once');
    assert.ok(instance.executions.every((e) => e.batchSize <= 8));
    assert.ok(instance.executions.length < 64);
  });

  test('a batch of one request passes through untouched: same job, same signal, same output', async () => {
    const instance = fakeInstance();
    const b = batcher(instance, { maxQueueDelayUs: 0 });
    const mine = job(0, 2);
    const controller = new AbortController();
    const share = b.submit(mine, controller.signal);
    assert.equal(instance.calls[0]!.job, mine);
    assert.equal(instance.calls[0]!.signal, controller.signal);
    const output: ExecutionOutput = { outputs: [], parameters: {}, metrics: {}, labels: {}, logged: { inputs: 1, outputs: 2 } };
    instance.calls[0]!.resolve(output);
    assert.equal((await share).output, output);
  });

  test('an output without the batch\'s rows fails every request INTERNAL, naming model and output', async () => {
    const instance = fakeInstance();
    const b = batcher(instance, { preferredBatchSizes: [2] });
    const shares = [b.submit(job(0), never), b.submit(job(10), never)];
    instance.calls[0]!.resolve({ outputs: [{ name: 'Y', datatype: 'INT32', shape: [1], data: new Int32Array(1) }], parameters: {}, metrics: {}, labels: {} });
    for (const share of shares) {
      await assert.rejects(share, { name: 'InferenceError', code: 'INTERNAL', message: /^model 'm' version 1: output 'Y' has shape \[1\], expected a batch dimension of 2/ });
    }
    assert.equal(instance.executions.length, 0, 'a failed execution is not counted');
  });

  test('an execution that fails fails every request of its batch, and the next batch runs', async () => {
    const instance = fakeInstance();
    const b = batcher(instance, { preferredBatchSizes: [2] });
    const shares = [b.submit(job(0), never), b.submit(job(10), never)];
    const next = [b.submit(job(20), never), b.submit(job(30), never)];
    instance.calls[0]!.reject(new InferenceError('INTERNAL', 'boom'));
    for (const share of shares) await assert.rejects(share, { message: 'boom' });
    instance.calls[1]!.resolve();
    assert.equal((await Promise.all(next)).length, 2);
  });

  test('onExecution is told once per execution, with its batch size and request count', async () => {
    const instance = fakeInstance(true);
    const b = batcher(instance, { preferredBatchSizes: [4] });
    await Promise.all([b.submit(job(0, 3), never), b.submit(job(10), never)]);
    assert.equal(instance.executions.length, 1);
    assert.equal(instance.executions[0]!.batchSize, 4);
    assert.equal(instance.executions[0]!.requests, 2);
  });
});

describe('DynamicBatcher - cancellation', () => {
  test('a request cancelled while queued leaves the queue, fails with the reason and is never computed', async () => {
    const instance = fakeInstance();
    const b = batcher(instance, { maxQueueDelayUs: 0 });
    const blocker = b.submit(job(0), never);
    const controller = new AbortController();
    const dropped = b.submit(job(10), controller.signal);
    const kept = b.submit(job(20), never);
    assert.equal(b.queued, 2);
    controller.abort(new InferenceError('DEADLINE_EXCEEDED', 'timeout expired'));
    await assert.rejects(dropped, { code: 'DEADLINE_EXCEEDED', message: 'timeout expired' });
    assert.equal(b.queued, 1);
    instance.calls[0]!.resolve();
    await blocker;
    assert.deepEqual(values(instance.calls[1]!.job.tensors[0]), [20, 21], 'only the request still waiting');
    instance.calls[1]!.resolve();
    await kept;
  });

  test('an already aborted signal is refused without queueing; a foreign reason becomes CANCELLED', async () => {
    const b = batcher(fakeInstance());
    await assert.rejects(b.submit(job(0), AbortSignal.abort()), { code: 'CANCELLED' });
    assert.equal(b.queued, 0);
  });

  test('a batch\'s signal fires only once every one of its requests is aborted', async () => {
    const instance = fakeInstance();
    const b = batcher(instance, { preferredBatchSizes: [2] });
    const [one, two] = [new AbortController(), new AbortController()];
    const shares = [b.submit(job(0), one.signal), b.submit(job(10), two.signal)];
    const { signal } = instance.calls[0]!;
    one.abort();
    assert.equal(signal.aborted, false, 'the other request still wants the result');
    two.abort(new InferenceError('CANCELLED', 'gone'));
    assert.equal(signal.aborted, true);
    instance.calls[0]!.reject(new InferenceError('CANCELLED', 'gone'));
    for (const share of shares) await assert.rejects(share, { code: 'CANCELLED' });
  });

  test('the executing count covers requests in running batches only', async () => {
    const instance = fakeInstance();
    const b = batcher(instance, { preferredBatchSizes: [2] });
    const shares = [0, 1, 2].map((n) => b.submit(job(n), never));
    assert.equal(b.executing, 2);
    assert.equal(b.queued, 1);
    instance.calls[0]!.resolve();
    await Promise.all(shares.slice(0, 2));
    assert.equal(b.executing, 0);
    // The third waits for a partner (its delay is 10 s).
    assert.equal(b.queued, 1);
    const late = b.submit(job(9), never);
    assert.equal(instance.calls.length, 2, 'two single requests make the preferred 2');
    instance.calls[1]!.resolve();
    await Promise.all([shares[2], late]);
  });
});

/** The queues `dynamic_batching { … }` of a config says, without a server default bound. */
const queuesOf = (batching: string) =>
  priorityQueues(parseConfigText(`name: "m" max_batch_size: 8 dynamic_batching { ${batching} }`, 'config.pbtxt'), 0);
const at = (priority: number, extra: Parameters = {}): { parameters: Parameters } => ({ parameters: { priority, ...extra } });
/** The first X value of each execution's rows: whose requests ran, in order. */
const firstValues = (instance: ReturnType<typeof fakeInstance>) => instance.calls.map((c) => values(c.job.tensors[0] as Tensor).filter((_, i) => i % 2 === 0));
const TWO_LEVELS = 'priority_levels: 2 default_priority_level: 2';

describe('DynamicBatcher - priority levels', () => {
  test('a more urgent request runs before earlier less urgent ones; a level keeps arrival order', async () => {
    const instance = fakeInstance();
    // Batches of one request, so that each execution shows which request went next.
    const b = batcher(instance, { preferredBatchSizes: [1], queues: queuesOf(TWO_LEVELS) });
    const busy = b.submit(job(0, 1, at(2)), never);
    const later = [b.submit(job(10, 1, at(2)), never), b.submit(job(20, 1, at(2)), never), b.submit(job(30, 1, at(1)), never)];
    for (let i = 0; i < 4; i++) {
      instance.calls[i]!.resolve();
      // The instance is free again: the next batch starts.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all([busy, ...later]);
    assert.deepEqual(firstValues(instance), [[0], [30], [10], [20]]);
  });

  test('priority 0, none or above priority_levels is the default level', async () => {
    const instance = fakeInstance();
    const b = batcher(instance, { preferredBatchSizes: [1], queues: queuesOf('priority_levels: 3 default_priority_level: 2') });
    const busy = b.submit(job(0), never);
    const later = [
      b.submit(job(10, 1, at(3)), never),
      b.submit(job(20, 1, at(0)), never),
      b.submit(job(30, 1, at(7)), never),
      b.submit(job(40), never),
      b.submit(job(50, 1, at(1)), never),
    ];
    instance.calls[0]!.resolve();
    await busy;
    for (let i = 1; i <= 5; i++) {
      instance.calls[i]!.resolve();
      await later[[4, 1, 2, 3, 0][i - 1]!];
    }
    assert.deepEqual(firstValues(instance), [[0], [50], [20], [30], [40], [10]]);
  });

  test('a batch forms from the front of the priority queue: the urgent rows first, then the others in order', async () => {
    const instance = fakeInstance();
    const b = batcher(instance, { preferredBatchSizes: [4], maxQueueDelayUs: 0, queues: queuesOf(TWO_LEVELS) });
    const busy = b.submit(job(0), never);
    const later = [10, 20, 30].map((first) => b.submit(job(first, 1, at(2)), never));
    later.push(b.submit(job(40, 1, at(1)), never), b.submit(job(50, 1, at(2)), never));
    instance.calls[0]!.resolve();
    await busy;
    assert.deepEqual(firstValues(instance)[1], [40, 10, 20, 30], 'preferred size 4: the urgent one and the three oldest');
    instance.calls[1]!.resolve();
    await Promise.all(later.slice(0, 4));
    assert.deepEqual(firstValues(instance)[2], [50]);
    instance.calls[2]!.resolve();
    await Promise.all(later);
  });

  test('one queue without a policy sets no timer while the requests wait for a busy instance', () => {
    const instance = fakeInstance();
    const clock = new ManualClock();
    const b = batcher(instance, { maxQueueDelayUs: 0, clock });
    void b.submit(job(0), never);
    void b.submit(job(10), never);
    assert.equal(b.queued, 1);
    assert.equal(clock.pendingTimers, 0);
  });
});

describe('DynamicBatcher - queue policies', () => {
  test('REJECT: a request past its queue timeout fails UNAVAILABLE "Request timeout expired" and never runs', async () => {
    const instance = fakeInstance();
    const clock = new ManualClock();
    const b = batcher(instance, { clock, maxQueueDelayUs: 0, queues: queuesOf('default_queue_policy { default_timeout_microseconds: 5000 }') });
    const busy = b.submit(job(0), never);
    const waiting = b.submit(job(10), never);
    let settled = false;
    waiting.catch(() => undefined).finally(() => (settled = true));
    clock.advance(4);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'still in time after 4 ms');
    clock.advance(1);
    await assert.rejects(waiting, (err: InferenceError) => err.code === 'UNAVAILABLE' && err.message === 'Request timeout expired');
    assert.equal(b.queued, 0);
    instance.calls[0]!.resolve();
    await busy;
    assert.equal(instance.calls.length, 1, 'the expired request never reached the instance');
    assert.equal(clock.pendingTimers, 0, 'no timer left behind');
  });

  test('a request taken into a batch before its timeout runs', async () => {
    const instance = fakeInstance();
    const clock = new ManualClock();
    const b = batcher(instance, { clock, maxQueueDelayUs: 0, queues: queuesOf('default_queue_policy { default_timeout_microseconds: 5000 }') });
    const share = b.submit(job(0), never);
    clock.advance(10);
    instance.calls[0]!.resolve();
    assert.equal((await share).batchSize, 1);
  });

  test('DELAY: a request past its timeout waits behind its level\'s requests still in time, yet before a lower level', async () => {
    const instance = fakeInstance();
    const clock = new ManualClock();
    const queues = queuesOf(`${TWO_LEVELS} priority_queue_policy { key: 1 value: { timeout_action: DELAY default_timeout_microseconds: 5000 } }`);
    const b = batcher(instance, { clock, preferredBatchSizes: [1], queues });
    const busy = b.submit(job(0, 1, at(2)), never);
    const late = b.submit(job(10, 1, at(1)), never);
    const low = b.submit(job(20, 1, at(2)), never);
    clock.advance(6);
    const fresh = b.submit(job(30, 1, at(1)), never);
    assert.equal(b.queued, 3, 'the delayed request still waits');
    instance.calls[0]!.resolve();
    await busy;
    instance.calls[1]!.resolve();
    await fresh;
    instance.calls[2]!.resolve();
    await late;
    instance.calls[3]!.resolve();
    await low;
    assert.deepEqual(firstValues(instance), [[0], [30], [10], [20]]);
  });

  test('a request whose queue timeout passes before submit() returns is answered and leaves no listener on its signal', async () => {
    let ns = 0n;
    // Each reading is 1 ms later: the 0.5 ms timeout has passed when the queue is next looked at.
    const ticking: Clock = { now: () => (ns += 1_000_000n), setTimeout: () => undefined, clearTimeout: () => undefined };
    const instance = fakeInstance();
    const queues = queuesOf(`${TWO_LEVELS} priority_queue_policy { key: 1 value: { default_timeout_microseconds: 500 } }`);
    const b = batcher(instance, { clock: ticking, maxQueueDelayUs: 0, queues });
    const busy = b.submit(job(0), never);
    const controller = new AbortController();
    await assert.rejects(b.submit(job(10, 1, at(1)), controller.signal), { code: 'UNAVAILABLE', message: 'Request timeout expired' });
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    instance.calls[0]!.resolve();
    await busy;
  });

  test('a delayed request can still be cancelled', async () => {
    const instance = fakeInstance();
    const clock = new ManualClock();
    const queues = queuesOf('default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 1000 }');
    const b = batcher(instance, { clock, maxQueueDelayUs: 0, queues });
    const busy = b.submit(job(0), never);
    const controller = new AbortController();
    const delayed = b.submit(job(10), controller.signal);
    clock.advance(2);
    controller.abort(new InferenceError('CANCELLED', 'gone'));
    await assert.rejects(delayed, { code: 'CANCELLED' });
    assert.equal(b.queued, 0);
    instance.calls[0]!.resolve();
    await busy;
    assert.equal(instance.calls.length, 1);
  });

  test('allow_timeout_override: the request timeout shortens the queue timeout, never lengthens it', async () => {
    const instance = fakeInstance();
    const clock = new ManualClock();
    const queues = queuesOf('default_queue_policy { default_timeout_microseconds: 10000 allow_timeout_override: true }');
    const b = batcher(instance, { clock, preferredBatchSizes: [1], queues });
    const busy = b.submit(job(0), never);
    const expired: string[] = [];
    const track = (name: string, share: Promise<BatchShare>) => share.catch(() => expired.push(name));
    const done = [
      track('short', b.submit(job(10, 1, { parameters: { timeout: 2000 } }), never)),
      track('long', b.submit(job(20, 1, { parameters: { timeout: 50_000n } }), never)),
      track('default', b.submit(job(30), never)),
    ];
    const after = async (ms: number) => {
      clock.advance(ms);
      await new Promise((resolve) => setImmediate(resolve));
      return [...expired];
    };
    assert.deepEqual(await after(1), []);
    assert.deepEqual(await after(1), ['short'], 'its own 2 ms');
    assert.deepEqual(await after(7), ['short']);
    assert.deepEqual(await after(1), ['short', 'long', 'default'], "the policy's 10 ms");
    await Promise.all(done);
    instance.calls[0]!.resolve();
    await busy;
  });

  test('without allow_timeout_override the request timeout is not read', async () => {
    const instance = fakeInstance();
    const clock = new ManualClock();
    const b = batcher(instance, { clock, maxQueueDelayUs: 0, queues: queuesOf('default_queue_policy { default_timeout_microseconds: 10000 }') });
    const busy = b.submit(job(0), never);
    const waiting = b.submit(job(10, 1, { parameters: { timeout: 1000 } }), never);
    clock.advance(5);
    instance.calls[0]!.resolve();
    await busy;
    instance.calls[1]!.resolve();
    assert.equal((await waiting).batchSize, 1, 'ran after 5 ms though its own timeout was 1 ms');
  });
});

describe('DynamicBatcher - admission per level', () => {
  test('each level has its own max_queue_size; a full level refuses RESOURCE_EXHAUSTED naming it, the others still admit', () => {
    const instance = fakeInstance();
    const queues = queuesOf(`${TWO_LEVELS} default_queue_policy { max_queue_size: 2 } priority_queue_policy { key: 1 value: { max_queue_size: 1 } }`);
    const b = batcher(instance, { queues });
    const urgent = b.admit({ priority: 1 });
    assert.throws(() => b.admit({ priority: 1 }), {
      code: 'RESOURCE_EXHAUSTED',
      message: /^Exceeds maximum queue size: model 'm' version 1 priority level 1 already has 0 executing and 1 queued \(max_queue_size 1\)/,
    });
    const low = [b.admit({ priority: 2 }), b.admit({})];
    assert.throws(() => b.admit({ priority: 0 }), { code: 'RESOURCE_EXHAUSTED', message: /priority level 2 .*max_queue_size 2/ });
    assert.equal(b.pending(), 3);
    urgent();
    assert.doesNotThrow(() => b.admit({ priority: 1 }));
    for (const release of low) release();
  });

  test('requests of an executing batch have left their level\'s queue', async () => {
    const instance = fakeInstance();
    const b = batcher(instance, { preferredBatchSizes: [1], queues: queuesOf(`${TWO_LEVELS} priority_queue_policy { key: 1 value: { max_queue_size: 1 } }`) });
    const release = b.admit({ priority: 1 });
    const running = b.submit(job(0, 1, at(1)), never);
    assert.equal(b.executing, 1);
    const next = b.admit({ priority: 1 });
    assert.throws(() => b.admit({ priority: 1 }), { code: 'RESOURCE_EXHAUSTED' });
    instance.calls[0]!.resolve();
    await running;
    release();
    next();
  });

  test('idle() resolves once every level has released its requests', async () => {
    const b = batcher(fakeInstance(), { queues: queuesOf(TWO_LEVELS) });
    const releases = [b.admit({ priority: 1 }), b.admit({ priority: 2 })];
    let idle = false;
    const done = b.idle().then(() => (idle = true));
    releases[0]!();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(idle, false);
    releases[1]!();
    await done;
  });
});

describe('batchingSettings', () => {
  test('a model batches with max_batch_size > 0 and dynamic_batching', () => {
    const settings = batchingSettings(
      ModelConfig.fromPartial({ name: 'm', maxBatchSize: 8, dynamicBatching: { preferredBatchSize: [4, 8], maxQueueDelayMicroseconds: 500n } }),
    );
    const { queues, ...rest } = settings ?? {};
    assert.deepEqual(rest, { maxBatchSize: 8, preferredBatchSizes: [4, 8], maxQueueDelayUs: 500 });
    assert.equal(queues?.levels, 0, 'one queue');
    assert.equal(queues?.timeouts, false);
  });

  test('no batcher without dynamic_batching, with max_batch_size 0, or with a sequence batcher', () => {
    assert.equal(batchingSettings(ModelConfig.fromPartial({ name: 'm', maxBatchSize: 8 })), undefined);
    assert.equal(batchingSettings(ModelConfig.fromPartial({ name: 'm', maxBatchSize: 0, dynamicBatching: {} })), undefined);
    assert.equal(batchingSettings(ModelConfig.fromPartial({ name: 'm', maxBatchSize: 8, dynamicBatching: {}, sequenceBatching: {} })), undefined);
  });

  test('max_batch_size 0 with priority levels or queue timeouts: a batcher for them, each request executed alone', async () => {
    const config = (batching: string) => parseConfigText(`name: "m" max_batch_size: 0 dynamic_batching { ${batching} }`, 'config.pbtxt');
    assert.equal(batchingSettings(config('default_queue_policy { max_queue_size: 4 }')), undefined, 'a bound alone needs no batcher');
    const settings = batchingSettings(config('default_queue_policy { default_timeout_microseconds: 1000 }'));
    assert.equal(settings?.maxBatchSize, 0);
    assert.equal(batchingSettings(config('priority_levels: 2 default_priority_level: 1'))?.queues?.levels, 2);
    const instance = fakeInstance();
    const b = batcher(instance, { ...settings, maxQueueDelayUs: 0 });
    const shares = [b.submit(job(0), never), b.submit(job(10), never), b.submit(job(20), never)];
    instance.calls[0]!.resolve();
    await shares[0];
    assert.equal(rowsOf(instance.calls[1]!.job), 1, 'the first dim is no batch dim: never merged');
    instance.calls[1]!.resolve();
    await shares[1];
    instance.calls[2]!.resolve();
    await shares[2];
    assert.deepEqual(instance.executions.map((e) => e.batchSize), [1, 1, 1], 'an execution of one request counts as batch size 1');
  });

  test('a preferred size above max_batch_size is INVALID_ARGUMENT naming the field', () => {
    assert.throws(() => batchingSettings(ModelConfig.fromPartial({ name: 'm', maxBatchSize: 4, dynamicBatching: { preferredBatchSize: [2, 16] } })), {
      code: 'INVALID_ARGUMENT',
      message: /'m: dynamic_batching\.preferred_batch_size\[1\]' must be 1\.\.max_batch_size \(4\), got 16/,
    });
  });
});
