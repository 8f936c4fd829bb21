// The one error type of v2serve. Code names mirror gRPC status codes so that
// src/tensor and src/model never import grpc-js; each transport maps them once
// (src/grpc/status.ts, src/http/status.ts).
type StatusCode =
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'FAILED_PRECONDITION'
  | 'RESOURCE_EXHAUSTED'
  | 'UNIMPLEMENTED'
  | 'INTERNAL'
  | 'UNAVAILABLE';

/**
 * Failures a transport answers apart from the gRPC code they belong to (gRPC itself answers
 * that code): HTTP has statuses of its own for them.
 */
type RefinedCode =
  /** NOT_FOUND: a request names a model the repository does not know (Triton's HTTP answers 400, not 404). */
  | 'MODEL_NOT_FOUND'
  /** UNIMPLEMENTED: the path is served, but not with this method. */
  | 'METHOD_NOT_ALLOWED'
  /** RESOURCE_EXHAUSTED: the request is larger than the server takes. */
  | 'PAYLOAD_TOO_LARGE'
  /** INVALID_ARGUMENT: the body is encoded in a way the server cannot read. */
  | 'UNSUPPORTED_MEDIA_TYPE';

export type ErrorCode = StatusCode | RefinedCode;

/**
 * Marks InferenceErrors across copies of this module: a model's 'v2serve' may be another copy
 * than the server's (v2serve embedded with startServer, whose process has not registered the
 * CLI's model-import hooks; a model beside the build while the server runs from source), and
 * its errors must keep their code all the same.
 */
const BRAND = Symbol.for('v2serve.InferenceError');

export class InferenceError extends Error {
  override readonly name = 'InferenceError';
  readonly [BRAND] = true;

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  static invalidArgument(field: string, problem: string): InferenceError {
    return new InferenceError('INVALID_ARGUMENT', `'${field}' ${problem}`);
  }

  static modelNotFound(name: string, version?: string): InferenceError {
    const v = version ? ` version ${version}` : '';
    // Triton's wording: clients and test suites match on it.
    return new InferenceError(version ? 'NOT_FOUND' : 'MODEL_NOT_FOUND', `Request for unknown model: '${name}'${v} is not found`);
  }

  /**
   * A one-answer call (gRPC ModelInfer, REST infer, an in-process infer) to a decoupled model,
   * in Triton's gRPC words; the HTTP transport says it in Triton's HTTP words
   * (isDecoupledUnary).
   */
  static decoupledUnary(): InferenceError {
    return new InferenceError('UNIMPLEMENTED', DECOUPLED_UNARY_MESSAGE);
  }

  static unimplemented(what: string): InferenceError {
    return new InferenceError('UNIMPLEMENTED', `${what} is not implemented by v2serve`);
  }
}

const DECOUPLED_UNARY_MESSAGE = "ModelInfer RPC doesn't support models with decoupled transaction policy";

/** The error of InferenceError.decoupledUnary(). */
export function isDecoupledUnary(err: InferenceError): boolean {
  return err.code === 'UNIMPLEMENTED' && err.message === DECOUPLED_UNARY_MESSAGE;
}

/**
 * Why an aborted request stopped: the reason its signal carries when that is an
 * InferenceError (cancel, deadline, timeout), DEADLINE_EXCEEDED for AbortSignal.timeout().
 */
export function abortError(signal: { readonly reason: unknown }): InferenceError {
  const reason: unknown = signal.reason;
  if (reason instanceof InferenceError) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new InferenceError('DEADLINE_EXCEEDED', 'the request timed out');
  }
  return new InferenceError('CANCELLED', 'the request was cancelled');
}

/** Narrows a caught value to its message without trusting its type. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
