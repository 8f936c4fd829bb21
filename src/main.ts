// The process: reads the flags, wires the repository, the gRPC server and the side
// paths together, and handles signals. The only code that reads argv.
import { readFileSync, realpathSync } from 'node:fs';
import { endianness, hostname } from 'node:os';
import { resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import type { ModelConfig } from '../generated/model_config.js';
import { parseConfig, UsageError, USAGE, type Config } from './cli/config.js';
import { dictionary } from './dictionary.js';
import type { EventSink, ModelEvent } from './events.js';
import { CertificateFiles, notAppliedOptions, startGrpcServer, TlsFileError, type TlsFileRole } from './grpc/index.js';
import { createRootLogger } from './logging/index.js';
import { ModelRepository, RepositoryPoller } from './repository/index.js';
import { SharedMemoryRegistry } from './shared-memory/index.js';
import { modelOverridesFromParameters, startMonitoring, type Monitoring } from './monitoring/index.js';

const PACKAGE = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** Fans events out to every side path; one failing sink never reaches the request path. */
function fanOut(sinks: EventSink[], log: Logger): EventSink {
  return {
    emit(event: ModelEvent) {
      for (const sink of sinks) {
        try {
          sink.emit(event);
        } catch (err) {
          log.warn({ err }, 'event sink failed');
        }
      }
    },
  };
}

async function startMonitoringFor(config: Config, log: Logger): Promise<Monitoring> {
  const m = config.monitoring;
  if (!m) throw new Error('monitoring is not configured');
  const credentials = {
    ...(m.credsFile ? { credsFile: m.credsFile } : {}),
    ...(m.user ? { user: m.user } : {}),
    ...(m.password ? { pass: m.password } : {}),
    ...(m.token ? { token: m.token } : {}),
  };
  const tls = {
    ...(m.tlsCa ? { caFile: m.tlsCa } : {}),
    ...(m.tlsCert ? { certFile: m.tlsCert } : {}),
    ...(m.tlsKey ? { keyFile: m.tlsKey } : {}),
  };
  return startMonitoring(
    {
      natsUrl: m.natsUrl,
      ...(m.subject ? { subject: m.subject } : {}),
      sample: m.sample,
      batch: m.batch,
      maxElements: m.maxElements,
      maxPending: m.maxPending,
      flushIntervalMs: m.flushMs,
      verbose: config.logVerbose > 0,
      serverId: `${hostname()}:${config.id}:${config.grpcPort}`,
      ...(Object.keys(credentials).length > 0 ? { credentials } : {}),
      ...(Object.keys(tls).length > 0 ? { tls } : {}),
      ...(m.stream
        ? {
            stream: {
              name: m.stream.name,
              maxAgeMs: m.stream.maxAgeSecs * 1000,
              maxBytes: m.stream.maxBytes,
              replicas: m.stream.replicas,
            },
          }
        : {}),
    },
    log,
  );
}

/** Applies a model's config.pbtxt monitoring_* parameters (checked when its config was read) when a version becomes ready. */
function perModelMonitoring(monitoring: Monitoring): EventSink {
  return {
    emit(event) {
      if (event.kind !== 'model-state' || event.state !== 'READY') return;
      monitoring.setModelOverrides(event.model, modelOverridesFromParameters(event.parameters));
    },
  };
}

/**
 * Which model's code an error comes from: the first stack frame in a version directory
 * of the repository (<root>/<model>/<version>/...), as a path or a file: URL.
 */
function modelAttribution(repository: string): (err: unknown) => { model: string; version: string } | undefined {
  const roots = new Set([resolve(repository)]);
  try {
    roots.add(realpathSync(repository));
  } catch {
    // The repository check at start-up reports a missing directory.
  }
  const prefixes = [...roots].flatMap((root) => [`${root}${sep}`, `${pathToFileURL(root).href}/`]);
  return (err) => {
    const stack = err instanceof Error ? (err.stack ?? '') : '';
    for (const prefix of prefixes) {
      for (let at = stack.indexOf(prefix); at >= 0; at = stack.indexOf(prefix, at + 1)) {
        const [model, version] = stack.slice(at + prefix.length).split(/[/\\]/);
        if (model && version && /^\d+$/.test(version)) return { model, version };
      }
    }
    return undefined;
  };
}

const TLS_FLAGS: Readonly<Record<TlsFileRole, string>> = {
  cert: '--grpc-server-cert',
  key: '--grpc-server-key',
  'root-cert': '--grpc-root-cert',
};

/** Reads the certificate files now: an unusable one stops start-up (exit 2) naming its flag. */
function loadTls(config: Config, log: Logger): CertificateFiles | undefined {
  if (!config.grpcTls) return undefined;
  try {
    return new CertificateFiles(config.grpcTls, log.child({ component: 'tls' }));
  } catch (err) {
    if (!(err instanceof TlsFileError)) throw err;
    process.stderr.write(`v2serve: ${TLS_FLAGS[err.role]}: ${err.message}\n`);
    process.exit(2);
  }
}

export async function main(argv: readonly string[]): Promise<void> {
  let config: Readonly<Config>;
  try {
    config = parseConfig(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`v2serve: ${err.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (config.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (config.version) {
    process.stdout.write(`${PACKAGE.version}\n`);
    return;
  }
  // Raw tensors are little-endian on the wire and are viewed, not converted.
  if (endianness() !== 'LE') throw new Error('v2serve needs a little-endian machine');

  const { log, settings: logSettings } = createRootLogger({ verboseLevel: config.logVerbose, format: config.logFormat });
  const modelOf = modelAttribution(config.modelRepository);
  process.on('unhandledRejection', (reason) => {
    const origin = modelOf(reason);
    log.error(
      { err: reason, ...origin },
      origin
        ? `model '${origin.model}' left a promise rejection unhandled; the server goes on`
        : 'unhandled promise rejection; the server goes on',
    );
  });
  // A throw in a model's timer or event callback must not take every other model down.
  // Anything else thrown outside a request is a v2serve bug: log it clearly and exit.
  process.on('uncaughtException', (err) => {
    const origin = modelOf(err);
    if (origin) {
      log.error({ err, ...origin }, `model '${origin.model}' threw outside a request (uncaught exception); the server goes on`);
      return;
    }
    log.fatal({ err }, 'uncaught exception; exiting');
    process.exit(1);
  });

  const tls = loadTls(config, log);
  const sinks: EventSink[] = [];
  const monitoring = config.monitoring ? await startMonitoringFor(config, log) : undefined;
  const repository = new ModelRepository({
    root: config.modelRepository,
    controlMode: config.modelControlMode,
    startupModels: config.loadModels,
    strictReadiness: config.strictReadiness,
    serverParameters: dictionary(),
    logger: log,
    events: fanOut(sinks, log),
    loadWaitMs: config.modelLoadWaitMs,
    schedulingDefaults: { maxQueueSize: config.modelMaxQueueSize, executionTimeoutMs: config.modelExecutionTimeoutMs },
    // With monitoring on, a bad monitoring_* parameter fails the model's load, naming it.
    ...(monitoring
      ? {
          checkConfig: (modelConfig: ModelConfig) => {
            modelOverridesFromParameters(dictionary([...modelConfig.parameters].map(([key, value]) => [key, value.stringValue] as const)));
          },
        }
      : {}),
  });
  if (monitoring) {
    sinks.push(perModelMonitoring(monitoring), monitoring);
  }
  const sharedMemory = new SharedMemoryRegistry();
  repository.start();
  const poller =
    config.modelControlMode === 'poll'
      ? new RepositoryPoller(repository, config.repositoryPollSecs * 1000, log.child({ component: 'poller' }))
      : undefined;
  poller?.start();
  const server = await startGrpcServer({
    address: config.grpcAddress,
    port: config.grpcPort,
    serverName: config.id,
    serverVersion: PACKAGE.version,
    maxMessageBytes: config.grpcMaxMessageBytes,
    reflection: config.grpcReflection,
    ...(tls ? { credentials: tls.credentials() } : {}),
    restrictions: config.grpcRestrictedProtocol,
    connection: config.grpcConnection,
    repository,
    sharedMemory,
    logSettings,
    log,
  });
  sinks.push(server.healthEvents);
  const notApplied = notAppliedOptions(config.grpcConnection);
  if (notApplied.length > 0) log.warn({ options: notApplied }, 'accepted for Triton compatibility but not applied: grpc-js servers have no such setting');
  log.info(
    { address: config.grpcAddress, port: server.port, repository: config.modelRepository, tls: tls ? (config.grpcTls?.mutual ? 'mutual' : 'server') : 'off' },
    'listening',
  );

  let stopping = false;
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    stopping = true;
    const exitDeadline = Date.now() + config.exitTimeoutSecs * 1000;
    log.info({ signal, exitTimeoutSecs: config.exitTimeoutSecs }, 'shutting down');
    // The calls get the exit timeout; unloading models and flushing monitoring get one
    // more second. A model that never returns cannot hold the process past that. (The
    // timer is not unref'd: a shutdown stuck on a promise that never settles must not
    // end in a silent exit 0 when the event loop empties.)
    setTimeout(() => {
      log.error({ exitTimeoutSecs: config.exitTimeoutSecs }, 'shutdown did not finish in time (a model still running?); exiting');
      process.exit(1);
    }, config.exitTimeoutSecs * 1000 + 1000);
    // No reload may start while the models are being unloaded.
    await poller?.stop();
    await server.shutdown(config.exitTimeoutSecs * 1000);
    await repository.close();
    if (monitoring) {
      // Acknowledgements from a monitoring stream are awaited for what is left of the exit timeout.
      await monitoring.close(Math.max(0, exitDeadline - Date.now()));
      log.info({ events: monitoring.stats() }, 'monitoring flushed');
    }
    log.info('stopped');
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, (s) => {
      stop(s).catch((err: unknown) => {
        log.fatal({ err }, 'shutdown failed');
        process.exit(1);
      });
    });
  }
}
