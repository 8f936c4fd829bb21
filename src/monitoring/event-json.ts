// The published JSON. Field names follow the seed's _ModelLogPusher so its consumers can
// read these events; see docs/monitoring-event.schema.json.
import type { InferenceEvent } from '../events.js';
import { type JsonValue, tensorToJson, toJson } from './tensor-json.js';

/**
 * Column names of a batch row. The seed's `microsec` column is `latency_us` here:
 * the seed took `timedelta.microseconds`, which is only the sub-second part (a 1.5 s
 * request logged 500000), while latency_us is the whole duration in microseconds.
 */
export const BATCH_HEADERS = ['request', 'op', 'resp', 'when', 'latency_us', 'metrics'] as const;

/** One sampled inference in the column order of BATCH_HEADERS. */
export type Row = [request: JsonValue, op: string, resp: JsonValue, when: string, latencyUs: number, metrics: JsonValue];

/** Fields every message starts with (the seed's base_data, plus endpoint_id and sample_rate). */
export interface BaseFields {
  [key: string]: JsonValue;
  class: string;
  /** The instance that ran the request ('main' or a worker index). */
  worker: string;
  model: string;
  version: string;
  host: string;
  labels: { [key: string]: string };
  endpoint_id: string;
  /** The N in force: one event in N was published, so consumers multiply counts by it. */
  sample_rate: number;
}

export interface MessageContext {
  readonly host: string;
  readonly endpointId: string;
  readonly sampleRate: number;
}

export function baseFields(e: InferenceEvent, ctx: MessageContext, worker = e.instance): BaseFields {
  return {
    class: e.modelClass,
    worker,
    model: e.model,
    version: e.version,
    host: ctx.host,
    labels: { ...e.labels },
    endpoint_id: ctx.endpointId,
    sample_rate: ctx.sampleRate,
  };
}

function latencyUs(e: InferenceEvent): number {
  return Number(e.durationNs / 1000n);
}

function when(e: InferenceEvent): string {
  const d = new Date(e.arrivedAtMs);
  return Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString();
}

/** `{ id, inputs }`: the tensors in list form, or what loggedResults() returned. */
function requestJson(e: InferenceEvent, maxElements: number): JsonValue {
  const inputs = e.logged
    ? toJson(e.logged.inputs ?? [], maxElements)
    : e.inputs.map((t) => tensorToJson(t, maxElements));
  // Our own keys, so a plain object: JSON.stringify is slower on a null-prototype one.
  if (Object.keys(e.parameters).length === 0) return { id: e.requestId, inputs };
  return { id: e.requestId, inputs, parameters: toJson(e.parameters, maxElements) };
}

function responseJson(e: InferenceEvent, maxElements: number): JsonValue {
  const outputs = e.logged
    ? toJson(e.logged.outputs ?? [], maxElements)
    : e.outputs.map((t) => tensorToJson(t, maxElements));
  // An answer from the response cache says so (the model did not run for it); a decoupled
  // model's request (never cached) is one event with its response count instead of the outputs.
  if (e.cacheHit) return { outputs, cache_hit: true };
  return e.responses === undefined ? { outputs } : { outputs, responses: e.responses };
}

/** Encodes a sampled event; after this the row holds no reference to the event's tensors. */
export function encodeRow(e: InferenceEvent, maxElements: number): Row {
  return [
    requestJson(e, maxElements),
    e.op,
    responseJson(e, maxElements),
    when(e),
    latencyUs(e),
    toJson(e.metrics, maxElements),
  ];
}

/**
 * The base fields followed by `fields`. Not `{ ...base, ...fields }`: V8 turns a spread copy
 * that then gets more properties into a dictionary-mode object, and building plus
 * stringifying a single event took ≈ 15 µs that way against ≈ 3 µs with Object.assign.
 */
export function withBase(base: BaseFields, fields: { [key: string]: JsonValue }): BaseFields {
  return Object.assign({}, base, fields);
}

/** Batch size 1: one event per message, the row's columns as fields. */
export function singleMessage(base: BaseFields, row: Row): JsonValue {
  const [request, op, resp, at, latency, metrics] = row;
  return withBase(base, { request, op, resp, when: at, latency_us: latency, metrics });
}

/** Batch size > 1: the seed's shape, base fields + headers + one row per event. */
export function batchMessage(base: BaseFields, rows: readonly Row[]): JsonValue {
  return withBase(base, { headers: [...BATCH_HEADERS], values: rows.map((r) => [...r]) });
}

/**
 * A failed inference: never sampled or batched. `error` is the message, followed by the
 * stack when verbose (the seed appended the traceback the same way); `error_code` is the
 * InferenceError code.
 */
export function errorMessage(base: BaseFields, e: InferenceEvent, maxElements: number, verbose: boolean): JsonValue {
  const err = e.error ?? { message: 'unknown error', code: 'INTERNAL' };
  const error = verbose && err.stack ? `${err.message}\n${err.stack}` : err.message;
  return withBase(base, {
    request: requestJson(e, maxElements),
    op: e.op,
    when: when(e),
    latency_us: latencyUs(e),
    metrics: toJson(e.metrics, maxElements),
    error,
    error_code: err.code,
  });
}

/** `worker` of a batch: the rows' instance, or the distinct instances comma-joined. */
export function batchWorker(instances: readonly string[]): string {
  const distinct = [...new Set(instances)];
  return distinct.join(',');
}
