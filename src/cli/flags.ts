// Every command-line flag, declared once: its kind, bounds and default. The help text, the
// parsing and the types of the parsed values all derive from this table. Names follow
// tritonserver's where it has the flag.
import { parseArgs } from 'node:util';
import { dictionary } from '../dictionary.js';
import { CONNECTION_DEFAULTS } from '../grpc/index.js';
import { PROTOCOL_CATEGORIES } from '../restrictions.js';
import { BACKEND_SETTINGS } from '../backends.js';
import { DEFAULT_BUCKETS, METRICS_CONFIG_KEYS } from '../metrics/index.js';
import { DEFAULT_MONITORING_OPTIONS, DEFAULT_STREAM_OPTIONS } from '../monitoring/index.js';

interface FlagBase {
  /** The placeholder shown in the help, e.g. PORT. */
  readonly value: string;
  readonly help: string;
  /** What the help says the default is, when the table has none to show (a computed one). */
  readonly defaultHelp?: string;
}
interface StringFlag extends FlagBase {
  readonly kind: 'string';
  readonly default?: string;
}
interface IntFlag extends FlagBase {
  readonly kind: 'int';
  readonly min: number;
  readonly max: number;
  readonly default?: number;
}
interface BoolFlag extends FlagBase {
  readonly kind: 'bool';
  readonly default?: boolean;
}
interface EnumFlag extends FlagBase {
  readonly kind: 'enum';
  readonly values: readonly string[];
  readonly default: string;
}
/** Repeatable: every occurrence, in order. */
interface ListFlag extends FlagBase {
  readonly kind: 'list';
}
/** Given bare (`--disable-auto-complete-config`), as tritonserver's flags without a value; absent = false. */
interface SwitchFlag extends Omit<FlagBase, 'value'> {
  readonly kind: 'switch';
}
type Flag = StringFlag | IntFlag | BoolFlag | EnumFlag | ListFlag | SwitchFlag;

const INT32_MAX = 2 ** 31 - 1;
/** Triton's limit, and what its clients set: INT32_MAX. */
export const MAX_MESSAGE_BYTES = INT32_MAX;

const ms = (help: string, min: number, defaultHelp?: number): IntFlag => ({
  kind: 'int',
  value: 'MS',
  help,
  min,
  max: INT32_MAX,
  ...(defaultHelp === undefined ? {} : { defaultHelp: String(defaultHelp) }),
});
const NOT_APPLIED = 'accepted for Triton compatibility; grpc-js does not apply it';

function backendSettingsHelp(): string {
  return Object.entries(BACKEND_SETTINGS)
    .flatMap(([backend, settings]) => Object.entries(settings).map(([key, setting]) => `${backend},${key}=N (${setting.help}; default ${setting.default})`))
    .join(', ');
}

export const FLAGS = {
  id: { kind: 'string', value: 'NAME', help: 'server name reported by ServerMetadata', default: 'v2serve' },
  'model-repository': { kind: 'string', value: 'DIR', help: 'the model repository', defaultHelp: 'the bundled models/' },
  'grpc-address': { kind: 'string', value: 'ADDR', help: 'address the gRPC port listens on', default: '0.0.0.0' },
  'grpc-port': { kind: 'int', value: 'PORT', help: 'gRPC port, 0 = any free port', min: 0, max: 65535, default: 8001 },
  'grpc-max-message-bytes': {
    kind: 'int',
    value: 'N',
    help: 'largest message received or sent',
    min: 1,
    max: MAX_MESSAGE_BYTES,
    default: MAX_MESSAGE_BYTES,
  },
  'grpc-reflection': { kind: 'bool', value: 'BOOL', help: 'serve gRPC server reflection v1 and v1alpha', default: true },
  'grpc-use-ssl': { kind: 'bool', value: 'BOOL', help: 'serve the gRPC port over TLS', default: false },
  'grpc-use-ssl-mutual': {
    kind: 'bool',
    value: 'BOOL',
    help: 'TLS and require client certificates signed by --grpc-root-cert',
    default: false,
  },
  'grpc-server-cert': { kind: 'string', value: 'FILE', help: 'PEM certificate chain of the server; re-read when it changes' },
  'grpc-server-key': { kind: 'string', value: 'FILE', help: 'PEM private key of the server; re-read when it changes' },
  'grpc-root-cert': { kind: 'string', value: 'FILE', help: 'PEM CA bundle client certificates must chain to (mutual TLS)' },
  'grpc-keepalive-time': ms('server keepalive ping interval', 1, CONNECTION_DEFAULTS.keepaliveTimeMs),
  'grpc-keepalive-timeout': ms('close a connection whose ping is unanswered this long', 1, CONNECTION_DEFAULTS.keepaliveTimeoutMs),
  'grpc-keepalive-permit-without-calls': { kind: 'bool', value: 'BOOL', help: NOT_APPLIED },
  'grpc-http2-max-pings-without-data': { kind: 'int', value: 'N', help: NOT_APPLIED, min: 0, max: INT32_MAX },
  'grpc-http2-min-recv-ping-interval-without-data': ms(NOT_APPLIED, 0),
  'grpc-http2-max-ping-strikes': { kind: 'int', value: 'N', help: NOT_APPLIED, min: 0, max: INT32_MAX },
  'grpc-max-connection-age': { ...ms('send GOAWAY to a connection this old', 1), defaultHelp: 'never' },
  'grpc-max-connection-age-grace': { ...ms('then close it after this long', 0), defaultHelp: 'when its calls end' },
  'grpc-max-concurrent-streams': {
    kind: 'int',
    value: 'N',
    help: 'calls open at once on one connection, more wait in the client; 0 = no limit',
    min: 0,
    max: INT32_MAX,
    defaultHelp: String(CONNECTION_DEFAULTS.maxConcurrentStreams),
  },
  'grpc-restricted-protocol': {
    kind: 'list',
    value: 'CATS:KEY=VAL',
    help: `RPCs of these categories need header KEY=VAL, repeatable; categories: ${PROTOCOL_CATEGORIES.join(', ')}`,
  },
  'allow-http': { kind: 'bool', value: 'BOOL', help: 'serve the KServe v2 / Triton HTTP/REST protocol', default: true },
  'http-address': { kind: 'string', value: 'ADDR', help: 'address the HTTP port listens on', default: '0.0.0.0' },
  'http-port': { kind: 'int', value: 'PORT', help: 'HTTP port, 0 = any free port', min: 0, max: 65535, default: 8000 },
  'http-max-input-size': {
    kind: 'int',
    value: 'N',
    help: 'largest HTTP request body, bytes, also after decompression',
    min: 1,
    max: INT32_MAX,
    // Triton's default: 64 MiB.
    default: 1 << 26,
  },
  'http-restricted-api': {
    kind: 'list',
    value: 'CATS:KEY=VAL',
    help: `HTTP routes of these categories need header KEY=VAL, repeatable; categories as --grpc-restricted-protocol`,
  },
  'allow-metrics': { kind: 'bool', value: 'BOOL', help: 'serve Prometheus metrics at GET /metrics on the metrics port', default: true },
  'metrics-address': { kind: 'string', value: 'ADDR', help: 'address the metrics port listens on', default: '0.0.0.0' },
  'metrics-port': { kind: 'int', value: 'PORT', help: 'metrics port, 0 = any free port', min: 0, max: 65535, default: 8002 },
  'metrics-config': {
    kind: 'list',
    value: 'KEY=VAL',
    help: `a metrics setting, repeatable: ${METRICS_CONFIG_KEYS.join(', ')}; histogram_latencies=true|false (default true), counter_latencies=true|false (default true), buckets=S,S,... histogram bounds in seconds (default ${DEFAULT_BUCKETS.join(',')})`,
  },
  'metrics-interval-ms': { kind: 'int', value: 'MS', help: 'how often the nv_cpu_* gauges are read from /proc', min: 1, max: INT32_MAX, default: 2000 },
  'log-requests': { kind: 'bool', value: 'BOOL', help: 'log one line per request: id, transport, model, version, operation, status, duration, bytes', default: false },
  'strict-readiness': { kind: 'bool', value: 'BOOL', help: 'ready only when every model is ready', default: true },
  'serve-while-loading': {
    kind: 'bool',
    value: 'BOOL',
    help: 'open the gRPC and HTTP ports before the models at start have loaded (readiness false until they are), for loads longer than a startup probe allows; default: the ports open once every model is READY or failed, as Triton',
    default: false,
  },
  'exit-on-error': {
    kind: 'bool',
    value: 'BOOL',
    help: 'exit when a model fails to load at start (Triton defaults to true); default: serve the others and list it UNAVAILABLE with its reason',
    default: false,
  },
  'exit-timeout-secs': { kind: 'int', value: 'N', help: 'how long shutdown waits for calls in flight', min: 0, max: 86400, default: 30 },
  'model-control-mode': { kind: 'enum', value: 'MODE', help: 'none | explicit | poll', values: ['none', 'explicit', 'poll'], default: 'none' },
  'load-model': { kind: 'list', value: 'NAME', help: "explicit mode: load this model at start, repeatable; '*' = all" },
  'repository-poll-secs': { kind: 'int', value: 'N', help: 'poll mode: seconds between scans', min: 1, max: 86400, default: 15 },
  'model-load-wait-ms': {
    kind: 'int',
    value: 'N',
    help: 'how long a request waits for a loading model (config parameter load_wait_ms)',
    min: 0,
    max: 3_600_000,
    default: 5000,
  },
  'model-max-queue-size': {
    kind: 'int',
    value: 'N',
    help: 'requests a model version queues beyond those executing, more get RESOURCE_EXHAUSTED; 0 = no bound (config: max_queue_size)',
    min: 0,
    max: 1_000_000_000,
    // Bounds memory per model version while leaving room for busy clients (perf_analyzer runs up to hundreds of concurrent requests).
    default: 1024,
  },
  'model-execution-timeout-ms': {
    kind: 'int',
    value: 'MS',
    help: 'a model that takes longer fails the request with DEADLINE_EXCEEDED; 0 = no limit (config parameter execution_timeout_ms)',
    min: 0,
    max: INT32_MAX,
    default: 0,
  },
  'disable-auto-complete-config': {
    kind: 'switch',
    help: 'do not fill in model configs from the model files (ONNX): config.pbtxt names the platform and declares every tensor',
  },
  'backend-config': {
    kind: 'list',
    value: 'BACKEND,KEY=VAL',
    help: `a backend setting, repeatable; KEY=VAL alone sets it for every backend that has it; settings: ${backendSettingsHelp()}`,
  },
  'cache-config': {
    kind: 'list',
    value: 'CACHE,KEY=VAL',
    help: "the response cache, repeatable: local,size=BYTES keeps answers of models whose config sets response_cache.enable in memory, LRU within BYTES; only the 'local' cache exists",
    defaultHelp: 'no cache',
  },
  'log-verbose': { kind: 'int', value: 'N', help: 'verbose logging level, 0 = off', min: 0, max: 1000, default: 0 },
  'log-format': { kind: 'enum', value: 'FMT', help: 'time format of the JSON log lines: default | ISO8601', values: ['default', 'ISO8601'], default: 'default' },
  'monitoring-nats': { kind: 'string', value: 'URL', help: 'publish inference events to this NATS server', defaultHelp: 'off' },
  'monitoring-subject': {
    kind: 'string',
    value: 'TEMPLATE',
    help: 'subject, {model} and {version} filled in',
    default: DEFAULT_MONITORING_OPTIONS.subject,
  },
  'monitoring-sample': { kind: 'int', value: 'N', help: 'log every Nth request of a model', min: 1, max: 1_000_000, default: DEFAULT_MONITORING_OPTIONS.sample },
  'monitoring-batch': { kind: 'int', value: 'N', help: 'send N sampled events per message', min: 1, max: 100_000, default: DEFAULT_MONITORING_OPTIONS.batch },
  'monitoring-max-elements': {
    kind: 'int',
    value: 'N',
    help: 'tensor values logged up to N elements, else a summary',
    min: 0,
    max: 100_000_000,
    default: DEFAULT_MONITORING_OPTIONS.maxElements,
  },
  'monitoring-max-pending': {
    kind: 'int',
    value: 'N',
    help: 'events queued before the oldest are dropped',
    min: 1,
    max: 10_000_000,
    default: DEFAULT_MONITORING_OPTIONS.maxPending,
  },
  'monitoring-flush-ms': {
    kind: 'int',
    value: 'N',
    help: 'a partial batch goes out after N ms',
    min: 1,
    max: 3_600_000,
    default: DEFAULT_MONITORING_OPTIONS.flushIntervalMs,
  },
  'monitoring-deployment': {
    kind: 'string',
    value: 'NAME',
    help: 'replicas given the same NAME share one endpoint record per model version',
    defaultHelp: 'this server alone',
  },
  'monitoring-creds': { kind: 'string', value: 'FILE', help: 'NATS credentials file' },
  'monitoring-user': { kind: 'string', value: 'USER', help: 'NATS user (with --monitoring-password)' },
  'monitoring-password': { kind: 'string', value: 'PASS', help: 'NATS password' },
  'monitoring-token': { kind: 'string', value: 'TOKEN', help: 'NATS token' },
  'monitoring-tls-ca': { kind: 'string', value: 'FILE', help: 'CA to verify the NATS server with' },
  'monitoring-tls-cert': { kind: 'string', value: 'FILE', help: 'client certificate for NATS' },
  'monitoring-tls-key': { kind: 'string', value: 'FILE', help: 'client key for NATS' },
  'monitoring-stream': {
    kind: 'string',
    value: 'NAME',
    help: 'store events in this JetStream stream, created when missing; an existing one is used as it is',
    defaultHelp: 'core NATS',
  },
  'monitoring-stream-max-age': {
    kind: 'int',
    value: 'SECS',
    help: 'a created stream removes events older than this, 0 = no limit',
    min: 0,
    max: INT32_MAX,
    default: DEFAULT_STREAM_OPTIONS.maxAgeMs / 1000,
  },
  'monitoring-stream-max-bytes': {
    kind: 'int',
    value: 'N',
    help: 'a created stream removes its oldest events beyond N bytes, 0 = no limit',
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    default: DEFAULT_STREAM_OPTIONS.maxBytes,
  },
  'monitoring-stream-replicas': {
    kind: 'int',
    value: 'N',
    help: 'replicas of a created stream in a JetStream cluster',
    min: 1,
    max: 5,
    default: DEFAULT_STREAM_OPTIONS.replicas,
  },
} as const satisfies Record<string, Flag>;

export type FlagName = keyof typeof FLAGS;

/** The type a flag parses to: its default's type, or that or undefined when it has none. */
type ValueOf<F> = F extends { kind: 'list' }
  ? string[]
  : F extends { kind: 'switch' }
    ? boolean
    : F extends { kind: 'enum'; values: readonly (infer V)[] }
    ? V
    : F extends { kind: 'int' }
      ? F extends { default: number }
        ? number
        : number | undefined
      : F extends { kind: 'bool' }
        ? F extends { default: boolean }
          ? boolean
          : boolean | undefined
        : F extends { default: string }
          ? string
          : string | undefined;

export type FlagValues = { readonly [K in FlagName]: ValueOf<(typeof FLAGS)[K]> };

export interface ParsedFlags {
  readonly values: FlagValues;
  /** The flags given on the command line. */
  readonly given: ReadonlySet<FlagName>;
  readonly help: boolean;
  readonly version: boolean;
}

/** A flag's value is wrong; the message names the flag. Exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function defaultText(flag: Flag): string | undefined {
  if (flag.defaultHelp !== undefined) return flag.defaultHelp;
  if (flag.kind === 'list' || flag.kind === 'switch' || flag.default === undefined) return undefined;
  return String(flag.default);
}

/** How the help shows a flag: `--name=VALUE`, or `--name` for a switch. */
function synopsis(name: string, flag: Flag): string {
  return flag.kind === 'switch' ? `--${name}` : `--${name}=${flag.value}`;
}

export const USAGE = [
  'Usage: v2serve [flags]',
  '',
  'Serves a Triton-style model repository over the KServe v2 / Triton gRPC and HTTP/REST protocols.',
  '',
  ...Object.entries(FLAGS as Record<string, Flag>).map(([name, flag]) => {
    const fallback = defaultText(flag);
    return `  ${synopsis(name, flag).padEnd(36)} ${flag.help}${fallback === undefined ? '' : ` (default ${fallback})`}`;
  }),
  `  --${'help'.padEnd(34)} print this help`,
  `  --${'version'.padEnd(34)} print the version`,
].join('\n');

/** The one integer parser: decimal, within bounds; the message names the flag. */
export function parseInteger(flag: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${flag} must be an integer in ${min}..${max}, got '${raw}'`);
  }
  return value;
}

/** The one boolean parser: true/false, 1/0, on/off, yes/no. */
export function parseBoolean(flag: string, raw: string): boolean {
  const value = raw.toLowerCase();
  if (['true', '1', 'on', 'yes'].includes(value)) return true;
  if (['false', '0', 'off', 'no'].includes(value)) return false;
  throw new UsageError(`--${flag} must be true or false, got '${raw}'`);
}

function parseValue(name: string, flag: Flag, raw: string | string[] | boolean | undefined): unknown {
  if (flag.kind === 'list') return (raw as string[] | undefined) ?? [];
  if (flag.kind === 'switch') return raw === true;
  if (raw === undefined) return flag.default;
  const text = raw as string;
  switch (flag.kind) {
    case 'int':
      return parseInteger(name, text, flag.min, flag.max);
    case 'bool':
      return parseBoolean(name, text);
    case 'enum': {
      const found = flag.values.find((v) => v.toLowerCase() === text.toLowerCase());
      if (!found) throw new UsageError(`--${name} must be one of ${flag.values.join(', ')}, got '${text}'`);
      return found;
    }
    default:
      return text;
  }
}

export function parseFlags(argv: readonly string[]): ParsedFlags {
  const table = FLAGS as Record<string, Flag>;
  const options = dictionary(
    Object.entries(table).map(([name, flag]) => [name, { type: flag.kind === 'switch' ? ('boolean' as const) : ('string' as const), multiple: flag.kind === 'list' }] as const),
  );
  let raw: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values: raw } = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: 'boolean' }, version: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const values = dictionary<unknown>();
  const given = new Set<FlagName>();
  for (const [name, flag] of Object.entries(table)) {
    const value = raw[name] as string | string[] | boolean | undefined;
    if (value !== undefined) given.add(name as FlagName);
    values[name] = parseValue(name, flag, value);
  }
  return { values: values as unknown as FlagValues, given, help: raw['help'] === true, version: raw['version'] === true };
}
