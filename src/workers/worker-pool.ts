// N instances of one model version, each in its own worker thread (config.pbtxt
// `instance_group [{ count: N, kind: KIND_CPU }]`), so that a model doing CPU work in
// JavaScript uses the machine's cores and never stalls the main thread's event loop.
// One queue per model version; a job goes to an idle instance. A crashed instance
// fails only the request it was running and is restarted with back-off.
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { Logger } from 'pino';
import { loggerShape } from '../logging/index.js';
import { InferenceError, abortError, errorMessage } from '../errors.js';
import { dictionary } from '../dictionary.js';
import type { AvailabilityListener, ExecutionJob, ExecutionOutput, ModelContext, ModelInstance } from '../model/index.js';
import {
  deserializeError,
  packTensor,
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
  /** Per worker; config parameter `worker_max_old_generation_mb` sets maxOldGenerationSizeMb. */
  readonly resourceLimits?: ResourceLimits;
  /** Delay before the first restart of a crashed instance; doubles per consecutive crash. Default 100. */
  readonly restartDelayMs?: number;
  /** Upper bound of the restart delay. Default 10 000. */
  readonly maxRestartDelayMs?: number;
  /** How long unload waits for the model's unload() in a worker before terminating it. Default 10 000. */
  readonly unloadTimeoutMs?: number;
}

/** starting: loading the model; idle/busy: alive; restarting: waiting out its back-off. */
type SlotState = 'starting' | 'idle' | 'busy' | 'restarting' | 'stopped';

interface Slot {
  readonly index: number;
  state: SlotState;
  worker: Worker | undefined;
  job: Pending | undefined;
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

interface Pending {
  readonly seq: number;
  readonly job: ExecutionJob;
  readonly signal: AbortSignal;
  slot: Slot | undefined;
  resolve(output: ExecutionOutput): void;
  reject(err: Error): void;
}

export class WorkerPool implements ModelInstance {
  readonly label = 'workers';
  modelClass = '';
  private readonly slots: Slot[];
  private readonly idle: Slot[] = [];
  private readonly queue: Pending[] = [];
  /** Requests queued or running; unload waits for them. */
  private readonly inFlight = new Set<Pending>();
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
    const { logger, models: _models, ...shared } = context;
    this.init = {
      modulePath: options.modulePath,
      generation: options.generation,
      context: shared,
      log: loggerShape(logger),
    };
    this.slots = Array.from({ length: options.count }, (_, index) => ({
      index,
      state: 'starting' as SlotState,
      worker: undefined,
      job: undefined,
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

  /** Instances alive (loaded, idle or busy). */
  get aliveCount(): number {
    return this.slots.filter((slot) => slot.state === 'idle' || slot.state === 'busy').length;
  }

  /** Requests waiting for an idle instance. */
  get queued(): number {
    return this.queue.length;
  }

  watch(listener: AvailabilityListener): void {
    this.listener = listener;
  }

  run(job: ExecutionJob, signal: AbortSignal): Promise<ExecutionOutput> {
    if (signal.aborted) return Promise.reject(abortError(signal));
    if (this.stopping) return Promise.reject(new InferenceError('UNAVAILABLE', `${this.describe()} is unloading`));
    return new Promise<ExecutionOutput>((resolve, reject) => {
      const onAbort = (): void => this.abort(pending);
      const settled = (): void => {
        signal.removeEventListener('abort', onAbort);
        this.inFlight.delete(pending);
        if (this.inFlight.size === 0) this.drained?.();
      };
      const pending: Pending = {
        seq: ++this.seq,
        job,
        signal,
        slot: undefined,
        resolve: (output) => {
          settled();
          resolve(output);
        },
        reject: (err) => {
          settled();
          reject(err);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.inFlight.add(pending);
      this.queue.push(pending);
      this.dispatch();
    });
  }

  /** A queued request leaves the queue unsent; a running one is aborted in its worker. */
  private abort(pending: Pending): void {
    const error = abortError(pending.signal);
    if (pending.slot) {
      pending.slot.worker?.postMessage({ type: 'abort', seq: pending.seq, reason: serializeError(error) } satisfies ToWorker);
      return;
    }
    const at = this.queue.indexOf(pending);
    if (at >= 0) {
      this.queue.splice(at, 1);
      pending.reject(error);
    }
  }

  private dispatch(): void {
    while (this.queue.length > 0 && this.idle.length > 0) {
      this.send(this.idle.shift() as Slot, this.queue.shift() as Pending);
    }
  }

  private send(slot: Slot, pending: Pending): void {
    const worker = slot.worker as Worker;
    const { job } = pending;
    const transfer = new Set<ArrayBuffer>();
    try {
      const message: ToWorker = {
        type: 'run',
        seq: pending.seq,
        id: job.id,
        tensors: job.tensors.map((tensor) => packTensor(tensor, transfer)),
        parameters: job.parameters,
        outputs: job.outputs,
        operation: job.operation,
        ...(job.callers ? { callers: job.callers } : {}),
      };
      worker.postMessage(message, [...transfer]);
    } catch (err) {
      // Nothing moved: postMessage serializes before it detaches.
      this.idle.unshift(slot);
      pending.reject(
        new InferenceError('INTERNAL', `${this.describe()}: the request cannot be sent to instance ${slot.index}: ${errorMessage(err)}`),
      );
      return;
    }
    slot.state = 'busy';
    slot.job = pending;
    pending.slot = slot;
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
      // A reply that cannot be deserialized would leave its request waiting forever.
      const pending = slot.worker === worker ? slot.job : undefined;
      if (!pending) return;
      this.release(slot);
      pending.reject(new InferenceError('INTERNAL', `${this.describe()} instance ${slot.index}: unreadable reply: ${errorMessage(err)}`));
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
        slot.state = 'idle';
        if (slot.started) {
          slot.started.resolve();
          slot.started = undefined;
        } else {
          this.log.info({ instance: slot.index }, 'model instance restarted');
        }
        this.idle.push(slot);
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
        const pending = slot.job;
        if (!pending || pending.seq !== message.seq) return;
        this.release(slot);
        if (message.type === 'failed') {
          pending.reject(deserializeError(message.error));
        } else {
          pending.resolve({
            outputs: message.outputs.map(unpackTensor),
            inputs: message.inputs.map(unpackTensor),
            // Structured cloning gave them Object.prototype back.
            parameters: dictionary(message.parameters),
            metrics: dictionary(message.metrics),
            labels: dictionary(message.labels),
            ...(message.logged ? { logged: message.logged } : {}),
            inferNs: message.inferNs,
            instance: String(slot.index),
          });
        }
        this.dispatch();
        return;
      }
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

  /** The instance finished its request: it is idle again, and proved it works (back-off resets). */
  private release(slot: Slot): void {
    slot.job = undefined;
    slot.crashes = 0;
    slot.state = 'idle';
    this.idle.push(slot);
  }

  private onExit(slot: Slot, code: number): void {
    const reason = slot.crash ?? `exited with code ${code}`;
    const wasLoading = slot.state === 'starting';
    const job = slot.job;
    slot.worker = undefined;
    slot.job = undefined;
    slot.crash = undefined;
    for (const controller of slot.calls.values()) controller.abort(new InferenceError('CANCELLED', `the calling worker thread ${reason}`));
    slot.calls.clear();
    const idleAt = this.idle.indexOf(slot);
    if (idleAt >= 0) this.idle.splice(idleAt, 1);
    slot.unloaded?.();
    const instance = `${this.describe()} instance ${slot.index}`;
    job?.reject(new InferenceError('UNAVAILABLE', `${instance} failed: its worker thread ${reason}`));
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
        pending.reject(new InferenceError('UNAVAILABLE', `${this.describe()} has no instance alive: instance ${slot.index} ${reason}`));
      }
    }
    this.updateAvailability(`no instance is alive (instance ${slot.index}: worker thread ${reason}); restarting`);
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
        pending.reject(new InferenceError('UNAVAILABLE', `${this.describe()} is unloading`));
      }
      if (this.inFlight.size > 0) await new Promise<void>((resolve) => (this.drained = resolve));
      await Promise.all(this.slots.map((slot) => this.stop(slot)));
    })();
    return this.closed;
  }

  private async stop(slot: Slot): Promise<void> {
    clearTimeout(slot.timer);
    slot.timer = undefined;
    const worker = slot.worker;
    if (worker && slot.state === 'idle') {
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
