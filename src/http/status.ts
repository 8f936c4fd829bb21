// The only place an ErrorCode becomes an HTTP status: Triton's HTTP mapping (INTERNAL 500,
// NOT_FOUND 404, UNAVAILABLE 503, UNSUPPORTED 501, the rest 400), so tritonclient behaves as
// with Triton.
import type { Logger } from 'pino';
import { InferenceError, type ErrorCode } from '../errors.js';

const STATUS: Readonly<Record<ErrorCode, number>> = {
  CANCELLED: 400,
  UNKNOWN: 400,
  INVALID_ARGUMENT: 400,
  // Triton's core reports a request timeout and a full queue as UNAVAILABLE: clients retry on 503.
  DEADLINE_EXCEEDED: 503,
  RESOURCE_EXHAUSTED: 503,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 400,
  FAILED_PRECONDITION: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
};

/** A failure of the HTTP layer itself (no route, wrong verb, body too large): its status and text. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ErrorReply {
  readonly status: number;
  readonly message: string;
}

/** Maps anything thrown to the status and `error` text the client sees; stacks go to the log only. */
export function toErrorReply(err: unknown, log: Logger, requestId: string): ErrorReply {
  if (err instanceof HttpError) return { status: err.status, message: err.message };
  if (err instanceof InferenceError) {
    if (err.code === 'INTERNAL' || err.code === 'UNKNOWN') log.error({ err, requestId }, err.message);
    else if (log.isLevelEnabled('debug')) log.debug({ requestId, code: err.code, details: err.message }, 'request failed');
    // Triton: a name the repository does not know is a bad request; a known model without the
    // version asked for is NOT_FOUND.
    const status = err.code === 'NOT_FOUND' && err.notFound === 'model' ? 400 : STATUS[err.code];
    return { status, message: err.message };
  }
  log.error({ err, requestId }, 'unexpected error');
  return { status: 500, message: 'internal error' };
}
