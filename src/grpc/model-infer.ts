// ModelInfer. A request goes to the data plane, except one whose exact bytes (but its id)
// the response cache keeps an encoded answer for: while that answer holds for the version
// the request goes to, it is sent again under the request's id, the request never decoded.
// The answer of a request that went the long way is kept encoded when it came from the cache
// (a request repeated once is likely to come again; one asked once costs no second copy).
import { status as Status, type handleUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import type { ModelInferRequest } from '../../generated/grpc_service.js';
import type { InferResult } from '../pipeline/index.js';
import { requestIdOf } from '../request-id.js';
import { decodeSeen, SeenRequest, seenKeyOf } from './infer-request-codec.js';
import { KeptReply } from './infer-response-codec.js';
import { inferTarget, record } from './request-record.js';
import { inferOne, type ServiceContext } from './service-context.js';
import { unary } from './unary-call.js';

/** Answers a seen request from the cache; false when its kept answer no longer holds. */
function answerSeen(context: ServiceContext, seen: SeenRequest, callback: sendUnaryData<KeptReply>): boolean {
  if (context.calls.shuttingDown) return false;
  const arrivedNs = process.hrtime.bigint();
  const version = context.dataPlane.answerFromAlias(seen.alias, arrivedNs, seen.lookupNs);
  if (version === undefined) return false;
  callback(null, new KeptReply(seen.alias.encoded, seen.id));
  const { requests } = context;
  if (requests) {
    const target = { model: seen.alias.model, version };
    requests.finished(record('ModelInfer', target, requestIdOf(seen.id), arrivedNs, Status.OK, seen.bytes.byteLength, context.encoder.lastSize));
  }
  return true;
}

export function modelInfer(context: ServiceContext): handleUnaryCall<ModelInferRequest | SeenRequest, InferResult | KeptReply> {
  const { dataPlane, encoder } = context;
  const throughCore = unary<ModelInferRequest, InferResult>(
    context,
    'ModelInfer',
    inferTarget,
    (request, call) => inferOne(context, request, call.arrivedNs, call.requestId, call.cancellation),
    (request, result) => {
      const { cached } = result;
      const key = seenKeyOf(request);
      if (cached === undefined || key === undefined) return;
      const encoded = encoder.encodedAnswer(result);
      if (encoded) dataPlane.keepEncoded(cached, key, request.modelName, request.modelVersion, encoded);
    },
  );
  return (call, callback) => {
    const { request } = call;
    if (request instanceof SeenRequest) {
      if (answerSeen(context, request, callback)) return;
      call.request = decodeSeen(request);
    }
    throughCore(call as Parameters<typeof throughCore>[0], callback);
  };
}
