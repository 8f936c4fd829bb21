// The request's own limits: the operation it asks for and its `timeout` parameter.
import { InferenceError } from '../errors.js';
import { Cancellation, type RequestSignal } from '../cancellation.js';
import type { CallBase } from './types.js';

export function requestOperation(call: CallBase): string {
  const operation = call.parameters['operation'];
  if (operation === undefined) return 'infer';
  if (typeof operation !== 'string' || operation === '') {
    throw InferenceError.invalidArgument('parameters.operation', 'must be a non-empty string_param');
  }
  return operation;
}

export interface Deadline {
  readonly signal: RequestSignal;
  dispose(): void;
}

/**
 * The client's signal, plus the request parameter `timeout` (µs since the request arrived;
 * 0 or absent: none, as in Triton). When it expires the signal fires with DEADLINE_EXCEEDED:
 * a request still waiting is dropped, a running one sees its AbortSignal fire. Undefined
 * when the request sets no timeout (the usual case): the client's signal is the deadline.
 */
export function requestDeadline(call: CallBase, signal: RequestSignal): Deadline | undefined {
  const timeout = call.parameters['timeout'];
  if (timeout === undefined || timeout === 0 || timeout === 0n || signal.aborted) return undefined;
  if (typeof timeout !== 'number' && typeof timeout !== 'bigint') {
    throw InferenceError.invalidArgument('parameters.timeout', 'must be an int64_param (microseconds)');
  }
  const limit = new Cancellation();
  const forward = (): void => limit.abort(signal.reason);
  signal.addEventListener('abort', forward, { once: true });
  const expire = (): void =>
    limit.abort(
      new InferenceError('DEADLINE_EXCEEDED', `request '${call.requestId}' to model '${call.model}': timeout of ${timeout} µs expired`),
    );
  const remainingMs = Number(call.arrivedNs + BigInt(timeout) * 1000n - process.hrtime.bigint()) / 1e6;
  let timer: NodeJS.Timeout | undefined;
  if (remainingMs <= 0) expire();
  // setTimeout fires at once past 2^31-1 ms; a timeout of 24 days is as good as none.
  else if (remainingMs < 2 ** 31 - 1) timer = setTimeout(expire, Math.ceil(remainingMs));
  return {
    signal: limit,
    dispose: () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', forward);
    },
  };
}
