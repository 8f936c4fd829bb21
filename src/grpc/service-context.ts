// What the GRPCInferenceService handlers know of the server around them, and the one
// inference path unary and stream calls share.
import type { Logger } from 'pino';
import type { RequestSignal } from '../cancellation.js';
import type { ModelInferRequest } from '../../generated/grpc_service.js';
import type { CallTracker } from '../call-tracker.js';
import type { RequestSink } from '../events.js';
import type { LogSettings } from '../logging/index.js';
import type { DataPlane } from '../data-plane/index.js';
import type { InferResult } from '../pipeline/index.js';
import { toInferCall } from './converters.js';
import type { InferResultEncoder } from './infer-response-codec.js';

export interface ServiceContext {
  /** Inference, and the repository and shared memory behind it. */
  readonly dataPlane: DataPlane;
  /** Writes ModelInfer and ModelStreamInfer answers; knows the size of the last one. */
  readonly encoder: InferResultEncoder;
  readonly log: Logger;
  readonly serverName: string;
  readonly serverVersion: string;
  readonly extensions: readonly string[];
  /** Tracks in-flight calls and refuses new ones once shutdown started. */
  readonly calls: CallTracker;
  /** The process's live log settings. */
  readonly logSettings: LogSettings;
  /** Told of every finished call and stream request (request log, counters); absent: nobody listens. */
  readonly requests?: RequestSink;
}

/**
 * One inference, wire to wire: unary and stream calls both come through here. A bad request
 * rejects, never throws; not an async function, whose return of a promise costs one more.
 */
export function inferOne(
  context: ServiceContext,
  request: ModelInferRequest,
  arrivedNs: bigint,
  requestId: string,
  signal: RequestSignal,
): Promise<InferResult> {
  try {
    return context.dataPlane.infer(toInferCall(request, arrivedNs, requestId), signal);
  } catch (err) {
    return Promise.reject(err);
  }
}
