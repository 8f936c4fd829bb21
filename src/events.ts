// The contracts between the request path and the side paths (monitoring, metrics, the
// request log): events of the model layer, per-version observers, and the records of
// finished requests transports hand out. Every call is synchronous and never awaited: a
// sink must return at once and must never throw into inference.
import type { Tensor } from './tensor/types.js';

export type MetricValue = number | string | boolean;

/** One finished request of a model, successful or not. */
export interface InferenceEvent {
  readonly kind: 'inference';
  /** Class name of the model server (the seed's `class`). */
  readonly modelClass: string;
  readonly model: string;
  readonly version: string;
  /** Which instance ran it: 'main' or the worker index. */
  readonly instance: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly op: string;
  readonly requestId: string;
  /** Arrival time, milliseconds since the epoch. */
  readonly arrivedAtMs: number;
  /** Whole duration from arrival to response, nanoseconds (monotonic clock). */
  readonly durationNs: bigint;
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  /** What loggedResults() chose to log instead of the tensors, when it returned something. */
  readonly logged?: { readonly inputs: unknown; readonly outputs: unknown };
  readonly parameters: Readonly<Record<string, unknown>>;
  /** Metrics the model set with setMetric(), as they were when this request finished. */
  readonly metrics: Readonly<Record<string, MetricValue>>;
  /** A decoupled model's request: how many responses it sent (its outputs are not in the event). */
  readonly responses?: number;
  readonly error?: { readonly message: string; readonly code: string; readonly stack?: string };
  /** Answered from the response cache: the model did not run. */
  readonly cacheHit?: true;
}

export type ModelState = 'UNAVAILABLE' | 'LOADING' | 'READY' | 'UNLOADING';

/** A model version changed state (loaded, failed, unloaded). */
export interface ModelStateEvent {
  readonly kind: 'model-state';
  readonly modelClass: string;
  readonly model: string;
  readonly version: string;
  readonly state: ModelState;
  readonly reason: string;
  readonly labels: Readonly<Record<string, string>>;
  /** config.pbtxt `parameters`, as strings: side paths read their per-model settings here. */
  readonly parameters: Readonly<Record<string, string>>;
  /** The version directory the model was loaded from. */
  readonly path: string;
}

export type ModelEvent = InferenceEvent | ModelStateEvent;

export interface EventSink {
  emit(event: ModelEvent): void;
  /** False when this sink ignores inference events, so that nobody builds them for it (absent: it wants them). */
  wantsInferenceEvents?(): boolean;
}

export const NO_EVENTS: EventSink = { emit: () => undefined };

/** Nanoseconds a successful request spent in each phase (the ModelStatistics split). */
export interface PhaseTimings {
  readonly queueNs: number;
  readonly inputNs: number;
  readonly inferNs: number;
  readonly outputNs: number;
}

export interface CumulativeDuration {
  readonly count: number;
  readonly ns: bigint;
}

/** A version's cumulative ModelStatistics figures; side paths read them when they report, at no cost per request. */
export interface VersionFigures {
  readonly inferenceCount: number;
  readonly executionCount: number;
  readonly success: CumulativeDuration;
  readonly fail: CumulativeDuration;
  readonly queue: CumulativeDuration;
  readonly computeInput: CumulativeDuration;
  readonly computeInfer: CumulativeDuration;
  readonly computeOutput: CumulativeDuration;
  /** Requests answered from the response cache, and their lookup time. */
  readonly cacheHit: CumulativeDuration;
  /** Requests the response cache missed, and their lookup and insertion time. */
  readonly cacheMiss: CumulativeDuration;
  /** Responses of decoupled models' requests. */
  readonly responseCount: number;
}

/** What a side path may read of a version whenever it likes. */
export interface VersionWatch {
  readonly figures: VersionFigures;
  /** The version uses the server's response cache (Triton reports its per-model cache figures then). */
  readonly responseCache?: boolean;
  /** Requests admitted and not executing now. */
  pending(): number;
}

/**
 * A side path's view of one version, made once when the version is created so that it
 * prepares its state then: the request path only hands it numbers it already has.
 * Like EventSink, it must return at once and never throw.
 */
export interface VersionObserver {
  succeeded(timings: PhaseTimings): void;
  /** `code` is the failure's ErrorCode ('INTERNAL' for anything that is no InferenceError). */
  failed(code: string): void;
  /** A decoupled model's response: `ns` since the request arrived (`first`) or since its previous response. */
  responded?(ns: number, first: boolean): void;
  loaded(seconds: number): void;
  /** The version stopped for good (unloaded, failed to load, replaced): its figures go. */
  closed(): void;
}

export interface VersionObservers {
  observe(model: string, version: string, watch: VersionWatch): VersionObserver;
}

const NO_OBSERVER: VersionObserver = { succeeded: () => undefined, failed: () => undefined, loaded: () => undefined, closed: () => undefined };
export const NO_OBSERVERS: VersionObservers = { observe: () => NO_OBSERVER };

/** One request a transport finished answering: an RPC, a stream request or an HTTP route. */
export interface RequestRecord {
  /** The client's id, or the one the server made when the client gave none. */
  readonly requestId: string;
  readonly transport: 'grpc' | 'http';
  /** The RPC's name (ModelInfer) or the route's. */
  readonly operation: string;
  /** Empty when the request names no model. */
  readonly model: string;
  readonly version: string;
  /** The gRPC status name (OK, INVALID_ARGUMENT) or the HTTP status code. */
  readonly status: string;
  readonly durationNs: bigint;
  /** Message or body bytes; undefined when the transport does not know them. */
  readonly bytesIn: number | undefined;
  readonly bytesOut: number | undefined;
  /** A streamed request (ModelStreamInfer, generate_stream): how many responses it sent. */
  readonly responses?: number;
}

/** Where transports hand finished requests (request log, counters); synchronous, never throws. */
export interface RequestSink {
  finished(record: RequestRecord): void;
}

/** The response cache's figures (--cache-config), read when metrics are scraped. */
export interface CacheCounts {
  readonly entries: number;
  readonly bytes: number;
  readonly capacity: number;
  readonly lookups: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
  /** Cumulative nanoseconds. */
  readonly lookupNs: number;
  readonly insertNs: number;
}
