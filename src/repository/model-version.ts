// One version of a model: its lifecycle (LOADING → READY / UNAVAILABLE → UNLOADING), the
// instance it runs on, and the way in for requests: admission, readiness, the pipeline,
// telemetry.
import type { Logger } from 'pino';
import { Cancellation, type RequestSignal } from '../cancellation.js';
import type { ResponseCache } from '../cache/index.js';
import type { ModelConfig } from '../../generated/model_config.js';
import { InferenceError, abortError } from '../errors.js';
import { dictionary } from '../dictionary.js';
import type { EventSink, ModelState, VersionObservers } from '../events.js';
import { isDecoupled, type ModelInstance } from '../model/index.js';
import {
  requestDeadline,
  ResponseChannel,
  VersionPipeline,
  VersionTelemetry,
  type Answered,
  type CallBase,
  type InferCall,
  type InferResult,
  type StreamCompleted,
  type Streamed,
  type StreamedResult,
  type TensorCall,
  type TensorResult,
  type VersionStatistics,
} from '../pipeline/index.js';
import { createScheduler, type Scheduler, type SchedulingSettings } from '../scheduling/index.js';
import type { IOSpec } from '../tensor/index.js';

export interface VersionOptions {
  readonly name: string;
  readonly version: string;
  readonly config: ModelConfig;
  readonly io: IOSpec;
  /** The version directory. */
  readonly path: string;
  readonly scheduling: SchedulingSettings;
  readonly events: EventSink;
  /** Side paths that keep per-version state (metrics); absent: none. */
  readonly observers?: VersionObservers;
  /** How long a request waits for a loading version before UNAVAILABLE. */
  readonly loadWaitMs: number;
  /** Where a model that hangs past its execution timeout is reported. */
  readonly log?: Logger;
  /** Told after every change of state (ensembles follow their step models' readiness). */
  readonly onState?: () => void;
  /** The server's response cache, when the config enables it and the server has one. */
  readonly responseCache?: ResponseCache;
}

export class ModelVersion {
  readonly name: string;
  readonly version: string;
  readonly config: ModelConfig;
  readonly io: IOSpec;
  readonly path: string;
  state: ModelState = 'LOADING';
  reason = '';
  private instance: ModelInstance | undefined;
  private readonly loaded: Promise<void>;
  private settle!: { resolve: () => void; reject: (err: Error) => void };
  private readonly scheduler: Scheduler;
  private readonly pipeline: VersionPipeline;
  private readonly telemetry: VersionTelemetry;
  private readonly describe: string;
  /** config `model_transaction_policy { decoupled: true }`: answers through inferStream only. */
  readonly decoupled: boolean;
  private readonly createdNs = process.hrtime.bigint();
  /** The dynamic batcher's queue policies have timeouts: the request's `timeout` is theirs, not a deadline. */
  private readonly timeoutIsQueuePolicy: boolean;

  constructor(private readonly options: VersionOptions) {
    ({ name: this.name, version: this.version, config: this.config, io: this.io, path: this.path } = options);
    this.describe = `model '${this.name}' version ${this.version}`;
    this.timeoutIsQueuePolicy = options.scheduling.batching?.queues?.timeouts === true;
    this.decoupled = isDecoupled(this.config);
    this.telemetry = new VersionTelemetry(
      { name: this.name, version: this.version, metricTags: this.config.metricTags, responseCache: options.responseCache !== undefined },
      options.events,
      options.observers,
      () => this.scheduler.pending(),
    );
    this.scheduler = createScheduler(options.scheduling, {
      describe: this.describe,
      // The instance loaded now: requests admitted before an unload still run while it drains.
      run: (job, signal) =>
        this.instance ? this.instance.run(job, signal) : Promise.reject(new InferenceError('UNAVAILABLE', `${this.describe} is not loaded`)),
      onExecution: (execution) => this.telemetry.execution(execution),
      ...(options.log ? { log: options.log } : {}),
    });
    this.pipeline = new VersionPipeline(options, this.scheduler, options.responseCache);
    this.loaded = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // A version that fails to load must not leave an unhandled rejection behind.
    this.loaded.catch(() => undefined);
  }

  get ready(): boolean {
    return this.state === 'READY';
  }

  get modelClass(): string {
    return this.instance?.modelClass ?? '';
  }

  get statistics(): VersionStatistics {
    return this.telemetry.statistics;
  }

  /** Resolves when the version is ready; rejects with the load error. */
  whenLoaded(): Promise<void> {
    return this.loaded;
  }

  /** Called once by the repository when the instance has loaded, or failed to. */
  loadSettled(result: { instance: ModelInstance } | { error: Error }): void {
    if ('instance' in result) {
      const { instance } = result;
      this.instance = instance;
      this.telemetry.observer.loaded(Number(process.hrtime.bigint() - this.createdNs) / 1e9);
      this.setState('READY', '');
      this.settle.resolve();
      // Worker instances can all die and come back: READY while at least one is alive.
      instance.watch?.((available, reason) => {
        if (this.instance !== instance || this.state === 'UNLOADING') return;
        this.setState(available ? 'READY' : 'UNAVAILABLE', reason);
      });
    } else {
      this.telemetry.observer.closed();
      this.setState('UNAVAILABLE', `failed to load: ${result.error.message}`);
      this.settle.reject(result.error);
    }
  }

  /** Tells the side paths the state again (after a reload swapped versions of the same number). */
  announce(): void {
    this.setState(this.state, this.reason);
  }

  private setState(state: ModelState, reason: string): void {
    this.state = state;
    this.reason = reason;
    this.options.events.emit({
      kind: 'model-state',
      modelClass: this.modelClass,
      model: this.name,
      version: this.version,
      state,
      reason,
      labels: dictionary(this.config.metricTags),
      parameters: dictionary([...this.config.parameters].map(([key, value]) => [key, value.stringValue] as const)),
      path: this.path,
    });
    this.options.onState?.();
  }

  /**
   * A request a transport answered from the response cache by itself, having seen its bytes
   * answered by this version's load `load`: counted as the pipeline counts a hit. False, and
   * nothing counted, when this is not the ready load that kept the answer, or when a side path
   * wants the request's tensors: the transport then sends it the usual way.
   */
  answeredFromCache(load: number, arrivedNs: bigint, lookupNs: number): boolean {
    if (this.state !== 'READY' || load !== this.pipeline.cacheLoad) return false;
    return this.telemetry.quietCacheHit(Number(process.hrtime.bigint() - arrivedNs), lookupNs);
  }

  /** A transport's request, answered once: a decoupled model refuses it, as Triton's does. */
  infer(call: InferCall, signal: RequestSignal): Promise<InferResult> {
    if (this.decoupled) return Promise.reject(InferenceError.decoupledUnary());
    return this.serve(call, this.runInfer, signal);
  }

  /** Another model's call: the same admission, readiness, scheduling and telemetry, tensors in and out. */
  inferTensors(call: TensorCall, signal: RequestSignal): Promise<TensorResult> {
    if (this.decoupled) return Promise.reject(InferenceError.decoupledUnary());
    return this.serve(call, this.runTensors, signal);
  }

  /**
   * A transport's request, answered by as many responses as the model makes. A model that is
   * not decoupled answers once, marked final. The iterable fails before its first response
   * when the request cannot run, later when the model fails; a consumer that stops pulling
   * (return(), or `signal`) cancels the request in the model.
   */
  inferStream(call: InferCall, signal: RequestSignal): AsyncIterable<StreamedResult> {
    return this.decoupled ? this.serveStream(call, this.streamInfer, signal) : this.answerOnce(call, this.runInfer, signal);
  }

  /** Another model's call, answered by as many responses as the callee makes (as inferStream). */
  inferTensorsStream(call: TensorCall, signal: RequestSignal): AsyncIterable<Streamed<TensorResult>> {
    return this.decoupled ? this.serveStream(call, this.streamTensors, signal) : this.answerOnce(call, this.runTensors, signal);
  }

  private readonly streamInfer = (call: InferCall, signal: RequestSignal, deliver: (r: StreamedResult) => Promise<void>): Promise<StreamCompleted> =>
    this.pipeline.runStream(call, signal, deliver);
  private readonly streamTensors = (
    call: TensorCall,
    signal: RequestSignal,
    deliver: (r: Streamed<TensorResult>) => Promise<void>,
  ): Promise<StreamCompleted> => this.pipeline.runTensorsStream(call, signal, deliver);

  private async *answerOnce<C extends CallBase, R>(
    call: C,
    run: (call: C, signal: RequestSignal) => Promise<Answered<R>>,
    signal: RequestSignal,
  ): AsyncGenerator<Streamed<R>> {
    yield { result: await this.serve(call, run, signal), final: true };
  }

  private async *serveStream<C extends CallBase, R>(
    call: C,
    run: (call: C, signal: RequestSignal, deliver: (r: Streamed<R>) => Promise<void>) => Promise<StreamCompleted>,
    signal: RequestSignal,
  ): AsyncGenerator<Streamed<R>> {
    const channel = new ResponseChannel<Streamed<R>>();
    // The request's own signal: the caller's, and the consumer stopping before the model has finished.
    const left = new Cancellation();
    const forward = (): void => left.abort(signal.reason);
    if (signal.aborted) forward();
    else signal.addEventListener('abort', forward, { once: true });
    let release: (() => void) | undefined;
    let deadline: ReturnType<typeof requestDeadline>;
    let running: Promise<StreamCompleted> | undefined;
    let settled = false;
    let responses = 0;
    try {
      release = this.scheduler.admit(call.parameters);
      deadline = requestDeadline(call, left);
      const limit = deadline ? deadline.signal : left;
      const instance = this.state === 'READY' && this.instance ? this.instance : await this.whenReady(limit);
      running = run(call, limit, channel.push);
      running.then(
        () => channel.end(),
        (err: unknown) => channel.fail(err),
      );
      let last = call.arrivedNs;
      for (;;) {
        const next = await channel.next();
        if (next.done) break;
        const now = process.hrtime.bigint();
        this.telemetry.responded(Number(now - last), responses === 0);
        last = now;
        responses++;
        yield next.value;
      }
      const done = await running;
      settled = true;
      this.telemetry.streamSucceeded(call, done, instance);
    } catch (err) {
      settled = true;
      this.telemetry.failed(call, err, this.instance, responses);
      throw err;
    } finally {
      if (!settled) {
        // The consumer left mid-stream: the model's signal fires and its waiting yield fails.
        const reason = signal.aborted ? abortError(signal) : new InferenceError('CANCELLED', 'the client stopped reading the responses');
        left.abort(reason);
        channel.cancel(reason);
        this.telemetry.failed(call, reason, this.instance, responses);
      }
      // The admission slot (and the deadline) last as long as the model runs.
      const finish = (): void => {
        signal.removeEventListener('abort', forward);
        deadline?.dispose();
        release?.();
      };
      if (running) running.then(finish, finish);
      else finish();
    }
  }

  // Made once per version, so that a request makes no closure to say which way it runs.
  private readonly runInfer = (call: InferCall, signal: RequestSignal): Promise<Answered<InferResult>> =>
    this.pipeline.run(call, signal);
  private readonly runTensors = (call: TensorCall, signal: RequestSignal): Promise<Answered<TensorResult>> =>
    this.pipeline.runTensors(call, signal);

  private async serve<C extends CallBase, R>(
    call: C,
    run: (call: C, signal: RequestSignal) => Promise<Answered<R>>,
    signal: RequestSignal,
  ): Promise<R> {
    let release: (() => void) | undefined;
    try {
      release = this.scheduler.admit(call.parameters);
      // Queue policies with timeouts read the request's `timeout` themselves, as Triton's do.
      const deadline = this.timeoutIsQueuePolicy ? undefined : requestDeadline(call, signal);
      const limit = deadline ? deadline.signal : signal;
      try {
        const instance = this.state === 'READY' && this.instance ? this.instance : await this.whenReady(limit);
        const done = await run(call, limit);
        this.telemetry.succeeded(call, done, instance);
        return done.result;
      } finally {
        deadline?.dispose();
      }
    } catch (err) {
      this.telemetry.failed(call, err, this.instance);
      throw err;
    } finally {
      release?.();
    }
  }

  /** Waits (bounded) for a loading version; fails UNAVAILABLE with its state otherwise. */
  private async whenReady(signal: RequestSignal): Promise<ModelInstance> {
    if (this.state === 'LOADING') {
      let timer: NodeJS.Timeout | undefined;
      let stopWaiting: (() => void) | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.options.loadWaitMs);
        stopWaiting = () => resolve();
        signal.addEventListener('abort', stopWaiting, { once: true });
      });
      await Promise.race([this.loaded.catch(() => undefined), timeout]);
      clearTimeout(timer);
      if (stopWaiting) signal.removeEventListener('abort', stopWaiting);
      if (signal.aborted) throw abortError(signal);
    }
    if (this.state !== 'READY' || !this.instance) {
      const why = this.reason ? `: ${this.reason}` : '';
      throw new InferenceError('UNAVAILABLE', `${this.describe} is not at ready state (${this.state}${why})`);
    }
    return this.instance;
  }

  /** Stops taking requests, waits for those in flight, then unloads the instance. */
  async unload(): Promise<void> {
    if (this.state === 'UNAVAILABLE' && !this.instance) return;
    this.setState('UNLOADING', '');
    await this.scheduler.idle();
    const instance = this.instance;
    this.instance = undefined;
    await instance?.unload();
    this.telemetry.observer.closed();
    this.setState('UNAVAILABLE', 'unloaded');
  }
}
