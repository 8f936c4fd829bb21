// The only place an ErrorCode becomes an HTTP status: Triton's HTTP mapping (INTERNAL 500,
// NOT_FOUND 404, UNAVAILABLE 503, UNSUPPORTED 501, the rest 400), so tritonclient behaves as
// with Triton, and the HTTP layer's own failures (403, 405, 413, 415).
import type { Logger } from 'pino';
import { InferenceError, isDecoupledUnary, type ErrorCode } from '../errors.js';

const STATUS: Readonly<Record<ErrorCode, number>> = {
  CANCELLED: 400,
  UNKNOWN: 400,
  INVALID_ARGUMENT: 400,
  // Triton's core reports a request timeout and a full queue as UNAVAILABLE: clients retry on 503.
  DEADLINE_EXCEEDED: 503,
  RESOURCE_EXHAUSTED: 503,
  NOT_FOUND: 404,
  // Triton: a name the repository does not know is a bad request; a known model without the
  // version asked for is NOT_FOUND.
  MODEL_NOT_FOUND: 400,
  ALREADY_EXISTS: 400,
  PERMISSION_DENIED: 403,
  FAILED_PRECONDITION: 400,
  UNIMPLEMENTED: 501,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INTERNAL: 500,
  UNAVAILABLE: 503,
};

const DECOUPLED_UNARY = "HTTP end point doesn't support models with decoupled transaction policy";

export interface ErrorReply {
  readonly status: number;
  readonly message: string;
}

/** Maps anything thrown to the status and `error` text the client sees; stacks go to the log only. */
export function toErrorReply(err: unknown, log: Logger, requestId: string): ErrorReply {
  if (err instanceof InferenceError) {
    if (err.code === 'INTERNAL' || err.code === 'UNKNOWN') log.error({ err, requestId }, err.message);
    else if (log.isLevelEnabled('debug')) log.debug({ requestId, code: err.code, details: err.message }, 'request failed');
    // Triton's HTTP words for what its gRPC calls a ModelInfer RPC on a decoupled model (501 since 24.01).
    if (isDecoupledUnary(err)) return { status: STATUS[err.code], message: DECOUPLED_UNARY };
    return { status: STATUS[err.code], message: err.message };
  }
  log.error({ err, requestId }, 'unexpected error');
  return { status: 500, message: 'internal error' };
}
