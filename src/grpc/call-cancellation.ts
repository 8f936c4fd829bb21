// A gRPC call's end before its answer, as the Cancellation the core understands.
import type { EventEmitter } from 'node:events';
import type { Deadline } from '@grpc/grpc-js';
import { Cancellation } from '../cancellation.js';
import { InferenceError } from '../errors.js';

/** The part of a server call handlers use: its cancellation and deadline. */
export interface ServerSurfaceCall extends EventEmitter {
  /** grpc-js sets it, then emits 'cancelled'. */
  readonly cancelled: boolean;
  getDeadline(): Deadline;
}

/**
 * Aborts when the call ends before its answer: the client cancelled, or its gRPC deadline
 * passed (grpc-js has then already sent DEADLINE_EXCEEDED). A request still waiting when it
 * fires is never computed. It listens to the call only once something waits on it: until
 * then `aborted` reads the call's own flag.
 */
export class CallCancellation extends Cancellation {
  /**
   * grpc-js ends every call with 'cancelled', answered or not (grpc-node#2771): only a call
   * not yet answered is really cancelled.
   */
  answered = false;

  constructor(protected readonly call: ServerSurfaceCall) {
    super();
  }

  protected override check(): void {
    if (!this.call.cancelled || this.answered) return;
    const deadline = this.call.getDeadline();
    const expired = deadline instanceof Date ? deadline.getTime() <= Date.now() : deadline <= Date.now();
    this.abort(
      expired
        ? new InferenceError('DEADLINE_EXCEEDED', 'the gRPC deadline of the call expired')
        : new InferenceError('CANCELLED', 'the client cancelled the call'),
    );
  }

  protected override watch(): void {
    this.call.once('cancelled', () => this.check());
  }
}
