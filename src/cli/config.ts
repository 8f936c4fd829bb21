// The server's configuration from the command line: the flag table's values, checked
// across flags and shaped for the pieces that use them.
import { accessSync, constants as fsConstants } from 'node:fs';
import { join } from 'node:path';
import { BACKEND_SETTINGS, defaultBackendSettings, type BackendName, type BackendSettings } from '../backends.js';
import { dictionary } from '../dictionary.js';
import type { ConnectionOptions, TlsFileRole } from '../grpc/index.js';
import type { LogFormat } from '../logging/index.js';
import { parseMetricsConfig, type MetricsSettings } from '../metrics/index.js';
import type { MonitoringOptionsInput } from '../monitoring/index.js';
import { PACKAGE_ROOT } from '../package-root.js';
import { checkRestrictions, parseRestriction, type ProtocolRestriction } from '../restrictions.js';
import type { ControlMode } from '../repository/index.js';
import { FLAGS, parseFlags, parseInteger, UsageError, type FlagName, type FlagValues } from './flags.js';

export { UsageError, USAGE } from './flags.js';

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
  /** The HTTP/REST transport; absent with --allow-http=false. */
  readonly http: HttpConfig | undefined;
  readonly strictReadiness: boolean;
  /** Open the gRPC and HTTP ports before the models at start have loaded. */
  readonly serveWhileLoading: boolean;
  /** Stop the start when a model fails to load at start. */
  readonly exitOnError: boolean;
  readonly exitTimeoutSecs: number;
  readonly modelControlMode: ControlMode;
  readonly loadModels: readonly string[];
  readonly repositoryPollSecs: number;
  readonly modelLoadWaitMs: number;
  readonly modelMaxQueueSize: number;
  readonly modelExecutionTimeoutMs: number;
  /** Triton's config auto-complete: off with --disable-auto-complete-config. */
  readonly autoCompleteConfig: boolean;
  /** --backend-config, every setting of every backend (defaults filled in). */
  readonly backendSettings: BackendSettings;
  /** --cache-config local,size=BYTES: the response cache; absent when the flag is not given. */
  readonly responseCache: ResponseCacheConfig | undefined;
  readonly logVerbose: number;
  readonly logFormat: LogFormat;
  /** The Prometheus metrics port; absent with --allow-metrics=false. */
  readonly metrics: MetricsConfig | undefined;
  /** --log-requests: one log line per request. */
  readonly logRequests: boolean;
  /** Inference monitoring to NATS; absent when --monitoring-nats is not given. */
  readonly monitoring: MonitoringOptionsInput | undefined;
}

export interface ResponseCacheConfig {
  readonly sizeBytes: number;
}

export interface HttpConfig {
  readonly address: string;
  readonly port: number;
  /** Largest request body, bytes, before and after decompression. */
  readonly maxInputBytes: number;
  readonly restrictions: readonly ProtocolRestriction[];
}

export interface MetricsConfig {
  readonly address: string;
  readonly port: number;
  /** How often the host's CPU and memory gauges are read. */
  readonly intervalMs: number;
  readonly settings: MetricsSettings;
}

/** TLS on the gRPC port; absent unless --grpc-use-ssl or --grpc-use-ssl-mutual. */
export interface TlsConfig {
  readonly mutual: boolean;
  readonly certFile: string;
  readonly keyFile: string;
  readonly rootCertFile: string | undefined;
}

export const DEFAULT_MODEL_REPOSITORY = join(PACKAGE_ROOT, 'models/');

/** The flag that names each TLS file, for messages about an unusable one. */
export const TLS_FLAGS: Readonly<Record<TlsFileRole, string>> = {
  cert: '--grpc-server-cert',
  key: '--grpc-server-key',
  'root-cert': '--grpc-root-cert',
};

export function parseConfig(argv: readonly string[]): Readonly<Config> {
  const { values: v, given, help, version } = parseFlags(argv);
  const controlMode = v['model-control-mode'];
  const loadModels = v['load-model'];
  if (loadModels.length > 0 && controlMode !== 'explicit') {
    throw new UsageError('--load-model needs --model-control-mode=explicit');
  }
  if (loadModels.includes('*') && loadModels.length > 1) {
    throw new UsageError("--load-model='*' must be the only --load-model");
  }
  if (!v.id) throw new UsageError('--id must not be empty');
  if (v['exit-on-error'] && v['serve-while-loading']) {
    throw new UsageError('--exit-on-error needs the ports to open after the models load: it cannot go with --serve-while-loading');
  }
  return Object.freeze({
    help,
    version,
    id: v.id,
    modelRepository: v['model-repository'] ?? DEFAULT_MODEL_REPOSITORY,
    grpcAddress: v['grpc-address'],
    grpcPort: v['grpc-port'],
    grpcMaxMessageBytes: v['grpc-max-message-bytes'],
    grpcReflection: v['grpc-reflection'],
    grpcTls: tlsConfig(v, given),
    grpcConnection: connectionOptions(v),
    grpcRestrictedProtocol: restrictedProtocol('grpc-restricted-protocol', v['grpc-restricted-protocol']),
    http: v['allow-http']
      ? {
          address: v['http-address'],
          port: v['http-port'],
          maxInputBytes: v['http-max-input-size'],
          restrictions: restrictedProtocol('http-restricted-api', v['http-restricted-api']),
        }
      : undefined,
    strictReadiness: v['strict-readiness'],
    serveWhileLoading: v['serve-while-loading'],
    exitOnError: v['exit-on-error'],
    exitTimeoutSecs: v['exit-timeout-secs'],
    modelControlMode: controlMode,
    loadModels,
    repositoryPollSecs: v['repository-poll-secs'],
    modelLoadWaitMs: v['model-load-wait-ms'],
    modelMaxQueueSize: v['model-max-queue-size'],
    modelExecutionTimeoutMs: v['model-execution-timeout-ms'],
    autoCompleteConfig: !v['disable-auto-complete-config'],
    backendSettings: backendSettings(v['backend-config']),
    responseCache: responseCacheConfig(v['cache-config']),
    logVerbose: v['log-verbose'],
    logFormat: v['log-format'],
    metrics: v['allow-metrics']
      ? { address: v['metrics-address'], port: v['metrics-port'], intervalMs: v['metrics-interval-ms'], settings: metricsSettings(v['metrics-config']) }
      : undefined,
    logRequests: v['log-requests'],
    monitoring: monitoringOptions(v, given),
  });
}

const CACHE_CONFIG_FORM = '<cache>,<setting>=<value>, as local,size=1048576';

/**
 * --cache-config as tritonserver reads it: `<cache>,<setting>=<value>`, repeatable. v2serve
 * has Triton's `local` cache (in memory, size in bytes) and no other; Triton's `redis`
 * cache is refused by name.
 */
function responseCacheConfig(specs: readonly string[]): ResponseCacheConfig | undefined {
  if (specs.length === 0) return undefined;
  let sizeBytes: number | undefined;
  for (const spec of specs) {
    const comma = spec.indexOf(',');
    const equals = spec.indexOf('=', comma + 1);
    if (comma <= 0 || equals < 0 || equals === comma + 1 || equals === spec.length - 1) {
      throw new UsageError(`--cache-config '${spec}' must be ${CACHE_CONFIG_FORM}`);
    }
    const cache = spec.slice(0, comma);
    const key = spec.slice(comma + 1, equals);
    if (cache !== 'local') throw new UsageError(`--cache-config '${spec}': unknown cache '${cache}' (v2serve has only the 'local' cache)`);
    if (key !== 'size') throw new UsageError(`--cache-config '${spec}': no such setting '${key}' for the 'local' cache (known: size)`);
    if (sizeBytes !== undefined) throw new UsageError(`--cache-config '${spec}': local,size is given twice`);
    sizeBytes = parseInteger('cache-config local,size', spec.slice(equals + 1), 1, Number.MAX_SAFE_INTEGER);
  }
  // Every spec accepted set the size.
  return { sizeBytes: sizeBytes as number };
}

const BACKEND_CONFIG_FORM = '<backend>,<setting>=<value>, or <setting>=<value> for every backend that has the setting';
const BACKENDS = Object.keys(BACKEND_SETTINGS) as BackendName[];

/** A backend's setting by name; undefined for an unknown backend or setting (own keys only: the names come from the command line). */
function backendSetting(backend: string, key: string): { readonly min: number; readonly max: number } | undefined {
  if (!Object.hasOwn(BACKEND_SETTINGS, backend)) return undefined;
  const settings: Readonly<Record<string, { min: number; max: number }>> = BACKEND_SETTINGS[backend as BackendName];
  return Object.hasOwn(settings, key) ? settings[key] : undefined;
}

/**
 * --backend-config as tritonserver reads it: `onnxruntime,default-max-batch-size=8` sets one
 * backend's setting, `default-max-batch-size=8` every backend's that has it; a backend's own
 * setting wins over the shared one, whatever their order. Unknown backends and settings are
 * usage errors, so a typo is not silently ignored.
 */
function backendSettings(specs: readonly string[]): BackendSettings {
  const parsed = specs.map((spec) => {
    const comma = spec.indexOf(',');
    const backend = comma < 0 ? undefined : spec.slice(0, comma);
    const setting = spec.slice(comma + 1);
    const equals = setting.indexOf('=');
    if (backend === '' || equals <= 0 || equals === setting.length - 1) {
      throw new UsageError(`--backend-config '${spec}' must be ${BACKEND_CONFIG_FORM}`);
    }
    const key = setting.slice(0, equals);
    if (backend !== undefined && !Object.hasOwn(BACKEND_SETTINGS, backend)) {
      throw new UsageError(`--backend-config '${spec}': unknown backend '${backend}' (known: ${BACKENDS.join(', ')})`);
    }
    const targets = backend === undefined ? BACKENDS.filter((name) => backendSetting(name, key)) : [backend as BackendName];
    if (targets.length === 0 || backendSetting(targets[0]!, key) === undefined) {
      const known = BACKENDS.flatMap((name) => Object.keys(BACKEND_SETTINGS[name]).map((k) => `${name},${k}`)).join(', ');
      throw new UsageError(`--backend-config '${spec}': no such setting '${key}'${backend ? ` for backend '${backend}'` : ''} (known: ${known})`);
    }
    return { shared: backend === undefined, targets, key, raw: setting.slice(equals + 1) };
  });
  const settings = defaultBackendSettings() as Record<BackendName, Record<string, number>>;
  // Shared settings first, so that a backend's own setting overrides them.
  for (const { targets, key, raw } of [...parsed.filter((p) => p.shared), ...parsed.filter((p) => !p.shared)]) {
    for (const target of targets) {
      const { min, max } = backendSetting(target, key)!;
      settings[target][key] = parseInteger(`backend-config ${target},${key}`, raw, min, max);
    }
  }
  return settings as BackendSettings;
}

function metricsSettings(specs: readonly string[]): MetricsSettings {
  try {
    return parseMetricsConfig(specs);
  } catch (err) {
    throw new UsageError(`--metrics-config ${err instanceof Error ? err.message : String(err)}`);
  }
}

function restrictedProtocol(flag: FlagName, specs: readonly string[]): ProtocolRestriction[] {
  try {
    const restrictions = specs.map(parseRestriction);
    checkRestrictions(restrictions);
    return restrictions;
  } catch (err) {
    throw new UsageError(`--${flag}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Only the flags given: the gRPC layer fills in its defaults and reports those it cannot apply. */
function connectionOptions(v: FlagValues): ConnectionOptions {
  const options = {
    keepaliveTimeMs: v['grpc-keepalive-time'],
    keepaliveTimeoutMs: v['grpc-keepalive-timeout'],
    keepalivePermitWithoutCalls: v['grpc-keepalive-permit-without-calls'],
    http2MaxPingsWithoutData: v['grpc-http2-max-pings-without-data'],
    http2MinRecvPingIntervalWithoutDataMs: v['grpc-http2-min-recv-ping-interval-without-data'],
    http2MaxPingStrikes: v['grpc-http2-max-ping-strikes'],
    maxConnectionAgeMs: v['grpc-max-connection-age'],
    maxConnectionAgeGraceMs: v['grpc-max-connection-age-grace'],
    maxConcurrentStreams: v['grpc-max-concurrent-streams'],
  };
  return dictionary(Object.entries(options).filter(([, value]) => value !== undefined)) as ConnectionOptions;
}

/** A file flag's file must be readable at start-up; the message names the flag and the path. */
function readableFile(flag: FlagName, path: string | undefined): string {
  if (!path) throw new UsageError(`--${flag} is required with --grpc-use-ssl or --grpc-use-ssl-mutual`);
  try {
    accessSync(path, fsConstants.R_OK);
  } catch (err) {
    const why = err instanceof Error && 'code' in err ? String(err.code) : String(err);
    throw new UsageError(`--${flag}: cannot read '${path}' (${why})`);
  }
  return path;
}

function tlsConfig(v: FlagValues, given: ReadonlySet<FlagName>): TlsConfig | undefined {
  // Triton: --grpc-use-ssl-mutual turns SSL on as well.
  const mutual = v['grpc-use-ssl-mutual'];
  if (!mutual && !v['grpc-use-ssl']) {
    const stray = (['grpc-server-cert', 'grpc-server-key', 'grpc-root-cert'] as const).find((flag) => given.has(flag));
    if (stray) throw new UsageError(`--${stray} needs --grpc-use-ssl or --grpc-use-ssl-mutual`);
    return undefined;
  }
  const rootCert = v['grpc-root-cert'];
  if (mutual && !rootCert) throw new UsageError('--grpc-use-ssl-mutual needs --grpc-root-cert (the CA client certificates must chain to)');
  return {
    mutual,
    certFile: readableFile('grpc-server-cert', v['grpc-server-cert']),
    keyFile: readableFile('grpc-server-key', v['grpc-server-key']),
    rootCertFile: rootCert ? readableFile('grpc-root-cert', rootCert) : undefined,
  };
}

/** A flag of a group given without the flag that turns the group on is a usage error. */
function refuseStray(given: ReadonlySet<FlagName>, prefix: string, needs: FlagName): void {
  const stray = (Object.keys(FLAGS) as FlagName[]).find((flag) => flag !== needs && flag.startsWith(prefix) && given.has(flag));
  if (stray) throw new UsageError(`--${stray} needs --${needs}`);
}

function monitoringOptions(v: FlagValues, given: ReadonlySet<FlagName>): MonitoringOptionsInput | undefined {
  const natsUrl = v['monitoring-nats'];
  if (natsUrl === undefined) {
    refuseStray(given, 'monitoring-', 'monitoring-nats');
    return undefined;
  }
  if (!natsUrl) throw new UsageError('--monitoring-nats must not be empty');
  if (v['monitoring-deployment'] === '') throw new UsageError('--monitoring-deployment must not be empty');
  const credentials = {
    ...(v['monitoring-creds'] ? { credsFile: v['monitoring-creds'] } : {}),
    ...(v['monitoring-user'] ? { user: v['monitoring-user'] } : {}),
    ...(v['monitoring-password'] ? { pass: v['monitoring-password'] } : {}),
    ...(v['monitoring-token'] ? { token: v['monitoring-token'] } : {}),
  };
  const tls = {
    ...(v['monitoring-tls-ca'] ? { caFile: v['monitoring-tls-ca'] } : {}),
    ...(v['monitoring-tls-cert'] ? { certFile: v['monitoring-tls-cert'] } : {}),
    ...(v['monitoring-tls-key'] ? { keyFile: v['monitoring-tls-key'] } : {}),
  };
  const streamName = v['monitoring-stream'];
  if (streamName === undefined) refuseStray(given, 'monitoring-stream-', 'monitoring-stream');
  return {
    natsUrl,
    subject: v['monitoring-subject'],
    sample: v['monitoring-sample'],
    batch: v['monitoring-batch'],
    maxElements: v['monitoring-max-elements'],
    maxPending: v['monitoring-max-pending'],
    flushIntervalMs: v['monitoring-flush-ms'],
    deployment: v['monitoring-deployment'],
    ...(Object.keys(credentials).length > 0 ? { credentials } : {}),
    ...(Object.keys(tls).length > 0 ? { tls } : {}),
    ...(streamName === undefined
      ? {}
      : {
          stream: {
            name: streamName,
            maxAgeMs: v['monitoring-stream-max-age'] * 1000,
            maxBytes: v['monitoring-stream-max-bytes'],
            replicas: v['monitoring-stream-replicas'],
          },
        }),
  };
}
