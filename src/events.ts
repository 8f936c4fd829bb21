// Events the model layer hands to side paths (monitoring). Emitting is synchronous
// and never awaited: a sink must return at once and must never throw into inference.
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
  readonly error?: { readonly message: string; readonly code: string; readonly stack?: string };
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
}

export const NO_EVENTS: EventSink = { emit: () => undefined };
