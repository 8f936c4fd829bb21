// The only place an ErrorCode becomes a gRPC status, and the statuses shutdown answers with.
import { status as Status, type StatusObject } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { InferenceError, type ErrorCode } from '../errors.js';

const STATUS: Readonly<Record<ErrorCode, Status>> = {
  CANCELLED: Status.CANCELLED,
  UNKNOWN: Status.UNKNOWN,
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  DEADLINE_EXCEEDED: Status.DEADLINE_EXCEEDED,
  NOT_FOUND: Status.NOT_FOUND,
  ALREADY_EXISTS: Status.ALREADY_EXISTS,
  PERMISSION_DENIED: Status.PERMISSION_DENIED,
  FAILED_PRECONDITION: Status.FAILED_PRECONDITION,
  RESOURCE_EXHAUSTED: Status.RESOURCE_EXHAUSTED,
  UNIMPLEMENTED: Status.UNIMPLEMENTED,
  INTERNAL: Status.INTERNAL,
  UNAVAILABLE: Status.UNAVAILABLE,
  MODEL_NOT_FOUND: Status.NOT_FOUND,
  METHOD_NOT_ALLOWED: Status.UNIMPLEMENTED,
  PAYLOAD_TOO_LARGE: Status.RESOURCE_EXHAUSTED,
  UNSUPPORTED_MEDIA_TYPE: Status.INVALID_ARGUMENT,
};

export type ServiceError = Pick<StatusObject, 'code' | 'details'>;

/** A call or stream request arriving once shutdown started. */
export const SHUTTING_DOWN: ServiceError = { code: Status.UNAVAILABLE, details: 'GRPC server is shutting down' };
/** A call still running when the exit timeout passed. */
export const CUT: ServiceError = { code: Status.UNAVAILABLE, details: 'GRPC server is shutting down: the exit timeout passed before this call finished' };

/** Maps anything thrown to the status the client sees; stacks go to the log (with the request's id), never to the wire. */
export function toServiceError(err: unknown, log: Logger, requestId: string): ServiceError {
  if (err instanceof InferenceError) {
    if (err.code === 'INTERNAL' || err.code === 'UNKNOWN') log.error({ err, requestId }, err.message);
    else if (log.isLevelEnabled('debug')) log.debug({ requestId, code: err.code, details: err.message }, 'request failed');
    return { code: STATUS[err.code], details: err.message };
  }
  log.error({ err, requestId }, 'unexpected error');
  return { code: Status.INTERNAL, details: 'internal error' };
}
