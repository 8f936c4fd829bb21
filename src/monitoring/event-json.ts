// The published JSON, written as bytes in the drain. Field names follow the seed's
// _ModelLogPusher so its consumers can read these events; see
// docs/monitoring-event.schema.json. Each message is its head (the base fields, prepared
// once per model version and instance) followed by the event's own fields: building the
// objects and then JSON.stringify-ing them cost several times as much per event.
import type { InferenceEvent } from '../events.js';
import { type ByteWriter, utf8 } from './byte-writer.js';
import { toJson, writeTensorJson } from './tensor-json.js';
import type { Tensor } from '../tensor/types.js';

/**
 * Column names of a batch row. The seed's `microsec` column is `latency_us` here:
 * the seed took `timedelta.microseconds`, which is only the sub-second part (a 1.5 s
 * request logged 500000), while latency_us is the whole duration in microseconds.
 */
export const BATCH_HEADERS = ['request', 'op', 'resp', 'when', 'latency_us', 'metrics'] as const;

const BATCH_HEADERS_TEXT = JSON.stringify(BATCH_HEADERS);

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

function latencyUs(e: InferenceEvent): number {
  return Number(e.durationNs / 1000n);
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

function writeTensors(w: ByteWriter, tensors: readonly Tensor[], maxElements: number): void {
  w.byte(OPEN_LIST);
  for (let i = 0; i < tensors.length; i++) {
    if (i > 0) w.byte(COMMA);
    writeTensorJson(w, tensors[i] as Tensor, maxElements);
  }
  w.byte(CLOSE_LIST);
}

function writeValue(w: ByteWriter, value: unknown, maxElements: number): void {
  w.text(JSON.stringify(toJson(value, maxElements)));
}

/** `{ id, inputs }`: the tensors in list form, or what loggedResults() returned. */
function writeRequest(w: ByteWriter, e: InferenceEvent, maxElements: number): void {
  w.bytes(REQUEST_ID);
  w.text(JSON.stringify(e.requestId));
  w.bytes(INPUTS);
  if (e.logged) writeValue(w, e.logged.inputs ?? [], maxElements);
  else writeTensors(w, e.inputs, maxElements);
  if (Object.keys(e.parameters).length > 0) {
    w.bytes(PARAMETERS);
    writeValue(w, e.parameters, maxElements);
  }
  w.byte(CLOSE_OBJECT);
}

function writeResponse(w: ByteWriter, e: InferenceEvent, maxElements: number): void {
  w.bytes(OUTPUTS);
  if (e.logged) writeValue(w, e.logged.outputs ?? [], maxElements);
  else writeTensors(w, e.outputs, maxElements);
  // An answer from the response cache says so (the model did not run for it); a decoupled
  // model's request (never cached) is one event with its response count instead of the outputs.
  if (e.cacheHit) w.bytes(CACHE_HIT);
  else if (e.responses !== undefined) {
    w.bytes(RESPONSES);
    w.integer(e.responses);
  }
  w.byte(CLOSE_OBJECT);
}

function writeMetrics(w: ByteWriter, e: InferenceEvent, maxElements: number): void {
  if (Object.keys(e.metrics).length === 0) w.bytes(EMPTY_OBJECT);
  else writeValue(w, e.metrics, maxElements);
}

/** Column i of BATCH_HEADERS, preceded by its field name in a message or its separator in a row. */
function writeColumns(w: ByteWriter, e: InferenceEvent, maxElements: number, when: WhenText, before: readonly Uint8Array[]): void {
  w.bytes(before[0] as Uint8Array);
  writeRequest(w, e, maxElements);
  w.bytes(before[1] as Uint8Array);
  w.text(JSON.stringify(e.op));
  w.bytes(before[2] as Uint8Array);
  writeResponse(w, e, maxElements);
  w.bytes(before[3] as Uint8Array);
  w.text(when.of(e));
  w.bytes(before[4] as Uint8Array);
  w.integer(latencyUs(e));
  w.bytes(before[5] as Uint8Array);
  writeMetrics(w, e, maxElements);
}

const OPEN_LIST = 0x5b; // [
const CLOSE_LIST = 0x5d; // ]
const CLOSE_OBJECT = 0x7d; // }
const COMMA = 0x2c;
const REQUEST_ID = utf8('{"id":');
const INPUTS = utf8(',"inputs":');
const PARAMETERS = utf8(',"parameters":');
const OUTPUTS = utf8('{"outputs":');
const CACHE_HIT = utf8(',"cache_hit":true');
const RESPONSES = utf8(',"responses":');
const EMPTY_OBJECT = utf8('{}');
/** `,"<column>":`, a column's name as a message's field. */
function field(column: (typeof BATCH_HEADERS)[number]): Uint8Array {
  return utf8(`,${JSON.stringify(column)}:`);
}
const FIELDS = BATCH_HEADERS.map(field);
const REQUEST_FIELD = field('request');
const OP_FIELD = field('op');
const WHEN_FIELD = field('when');
const LATENCY_FIELD = field('latency_us');
const METRICS_FIELD = field('metrics');
const ROW = BATCH_HEADERS.map((_, i) => utf8(i === 0 ? '[' : ','));
const VALUES = utf8(`,"headers":${BATCH_HEADERS_TEXT},"values":[`);
const BATCH_END = utf8(']}');

/** Batch size 1: the head, then the event's columns as fields. */
export function writeSingleMessage(w: ByteWriter, head: Uint8Array, e: InferenceEvent, maxElements: number, when: WhenText): void {
  w.bytes(head);
  writeColumns(w, e, maxElements, when, FIELDS);
  w.byte(CLOSE_OBJECT);
}

/**
 * One row of a batch: the event's columns as a list. Encoded as the event comes, so that the
 * open batch holds no reference to its tensors.
 */
export function writeRow(w: ByteWriter, e: InferenceEvent, maxElements: number, when: WhenText): void {
  writeColumns(w, e, maxElements, when, ROW);
  w.byte(CLOSE_LIST);
}

/** Batch size > 1: the seed's shape, base fields + headers + one row per event. */
export function writeBatchMessage(w: ByteWriter, head: string, rows: readonly Uint8Array[]): void {
  w.text(head);
  w.bytes(VALUES);
  for (let i = 0; i < rows.length; i++) {
    if (i > 0) w.byte(COMMA);
    w.bytes(rows[i] as Uint8Array);
  }
  w.bytes(BATCH_END);
}

/**
 * A failed inference: never sampled or batched. `error` is the message, followed by the
 * stack when verbose (the seed appended the traceback the same way); `error_code` is the
 * InferenceError code.
 */
export function writeErrorMessage(
  w: ByteWriter,
  head: Uint8Array,
  e: InferenceEvent,
  options: { readonly maxElements: number; readonly verbose: boolean; readonly when: WhenText },
): void {
  const { maxElements, verbose, when } = options;
  const err = e.error ?? { message: 'unknown error', code: 'INTERNAL' };
  const error = verbose && err.stack ? `${err.message}\n${err.stack}` : err.message;
  w.bytes(head);
  w.bytes(REQUEST_FIELD);
  writeRequest(w, e, maxElements);
  w.bytes(OP_FIELD);
  w.text(JSON.stringify(e.op));
  w.bytes(WHEN_FIELD);
  w.text(when.of(e));
  w.bytes(LATENCY_FIELD);
  w.integer(latencyUs(e));
  w.bytes(METRICS_FIELD);
  writeMetrics(w, e, maxElements);
  w.text(`,"error":${JSON.stringify(error)},"error_code":${JSON.stringify(err.code)}}`);
}

/** `worker` of a batch: the rows' instance, or the distinct instances comma-joined. */
export function batchWorker(instances: readonly string[]): string {
  const distinct = [...new Set(instances)];
  return distinct.join(',');
}
