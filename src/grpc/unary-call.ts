// The one wrapper every unary handler goes through: shutdown admission, cancellation, one
// answer, errors mapped once (toServiceError), and the request record after the answer.
import { status as Status, type handleUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import type { ModelInferRequest } from '../../generated/grpc_service.js';
import { InferenceError } from '../errors.js';
import type { InferResult } from '../pipeline/index.js';
import { requestIdOf } from '../request-id.js';
import { callSignal } from './call-signal.js';
import { requestWireSize } from './infer-request-codec.js';
import { noTarget, record, type Target } from './request-record.js';
import type { ServiceContext } from './service-context.js';
import { CUT, SHUTTING_DOWN, toServiceError } from './status.js';

/** What a unary handler gets besides the request. */
export interface UnaryCall {
  /** process.hrtime.bigint() when the call reached the handler. */
  readonly arrivedNs: bigint;
  /** The client's request id, or one made for the call. */
  readonly requestId: string;
  /** Fires when the client cancels or the deadline passes before the call is answered. */
  signal(): AbortSignal;
}

export function unary<Req, Res>(
  context: ServiceContext,
  rpc: string,
  target: Target<Req>,
  handler: (request: Req, call: UnaryCall) => Promise<Res> | Res,
  /** Told of each answer right after grpc-js serialized it. */
  sent?: (request: Req, response: Res) => void,
): handleUnaryCall<Req, Res> {
  const { requests } = context;
  return (call, callback: sendUnaryData<Res>) => {
    const arrivedNs = process.hrtime.bigint();
    const about = target(call.request);
    const requestId = requestIdOf(about.id ?? '');
    // The record is built after the answer went out: grpc-js has serialized ModelInfer's answer by then.
    const finished = (code: Status, response?: Res): void => {
      if (!requests) return;
      const infer = rpc === 'ModelInfer';
      const bytesIn = infer ? requestWireSize(call.request as ModelInferRequest) : undefined;
      const result = infer && response !== undefined ? (response as InferResult) : undefined;
      // An answered inference names the version that served it.
      const target = result ? { model: about.model, version: result.version } : about;
      requests.finished(record(rpc, target, requestId, arrivedNs, code, bytesIn, result ? context.encoder.lastSize : undefined));
    };
    if (!context.calls.enter()) {
      callback(SHUTTING_DOWN);
      finished(SHUTTING_DOWN.code);
      return;
    }
    let answered = false;
    const answer = (err: Parameters<sendUnaryData<Res>>[0], response?: Res): void => {
      if (answered) return;
      answered = true;
      forget();
      context.calls.leave();
      callback(err, response);
      if (sent && response !== undefined) sent(call.request, response);
      // An answer to a call the client already cancelled reached nobody.
      finished(err?.code ?? (call.cancelled ? Status.CANCELLED : Status.OK), response);
    };
    const forget = context.calls.answerOnCut(() => answer(CUT));
    const unaryCall: UnaryCall = { arrivedNs, requestId, signal: () => callSignal(call, () => answered) };
    let result: Promise<Res>;
    try {
      result = Promise.resolve(handler(call.request, unaryCall));
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (response) => answer(null, response),
      (err: unknown) => answer(toServiceError(err, context.log, requestId)),
    );
  };
}

export function unimplemented<Req, Res>(context: ServiceContext, rpc: string, why: string): handleUnaryCall<Req, Res> {
  return unary(context, rpc, noTarget, () => {
    throw new InferenceError('UNIMPLEMENTED', `${rpc} is not implemented by v2serve: ${why}`);
  });
}
