// Triton's dynamic batcher for one model version (config.pbtxt `dynamic_batching { }` with
// max_batch_size > 0): requests that the model cannot tell apart but by their rows wait
// together, are merged along the batch dimension into one job, run as one execution on
// an idle instance, and the outputs are split back by rows.
import type { ModelConfig } from '../../generated/model_config.js';
import { InferenceError, abortError } from '../errors.js';
import { dictionary } from '../dictionary.js';
import { concatBatch, splitBatch, type Tensor } from '../tensor/index.js';
import type { ExecutionJob, ExecutionOutput, Parameters, ParamValue } from '../model/index.js';
import { AdmissionCounter } from './admission.js';
import { realClock, type Clock } from './clock.js';
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
  /** Requests waiting beyond those executing; 0 = no bound. */
  readonly maxQueueSize?: number;
  /** Runs one job, merged or not, on an instance. */
  readonly run: (job: ExecutionJob, signal: AbortSignal) => Promise<ExecutionOutput>;
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
  readonly controller: AbortController | undefined;
  aborted: number;
}

interface Entry {
  readonly job: ExecutionJob;
  /** The common batch dim of the inputs; undefined: never merged. */
  readonly rows: number | undefined;
  readonly signal: AbortSignal;
  readonly enqueuedNs: bigint;
  batch: Batch | undefined;
  /** Set while the entry listens to its signal: only when it waits, or shares an execution. */
  onAbort: (() => void) | undefined;
  resolve(share: BatchShare): void;
  reject(err: unknown): void;
}

/** The settings of a version's batcher, or undefined when the version does not batch; throws on unusable settings. */
export function batchingSettings(
  config: ModelConfig,
): Pick<DynamicBatcherOptions, 'maxBatchSize' | 'preferredBatchSizes' | 'maxQueueDelayUs'> | undefined {
  const batching = config.dynamicBatching;
  // A sequence batcher, when configured, schedules the model instead (Triton allows only one scheduler).
  if (batching === undefined || config.maxBatchSize <= 0 || config.sequenceBatching !== undefined) return undefined;
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
    maxBatchSize: config.maxBatchSize,
    preferredBatchSizes: batching.preferredBatchSize,
    // setTimeout's bound (2^31-1 ms); a longer delay is as good as forever.
    maxQueueDelayUs: Math.min(delay, (2 ** 31 - 1) * 1000),
  };
}

export class DynamicBatcher implements Scheduler {
  private queue: Entry[] = [];
  private readonly admission: AdmissionCounter;
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
    this.target = this.preferred.size > 0 ? Math.max(...this.preferred) : options.maxBatchSize;
    this.delayNs = BigInt(Math.round(options.maxQueueDelayUs * 1000));
    this.clock = options.clock ?? realClock;
    // The requests of an executing batch have left the queue, as in Triton.
    this.admission = new AdmissionCounter(options.describe, options.maxQueueSize ?? 0, () => this.runningRequests);
  }

  admit(): () => void {
    return this.admission.admit();
  }

  pending(): number {
    return this.admission.pending();
  }

  idle(): Promise<void> {
    return this.admission.idle();
  }

  /** The job's rows of its execution; the execution itself is recorded once, through onExecution. */
  async schedule(job: ExecutionJob, signal: AbortSignal): Promise<Scheduled> {
    const share = await this.submit(job, signal);
    return { output: share.output, inferNs: Number(share.endNs - share.startNs), batched: true };
  }

  /** Requests waiting to be batched. */
  get queued(): number {
    return this.queue.length;
  }

  /** Requests in batches that an instance is executing. */
  get executing(): number {
    return this.runningRequests;
  }

  /**
   * Queues a decoded job and resolves with its part of the execution that ran it. If
   * `signal` fires while the job waits, it leaves the queue unrun and rejects with the
   * signal's reason; once running, it shares its batch's fate.
   */
  submit(job: ExecutionJob, signal: AbortSignal): Promise<BatchShare> {
    if (signal.aborted) return Promise.reject(abortError(signal));
    return new Promise<BatchShare>((resolve, reject) => {
      const entry: Entry = {
        job,
        rows: batchRows(job),
        signal,
        enqueuedNs: this.clock.now(),
        batch: undefined,
        onAbort: undefined,
        resolve: (share) => {
          unlisten(entry);
          resolve(share);
        },
        reject: (err) => {
          unlisten(entry);
          reject(err);
        },
      };
      this.queue.push(entry);
      this.dispatch();
      // EventTarget listeners are not free: a request that went straight to an instance alone needs none.
      if (!entry.batch) this.listen(entry);
    });
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
      if (++batch.aborted === batch.members.length) batch.controller?.abort(entry.signal.reason);
      return;
    }
    const at = this.queue.indexOf(entry);
    if (at < 0) return;
    this.queue.splice(at, 1);
    entry.reject(abortError(entry.signal));
    this.dispatch();
  }

  /** Starts batches while an instance is free and a batch is due; otherwise waits for the oldest request's delay. */
  private dispatch(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.running < this.options.executors && this.queue.length > 0) {
      const batch = this.nextBatch();
      if (!batch) return;
      this.execute(batch);
    }
  }

  /**
   * Triton's rule (GetDynamicBatch): gather the requests compatible with the oldest, in
   * arrival order, up to max_batch_size rows. A preferred size reached is sent at once;
   * so is a batch that cannot grow (the largest preferred size or max_batch_size reached)
   * or whose oldest request has waited max_queue_delay. Otherwise wait, at most that delay.
   */
  private nextBatch(): Entry[] | undefined {
    const head = this.queue[0] as Entry;
    if (head.rows === undefined) return this.queue.splice(0, 1);
    const { maxBatchSize } = this.options;
    const candidate: Entry[] = [];
    let rows = 0;
    let best = 0;
    let full = false;
    for (const entry of this.queue) {
      const n = entry.rows;
      if (n === undefined || (entry !== head && !batchable(entry.job, head.job))) continue;
      if (candidate.length > 0 && rows + n > maxBatchSize) {
        full = true;
        break;
      }
      candidate.push(entry);
      rows += n;
      if (this.preferred.has(rows)) best = candidate.length;
      if (rows >= this.target) break;
    }
    const waitedNs = this.clock.now() - head.enqueuedNs;
    const expired = this.delayNs > 0n && waitedNs >= this.delayNs;
    let take = candidate.length;
    if (best > 0 && !expired) take = best;
    // A delay of 0: what is there goes as soon as an instance is free.
    else if (!full && rows < this.target && this.delayNs > 0n && !expired) {
      const ms = Math.max(1, Math.ceil(Number(this.delayNs - waitedNs) / 1e6));
      this.timer = this.clock.setTimeout(this.dispatchLater, ms);
      return undefined;
    }
    const batch = candidate.slice(0, take);
    if (this.queue[take - 1] === batch[take - 1]) {
      // The batch is the head of the queue: the usual case.
      this.queue.splice(0, take);
    } else {
      const taken = new Set(batch);
      this.queue = this.queue.filter((entry) => !taken.has(entry));
    }
    return batch;
  }

  private execute(members: Entry[]): void {
    const batch: Batch = {
      members,
      // One request passes through with its own signal; a merged job's fires only once all its requests' have.
      controller: members.length > 1 ? new AbortController() : undefined,
      aborted: 0,
    };
    for (const entry of members) {
      entry.batch = batch;
      if (batch.controller) this.listen(entry);
    }
    this.running++;
    this.runningRequests += members.length;
    const mergeStart = this.clock.now();
    let startNs = mergeStart;
    let batchSize = 0;
    let result: Promise<ExecutionOutput>;
    try {
      const job = mergeJobs(members);
      batchSize = totalRows(members);
      startNs = this.clock.now();
      result = this.options.run(job, batch.controller?.signal ?? (members[0] as Entry).signal);
    } catch (err) {
      result = Promise.reject(err);
    }
    // The instance is free again before the requests hear back, so the next batch starts first.
    const finish = (): void => {
      this.running--;
      this.runningRequests -= members.length;
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
