// Command-line flags, named as tritonserver names them where it has one.
import { accessSync, constants as fsConstants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  checkRestrictions,
  CONNECTION_DEFAULTS,
  parseRestriction,
  PROTOCOL_CATEGORIES,
  type ConnectionOptions,
  type ProtocolRestriction,
} from '../grpc/index.js';
import { dictionary } from '../dictionary.js';
import { DEFAULT_STREAM_OPTIONS } from '../monitoring/index.js';

export type ControlMode = 'none' | 'explicit' | 'poll';
export type LogFormat = 'default' | 'ISO8601';

export interface Config {
  readonly help: boolean;
  readonly version: boolean;
  readonly id: string;
  readonly modelRepository: string;
  readonly grpcAddress: string;
  readonly grpcPort: number;
  readonly grpcMaxMessageBytes: number;
  readonly grpcReflection: boolean;
  readonly grpcTls: TlsConfig | undefined;
  readonly grpcRestrictedProtocol: readonly ProtocolRestriction[];
  /** Only the flags given; the gRPC layer fills in Triton's defaults. */
  readonly grpcConnection: ConnectionOptions;
  readonly strictReadiness: boolean;
  readonly exitTimeoutSecs: number;
  readonly modelControlMode: ControlMode;
  readonly loadModels: readonly string[];
  readonly repositoryPollSecs: number;
  readonly modelLoadWaitMs: number;
  readonly modelMaxQueueSize: number;
  readonly modelExecutionTimeoutMs: number;
  readonly logVerbose: number;
  readonly logFormat: LogFormat;
  readonly monitoring: MonitoringConfig | undefined;
}

/** TLS on the gRPC port; absent unless --grpc-use-ssl or --grpc-use-ssl-mutual. */
export interface TlsConfig {
  readonly mutual: boolean;
  readonly certFile: string;
  readonly keyFile: string;
  readonly rootCertFile: string | undefined;
}

/** Inference monitoring to NATS; absent when --monitoring-nats is not given. */
export interface MonitoringConfig {
  readonly natsUrl: string;
  readonly subject: string | undefined;
  readonly sample: number;
  readonly batch: number;
  readonly maxElements: number;
  readonly maxPending: number;
  readonly flushMs: number;
  readonly credsFile: string | undefined;
  readonly user: string | undefined;
  readonly password: string | undefined;
  readonly token: string | undefined;
  readonly tlsCa: string | undefined;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  readonly stream: MonitoringStreamConfig | undefined;
}

/** Events stored in a JetStream stream; absent when --monitoring-stream is not given. */
export interface MonitoringStreamConfig {
  readonly name: string;
  readonly maxAgeSecs: number;
  readonly maxBytes: number;
  readonly replicas: number;
}

export const DEFAULT_MODEL_REPOSITORY = fileURLToPath(new URL('../../models/', import.meta.url));
/** Triton's limit, and what its clients set: INT32_MAX. */
const MAX_MESSAGE_BYTES = 2 ** 31 - 1;
/** Bounds memory per model version while leaving room for busy clients (perf_analyzer runs up to hundreds of concurrent requests). */
const DEFAULT_MAX_QUEUE_SIZE = 1024;

interface FlagHelp {
  readonly flag: string;
  readonly value: string;
  readonly help: string;
}

const FLAGS: readonly FlagHelp[] = [
  { flag: 'id', value: 'NAME', help: 'server name reported by ServerMetadata (default v2serve)' },
  { flag: 'model-repository', value: 'DIR', help: 'the model repository (default: the bundled models/)' },
  { flag: 'grpc-address', value: 'ADDR', help: 'address to listen on (default 0.0.0.0)' },
  { flag: 'grpc-port', value: 'PORT', help: 'gRPC port, 0 = any free port (default 8001)' },
  { flag: 'grpc-max-message-bytes', value: 'N', help: `largest message received or sent (default ${MAX_MESSAGE_BYTES})` },
  { flag: 'grpc-reflection', value: 'BOOL', help: 'serve gRPC server reflection v1 and v1alpha (default true)' },
  { flag: 'grpc-use-ssl', value: 'BOOL', help: 'serve the gRPC port over TLS (default false)' },
  { flag: 'grpc-use-ssl-mutual', value: 'BOOL', help: 'TLS and require client certificates signed by --grpc-root-cert (default false)' },
  { flag: 'grpc-server-cert', value: 'FILE', help: 'PEM certificate chain of the server; re-read when it changes' },
  { flag: 'grpc-server-key', value: 'FILE', help: 'PEM private key of the server; re-read when it changes' },
  { flag: 'grpc-root-cert', value: 'FILE', help: 'PEM CA bundle client certificates must chain to (mutual TLS)' },
  { flag: 'grpc-keepalive-time', value: 'MS', help: `server keepalive ping interval (default ${CONNECTION_DEFAULTS.keepaliveTimeMs})` },
  { flag: 'grpc-keepalive-timeout', value: 'MS', help: `close a connection whose ping is unanswered this long (default ${CONNECTION_DEFAULTS.keepaliveTimeoutMs})` },
  { flag: 'grpc-keepalive-permit-without-calls', value: 'BOOL', help: 'accepted for Triton compatibility; grpc-js does not apply it' },
  { flag: 'grpc-http2-max-pings-without-data', value: 'N', help: 'accepted for Triton compatibility; grpc-js does not apply it' },
  { flag: 'grpc-http2-min-recv-ping-interval-without-data', value: 'MS', help: 'accepted for Triton compatibility; grpc-js does not apply it' },
  { flag: 'grpc-http2-max-ping-strikes', value: 'N', help: 'accepted for Triton compatibility; grpc-js does not apply it' },
  { flag: 'grpc-max-connection-age', value: 'MS', help: 'send GOAWAY to a connection this old (default: never)' },
  { flag: 'grpc-max-connection-age-grace', value: 'MS', help: 'then close it after this long (default: when its calls end)' },
  {
    flag: 'grpc-max-concurrent-streams',
    value: 'N',
    help: `calls open at once on one connection, more wait in the client; 0 = no limit (default ${CONNECTION_DEFAULTS.maxConcurrentStreams})`,
  },
  {
    flag: 'grpc-restricted-protocol',
    value: 'CATS:KEY=VAL',
    help: `RPCs of these categories need header KEY=VAL, repeatable; categories: ${PROTOCOL_CATEGORIES.join(', ')}`,
  },
  { flag: 'strict-readiness', value: 'BOOL', help: 'ready only when every model is ready (default true)' },
  { flag: 'exit-timeout-secs', value: 'N', help: 'how long shutdown waits for calls in flight (default 30)' },
  { flag: 'model-control-mode', value: 'MODE', help: 'none | explicit | poll (default none)' },
  { flag: 'load-model', value: 'NAME', help: "explicit mode: load this model at start, repeatable; '*' = all" },
  { flag: 'repository-poll-secs', value: 'N', help: 'poll mode: seconds between scans (default 15)' },
  { flag: 'model-load-wait-ms', value: 'N', help: 'how long a request waits for a loading model (default 5000)' },
  {
    flag: 'model-max-queue-size',
    value: 'N',
    help: `requests a model version queues beyond those executing, more get RESOURCE_EXHAUSTED; 0 = no bound (default ${DEFAULT_MAX_QUEUE_SIZE}; config: max_queue_size)`,
  },
  {
    flag: 'model-execution-timeout-ms',
    value: 'MS',
    help: 'a model that takes longer fails the request with DEADLINE_EXCEEDED; 0 = no limit (default 0; config parameter execution_timeout_ms)',
  },
  { flag: 'log-verbose', value: 'N', help: 'verbose logging level, 0 = off (default 0)' },
  { flag: 'monitoring-nats', value: 'URL', help: 'publish inference events to this NATS server (default: off)' },
  { flag: 'monitoring-subject', value: 'TEMPLATE', help: "subject, {model} and {version} filled in (default 'v2serve.inference.{model}')" },
  { flag: 'monitoring-sample', value: 'N', help: 'log every Nth request of a model (default 1)' },
  { flag: 'monitoring-batch', value: 'N', help: 'send N sampled events per message (default 1)' },
  { flag: 'monitoring-max-elements', value: 'N', help: 'tensor values logged up to N elements, else a summary (default 1024)' },
  { flag: 'monitoring-max-pending', value: 'N', help: 'events queued before the oldest are dropped (default 10000)' },
  { flag: 'monitoring-flush-ms', value: 'N', help: 'a partial batch goes out after N ms (default 1000)' },
  { flag: 'monitoring-creds', value: 'FILE', help: 'NATS credentials file' },
  { flag: 'monitoring-user', value: 'USER', help: 'NATS user (with --monitoring-password)' },
  { flag: 'monitoring-password', value: 'PASS', help: 'NATS password' },
  { flag: 'monitoring-token', value: 'TOKEN', help: 'NATS token' },
  { flag: 'monitoring-tls-ca', value: 'FILE', help: 'CA to verify the NATS server with' },
  { flag: 'monitoring-tls-cert', value: 'FILE', help: 'client certificate for NATS' },
  { flag: 'monitoring-tls-key', value: 'FILE', help: 'client key for NATS' },
  {
    flag: 'monitoring-stream',
    value: 'NAME',
    help: 'store events in this JetStream stream, created when missing; an existing one is used as it is (default: core NATS)',
  },
  {
    flag: 'monitoring-stream-max-age',
    value: 'SECS',
    help: `a created stream removes events older than this, 0 = no limit (default ${DEFAULT_STREAM_OPTIONS.maxAgeMs / 1000})`,
  },
  {
    flag: 'monitoring-stream-max-bytes',
    value: 'N',
    help: `a created stream removes its oldest events beyond N bytes, 0 = no limit (default ${DEFAULT_STREAM_OPTIONS.maxBytes})`,
  },
  {
    flag: 'monitoring-stream-replicas',
    value: 'N',
    help: `replicas of a created stream in a JetStream cluster (default ${DEFAULT_STREAM_OPTIONS.replicas})`,
  },
  { flag: 'log-format', value: 'FMT', help: 'default | ISO8601 (time format of the JSON log lines)' },
];

export const USAGE = [
  'Usage: v2serve [flags]',
  '',
  'Serves a Triton-style model repository over the KServe v2 / Triton gRPC protocol.',
  '',
  ...FLAGS.map(({ flag, value, help }) => `  --${`${flag}=${value}`.padEnd(34)} ${help}`),
  `  --${'help'.padEnd(34)} print this help`,
  `  --${'version'.padEnd(34)} print the version`,
].join('\n');

/** A flag's value is wrong; the message names the flag. Exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const REPEATABLE = new Set(['load-model', 'grpc-restricted-protocol']);

function restrictedProtocol(specs: readonly string[]): ProtocolRestriction[] {
  try {
    const restrictions = specs.map(parseRestriction);
    checkRestrictions(restrictions);
    return restrictions;
  } catch (err) {
    throw new UsageError(`--grpc-restricted-protocol: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function integer(flag: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${flag} must be an integer in ${min}..${max}, got '${raw}'`);
  }
  return value;
}

function boolean(flag: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined) return fallback;
  const value = raw.toLowerCase();
  if (['true', '1', 'on', 'yes'].includes(value)) return true;
  if (['false', '0', 'off', 'no'].includes(value)) return false;
  throw new UsageError(`--${flag} must be true or false, got '${raw}'`);
}

function oneOf<T extends string>(flag: string, raw: string | undefined, fallback: T, allowed: readonly T[]): T {
  if (raw === undefined) return fallback;
  const found = allowed.find((a) => a.toLowerCase() === raw.toLowerCase());
  if (!found) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}, got '${raw}'`);
  return found;
}

export function parseConfig(argv: readonly string[]): Readonly<Config> {
  const options = dictionary(FLAGS.map(({ flag }) => [flag, { type: 'string' as const, multiple: REPEATABLE.has(flag) }] as const));
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: 'boolean' }, version: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const str = (flag: string): string | undefined => values[flag] as string | undefined;
  const controlMode = oneOf<ControlMode>('model-control-mode', str('model-control-mode'), 'none', [
    'none',
    'explicit',
    'poll',
  ]);
  const loadModels = (values['load-model'] as string[] | undefined) ?? [];
  if (loadModels.length > 0 && controlMode !== 'explicit') {
    throw new UsageError('--load-model needs --model-control-mode=explicit');
  }
  if (loadModels.includes('*') && loadModels.length > 1) {
    throw new UsageError("--load-model='*' must be the only --load-model");
  }
  const id = str('id') ?? 'v2serve';
  if (!id) throw new UsageError('--id must not be empty');
  return Object.freeze({
    help: values['help'] === true,
    version: values['version'] === true,
    id,
    modelRepository: str('model-repository') ?? DEFAULT_MODEL_REPOSITORY,
    grpcAddress: str('grpc-address') ?? '0.0.0.0',
    grpcPort: integer('grpc-port', str('grpc-port'), 8001, 0, 65535),
    grpcMaxMessageBytes: integer('grpc-max-message-bytes', str('grpc-max-message-bytes'), MAX_MESSAGE_BYTES, 1, MAX_MESSAGE_BYTES),
    grpcReflection: boolean('grpc-reflection', str('grpc-reflection'), true),
    grpcTls: tlsConfig(str),
    grpcConnection: connectionOptions(str),
    grpcRestrictedProtocol: restrictedProtocol((values['grpc-restricted-protocol'] as string[] | undefined) ?? []),
    strictReadiness: boolean('strict-readiness', str('strict-readiness'), true),
    exitTimeoutSecs: integer('exit-timeout-secs', str('exit-timeout-secs'), 30, 0, 86400),
    modelControlMode: controlMode,
    loadModels,
    repositoryPollSecs: integer('repository-poll-secs', str('repository-poll-secs'), 15, 1, 86400),
    modelLoadWaitMs: integer('model-load-wait-ms', str('model-load-wait-ms'), 5000, 0, 3_600_000),
    modelMaxQueueSize: integer('model-max-queue-size', str('model-max-queue-size'), DEFAULT_MAX_QUEUE_SIZE, 0, 1_000_000_000),
    modelExecutionTimeoutMs: integer('model-execution-timeout-ms', str('model-execution-timeout-ms'), 0, 0, 2 ** 31 - 1),
    logVerbose: integer('log-verbose', str('log-verbose'), 0, 0, 1000),
    logFormat: oneOf<LogFormat>('log-format', str('log-format'), 'default', ['default', 'ISO8601']),
    monitoring: monitoringConfig(str),
  });
}

const INT32_MAX = 2 ** 31 - 1;

function connectionOptions(str: (flag: string) => string | undefined): ConnectionOptions {
  const ms = (flag: string, min: number) => {
    const raw = str(flag);
    return raw === undefined ? undefined : integer(flag, raw, 0, min, INT32_MAX);
  };
  const permit = str('grpc-keepalive-permit-without-calls');
  const options = {
    keepaliveTimeMs: ms('grpc-keepalive-time', 1),
    keepaliveTimeoutMs: ms('grpc-keepalive-timeout', 1),
    keepalivePermitWithoutCalls: permit === undefined ? undefined : boolean('grpc-keepalive-permit-without-calls', permit, false),
    http2MaxPingsWithoutData: ms('grpc-http2-max-pings-without-data', 0),
    http2MinRecvPingIntervalWithoutDataMs: ms('grpc-http2-min-recv-ping-interval-without-data', 0),
    http2MaxPingStrikes: ms('grpc-http2-max-ping-strikes', 0),
    maxConnectionAgeMs: ms('grpc-max-connection-age', 1),
    maxConnectionAgeGraceMs: ms('grpc-max-connection-age-grace', 0),
    maxConcurrentStreams: ms('grpc-max-concurrent-streams', 0),
  };
  return dictionary(Object.entries(options).filter(([, value]) => value !== undefined)) as ConnectionOptions;
}

/** A file flag's file must be readable at start-up; the message names the flag and the path. */
function readableFile(flag: string, path: string | undefined): string {
  if (!path) throw new UsageError(`--${flag} is required with --grpc-use-ssl or --grpc-use-ssl-mutual`);
  try {
    accessSync(path, fsConstants.R_OK);
  } catch (err) {
    const why = err instanceof Error && 'code' in err ? String(err.code) : String(err);
    throw new UsageError(`--${flag}: cannot read '${path}' (${why})`);
  }
  return path;
}

function tlsConfig(str: (flag: string) => string | undefined): TlsConfig | undefined {
  // Triton: --grpc-use-ssl-mutual turns SSL on as well.
  const mutual = boolean('grpc-use-ssl-mutual', str('grpc-use-ssl-mutual'), false);
  const ssl = mutual || boolean('grpc-use-ssl', str('grpc-use-ssl'), false);
  if (!ssl) {
    const stray = ['grpc-server-cert', 'grpc-server-key', 'grpc-root-cert'].find((flag) => str(flag) !== undefined);
    if (stray) throw new UsageError(`--${stray} needs --grpc-use-ssl or --grpc-use-ssl-mutual`);
    return undefined;
  }
  const rootCert = str('grpc-root-cert');
  if (mutual && !rootCert) throw new UsageError('--grpc-use-ssl-mutual needs --grpc-root-cert (the CA client certificates must chain to)');
  return {
    mutual,
    certFile: readableFile('grpc-server-cert', str('grpc-server-cert')),
    keyFile: readableFile('grpc-server-key', str('grpc-server-key')),
    rootCertFile: rootCert ? readableFile('grpc-root-cert', rootCert) : undefined,
  };
}

function monitoringConfig(str: (flag: string) => string | undefined): MonitoringConfig | undefined {
  const natsUrl = str('monitoring-nats');
  if (natsUrl === undefined) {
    const stray = FLAGS.find(({ flag }) => flag.startsWith('monitoring-') && str(flag) !== undefined);
    if (stray) throw new UsageError(`--${stray.flag} needs --monitoring-nats`);
    return undefined;
  }
  if (!natsUrl) throw new UsageError('--monitoring-nats must not be empty');
  return {
    natsUrl,
    subject: str('monitoring-subject'),
    sample: integer('monitoring-sample', str('monitoring-sample'), 1, 1, 1_000_000),
    batch: integer('monitoring-batch', str('monitoring-batch'), 1, 1, 100_000),
    maxElements: integer('monitoring-max-elements', str('monitoring-max-elements'), 1024, 0, 100_000_000),
    maxPending: integer('monitoring-max-pending', str('monitoring-max-pending'), 10_000, 1, 10_000_000),
    flushMs: integer('monitoring-flush-ms', str('monitoring-flush-ms'), 1000, 1, 3_600_000),
    credsFile: str('monitoring-creds'),
    user: str('monitoring-user'),
    password: str('monitoring-password'),
    token: str('monitoring-token'),
    tlsCa: str('monitoring-tls-ca'),
    tlsCert: str('monitoring-tls-cert'),
    tlsKey: str('monitoring-tls-key'),
    stream: monitoringStreamConfig(str),
  };
}

function monitoringStreamConfig(str: (flag: string) => string | undefined): MonitoringStreamConfig | undefined {
  const name = str('monitoring-stream');
  if (name === undefined) {
    const stray = FLAGS.find(({ flag }) => flag.startsWith('monitoring-stream-') && str(flag) !== undefined);
    if (stray) throw new UsageError(`--${stray.flag} needs --monitoring-stream`);
    return undefined;
  }
  return {
    name,
    maxAgeSecs: integer('monitoring-stream-max-age', str('monitoring-stream-max-age'), DEFAULT_STREAM_OPTIONS.maxAgeMs / 1000, 0, 2 ** 31 - 1),
    maxBytes: integer('monitoring-stream-max-bytes', str('monitoring-stream-max-bytes'), DEFAULT_STREAM_OPTIONS.maxBytes, 0, Number.MAX_SAFE_INTEGER),
    replicas: integer('monitoring-stream-replicas', str('monitoring-stream-replicas'), DEFAULT_STREAM_OPTIONS.replicas, 1, 5),
  };
}
