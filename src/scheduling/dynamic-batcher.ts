// Triton's dynamic batcher for one model version (config.pbtxt `dynamic_batching { }` with
// max_batch_size > 0): requests that the model cannot tell apart but by their rows wait
// together, are merged along the batch dimension into one job, run as one execution on
// an idle instance, and the outputs are split back by rows.
import type { ModelConfig } from '../../generated/model_config.js';
import { Cancellation, type RequestSignal } from '../cancellation.js';
import { InferenceError, abortError } from '../errors.js';
import { dictionary } from '../dictionary.js';
import { concatBatch, splitBatch, type Tensor } from '../tensor/index.js';
import type { ExecutionJob, ExecutionOutput, Parameters, ParamValue } from '../model/index.js';
import { admits, queueFullError } from './admission.js';
import { realClock, type Clock } from './clock.js';
import {
  priorityLevel,
  priorityQueues,
  queueTimeoutError,
  queueTimeoutUs,
  type PriorityQueues,
  type QueuePolicy,
} from './queue-policy.js';
import type { ExecutionTimings, Scheduled, Scheduler } from './scheduler.js';

export interface DynamicBatcherOptions {
  /** "model 'x' version 1", for error messages. */
  readonly describe: string;
  readonly maxBatchSize: number;
  /** preferred_batch_size; sizes above max_batch_size are never reached. */
  readonly preferredBatchSizes: readonly number[];
  /** max_queue_delay_microseconds: how long the oldest request waits for others; 0 = not at all. */
  readonly maxQueueDelayUs: number;
  /** Batches executing at once: one per instance. */
  readonly executors: number;
  /** Requests waiting beyond those executing; 0 = no bound. Without `queues` only: a policy has its own. */
  readonly maxQueueSize?: number;
  /** Priority levels and their queue policies; one queue of at most `maxQueueSize`, no timeouts, when absent. */
  readonly queues?: PriorityQueues;
  /** Runs one job, merged or not, on an instance. */
  readonly run: (job: ExecutionJob, signal: RequestSignal) => Promise<ExecutionOutput>;
  /** Told of every successful execution, once per batch. */
  readonly onExecution?: (execution: Execution) => void;
  /** Times the queue delay and the executions; the real clock when absent. */
  readonly clock?: Clock;
}

/** One model execution: its rows, its requests and how long each phase took, ns (input: merging, output: splitting). */
export interface Execution extends ExecutionTimings {
  readonly requests: number;
}

/** One request's part of an execution. */
export interface BatchShare {
  /** The request's own rows of every output, and the execution's parameters, metrics and labels. */
  readonly output: ExecutionOutput;
  /** Rows executed together, this request's included. */
  readonly batchSize: number;
  /** The clock's time when the batch was handed to an instance, and when it came back. */
  readonly startNs: bigint;
  readonly endNs: bigint;
}

/**
 * Request parameters that do not reach the model's computation (Triton's scheduling keys,
 * PROTOCOL §6.1): requests differing only in these still merge.
 */
const SCHEDULING_PARAMETERS: ReadonlySet<string> = new Set(['timeout', 'priority', 'triton_enable_empty_final_response']);

/** Requested-output parameters v2serve applies per request after the model ran (classification, shared memory). */
const PER_REQUEST_OUTPUT_PARAMETERS: ReadonlySet<string> = new Set([
  'classification',
  'shared_memory_region',
  'shared_memory_byte_size',
  'shared_memory_offset',
]);

interface Batch {
  readonly members: readonly Entry[];
  readonly cancellation: Cancellation | undefined;
  aborted: number;
}

/** One priority level's queue: the batcher's only one when it has no levels (number 0). */
interface Level {
  readonly number: number;
  readonly policy: QueuePolicy;
  /** Names the model and the level, for a full queue's message. */
  readonly describe: string;
  /** Requests in time, in arrival order. */
  waiting: Entry[];
  /** Requests past their queue timeout under DELAY, in the order they expired: served after `waiting`. */
  delayed: Entry[];
  /** Admitted and not released: waiting for readiness, decoding, queued or executing. */
  admitted: number;
  /** In batches an instance is executing. */
  executing: number;
}

interface Entry {
  readonly job: ExecutionJob;
  /** The common batch dim of the inputs; undefined: never merged. */
  readonly rows: number | undefined;
  readonly signal: RequestSignal;
  readonly enqueuedNs: bigint;
  readonly level: Level;
  /** When its queue timeout passes, on the batcher's clock; 0n: never (or already applied). */
  deadlineNs: bigint;
  batch: Batch | undefined;
  /** Set while the entry listens to its signal: only when it waits, or shares an execution. */
  onAbort: (() => void) | undefined;
  /** Answered: a queue timeout can reject a request before submit() returns. */
  settled: boolean;
  resolve(share: BatchShare): void;
  reject(err: unknown): void;
}

export type BatchingSettings = Pick<DynamicBatcherOptions, 'maxBatchSize' | 'preferredBatchSizes' | 'maxQueueDelayUs' | 'queues'>;

/**
 * The settings of a version's batcher, or undefined when the version does not batch; throws on
 * unusable settings. A model without a batch dimension (max_batch_size 0) is batched only for
 * its priority levels or queue timeouts, as in Triton: each request then runs alone.
 */
export function batchingSettings(config: ModelConfig, serverMaxQueueSize = 0): BatchingSettings | undefined {
  const batching = config.dynamicBatching;
  // A sequence batcher, when configured, schedules the model instead (Triton allows only one scheduler).
  if (batching === undefined || config.sequenceBatching !== undefined) return undefined;
  const queues = priorityQueues(config, serverMaxQueueSize);
  if (config.maxBatchSize <= 0 && queues.levels === 0 && !queues.timeouts) return undefined;
  for (const [i, size] of batching.preferredBatchSize.entries()) {
    if (size < 1 || size > config.maxBatchSize) {
      throw InferenceError.invalidArgument(
        `${config.name}: dynamic_batching.preferred_batch_size[${i}]`,
        `must be 1..max_batch_size (${config.maxBatchSize}), got ${size}`,
      );
    }
  }
  const delay = Number(batching.maxQueueDelayMicroseconds);
  return {
    maxBatchSize: Math.max(0, config.maxBatchSize),
    preferredBatchSizes: batching.preferredBatchSize,
    // setTimeout's bound (2^31-1 ms); a longer delay is as good as forever.
    maxQueueDelayUs: Math.min(delay, (2 ** 31 - 1) * 1000),
    queues,
  };
}

export class DynamicBatcher implements Scheduler {
  private readonly queues: PriorityQueues;
  /** The one queue of a batcher without priority levels: no lookup per request. */
  private readonly single: Level | undefined;
  /** The levels holding requests, most urgent first; made when a request first needs one. */
  private levels: Level[] = [];
  private readonly byNumber = new Map<number, Level>();
  /** Requests waiting to be batched, on every level. */
  private waiting = 0;
  /** Requests admitted and not released, on every level. */
  private admitted = 0;
  private idleWaiters: (() => void)[] = [];
  /** The earliest queue timeout of a waiting request, when some policy has timeouts; may be stale (earlier). */
  private nextDeadlineNs: bigint | undefined;
  private running = 0;
  private runningRequests = 0;
  private timer: unknown;
  private readonly clock: Clock;
  /** The timer's callback, made once rather than per wait. */
  private readonly dispatchLater = (): void => this.dispatch();
  private readonly preferred: ReadonlySet<number>;
  /** A batch this large is sent at once: the largest preferred size, else max_batch_size. */
  private readonly target: number;
  private readonly delayNs: bigint;

  constructor(private readonly options: DynamicBatcherOptions) {
    this.preferred = new Set(options.preferredBatchSizes.filter((size) => size <= options.maxBatchSize));
    this.target = this.preferred.size > 0 ? Math.max(...this.preferred) : Math.max(1, options.maxBatchSize);
    this.delayNs = BigInt(Math.round(options.maxQueueDelayUs * 1000));
    this.clock = options.clock ?? realClock;
    this.queues = options.queues ?? singleQueue(options.maxQueueSize ?? 0);
    if (this.queues.levels === 0) {
      this.single = this.addLevel(0);
    }
  }

  /**
   * Takes a request in on its priority level, or refuses it when the level's queue is full
   * (max_queue_size of its policy). The requests of an executing batch have left the queue,
   * as in Triton.
   */
  admit(parameters: Parameters): () => void {
    const level = this.levelOf(parameters);
    level.admitted++;
    this.admitted++;
    const bound = level.policy.maxQueueSize;
    // Without a bound (max_queue_size 0) there is nothing to count against.
    if (bound !== 0) {
      const state = { admitted: level.admitted, executing: level.executing, maxQueueSize: bound };
      if (!admits(state)) {
        this.release(level);
        throw queueFullError(level.describe, state);
      }
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release(level);
    };
  }

  pending(): number {
    return Math.max(0, this.admitted - this.runningRequests);
  }

  idle(): Promise<void> {
    if (this.admitted === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The job's rows of its execution; the execution itself is recorded once, through onExecution. */
  async schedule(job: ExecutionJob, signal: RequestSignal): Promise<Scheduled> {
    const share = await this.submit(job, signal);
    return { output: share.output, inferNs: Number(share.endNs - share.startNs), batched: true };
  }

  /** Requests waiting to be batched. */
  get queued(): number {
    return this.waiting;
  }

  /** Requests in batches that an instance is executing. */
  get executing(): number {
    return this.runningRequests;
  }

  /**
   * Queues a decoded job on its priority level and resolves with its part of the execution
   * that ran it. If `signal` fires while the job waits, it leaves the queue unrun and rejects
   * with the signal's reason; if its queue timeout passes, its level's policy rejects it
   * (UNAVAILABLE "Request timeout expired") or moves it behind the level's requests still in
   * time. Once running, it shares its batch's fate.
   */
  submit(job: ExecutionJob, signal: RequestSignal): Promise<BatchShare> {
    if (signal.aborted) return Promise.reject(abortError(signal));
    return new Promise<BatchShare>((resolve, reject) => {
      const level = this.levelOf(job.parameters);
      const enqueuedNs = this.clock.now();
      const entry: Entry = {
        job,
        rows: this.options.maxBatchSize > 0 ? batchRows(job) : undefined,
        signal,
        enqueuedNs,
        level,
        deadlineNs: this.queues.timeouts ? queueDeadline(level.policy, job, enqueuedNs) : 0n,
        batch: undefined,
        onAbort: undefined,
        settled: false,
        resolve: (share) => {
          entry.settled = true;
          unlisten(entry);
          resolve(share);
        },
        reject: (err) => {
          entry.settled = true;
          unlisten(entry);
          reject(err);
        },
      };
      level.waiting.push(entry);
      this.waiting++;
      if (entry.deadlineNs !== 0n && (this.nextDeadlineNs === undefined || entry.deadlineNs < this.nextDeadlineNs)) {
        this.nextDeadlineNs = entry.deadlineNs;
      }
      this.dispatch();
      // EventTarget listeners are not free: a request that went straight to an instance alone needs none.
      if (!entry.batch && !entry.settled) this.listen(entry);
    });
  }

  private levelOf(parameters: Parameters): Level {
    if (this.single) return this.single;
    const number = priorityLevel(this.queues, parameters['priority']);
    return this.byNumber.get(number) ?? this.addLevel(number);
  }

  private addLevel(number: number): Level {
    const level: Level = {
      number,
      policy: this.queues.policies.get(number) ?? this.queues.defaultPolicy,
      describe: number === 0 ? this.options.describe : `${this.options.describe} priority level ${number}`,
      waiting: [],
      delayed: [],
      admitted: 0,
      executing: 0,
    };
    this.byNumber.set(number, level);
    let at = this.levels.length;
    while (at > 0 && (this.levels[at - 1] as Level).number > number) at--;
    this.levels.splice(at, 0, level);
    return level;
  }

  private release(level: Level): void {
    level.admitted--;
    this.admitted--;
    // A level nobody uses is dropped: clients choose the levels, the memory stays bounded by those in use.
    if (level !== this.single && level.admitted === 0 && level.executing === 0 && level.waiting.length === 0 && level.delayed.length === 0) {
      this.byNumber.delete(level.number);
      this.levels.splice(this.levels.indexOf(level), 1);
    }
    if (this.admitted > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private listen(entry: Entry): void {
    if (entry.onAbort) return;
    entry.onAbort = () => this.abort(entry);
    entry.signal.addEventListener('abort', entry.onAbort, { once: true });
  }

  private abort(entry: Entry): void {
    const { batch } = entry;
    if (batch) {
      // The execution goes on for the others; it is told to stop only when nobody wants it.
      if (++batch.aborted === batch.members.length) batch.cancellation?.abort(entry.signal.reason);
      return;
    }
    const { level } = entry;
    let list = level.waiting;
    let at = list.indexOf(entry);
    if (at < 0) {
      list = level.delayed;
      at = list.indexOf(entry);
    }
    if (at < 0) return;
    list.splice(at, 1);
    this.waiting--;
    entry.reject(abortError(entry.signal));
    this.dispatch();
  }

  /**
   * Applies the queue policies, then starts batches while an instance is free and a batch is
   * due; otherwise waits for the oldest request's delay, or the next queue timeout.
   */
  private dispatch(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.nextDeadlineNs !== undefined) this.expire(this.clock.now());
    let waitMs = 0;
    while (this.running < this.options.executors && this.waiting > 0) {
      const batch = this.nextBatch();
      if (typeof batch === 'number') {
        waitMs = batch;
        break;
      }
      this.execute(batch);
    }
    if (this.nextDeadlineNs !== undefined && this.waiting > 0) {
      const ms = Math.max(1, Math.ceil(Number(this.nextDeadlineNs - this.clock.now()) / 1e6));
      if (waitMs === 0 || ms < waitMs) waitMs = ms;
    }
    if (waitMs > 0) this.timer = this.clock.setTimeout(this.dispatchLater, waitMs);
  }

  /**
   * Triton's PolicyQueue: a waiting request past its queue timeout is answered at once under
   * REJECT, and joins its level's delayed requests under DELAY (served after the level's
   * requests still in time, before any lower level's).
   */
  private expire(now: bigint): void {
    if (this.nextDeadlineNs === undefined || now < this.nextDeadlineNs) return;
    let next: bigint | undefined;
    for (const level of this.levels) {
      const { waiting } = level;
      let kept: Entry[] | undefined;
      for (let i = 0; i < waiting.length; i++) {
        const entry = waiting[i] as Entry;
        if (entry.deadlineNs === 0n || now < entry.deadlineNs) {
          kept?.push(entry);
          if (entry.deadlineNs !== 0n && (next === undefined || entry.deadlineNs < next)) next = entry.deadlineNs;
          continue;
        }
        kept ??= waiting.slice(0, i);
        entry.deadlineNs = 0n;
        if (level.policy.timeoutAction === 'DELAY') {
          level.delayed.push(entry);
        } else {
          this.waiting--;
          entry.reject(queueTimeoutError());
        }
      }
      if (kept) level.waiting = kept;
    }
    this.nextDeadlineNs = next;
  }

  /** The request a batch starts from: the most urgent level's oldest in time, else its oldest delayed. */
  private front(): Entry {
    for (const level of this.levels) {
      if (level.waiting.length > 0) return level.waiting[0] as Entry;
      if (level.delayed.length > 0) return level.delayed[0] as Entry;
    }
    throw new Error('no request is waiting');
  }

  /**
   * Triton's rule (GetDynamicBatch): gather the requests compatible with the first, in queue
   * order (levels most urgent first; in a level, arrival order, then the delayed), up to
   * max_batch_size rows. A preferred size reached is sent at once; so is a batch that cannot
   * grow (the largest preferred size or max_batch_size reached) or whose oldest request has
   * waited max_queue_delay. Otherwise returns how long to wait, ms: at most that delay.
   */
  private nextBatch(): Entry[] | number {
    const head = this.front();
    if (head.rows === undefined) {
      this.take([head]);
      return [head];
    }
    const { maxBatchSize } = this.options;
    const candidate: Entry[] = [];
    let rows = 0;
    let best = 0;
    let full = false;
    let oldestNs = head.enqueuedNs;
    gather: for (const level of this.levels) {
      for (let part = 0; part < 2; part++) {
        for (const entry of part === 0 ? level.waiting : level.delayed) {
          const n = entry.rows;
          if (n === undefined || (entry !== head && !batchable(entry.job, head.job))) continue;
          if (candidate.length > 0 && rows + n > maxBatchSize) {
            full = true;
            break gather;
          }
          candidate.push(entry);
          rows += n;
          if (entry.enqueuedNs < oldestNs) oldestNs = entry.enqueuedNs;
          if (this.preferred.has(rows)) best = candidate.length;
          if (rows >= this.target) break gather;
        }
      }
    }
    const waitedNs = this.clock.now() - oldestNs;
    const expired = this.delayNs > 0n && waitedNs >= this.delayNs;
    let take = candidate.length;
    if (best > 0 && !expired) take = best;
    // A delay of 0: what is there goes as soon as an instance is free.
    else if (!full && rows < this.target && this.delayNs > 0n && !expired) {
      return Math.max(1, Math.ceil(Number(this.delayNs - waitedNs) / 1e6));
    }
    const batch = take === candidate.length ? candidate : candidate.slice(0, take);
    this.take(batch);
    return batch;
  }

  /** Takes a batch's requests off their queues. */
  private take(batch: readonly Entry[]): void {
    this.waiting -= batch.length;
    const last = batch[batch.length - 1] as Entry;
    const first = (batch[0] as Entry).level;
    if (first.waiting[batch.length - 1] === last) {
      // The batch is the head of the first level's queue: the usual case.
      first.waiting.splice(0, batch.length);
      return;
    }
    const taken = new Set(batch);
    for (const level of this.levels) {
      if (level.waiting.some((entry) => taken.has(entry))) level.waiting = level.waiting.filter((entry) => !taken.has(entry));
      if (level.delayed.some((entry) => taken.has(entry))) level.delayed = level.delayed.filter((entry) => !taken.has(entry));
    }
  }

  private execute(members: Entry[]): void {
    const batch: Batch = {
      members,
      // One request passes through with its own signal; a merged job's fires only once all its requests' have.
      cancellation: members.length > 1 ? new Cancellation() : undefined,
      aborted: 0,
    };
    for (const entry of members) {
      entry.batch = batch;
      entry.level.executing++;
      if (batch.cancellation) this.listen(entry);
    }
    this.running++;
    this.runningRequests += members.length;
    const mergeStart = this.clock.now();
    let startNs = mergeStart;
    let batchSize = 0;
    let result: Promise<ExecutionOutput>;
    try {
      const job = mergeJobs(members);
      // Without a batch dimension (max_batch_size 0) an execution is one request, as Triton counts it.
      batchSize = this.options.maxBatchSize > 0 ? totalRows(members) : members.length;
      startNs = this.clock.now();
      result = this.options.run(job, batch.cancellation ?? (members[0] as Entry).signal);
    } catch (err) {
      result = Promise.reject(err);
    }
    // The instance is free again before the requests hear back, so the next batch starts first.
    const finish = (): void => {
      this.running--;
      this.runningRequests -= members.length;
      for (const entry of members) entry.level.executing--;
      this.dispatch();
    };
    const fail = (err: unknown): void => {
      finish();
      for (const entry of members) entry.reject(err);
    };
    result.then((output) => {
      const endNs = this.clock.now();
      let shares: ExecutionOutput[];
      try {
        shares = members.length === 1 ? [output] : splitOutput(output, members, this.options.describe);
      } catch (err) {
        fail(err);
        return;
      }
      this.options.onExecution?.({
        batchSize,
        requests: members.length,
        inputNs: Number(startNs - mergeStart),
        inferNs: Number(output.inferNs ?? endNs - startNs),
        outputNs: Number(this.clock.now() - endNs),
      });
      finish();
      for (const [i, entry] of members.entries()) {
        entry.resolve({ output: shares[i] as ExecutionOutput, batchSize, startNs, endNs });
      }
    }, fail);
  }
}

/** One queue without levels or timeouts, bounded as `maxQueueSize` says. */
function singleQueue(maxQueueSize: number): PriorityQueues {
  const defaultPolicy: QueuePolicy = { timeoutAction: 'REJECT', defaultTimeoutUs: 0n, allowTimeoutOverride: false, maxQueueSize };
  return { levels: 0, defaultLevel: 0, policies: new Map(), defaultPolicy, timeouts: false };
}

/** When a job queued at `enqueuedNs` times out under `policy`; 0n: never. */
function queueDeadline(policy: QueuePolicy, job: ExecutionJob, enqueuedNs: bigint): bigint {
  const timeoutUs = queueTimeoutUs(policy, job.parameters['timeout']);
  return timeoutUs === 0n ? 0n : enqueuedNs + timeoutUs * 1000n;
}

function totalRows(members: readonly Entry[]): number {
  let rows = 0;
  for (const entry of members) rows += entry.rows ?? 0;
  return rows;
}

function unlisten(entry: Entry): void {
  if (entry.onAbort) entry.signal.removeEventListener('abort', entry.onAbort);
}

/**
 * The merged job: each input a real concatenation of the requests' rows, in queue order
 * (one new buffer per input, see concatBatch). A batch of one request is its job, untouched.
 */
function mergeJobs(members: readonly Entry[]): ExecutionJob {
  const head = (members[0] as Entry).job;
  if (members.length === 1) return head;
  return {
    id: head.id,
    tensors: head.tensors.map((_, i) => concatBatch(members.map((entry) => entry.job.tensors[i] as Tensor))),
    parameters: withoutKeys(head.parameters, SCHEDULING_PARAMETERS),
    outputs: head.outputs,
    operation: head.operation,
  };
}

/**
 * Every request gets its own rows of each output: views on the batched output (BYTES:
 * slices of its element array), no bytes copied. Logged results and the worker's moved-back
 * inputs describe the whole batch, so they are left out: a request's monitoring event shows
 * its own inputs and outputs, never another client's.
 */
function splitOutput(output: ExecutionOutput, members: readonly Entry[], describe: string): ExecutionOutput[] {
  const rows = members.map((entry) => entry.rows ?? 0);
  let pieces: Tensor[][];
  try {
    pieces = output.outputs.map((tensor) => splitBatch(tensor, rows));
  } catch (err) {
    if (err instanceof InferenceError) throw new InferenceError(err.code, `${describe}: ${err.message}`, { cause: err });
    throw err;
  }
  return rows.map((_, i) => ({
    outputs: pieces.map((piece) => piece[i] as Tensor),
    parameters: output.parameters,
    metrics: output.metrics,
    labels: output.labels,
    ...(output.inferNs !== undefined ? { inferNs: output.inferNs } : {}),
    ...(output.instance !== undefined ? { instance: output.instance } : {}),
  }));
}

/** The common batch dim (dim 0) of a job's inputs; undefined when they have none. */
export function batchRows(job: ExecutionJob): number | undefined {
  let rows: number | undefined;
  for (const tensor of job.tensors) {
    const batch = tensor.shape[0];
    if (batch === undefined || (rows !== undefined && batch !== rows)) return undefined;
    rows = batch;
  }
  return rows;
}

/**
 * Whether two requests may share an execution: the same operation, model parameters, requested
 * outputs, and each input's name, datatype and row shape, in order. Not the rows. Compared in
 * place, with no key built per request.
 */
export function batchable(a: ExecutionJob, b: ExecutionJob): boolean {
  if (a.operation !== b.operation || a.tensors.length !== b.tensors.length || a.outputs.length !== b.outputs.length) return false;
  for (let i = 0; i < a.tensors.length; i++) {
    const x = a.tensors[i]!;
    const y = b.tensors[i]!;
    if (x.name !== y.name || x.datatype !== y.datatype || x.shape.length !== y.shape.length) return false;
    for (let k = 1; k < x.shape.length; k++) if (x.shape[k] !== y.shape[k]) return false;
  }
  for (let i = 0; i < a.outputs.length; i++) {
    const x = a.outputs[i]!;
    const y = b.outputs[i]!;
    if (x.name !== y.name || !sameParameters(x.parameters, y.parameters, PER_REQUEST_OUTPUT_PARAMETERS)) return false;
  }
  return sameParameters(a.parameters, b.parameters, SCHEDULING_PARAMETERS);
}

/** The same values under the same names, `ignored` aside: 1, 1n and '1' differ, key order does not. */
function sameParameters(p: Parameters, q: Parameters, ignored: ReadonlySet<string>): boolean {
  let count = 0;
  for (const name in p) {
    if (ignored.has(name)) continue;
    count++;
    const v = p[name];
    const w = q[name];
    // NaN, the one value unequal to itself, equals itself here.
    if (typeof v !== typeof w || (v !== w && !(v !== v && w !== w))) return false;
  }
  for (const name in q) if (!ignored.has(name)) count--;
  return count === 0;
}

function withoutKeys(parameters: Parameters, keys: ReadonlySet<string>): Parameters {
  if (!Object.keys(parameters).some((name) => keys.has(name))) return parameters;
  const out = dictionary<ParamValue>();
  for (const [name, value] of Object.entries(parameters)) if (!keys.has(name)) out[name] = value;
  return out;
}
