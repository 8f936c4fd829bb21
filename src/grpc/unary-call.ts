// The one wrapper every unary handler goes through: shutdown admission, cancellation, one
// answer, errors mapped once (toServiceError), and the request record after the answer.
import { status as Status, type handleUnaryCall, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import type { ModelInferRequest } from '../../generated/grpc_service.js';
import type { Cancellation } from '../cancellation.js';
import type { Cuttable } from '../call-tracker.js';
import { InferenceError } from '../errors.js';
import type { InferResult } from '../pipeline/index.js';
import { requestIdOf } from '../request-id.js';
import { CallCancellation } from './call-cancellation.js';
import { requestWireSize } from './infer-request-codec.js';
import { noTarget, record, type CallTarget, type Target } from './request-record.js';
import type { ServiceContext } from './service-context.js';
import { CUT, SHUTTING_DOWN, toServiceError, type ServiceError } from './status.js';

/** What a unary handler gets besides the request. */
export interface UnaryCall {
  /** process.hrtime.bigint() when the call reached the handler. */
  readonly arrivedNs: bigint;
  /** The client's request id, or one made for the call. */
  readonly requestId: string;
  /** Aborts when the client cancels or the deadline passes before the call is answered. */
  readonly cancellation: Cancellation;
}

/** How a wrapped rpc answers and records its calls, made once per rpc. */
interface Rpc<Req, Res> {
  readonly context: ServiceContext;
  readonly name: string;
  /** ModelInfer: its record tells the wire sizes and the version that answered. */
  readonly infer: boolean;
  /** Told of each answer right after grpc-js serialized it. */
  readonly sent: ((request: Req, response: Res) => void) | undefined;
}

/**
 * One call from the handler to its answer, in one object: it is the call's cancellation (the
 * core's signal), what the handler is told, and what shutdown answers when it cuts the call.
 */
class PendingCall<Req, Res> extends CallCancellation implements UnaryCall, Cuttable {
  cutSlot = -1;

  constructor(
    private readonly rpc: Rpc<Req, Res>,
    protected override readonly call: ServerUnaryCall<Req, Res>,
    private readonly callback: sendUnaryData<Res>,
    private readonly about: CallTarget,
    readonly requestId: string,
    readonly arrivedNs: bigint,
  ) {
    super(call);
  }

  get cancellation(): Cancellation {
    return this;
  }

  succeed(response: Res): void {
    this.answer(null, response);
  }

  fail(err: unknown): void {
    this.answer(toServiceError(err, this.rpc.context.log, this.requestId));
  }

  answerCut(): void {
    this.answer(CUT);
  }

  private answer(err: ServiceError | null, response?: Res): void {
    if (this.answered) return;
    this.answered = true;
    const { calls } = this.rpc.context;
    calls.forget(this);
    calls.leave();
    this.callback(err, response);
    if (this.rpc.sent && response !== undefined) this.rpc.sent(this.call.request, response);
    // An answer to a call the client already cancelled reached nobody.
    finished(this.rpc, this.call, this.about, this.requestId, this.arrivedNs, err?.code ?? (this.call.cancelled ? Status.CANCELLED : Status.OK), response);
  }
}

/** The record is built after the answer went out: grpc-js has serialized ModelInfer's answer by then. */
function finished<Req, Res>(
  rpc: Rpc<Req, Res>,
  call: ServerUnaryCall<Req, Res>,
  about: CallTarget,
  requestId: string,
  arrivedNs: bigint,
  code: Status,
  response?: Res,
): void {
  const { requests } = rpc.context;
  if (!requests) return;
  const bytesIn = rpc.infer ? requestWireSize(call.request as ModelInferRequest) : undefined;
  const result = rpc.infer && response !== undefined ? (response as InferResult) : undefined;
  // An answered inference names the version that served it.
  const target = result ? { model: about.model, version: result.version } : about;
  requests.finished(record(rpc.name, target, requestId, arrivedNs, code, bytesIn, result ? rpc.context.encoder.lastSize : undefined));
}

export function unary<Req, Res>(
  context: ServiceContext,
  name: string,
  target: Target<Req>,
  handler: (request: Req, call: UnaryCall) => Promise<Res> | Res,
  /** Told of each answer right after grpc-js serialized it. */
  sent?: (request: Req, response: Res) => void,
): handleUnaryCall<Req, Res> {
  const rpc: Rpc<Req, Res> = { context, name, infer: name === 'ModelInfer', sent };
  return (call, callback: sendUnaryData<Res>) => {
    const arrivedNs = process.hrtime.bigint();
    const about = target(call.request);
    const requestId = requestIdOf(about.id ?? '');
    if (!context.calls.enter()) {
      callback(SHUTTING_DOWN);
      finished(rpc, call, about, requestId, arrivedNs, SHUTTING_DOWN.code);
      return;
    }
    const pending = new PendingCall(rpc, call, callback, about, requestId, arrivedNs);
    context.calls.answerOnCut(pending);
    let result: Promise<Res> | Res;
    try {
      result = handler(call.request, pending);
    } catch (err) {
      pending.fail(err);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (response) => pending.succeed(response),
        (err: unknown) => pending.fail(err),
      );
    } else {
      pending.succeed(result);
    }
  };
}

export function unimplemented<Req, Res>(context: ServiceContext, rpc: string, why: string): handleUnaryCall<Req, Res> {
  return unary(context, rpc, noTarget, () => {
    throw new InferenceError('UNIMPLEMENTED', `${rpc} is not implemented by v2serve: ${why}`);
  });
}
