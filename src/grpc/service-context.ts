// What the GRPCInferenceService handlers know of the server around them, and the one
// inference path unary and stream calls share.
import type { Logger } from 'pino';
import type { ModelInferRequest } from '../../generated/grpc_service.js';
import type { CallTracker } from '../call-tracker.js';
import type { RequestSink } from '../events.js';
import type { LogSettings } from '../logging/index.js';
import type { InferResult } from '../pipeline/index.js';
import type { ModelRepository } from '../repository/index.js';
import type { SharedMemoryRegistry } from '../shared-memory/index.js';
import { toInferCall } from './converters.js';

export interface ServiceContext {
  readonly repository: ModelRepository;
  readonly log: Logger;
  readonly serverName: string;
  readonly serverVersion: string;
  readonly extensions: readonly string[];
  /** Tracks in-flight calls and refuses new ones once shutdown started. */
  readonly calls: CallTracker;
  /** System shared memory regions. */
  readonly sharedMemory: SharedMemoryRegistry;
  /** The process's live log settings. */
  readonly logSettings: LogSettings;
  /** Told of every finished call and stream request (request log, counters); absent: nobody listens. */
  readonly requests?: RequestSink;
}

/**
 * One inference, wire to wire. Unary and stream calls both come through here. Inputs in
 * shared memory are read before, outputs placed in shared memory written after.
 */
export async function inferOne(
  context: ServiceContext,
  request: ModelInferRequest,
  arrivedNs: bigint,
  requestId: string,
  signal: AbortSignal,
): Promise<InferResult> {
  return context.sharedMemory.infer(toInferCall(request, arrivedNs, requestId), (call) => context.repository.infer(call, signal));
}
