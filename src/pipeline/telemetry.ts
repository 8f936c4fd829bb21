// What a version tells about each request, success or failure: the ModelStatistics
// counters, the metrics observer (plain numbers; the counters it reads at scrape time) and
// one inference event for the side paths (monitoring). The one place all are written.
import { dictionary } from '../dictionary.js';
import { InferenceError } from '../errors.js';
import { NO_OBSERVERS, type EventSink, type VersionObserver, type VersionObservers } from '../events.js';
import type { ExecutionOutput } from '../model/index.js';
import type { ExecutionTimings } from '../scheduling/index.js';
import type { Tensor } from '../tensor/index.js';
import { VersionStatistics } from './statistics.js';
import type { CallBase } from './types.js';
import type { Completed, StreamCompleted } from './version-pipeline.js';

const NO_METRICS: Readonly<Record<string, never>> = Object.freeze(dictionary<never>());
/** What an inference event adds for an answer from the response cache, and for one the model made. */
const FROM_CACHE = Object.freeze({ cacheHit: true } as const);
const FROM_MODEL = Object.freeze({});

export interface VersionIdentity {
  readonly name: string;
  readonly version: string;
  /** config.pbtxt metric_tags: the labels of a failure, when the model never answered. */
  readonly metricTags: ReadonlyMap<string, string>;
  /** It answers from the server's response cache. */
  readonly responseCache?: boolean;
}

/** Which instance served a request, as events name it. */
export interface InstanceIdentity {
  readonly modelClass: string;
  readonly label: string;
}

export class VersionTelemetry {
  readonly statistics = new VersionStatistics();
  /** The metrics side path's state for this version, prepared here once. */
  readonly observer: VersionObserver;
  private readonly configLabels: Readonly<Record<string, string>>;

  constructor(
    private readonly identity: VersionIdentity,
    private readonly events: EventSink,
    observers: VersionObservers = NO_OBSERVERS,
    pending: () => number = () => 0,
  ) {
    this.configLabels = Object.freeze(dictionary(identity.metricTags));
    this.observer = observers.observe(identity.name, identity.version, { figures: this.statistics, responseCache: identity.responseCache ?? false, pending });
  }

  /** One execution of a batching scheduler (a batch is one execution of many requests). */
  execution(execution: ExecutionTimings): void {
    this.statistics.recordExecution(execution.batchSize, execution);
  }

  succeeded(call: CallBase, done: Completed, instance: InstanceIdentity): void {
    const { timings, output, cache } = done;
    const totalNs = timings.queueNs + timings.inputNs + timings.inferNs + timings.outputNs + (cache?.ns ?? 0);
    if (cache?.hit) this.statistics.recordCacheHit(totalNs, timings.queueNs, cache.ns);
    else {
      this.statistics.recordSuccess(totalNs, timings, done.rows);
      if (!done.batched) this.statistics.recordExecution(done.rows, timings);
      if (cache) this.statistics.cacheMiss.add(cache.ns);
    }
    this.observer.succeeded(timings);
    if (this.events.wantsInferenceEvents?.() === false) return;
    this.emitSucceeded(call, totalNs, instance, done, output, done.outputs, cache?.hit ? FROM_CACHE : FROM_MODEL);
  }

  /**
   * The event of a request that went through: `output` is what the model answered, absent for
   * an answer from the response cache (which ran on no instance).
   */
  private emitSucceeded(
    call: CallBase,
    totalNs: number,
    instance: InstanceIdentity,
    done: { readonly operation: string; readonly inputs: readonly Tensor[] },
    output: ExecutionOutput | undefined,
    outputs: readonly Tensor[],
    extra: { readonly cacheHit?: true; readonly responses?: number },
  ): void {
    this.events.emit({
      kind: 'inference',
      modelClass: instance.modelClass,
      model: this.identity.name,
      version: this.identity.version,
      instance: output ? (output.instance ?? instance.label) : '',
      labels: output ? output.labels : this.configLabels,
      op: done.operation,
      requestId: call.requestId,
      arrivedAtMs: Date.now() - Math.floor(totalNs / 1e6),
      durationNs: BigInt(totalNs),
      inputs: output?.inputs ?? done.inputs,
      outputs,
      ...(output?.logged ? { logged: output.logged } : {}),
      parameters: call.parameters,
      metrics: output ? output.metrics : NO_METRICS,
      ...extra,
    });
  }

  /**
   * A hit a transport answered by itself, the request never decoded: recorded as `succeeded`
   * records a hit. False, and nothing recorded, when a side path wants inference events,
   * which need the request's tensors.
   */
  quietCacheHit(totalNs: number, lookupNs: number): boolean {
    if (this.events.wantsInferenceEvents?.() !== false) return false;
    const queueNs = Math.max(0, totalNs - lookupNs);
    this.statistics.recordCacheHit(totalNs, queueNs, lookupNs);
    this.observer.succeeded({ queueNs, inputNs: 0, inferNs: 0, outputNs: 0 });
    return true;
  }

  /**
   * One response of a decoupled model's request, as it went to the transport: `ns` since the
   * request arrived (the first) or since its previous response.
   */
  responded(ns: number, first: boolean): void {
    this.statistics.recordResponse(ns, first);
    this.observer.responded?.(ns, first);
  }

  /** A decoupled model's request that ended well: one success, however many responses it had. */
  streamSucceeded(call: CallBase, done: StreamCompleted, instance: InstanceIdentity): void {
    const { timings, output } = done;
    const totalNs = timings.queueNs + timings.inputNs + timings.inferNs + timings.outputNs;
    this.statistics.recordSuccess(totalNs, timings, done.rows);
    this.statistics.recordExecution(done.rows, timings);
    this.observer.succeeded(timings);
    if (this.events.wantsInferenceEvents?.() === false) return;
    this.emitSucceeded(call, totalNs, instance, done, output, [], { responses: done.responses });
  }

  /** Failed requests are always reported, with the parameters and the error; the inputs may not have decoded. */
  failed(call: CallBase, err: unknown, instance: InstanceIdentity | undefined, responses?: number): void {
    const durationNs = process.hrtime.bigint() - call.arrivedNs;
    this.statistics.recordFailure(Number(durationNs));
    this.observer.failed(err instanceof InferenceError ? err.code : 'INTERNAL');
    if (this.events.wantsInferenceEvents?.() === false) return;
    const error = err instanceof Error ? err : new Error(String(err));
    const operation = call.parameters['operation'];
    this.events.emit({
      kind: 'inference',
      modelClass: instance?.modelClass ?? '',
      model: this.identity.name,
      version: this.identity.version,
      instance: instance?.label ?? '',
      labels: this.configLabels,
      op: typeof operation === 'string' ? operation : 'infer',
      requestId: call.requestId,
      arrivedAtMs: Date.now() - Number(durationNs / 1_000_000n),
      durationNs,
      inputs: [],
      outputs: [],
      parameters: call.parameters,
      metrics: {},
      ...(responses === undefined ? {} : { responses }),
      error: {
        message: error.message,
        code: error instanceof InferenceError ? error.code : 'INTERNAL',
        ...(error.stack ? { stack: error.stack } : {}),
      },
    });
  }
}
