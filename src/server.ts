// The server as a library: startServer(config) wires the repository, the transports and the
// side paths together and returns the ports and a way to stop. No process-level handling
// here (signals, uncaught errors, exit codes): that is main.ts's, so tests and embedders can
// run a server in their own process.
import { hostname } from 'node:os';
import type { ModelConfig } from '../generated/model_config.js';
import { modelBackends } from './backends.js';
import { ResponseCache } from './cache/index.js';
import type { Config } from './cli/config.js';
import { DataPlane } from './data-plane/index.js';
import { dictionary } from './dictionary.js';
import type { EventSink, ModelEvent, RequestRecord, RequestSink } from './events.js';
import { CertificateFiles, EXTENSIONS, notAppliedOptions, startGrpcServer } from './grpc/index.js';
import { startHttpServer, type RunningHttpServer } from './http/index.js';
import { createRootLogger, requestLog, type RootLogger } from './logging/index.js';
import { Metrics, startMetricsServer, type RunningMetricsServer } from './metrics/index.js';
import { modelOverridesFromParameters, startMonitoring, type Monitoring } from './monitoring/index.js';
import { PACKAGE_VERSION } from './package-root.js';
import { ModelRepository, RepositoryPoller } from './repository/index.js';
import { SharedMemoryRegistry } from './shared-memory/index.js';

export interface RunningV2serve {
  /** `http` is absent with --allow-http=false, `metrics` with --allow-metrics=false. */
  readonly ports: { readonly grpc: number; readonly http?: number; readonly metrics?: number };
  readonly logger: RootLogger;
  /**
   * Stops taking calls, lets those in flight finish (up to the exit timeout), unloads the
   * models and flushes monitoring. Resolves when all of it is done.
   */
  stop(): Promise<void>;
}

/** Fans events out to every side path; one failing sink never reaches the request path. */
function fanOut(sinks: readonly EventSink[], logger: RootLogger): EventSink {
  return {
    wantsInferenceEvents: () => sinks.some((sink) => sink.wantsInferenceEvents?.() !== false),
    emit(event: ModelEvent) {
      for (const sink of sinks) {
        try {
          sink.emit(event);
        } catch (err) {
          logger.log.warn({ err }, 'event sink failed');
        }
      }
    },
  };
}

/** Hands finished requests to every listener (request log, metrics); none: transports build no records. */
function requestSinks(sinks: readonly RequestSink[], logger: RootLogger): RequestSink | undefined {
  if (sinks.length === 0) return undefined;
  if (sinks.length === 1) return sinks[0];
  return {
    finished(record: RequestRecord) {
      for (const sink of sinks) {
        try {
          sink.finished(record);
        } catch (err) {
          logger.log.warn({ err }, 'request sink failed');
        }
      }
    },
  };
}

/** A model's config.pbtxt parameters as the monitoring overrides read them. */
function stringParameters(config: ModelConfig): Record<string, string> {
  return dictionary([...config.parameters].map(([key, value]) => [key, value.stringValue] as const));
}

/** Applies a model's config.pbtxt monitoring_* parameters (checked when its config was read) when a version becomes ready. */
function perModelMonitoring(monitoring: Monitoring): EventSink {
  return {
    wantsInferenceEvents: () => false,
    emit(event) {
      if (event.kind !== 'model-state' || event.state !== 'READY') return;
      monitoring.setModelOverrides(event.model, modelOverridesFromParameters(event.parameters));
    },
  };
}

/** The start failed for a reason the operator can act on (a model that did not load with --exit-on-error). */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

interface InitialLoad {
  /** Models with a version READY. */
  readonly ready: number;
  readonly failed: readonly { readonly model: string; readonly reason: string }[];
}

/** What the loads at start came to: how many models serve, which failed and why. */
function initialLoadSummary(repository: ModelRepository): InitialLoad {
  const ready = new Set<string>();
  const failed = new Map<string, string>();
  for (const entry of repository.index(false)) {
    if (entry.state === 'READY') ready.add(entry.name);
    else if (entry.state === 'UNAVAILABLE' && entry.reason) failed.set(entry.name, entry.reason);
  }
  for (const model of ready) failed.delete(model);
  return { ready: ready.size, failed: [...failed].map(([model, reason]) => ({ model, reason })) };
}

/**
 * Starts v2serve as `config` says. Unless --serve-while-loading, the gRPC and HTTP ports open once
 * the models at start have loaded or failed. Rejects when a certificate file is unusable
 * (TlsFileError), the repository is not a directory, or a model failed with --exit-on-error
 * (StartupError); otherwise models that fail to load do not stop it.
 */
export async function startServer(config: Config, logger?: RootLogger): Promise<RunningV2serve> {
  const root = logger ?? createRootLogger({ verboseLevel: config.logVerbose, format: config.logFormat });
  const { log } = root;
  const tls = config.grpcTls ? new CertificateFiles(config.grpcTls, log.child({ component: 'tls' })) : undefined;
  const sinks: EventSink[] = [];
  const monitoring = config.monitoring
    ? await startMonitoring({ ...config.monitoring, verbose: config.logVerbose > 0, serverId: `${hostname()}:${config.id}:${config.grpcPort}` }, log)
    : undefined;
  const responseCache = config.responseCache ? new ResponseCache(config.responseCache.sizeBytes) : undefined;
  const metrics = config.metrics
    ? new Metrics({
        settings: config.metrics.settings,
        intervalMs: config.metrics.intervalMs,
        log: log.child({ component: 'metrics' }),
        ...(monitoring ? { publisher: () => monitoring.stats() } : {}),
        ...(responseCache ? { responseCache: () => responseCache.counts() } : {}),
      })
    : undefined;
  if (metrics) sinks.push(metrics.events);
  // Bound before anything loads, so that a taken metrics port fails the start with nothing else to undo but monitoring.
  let metricsServer: RunningMetricsServer | undefined;
  if (config.metrics && metrics) {
    try {
      metricsServer = await startMetricsServer({ address: config.metrics.address, port: config.metrics.port, metrics, log });
    } catch (err) {
      await monitoring?.close(0);
      throw err;
    }
    await metrics.start();
  }
  const requests = requestSinks([...(metrics ? [metrics.requests] : []), ...(config.logRequests ? [requestLog(log)] : [])], root);
  const repository = new ModelRepository({
    root: config.modelRepository,
    controlMode: config.modelControlMode,
    startupModels: config.loadModels,
    strictReadiness: config.strictReadiness,
    serverParameters: dictionary(),
    logger: log,
    events: fanOut(sinks, root),
    ...(metrics ? { observers: metrics } : {}),
    loadWaitMs: config.modelLoadWaitMs,
    schedulingDefaults: { maxQueueSize: config.modelMaxQueueSize, executionTimeoutMs: config.modelExecutionTimeoutMs },
    backends: modelBackends(config.backendSettings),
    autoCompleteConfig: config.autoCompleteConfig,
    ...(responseCache ? { responseCache } : {}),
    // With monitoring on, a bad monitoring_* parameter fails the model's load, naming it.
    ...(monitoring ? { checkConfig: (model: ModelConfig) => void modelOverridesFromParameters(stringParameters(model)) } : {}),
  });
  if (monitoring) sinks.push(perModelMonitoring(monitoring), monitoring);
  const sharedMemory = new SharedMemoryRegistry();
  const dataPlane = new DataPlane(repository, sharedMemory, responseCache);
  const closeMetrics = async (): Promise<void> => {
    await metricsServer?.close();
    metrics?.stop();
  };
  try {
    repository.start();
  } catch (err) {
    await closeMetrics();
    throw err;
  }
  const poller =
    config.modelControlMode === 'poll'
      ? new RepositoryPoller(repository, config.repositoryPollSecs * 1000, log.child({ component: 'poller' }))
      : undefined;
  poller?.start();
  const initialLoad = repository.settled().then(() => initialLoadSummary(repository));
  if (!config.serveWhileLoading) {
    // As Triton: clients that connect once the port opens find every model READY or failed.
    const { failed } = await initialLoad;
    if (config.exitOnError && failed.length > 0) {
      await poller?.stop();
      await repository.close();
      await closeMetrics();
      await monitoring?.close(0);
      throw new StartupError(`--exit-on-error: ${failed.map(({ model, reason }) => `'${model}' failed to load: ${reason}`).join('; ')}`);
    }
  }
  const grpc = await startGrpcServer({
    address: config.grpcAddress,
    port: config.grpcPort,
    serverName: config.id,
    serverVersion: PACKAGE_VERSION,
    maxMessageBytes: config.grpcMaxMessageBytes,
    reflection: config.grpcReflection,
    ...(tls ? { credentials: tls.credentials() } : {}),
    restrictions: config.grpcRestrictedProtocol,
    connection: config.grpcConnection,
    dataPlane,
    logSettings: root.settings,
    log,
    ...(requests ? { requests } : {}),
  });
  sinks.push(grpc.healthEvents);
  const notApplied = notAppliedOptions(config.grpcConnection);
  if (notApplied.length > 0) log.warn({ options: notApplied }, 'accepted for Triton compatibility but not applied: grpc-js servers have no such setting');
  log.info(
    { address: config.grpcAddress, port: grpc.port, repository: config.modelRepository, tls: tls ? (config.grpcTls?.mutual ? 'mutual' : 'server') : 'off' },
    'listening',
  );
  let http: RunningHttpServer | undefined;
  if (config.http) {
    try {
      http = await startHttpServer({
        address: config.http.address,
        port: config.http.port,
        maxInputBytes: config.http.maxInputBytes,
        restrictions: config.http.restrictions,
        serverName: config.id,
        serverVersion: PACKAGE_VERSION,
        // The binary extension is HTTP's own; the rest are the same as on gRPC.
        extensions: [...EXTENSIONS, 'binary_tensor_data'],
        dataPlane,
        logSettings: root.settings,
        log,
        ...(requests ? { requests } : {}),
      });
    } catch (err) {
      await Promise.all([grpc.shutdown(0), closeMetrics()]);
      throw err;
    }
    log.info({ transport: 'http', address: config.http.address, port: http.port }, 'listening');
  }
  if (config.metrics && metricsServer) log.info({ transport: 'metrics', address: config.metrics.address, port: metricsServer.port }, 'listening');
  void initialLoad.then(({ ready, failed }) => {
    const line = { ready, failed: failed.map(({ model }) => model) };
    if (failed.length > 0) log.warn(line, `serving: ${ready} model(s) ready, ${failed.length} failed to load`);
    else log.info(line, `serving: ${ready} model(s) ready`);
  });

  return {
    ports: { grpc: grpc.port, ...(http ? { http: http.port } : {}), ...(metricsServer ? { metrics: metricsServer.port } : {}) },
    logger: root,
    async stop() {
      const exitDeadline = Date.now() + config.exitTimeoutSecs * 1000;
      // No reload may start while the models are being unloaded.
      await poller?.stop();
      await Promise.all([grpc.shutdown(config.exitTimeoutSecs * 1000), http?.shutdown(config.exitTimeoutSecs * 1000)]);
      await repository.close();
      // Metrics are served until the models are unloaded, so a last scrape sees the final counts.
      await closeMetrics();
      await sharedMemory.close();
      tls?.close();
      if (monitoring) {
        // Acknowledgements from a monitoring stream are awaited for what is left of the exit timeout.
        await monitoring.close(Math.max(0, exitDeadline - Date.now()));
        log.info({ events: monitoring.stats() }, 'monitoring flushed');
      }
    },
  };
}
