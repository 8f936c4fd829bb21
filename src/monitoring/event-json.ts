// The published JSON, written as text in the drain. Field names follow the seed's
// _ModelLogPusher so its consumers can read these events; see
// docs/monitoring-event.schema.json. Each message is its head (the base fields, prepared
// once per model version and instance) followed by the event's own fields: building the
// objects and then JSON.stringify-ing them cost several times as much per event.
import type { InferenceEvent } from '../events.js';
import { tensorToJsonText, toJson } from './tensor-json.js';
import type { Tensor } from '../tensor/types.js';

/**
 * Column names of a batch row. The seed's `microsec` column is `latency_us` here:
 * the seed took `timedelta.microseconds`, which is only the sub-second part (a 1.5 s
 * request logged 500000), while latency_us is the whole duration in microseconds.
 */
export const BATCH_HEADERS = ['request', 'op', 'resp', 'when', 'latency_us', 'metrics'] as const;

const BATCH_HEADERS_TEXT = JSON.stringify(BATCH_HEADERS);

/** One sampled inference: each column of BATCH_HEADERS as JSON text. */
export interface Row {
  readonly request: string;
  readonly op: string;
  readonly resp: string;
  readonly when: string;
  readonly latencyUs: string;
  readonly metrics: string;
}

/** What the base fields (the seed's base_data, plus endpoint_id and sample_rate) are made of. */
export interface HeadFields {
  readonly modelClass: string;
  /** The instance that ran the request ('main' or a worker index). */
  readonly worker: string;
  readonly model: string;
  readonly version: string;
  readonly host: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly endpointId: string;
  /** The N in force: one event in N was published, so consumers multiply counts by it. */
  readonly sampleRate: number;
}

/** A message's opening brace and base fields, without the closing brace. */
export function headText(f: HeadFields): string {
  return (
    `{"class":${JSON.stringify(f.modelClass)},"worker":${JSON.stringify(f.worker)}` +
    `,"model":${JSON.stringify(f.model)},"version":${JSON.stringify(f.version)}` +
    `,"host":${JSON.stringify(f.host)},"labels":${JSON.stringify(f.labels)}` +
    `,"endpoint_id":${JSON.stringify(f.endpointId)},"sample_rate":${f.sampleRate}`
  );
}

function latencyUsText(e: InferenceEvent): string {
  return String(Number(e.durationNs / 1000n));
}

/** The range of time values a Date holds (ECMAScript's TimeClip). */
const MAX_TIME_MS = 8.64e15;

/**
 * `"<ISO 8601 time>"` of when requests arrived. Events come in time order, so the text of
 * the last second is kept and only the milliseconds are written per event.
 */
export class WhenText {
  private second = NaN;
  /** The second's ISO text without its milliseconds and "Z". */
  private secondText = '';

  of(e: InferenceEvent): string {
    const ms = Math.trunc(e.arrivedAtMs); // as the Date constructor takes it
    // Like new Date(ms).toISOString(), and the epoch instead of throwing when out of range.
    if (!(Math.abs(ms) <= MAX_TIME_MS)) return `"${new Date(0).toISOString()}"`;
    const second = Math.floor(ms / 1000);
    if (second !== this.second) {
      this.second = second;
      this.secondText = new Date(second * 1000).toISOString().slice(0, -4);
    }
    const milli = ms - second * 1000;
    return `"${this.secondText}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z"`;
  }
}

function tensorsText(tensors: readonly Tensor[], maxElements: number): string {
  if (tensors.length === 0) return '[]';
  let s = '[' + tensorToJsonText(tensors[0] as Tensor, maxElements);
  for (let i = 1; i < tensors.length; i++) s += ',' + tensorToJsonText(tensors[i] as Tensor, maxElements);
  return s + ']';
}

function valueText(value: unknown, maxElements: number): string {
  return JSON.stringify(toJson(value, maxElements));
}

/** `{ id, inputs }`: the tensors in list form, or what loggedResults() returned. */
function requestText(e: InferenceEvent, maxElements: number): string {
  const inputs = e.logged ? valueText(e.logged.inputs ?? [], maxElements) : tensorsText(e.inputs, maxElements);
  const head = `{"id":${JSON.stringify(e.requestId)},"inputs":${inputs}`;
  if (Object.keys(e.parameters).length === 0) return head + '}';
  return `${head},"parameters":${valueText(e.parameters, maxElements)}}`;
}

function responseText(e: InferenceEvent, maxElements: number): string {
  const outputs = e.logged ? valueText(e.logged.outputs ?? [], maxElements) : tensorsText(e.outputs, maxElements);
  // An answer from the response cache says so (the model did not run for it); a decoupled
  // model's request (never cached) is one event with its response count instead of the outputs.
  if (e.cacheHit) return `{"outputs":${outputs},"cache_hit":true}`;
  return e.responses === undefined ? `{"outputs":${outputs}}` : `{"outputs":${outputs},"responses":${e.responses}}`;
}

function metricsText(e: InferenceEvent, maxElements: number): string {
  return Object.keys(e.metrics).length === 0 ? '{}' : valueText(e.metrics, maxElements);
}

/** Encodes a sampled event; after this the row holds no reference to the event's tensors. */
export function encodeRow(e: InferenceEvent, maxElements: number, when: WhenText): Row {
  return {
    request: requestText(e, maxElements),
    op: JSON.stringify(e.op),
    resp: responseText(e, maxElements),
    when: when.of(e),
    latencyUs: latencyUsText(e),
    metrics: metricsText(e, maxElements),
  };
}

/** Batch size 1: one event per message, the row's columns as fields. */
export function singleMessage(head: string, r: Row): string {
  return (
    `${head},"request":${r.request},"op":${r.op},"resp":${r.resp},"when":${r.when}` +
    `,"latency_us":${r.latencyUs},"metrics":${r.metrics}}`
  );
}

/** Batch size > 1: the seed's shape, base fields + headers + one row per event. */
export function batchMessage(head: string, rows: readonly Row[]): string {
  let values = '';
  for (const r of rows) {
    values += `${values === '' ? '' : ','}[${r.request},${r.op},${r.resp},${r.when},${r.latencyUs},${r.metrics}]`;
  }
  return `${head},"headers":${BATCH_HEADERS_TEXT},"values":[${values}]}`;
}

/**
 * A failed inference: never sampled or batched. `error` is the message, followed by the
 * stack when verbose (the seed appended the traceback the same way); `error_code` is the
 * InferenceError code.
 */
export function errorMessage(
  head: string,
  e: InferenceEvent,
  options: { readonly maxElements: number; readonly verbose: boolean; readonly when: WhenText },
): string {
  const { maxElements, verbose, when } = options;
  const err = e.error ?? { message: 'unknown error', code: 'INTERNAL' };
  const error = verbose && err.stack ? `${err.message}\n${err.stack}` : err.message;
  return (
    `${head},"request":${requestText(e, maxElements)},"op":${JSON.stringify(e.op)},"when":${when.of(e)}` +
    `,"latency_us":${latencyUsText(e)},"metrics":${metricsText(e, maxElements)}` +
    `,"error":${JSON.stringify(error)},"error_code":${JSON.stringify(err.code)}}`
  );
}

/** `worker` of a batch: the rows' instance, or the distinct instances comma-joined. */
export function batchWorker(instances: readonly string[]): string {
  const distinct = [...new Set(instances)];
  return distinct.join(',');
}
