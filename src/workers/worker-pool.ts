// N instances of one model version, each in its own worker thread (config.pbtxt
// `instance_group [{ count: N, kind: KIND_CPU }]`), so that a model doing CPU work in
// JavaScript uses the machine's cores and never stalls the main thread's event loop.
// One queue per model version; a job goes to an idle instance, or, when the model's jobs
// are short, ahead to a busy one (it waits in that thread, see jobsPerInstance). A crashed
// instance fails only the request it was running (the others it held go back to the
// queue) and is restarted with back-off.
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { RequestSignal } from '../cancellation.js';
import type { Logger } from 'pino';
import { loggerShape } from '../logging/index.js';
import { InferenceError, abortError, errorMessage } from '../errors.js';
import { dictionary } from '../dictionary.js';
import { IdTable } from '../id-table.js';
import type { AvailabilityListener, ExecutionJob, ExecutionOutput, ModelContext, ModelInstance, WarmupSample } from '../model/index.js';
import {
  deserializeError,
  packInputs,
  packTensorCopy,
  serializeError,
  unpackTensor,
  type FromWorker,
  type ToWorker,
  type WorkerInit,
} from './worker-protocol.js';

const ENTRY = new URL('./worker-entry.js', import.meta.url);

export interface WorkerPoolOptions {
  readonly modulePath: string;
  readonly generation: number;
  readonly context: ModelContext;
  /** How many instances (worker threads). */
  readonly count: number;
  /** config.pbtxt `model_warmup`: every instance runs the samples after its load, restarted ones too. */
  readonly warmup?: readonly WarmupSample[];
  /** Per worker; config parameter `worker_max_old_generation_mb` sets maxOldGenerationSizeMb. */
  readonly resourceLimits?: ResourceLimits;
  /** Delay before the first restart of a crashed instance; doubles per consecutive crash. Default 100. */
  readonly restartDelayMs?: number;
  /** Upper bound of the restart delay. Default 10 000. */
  readonly maxRestartDelayMs?: number;
  /** How long unload waits for the model's unload() in a worker before terminating it. Default 10 000. */
  readonly unloadTimeoutMs?: number;
  /**
   * Jobs an instance whose last job was short (shortJobMs) holds at once: one runs, the
   * others wait in its thread. Each hand-over wakes two threads; with jobs waiting there, one
   * wake-up brings several jobs (or answers) instead of one, and for short jobs the hand-over
   * is most of the cost (16 short jobs ahead are at most 16 ms of work). Long jobs are never
   * sent ahead: they wait in the pool's queue for whichever instance frees first, and a
   * request cancelled there fails at once. Default 16.
   */
  readonly jobsPerInstance?: number;
  /** A job whose hooks took less than this is short: for it, the hand-over costs as much as the work. Default 1. */
  readonly shortJobMs?: number;
}

/** starting: loading the model; ready: alive; restarting: waiting out its back-off. */
type SlotState = 'starting' | 'ready' | 'restarting' | 'stopped';

interface Slot {
  readonly index: number;
  /** The index as outputs name it, made once. */
  readonly label: string;
  state: SlotState;
  worker: Worker | undefined;
  /** Jobs sent and not answered, by seq, oldest first: the first is the one running. */
  readonly jobs: IdTable<Pending>;
  /** Its last job was short: it may be sent jobs ahead (until then, or after a long one, one at a time). */
  shortJobs: boolean;
  /** Crashes since the instance last finished a request: sets the back-off. */
  crashes: number;
  /** Why the worker is going down (from its 'error' event), for its 'exit'. */
  crash: string | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Set while unload waits for the model's unload() in this worker. */
  unloaded: (() => void) | undefined;
  /** Settles the pool's start with this instance's first load. */
  started: { resolve: () => void; reject: (err: Error) => void } | undefined;
  /** Model calls its model is making, by the worker's call number: aborted if it dies. */
  readonly calls: Map<number, AbortController>;
}

/** A request from run() until it is answered; it listens to its own signal, so that a request costs no closure for that. */
class Pending {
  slot: Slot | undefined = undefined;
  /** Some of its inputs moved to the instance's thread: it cannot be sent again. */
  moved = false;

  constructor(
    readonly seq: number,
    readonly job: ExecutionJob,
    readonly signal: RequestSignal,
    readonly resolve: (output: ExecutionOutput) => void,
    readonly reject: (err: Error) => void,
    private readonly onAbort: (pending: Pending) => void,
  ) {}

  handleEvent(): void {
    this.onAbort(this);
  }
}

export class WorkerPool implements ModelInstance {
  readonly label = 'workers';
  modelClass = '';
  private readonly slots: Slot[];
  private readonly queue: Pending[] = [];
  private readonly jobsPerInstance: number;
  private readonly shortJobNs: bigint;
  /** Requests queued or sent; unload waits for them. */
  private inFlight = 0;
  private drained: (() => void) | undefined;
  private seq = 0;
  /** Set once unload() starts: no more requests, no restarts. */
  private stopping = false;
  private closed: Promise<void> | undefined;
  private available = true;
  private listener: AvailabilityListener | undefined;
  private readonly log: Logger;
  private readonly init: Omit<WorkerInit, 'instance'>;

  private constructor(private readonly options: WorkerPoolOptions) {
    const { context } = options;
    this.log = context.logger;
    this.jobsPerInstance = options.jobsPerInstance ?? 16;
    this.shortJobNs = BigInt(Math.round((options.shortJobMs ?? 1) * 1e6));
    const { logger, models: _models, ...shared } = context;
    this.init = {
      modulePath: options.modulePath,
      generation: options.generation,
      context: shared,
      log: loggerShape(logger),
      warmup: options.warmup ?? [],
    };
    this.slots = Array.from({ length: options.count }, (_, index) => ({
      index,
      label: String(index),
      state: 'starting' as SlotState,
      worker: undefined,
      jobs: new IdTable<Pending>(),
      shortJobs: false,
      crashes: 0,
      crash: undefined,
      timer: undefined,
      unloaded: undefined,
      started: undefined,
      calls: new Map<number, AbortController>(),
    }));
  }

  /** Starts every instance and resolves once all have loaded; if one fails, stops the others and rejects with its error. */
  static async start(options: WorkerPoolOptions): Promise<WorkerPool> {
    if (!Number.isSafeInteger(options.count) || options.count < 1) {
      throw new InferenceError('INVALID_ARGUMENT', `a worker pool needs at least one instance, got ${options.count}`);
    }
    const depth = options.jobsPerInstance;
    if (depth !== undefined && (!Number.isSafeInteger(depth) || depth < 1)) {
      throw new InferenceError('INVALID_ARGUMENT', `a worker instance holds at least one job at once, got ${depth}`);
    }
    const pool = new WorkerPool(options);
    const loads = pool.slots.map(
      (slot) =>
        new Promise<void>((resolve, reject) => {
          slot.started = { resolve, reject };
        }),
    );
    for (const slot of pool.slots) pool.spawn(slot);
    try {
      await Promise.all(loads);
    } catch (err) {
      await pool.unload();
      throw err;
    }
    return pool;
  }

  /** Instances alive (loaded). */
  get aliveCount(): number {
    return this.slots.filter((slot) => slot.state === 'ready').length;
  }

  /** Requests waiting for an instance to take them. */
  get queued(): number {
    return this.queue.length;
  }

  watch(listener: AvailabilityListener): void {
    this.listener = listener;
  }

  run(job: ExecutionJob, signal: RequestSignal): Promise<ExecutionOutput> {
    if (signal.aborted) return Promise.reject(abortError(signal));
    if (this.stopping) return Promise.reject(new InferenceError('UNAVAILABLE', `${this.describe()} is unloading`));
    return new Promise<ExecutionOutput>((resolve, reject) => {
      const pending = new Pending(++this.seq, job, signal, resolve, reject, this.onAbort);
      signal.addEventListener('abort', pending);
      this.inFlight++;
      this.queue.push(pending);
      this.dispatch();
    });
  }

  /** One function for every request's abort: Pending calls it. */
  private readonly onAbort = (pending: Pending): void => this.abort(pending);

  private succeed(pending: Pending, output: ExecutionOutput): void {
    this.finished(pending);
    pending.resolve(output);
  }

  private fail(pending: Pending, err: Error): void {
    this.finished(pending);
    pending.reject(err);
  }

  private finished(pending: Pending): void {
    pending.signal.removeEventListener('abort', pending);
    if (--this.inFlight === 0) this.drained?.();
  }

  /** A queued request leaves the queue unsent; a sent one is aborted in its worker (waiting there, it never runs). */
  private abort(pending: Pending): void {
    const error = abortError(pending.signal);
    if (pending.slot) {
      pending.slot.worker?.postMessage({ type: 'abort', seq: pending.seq, reason: serializeError(error) } satisfies ToWorker);
      return;
    }
    const at = this.queue.indexOf(pending);
    if (at >= 0) {
      this.queue.splice(at, 1);
      this.fail(pending, error);
    }
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const slot = this.leastBusy();
      if (!slot) return;
      this.send(slot, this.queue.shift() as Pending);
    }
  }

  /** The alive instance holding the fewest jobs, when it has room for one more. */
  private leastBusy(): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of this.slots) {
      if (slot.state !== 'ready' || slot.jobs.size >= (slot.shortJobs ? this.jobsPerInstance : 1)) continue;
      if (!best || slot.jobs.size < best.jobs.size) best = slot;
    }
    return best;
  }

  private send(slot: Slot, pending: Pending): void {
    const worker = slot.worker as Worker;
    const { job } = pending;
    const transfer = new Set<ArrayBuffer>();
    let moved = false;
    try {
      const inputs = packInputs(job.tensors, transfer);
      moved = inputs.moved;
      const message: ToWorker = {
        type: 'run',
        seq: pending.seq,
        id: job.id,
        tensors: inputs.tensors,
        parameters: job.parameters,
        outputs: job.outputs,
        operation: job.operation,
        callers: job.callers,
        returnInputs: inputs.moved,
        streamed: job.responses !== undefined,
      };
      worker.postMessage(message, [...transfer]);
    } catch (err) {
      // Nothing moved: postMessage serializes before it detaches.
      this.fail(
        pending,
        new InferenceError('INTERNAL', `${this.describe()}: the request cannot be sent to instance ${slot.index}: ${errorMessage(err)}`),
      );
      return;
    }
    slot.jobs.set(pending.seq, pending);
    pending.slot = slot;
    pending.moved = moved;
  }

  private spawn(slot: Slot): void {
    const worker = new Worker(ENTRY, {
      workerData: { ...this.init, instance: slot.index } satisfies WorkerInit,
      ...(this.options.resourceLimits ? { resourceLimits: this.options.resourceLimits } : {}),
      name: `${this.options.context.name}/${this.options.context.version}#${slot.index}`,
    });
    slot.worker = worker;
    slot.state = 'starting';
    slot.crash = undefined;
    worker.on('message', (message: FromWorker) => {
      if (slot.worker === worker) this.onMessage(slot, worker, message);
    });
    worker.on('messageerror', (err) => {
      // A reply that cannot be deserialized would leave its request waiting forever: the
      // instance answers in order, so it is the oldest one's.
      const pending = slot.worker === worker ? slot.jobs.first() : undefined;
      if (!pending) return;
      this.answered(slot, pending);
      this.fail(pending, new InferenceError('INTERNAL', `${this.describe()} instance ${slot.index}: unreadable reply: ${errorMessage(err)}`));
      this.dispatch();
    });
    worker.on('error', (err) => {
      if (slot.worker === worker) slot.crash = this.crashReason(err);
    });
    worker.on('exit', (code) => {
      if (slot.worker === worker) this.onExit(slot, code);
    });
  }

  private crashReason(err: unknown): string {
    if ((err as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
      const limit = this.options.resourceLimits?.maxOldGenerationSizeMb;
      return `ran out of memory${limit ? ` (worker_max_old_generation_mb ${limit})` : ''}`;
    }
    return `threw an uncaught exception: ${errorMessage(err)}`;
  }

  private onMessage(slot: Slot, worker: Worker, message: FromWorker): void {
    switch (message.type) {
      case 'loaded':
        this.modelClass ||= message.modelClass;
        slot.state = 'ready';
        if (slot.started) {
          slot.started.resolve();
          slot.started = undefined;
        } else {
          this.log.info({ instance: slot.index }, 'model instance restarted');
        }
        this.updateAvailability();
        this.dispatch();
        return;
      case 'load-failed': {
        const error = deserializeError(message.error);
        if (slot.started) {
          slot.started.reject(error);
          slot.started = undefined;
        }
        slot.crash = `failed to load: ${error.message}`;
        void worker.terminate();
        return;
      }
      case 'done':
      case 'failed': {
        const pending = slot.jobs.get(message.seq);
        if (!pending) return;
        this.answered(slot, pending);
        slot.shortJobs = message.type === 'done' && message.inferNs < this.shortJobNs;
        if (message.type === 'failed') {
          this.fail(pending, deserializeError(message.error));
        } else {
          this.succeed(pending, {
            outputs: message.outputs.map(unpackTensor),
            // Absent when no input moved: the job's own tensors are still whole.
            inputs: message.inputs?.map(unpackTensor),
            // Structured cloning gave them Object.prototype back.
            parameters: dictionary(message.parameters),
            metrics: dictionary(message.metrics),
            labels: dictionary(message.labels),
            logged: message.logged,
            inferNs: message.inferNs,
            instance: slot.label,
            ...(message.responseCount === undefined ? {} : { responseCount: message.responseCount }),
          });
        }
        this.dispatch();
        return;
      }
      case 'response':
        this.takeResponse(slot, worker, message);
        return;
      case 'call':
        this.serveCall(slot, worker, message);
        return;
      case 'call-abort':
        slot.calls.get(message.call)?.abort(deserializeError(message.reason));
        return;
      case 'unloaded':
        if (message.error) this.log.warn({ instance: slot.index, err: deserializeError(message.error) }, 'model unload() failed');
        slot.unloaded?.();
        return;
    }
  }

  /**
   * A streamed job's response, handed on as it arrives; the worker's model makes its next one
   * once it was taken. A sink that refuses it (its consumer left, or the response does not
   * fit the request) aborts the job in the worker with the reason.
   */
  private takeResponse(slot: Slot, worker: Worker, message: Extract<FromWorker, { type: 'response' }>): void {
    const sink = slot.jobs.get(message.seq)?.job.responses;
    if (!sink) return;
    const reply = (answer: ToWorker): void => {
      if (slot.worker === worker) worker.postMessage(answer);
    };
    const taken = (): void => reply({ type: 'response-taken', seq: message.seq });
    const refused = (err: unknown): void => reply({ type: 'abort', seq: message.seq, reason: serializeError(err) });
    try {
      // Structured cloning gave the parameters Object.prototype back.
      const handed = sink({ outputs: message.outputs.map(unpackTensor), parameters: dictionary(message.parameters), final: message.final });
      if (handed) handed.then(taken, refused);
      else taken();
    } catch (err) {
      refused(err);
    }
  }

  /** A model in a worker calls another model: made here, on the repository's side, and answered to that worker. */
  private serveCall(slot: Slot, worker: Worker, message: Extract<FromWorker, { type: 'call' }>): void {
    const models = this.options.context.models;
    const reply = (answer: ToWorker, transfer: ArrayBuffer[] = []): void => {
      if (slot.worker === worker) worker.postMessage(answer, transfer);
    };
    if (!models) {
      reply({ type: 'call-failed', call: message.call, error: serializeError(new InferenceError('UNIMPLEMENTED', `${this.describe()} runs without a model repository to call`)) });
      return;
    }
    const controller = new AbortController();
    slot.calls.set(message.call, controller);
    models
      .infer(message.model, message.tensors.map(unpackTensor), {
        version: message.version,
        id: message.id,
        signal: controller.signal,
        // Structured cloning gave them Object.prototype back.
        parameters: dictionary(message.parameters),
        outputs: message.outputs,
        callers: message.callers,
      })
      .then(
        (result) => {
          const transfer = new Set<ArrayBuffer>();
          const outputs = result.outputs.map((tensor) => packTensorCopy(tensor, transfer));
          reply({ type: 'call-done', call: message.call, model: result.model, version: result.version, outputs, parameters: dictionary(result.parameters) }, [...transfer]);
        },
        (err: unknown) => reply({ type: 'call-failed', call: message.call, error: serializeError(err) }),
      )
      .finally(() => slot.calls.delete(message.call));
  }

  /** The instance answered a request: it has room for another, and proved it works (back-off resets). */
  private answered(slot: Slot, pending: Pending): void {
    slot.jobs.delete(pending.seq);
    slot.crashes = 0;
  }

  private onExit(slot: Slot, code: number): void {
    const reason = slot.crash ?? `exited with code ${code}`;
    const wasLoading = slot.state === 'starting';
    // The instance runs its jobs in order: the oldest was running, the others never started.
    const [job, ...unstarted] = slot.jobs.values();
    slot.jobs.clear();
    slot.shortJobs = false;
    slot.worker = undefined;
    slot.crash = undefined;
    for (const controller of slot.calls.values()) controller.abort(new InferenceError('CANCELLED', `the calling worker thread ${reason}`));
    slot.calls.clear();
    slot.unloaded?.();
    const instance = `${this.describe()} instance ${slot.index}`;
    if (job) this.fail(job, new InferenceError('UNAVAILABLE', `${instance} failed: its worker thread ${reason}`));
    const requeued: Pending[] = [];
    for (const pending of unstarted) {
      pending.slot = undefined;
      if (this.stopping) {
        this.fail(pending, new InferenceError('UNAVAILABLE', `${this.describe()} is unloading`));
      } else if (pending.moved) {
        this.fail(pending, new InferenceError('UNAVAILABLE', `${instance} failed before running a request whose inputs it held: its worker thread ${reason}`));
      } else {
        requeued.push(pending);
      }
    }
    this.queue.unshift(...requeued);
    if (slot.started) {
      slot.started.reject(new InferenceError('UNAVAILABLE', `${instance} failed to load: its worker thread ${reason}`));
      slot.started = undefined;
    }
    if (this.stopping || this.slots.some((s) => s.started)) {
      // Unloading, or the pool never started: no restarts.
      slot.state = 'stopped';
      return;
    }
    const delay = Math.min(
      (this.options.restartDelayMs ?? 100) * 2 ** slot.crashes,
      this.options.maxRestartDelayMs ?? 10_000,
    );
    slot.crashes++;
    slot.state = 'restarting';
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      this.spawn(slot);
    }, delay);
    this.log.error({ instance: slot.index, reason, restartInMs: delay }, 'model instance died');
    const noneAlive = this.aliveCount === 0;
    if (noneAlive && wasLoading) {
      // A restart failed and nothing else can take the queue: fail it rather than hold
      // requests for an instance that may never load.
      for (const pending of this.queue.splice(0)) {
        this.fail(pending, new InferenceError('UNAVAILABLE', `${this.describe()} has no instance alive: instance ${slot.index} ${reason}`));
      }
    }
    this.updateAvailability(`no instance is alive (instance ${slot.index}: worker thread ${reason}); restarting`);
    this.dispatch();
  }

  private updateAvailability(reason = ''): void {
    if (this.stopping) return;
    const alive = this.aliveCount > 0;
    if (alive === this.available) return;
    this.available = alive;
    this.listener?.(alive, alive ? '' : reason);
  }

  private describe(): string {
    const { name, version } = this.options.context;
    return `model '${name}' version ${version}`;
  }

  /** Fails queued requests, waits for running ones, runs each model's unload(), then ends the threads. */
  unload(): Promise<void> {
    if (this.closed) return this.closed;
    this.stopping = true;
    this.closed = (async () => {
      for (const pending of this.queue.splice(0)) {
        this.fail(pending, new InferenceError('UNAVAILABLE', `${this.describe()} is unloading`));
      }
      if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
      await Promise.all(this.slots.map((slot) => this.stop(slot)));
    })();
    return this.closed;
  }

  private async stop(slot: Slot): Promise<void> {
    clearTimeout(slot.timer);
    slot.timer = undefined;
    const worker = slot.worker;
    if (worker && slot.state === 'ready') {
      // The model's unload() runs (closing files, flushing) before the thread ends.
      const timeoutMs = this.options.unloadTimeoutMs ?? 10_000;
      const finished = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        slot.unloaded = () => {
          clearTimeout(timer);
          resolve(true);
        };
        worker.postMessage({ type: 'unload' } satisfies ToWorker);
      });
      slot.unloaded = undefined;
      if (!finished) this.log.warn({ instance: slot.index, timeoutMs }, 'model unload() did not finish; terminating');
    }
    slot.state = 'stopped';
    await worker?.terminate();
  }
}

