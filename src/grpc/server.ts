// The grpc-js server: the inference service, the standard health service and server
// reflection on one port, and an orderly shutdown.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import type { Logger } from 'pino';
import { GRPCInferenceServiceService } from '../../generated/grpc_service.js';
import { CallTracker, settlesWithin } from '../call-tracker.js';
import type { EventSink, ModelEvent, RequestSink } from '../events.js';
import type { LogSettings } from '../logging/index.js';
import type { ResponseCache } from '../cache/index.js';
import type { DataPlane } from '../data-plane/index.js';
import { serverChannelOptions, type ConnectionOptions } from './channel-options.js';
import { inferenceService } from './inference-service.js';
import { decodeModelInferRequest, seenRequestReader } from './infer-request-codec.js';
import { InferResultEncoder } from './infer-response-codec.js';
import { addReflection } from './reflection.js';
import type { ProtocolRestriction } from '../restrictions.js';
import { restrictionInterceptor } from './restricted.js';
import { tableServerStreams } from './session-streams.js';

export const INFERENCE_SERVICE = 'inference.GRPCInferenceService';

/**
 * The generated service, but ModelInfer and ModelStreamInfer read their requests with raw
 * tensors as views (infer-request-codec.ts; ModelInfer leaves a request the response cache
 * has seen undecoded), and their answers are written straight from the
 * InferResult by the server's own encoder (infer-response-codec.ts).
 */
function inferenceServiceDefinition(encoder: InferResultEncoder, cache: ResponseCache | undefined) {
  return {
    ...GRPCInferenceServiceService,
    modelInfer: {
      ...GRPCInferenceServiceService.modelInfer,
      requestDeserialize: seenRequestReader(cache),
      responseSerialize: encoder.unary,
    },
    modelStreamInfer: {
      ...GRPCInferenceServiceService.modelStreamInfer,
      requestDeserialize: decodeModelInferRequest,
      responseSerialize: encoder.stream,
    },
  };
}
const HEALTH_SERVICE = 'grpc.health.v1.Health';

export interface GrpcServerOptions {
  readonly address: string;
  readonly port: number;
  readonly serverName: string;
  readonly serverVersion: string;
  /** Largest message received or sent, bytes. */
  readonly maxMessageBytes: number;
  readonly reflection: boolean;
  /** Keepalive, connection age and the per-connection stream cap (Triton's flags). */
  readonly connection?: ConnectionOptions;
  readonly credentials?: ServerCredentials;
  /** --grpc-restricted-protocol: categories answering only calls with a header. */
  readonly restrictions?: readonly ProtocolRestriction[];
  /** Inference, and the repository and shared memory behind it. */
  readonly dataPlane: DataPlane;
  readonly logSettings: LogSettings;
  readonly log: Logger;
  /** Told of every finished call and stream request (request log, counters). */
  readonly requests?: RequestSink;
}

/** The protocol extensions v2serve really implements, reported by ServerMetadata. */
export const EXTENSIONS = [
  'model_repository',
  'model_configuration',
  'statistics',
  'parameters',
  'classification',
  'sequence',
  'system_shared_memory',
  'logging',
] as const;

export interface RunningServer {
  readonly port: number;
  /** Keeps the health service in step with model states; feed it the repository's events. */
  readonly healthEvents: EventSink;
  /**
   * Health goes NOT_SERVING, new calls get UNAVAILABLE, calls in flight finish
   * (up to `timeoutMs`), then the server closes.
   */
  shutdown(timeoutMs: number): Promise<void>;
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningServer> {
  const { dataPlane, log } = options;
  const { repository } = dataPlane;
  const channelOptions = serverChannelOptions(options.maxMessageBytes, options.connection);
  const restricted = restrictionInterceptor(options.restrictions ?? []);
  const server = new Server({ ...channelOptions, ...(restricted ? { interceptors: [restricted] } : {}) });
  const calls = new CallTracker();
  const encoder = new InferResultEncoder();
  server.addService(
    inferenceServiceDefinition(encoder, dataPlane.responseCache),
    inferenceService({
      dataPlane,
      encoder,
      logSettings: options.logSettings,
      log,
      serverName: options.serverName,
      serverVersion: options.serverVersion,
      extensions: EXTENSIONS,
      calls,
      ...(options.requests ? { requests: options.requests } : {}),
    }),
  );

  const health = new HealthImplementation({ '': 'NOT_SERVING', [INFERENCE_SERVICE]: 'NOT_SERVING' });
  health.addToServer(server);
  const modelServices = new Set<string>();
  const updateHealth = (): void => {
    const overall: ServingStatus = !calls.shuttingDown && repository.serverReady() ? 'SERVING' : 'NOT_SERVING';
    health.setStatus('', overall);
    health.setStatus(INFERENCE_SERVICE, overall);
    for (const name of repository.modelNames()) modelServices.add(name);
    for (const name of modelServices) {
      const ready = !calls.shuttingDown && repository.modelReady(name, '');
      health.setStatus(name, ready ? 'SERVING' : 'NOT_SERVING');
    }
  };

  if (options.reflection) addReflection(server, [INFERENCE_SERVICE, HEALTH_SERVICE]);

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${options.address}:${options.port}`,
      options.credentials ?? ServerCredentials.createInsecure(),
      (err, bound) => (err ? reject(err) : resolve(bound)),
    );
  });
  // Before any connection comes: see session-streams.ts.
  const notTabled = (): void => log.warn('node:http2 sessions keep their streams otherwise than v2serve expects: calls cost more CPU (src/grpc/session-streams.ts)');
  if (tableServerStreams(server, notTabled) === 0) notTabled();
  updateHealth();

  return {
    port,
    healthEvents: { emit: (event: ModelEvent) => event.kind === 'model-state' && updateHealth(), wantsInferenceEvents: () => false },
    async shutdown(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      const drained = calls.drain();
      updateHealth();
      if (!(await settlesWithin(drained, timeoutMs))) {
        log.warn({ timeoutMs }, 'calls still in flight at the exit timeout; answering them UNAVAILABLE and closing');
        calls.cut();
      }
      // Long-lived streams (health Watch) never end by themselves: past the deadline they are cut.
      const closed = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      if (!(await settlesWithin(closed, Math.max(deadline - Date.now(), 100)))) server.forceShutdown();
    },
  };
}
