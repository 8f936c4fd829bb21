// Options of the monitoring side path, their defaults and the per-model overrides.
// Validation happens once, at start: a bad value is a configuration error, while
// everything after start must never throw into inference.
import { dictionary } from '../dictionary.js';

export interface MonitoringCredentials {
  /** A NATS .creds file (JWT + nkey seed). */
  readonly credsFile?: string;
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
}

export interface MonitoringTls {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
}

export interface MonitoringOptions {
  readonly natsUrl: string;
  /** Subject template; `{model}` and `{version}` are replaced per event. */
  readonly subject: string;
  /** Publish every Nth successful inference (1 = all). Failures are never sampled. */
  readonly sample: number;
  /** Sampled events per message; B > 1 sends the seed's batch shape (headers + values). */
  readonly batch: number;
  /** Per-tensor value cap; larger tensors are summarised (min, max, mean). */
  readonly maxElements: number;
  /** Bound of the event queue; when full the oldest event is dropped. */
  readonly maxPending: number;
  /** A partial batch is published this long after its first row (and at close). */
  readonly flushIntervalMs: number;
  /** Append the stack to `error` in error events. */
  readonly verbose: boolean;
  /** Identifies this server (one replica) in endpoint records. */
  readonly serverId: string;
  /**
   * Identifies the deployment in endpoint ids: replicas giving the same value share one
   * record per model version, each with its own entry in it. Default: serverId.
   */
  readonly deployment: string;
  /**
   * How often this replica writes its entries of endpoint records again. An entry not
   * written for 5 intervals is taken for a replica that died and dropped by the next writer.
   */
  readonly endpointRefreshMs: number;
  /** The event's `host` field. */
  readonly host: string;
  /** JetStream KV bucket for endpoint records, created when missing. */
  readonly kvBucket: string;
  readonly credentials?: MonitoringCredentials;
  readonly tls?: MonitoringTls;
  /** Store events in this JetStream stream instead of publishing them to core NATS. */
  readonly stream?: MonitoringStreamOptions;
}

/**
 * A JetStream stream capturing the monitoring subjects. The limits apply when v2serve
 * creates the stream; an existing stream is used as it is.
 */
export interface MonitoringStreamOptions {
  readonly name: string;
  /** Events older than this are removed; 0 = no limit. */
  readonly maxAgeMs: number;
  /** The oldest events are removed beyond this size; 0 = no limit. */
  readonly maxBytes: number;
  /** Copies kept by a JetStream cluster. */
  readonly replicas: number;
  /** Messages published and not yet acknowledged; when reached, events wait in the queue. */
  readonly maxAwaitingAck: number;
  /** A message not acknowledged within this is sent again (same Nats-Msg-Id). */
  readonly ackTimeoutMs: number;
  /** Attempts after the first; then the message's events are dropped. */
  readonly maxRetries: number;
}

/** What startMonitoring() accepts: natsUrl, and any option to change from its default. */
export type MonitoringOptionsInput = Pick<MonitoringOptions, 'natsUrl'> &
  Partial<Omit<MonitoringOptions, 'stream'>> & { readonly stream?: MonitoringStreamInput };

/** A stream's name, and any stream option to change from DEFAULT_STREAM_OPTIONS. */
export type MonitoringStreamInput = Pick<MonitoringStreamOptions, 'name'> & Partial<MonitoringStreamOptions>;

export const DEFAULT_MONITORING_OPTIONS = {
  subject: 'v2serve.inference.{model}',
  sample: 1,
  batch: 1,
  maxElements: 1024,
  maxPending: 10_000,
  flushIntervalMs: 1000,
  verbose: false,
  kvBucket: 'v2serve_endpoints',
  endpointRefreshMs: 60_000,
} as const satisfies Partial<MonitoringOptions>;

export const DEFAULT_STREAM_OPTIONS = {
  maxAgeMs: 24 * 3600 * 1000,
  maxBytes: 1024 ** 3,
  replicas: 1,
  // Far above what one connection has awaiting at full load (acks take well under a
  // millisecond), so it bounds memory when the stream stalls, not throughput.
  maxAwaitingAck: 1024,
  ackTimeoutMs: 2000,
  // With the timeout: 8 s of attempts, enough to ride out a nats-server restart and well
  // inside JetStream's default 2-minute duplicate window, where a retry cannot duplicate.
  maxRetries: 3,
} as const satisfies Omit<MonitoringStreamOptions, 'name'>;

/** Per-model settings that replace the server-wide sample, batch and maxElements. */
export interface ModelMonitoringOverrides {
  readonly sample?: number;
  readonly batch?: number;
  readonly maxElements?: number;
}

/**
 * Model config parameter names read by modelOverridesFromParameters(); they mirror the
 * CLI flags --monitoring-sample, --monitoring-batch and --monitoring-max-elements.
 */
export const OVERRIDE_PARAMETERS = {
  sample: 'monitoring_sample',
  batch: 'monitoring_batch',
  maxElements: 'monitoring_max_elements',
} as const satisfies Record<keyof ModelMonitoringOverrides, string>;

/** The longest delay Node's timers take. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A name JetStream accepts for a KV bucket or a stream. */
const JETSTREAM_NAME = /^[-\w]+$/;

function checkInteger(field: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`'${field}' must be an integer >= ${min}, got '${String(value)}'`);
  }
  return value;
}

/** Fills defaults and validates; throws RangeError naming the option. */
export function resolveMonitoringOptions(
  input: MonitoringOptionsInput,
  fallback: { readonly serverId: string; readonly host: string },
): MonitoringOptions {
  const { stream, ...rest } = input;
  const given = stripUndefined(rest);
  const serverId = given.serverId ?? fallback.serverId;
  const o: MonitoringOptions = {
    ...DEFAULT_MONITORING_OPTIONS,
    serverId,
    deployment: serverId,
    host: fallback.host,
    ...given,
    natsUrl: input.natsUrl,
    ...(stream ? { stream: resolveStream(stream) } : {}),
  };
  if (typeof o.natsUrl !== 'string' || o.natsUrl === '') {
    throw new RangeError(`'natsUrl' must be a non-empty string, got '${String(o.natsUrl)}'`);
  }
  checkInteger('sample', o.sample, 1);
  checkInteger('batch', o.batch, 1);
  checkInteger('maxElements', o.maxElements, 0);
  checkInteger('maxPending', o.maxPending, 1);
  checkInteger('flushIntervalMs', o.flushIntervalMs, 1);
  // Node fires an interval longer than this at once.
  if (checkInteger('endpointRefreshMs', o.endpointRefreshMs, 1) > MAX_TIMER_MS) {
    throw new RangeError(`'endpointRefreshMs' must be at most ${MAX_TIMER_MS}, got '${o.endpointRefreshMs}'`);
  }
  if (!JETSTREAM_NAME.test(o.kvBucket)) {
    throw new RangeError(`'kvBucket' must match ${String(JETSTREAM_NAME)}, got '${o.kvBucket}'`);
  }
  if (o.serverId === '') throw new RangeError(`'serverId' must not be empty`);
  if (o.deployment === '') throw new RangeError(`'deployment' must not be empty`);
  return Object.freeze(o);
}

function resolveStream(input: MonitoringStreamInput): MonitoringStreamOptions {
  const s: MonitoringStreamOptions = { ...DEFAULT_STREAM_OPTIONS, ...stripUndefined(input), name: input.name };
  if (typeof s.name !== 'string' || !JETSTREAM_NAME.test(s.name)) {
    throw new RangeError(`'stream.name' must match ${String(JETSTREAM_NAME)}, got '${String(s.name)}'`);
  }
  checkInteger('stream.maxAgeMs', s.maxAgeMs, 0);
  checkInteger('stream.maxBytes', s.maxBytes, 0);
  checkInteger('stream.replicas', s.replicas, 1);
  checkInteger('stream.maxAwaitingAck', s.maxAwaitingAck, 1);
  checkInteger('stream.ackTimeoutMs', s.ackTimeoutMs, 1);
  checkInteger('stream.maxRetries', s.maxRetries, 0);
  return Object.freeze(s);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return dictionary(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Reads `monitoring_sample`, `monitoring_batch` and `monitoring_max_elements` from a
 * model's config parameters. A value may be a number, a numeric string, or Triton's
 * `{ string_value: "3" }` form. Absent names are left out; a bad value throws a
 * RangeError naming the parameter, so the model fails to load instead of logging wrong.
 */
export function modelOverridesFromParameters(
  parameters: Readonly<Record<string, unknown>>,
): ModelMonitoringOverrides {
  const out: { sample?: number; batch?: number; maxElements?: number } = {};
  for (const key of Object.keys(OVERRIDE_PARAMETERS) as (keyof ModelMonitoringOverrides)[]) {
    const name = OVERRIDE_PARAMETERS[key];
    const raw = unwrapParameter(parameters[name]);
    if (raw === undefined) continue;
    const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
    out[key] = checkInteger(name, n, key === 'maxElements' ? 0 : 1);
  }
  return out;
}

function unwrapParameter(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && 'string_value' in v) {
    return (v as { string_value: unknown }).string_value;
  }
  return v;
}

/** Checks overrides passed to setModelOverrides(); throws RangeError naming the field. */
export function checkOverrides(o: ModelMonitoringOverrides): ModelMonitoringOverrides {
  if (o.sample !== undefined) checkInteger('sample', o.sample, 1);
  if (o.batch !== undefined) checkInteger('batch', o.batch, 1);
  if (o.maxElements !== undefined) checkInteger('maxElements', o.maxElements, 0);
  return Object.freeze({ ...o });
}
