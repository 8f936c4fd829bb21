// A gRPC call's end before its answer, as the AbortSignal the core understands.
import type { EventEmitter } from 'node:events';
import type { Deadline } from '@grpc/grpc-js';
import { InferenceError } from '../errors.js';

/** The part of a server call handlers use: its cancellation and deadline. */
export interface ServerSurfaceCall extends EventEmitter {
  getDeadline(): Deadline;
}

/**
 * An AbortSignal that fires when the call ends before its answer: the client cancelled, or
 * its gRPC deadline passed (grpc-js has then already sent DEADLINE_EXCEEDED). A request
 * still waiting when it fires is never computed.
 */
export function callSignal(call: ServerSurfaceCall, answered: () => boolean = () => false): AbortSignal {
  const controller = new AbortController();
  // grpc-js emits 'cancelled' at the end of every call, answered or not (grpc-node#2771):
  // only a call not yet answered is really cancelled, and only then is the reason built.
  call.once('cancelled', () => {
    if (answered()) return;
    const deadline = call.getDeadline();
    const expired = deadline instanceof Date ? deadline.getTime() <= Date.now() : deadline <= Date.now();
    controller.abort(
      expired
        ? new InferenceError('DEADLINE_EXCEEDED', 'the gRPC deadline of the call expired')
        : new InferenceError('CANCELLED', 'the client cancelled the call'),
    );
  });
  return controller.signal;
}
