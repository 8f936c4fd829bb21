// What the request log is told of a finished gRPC call or stream request.
import { status as Status } from '@grpc/grpc-js';
import type { ModelInferRequest } from '../../generated/grpc_service.js';
import type { RequestRecord } from '../events.js';

/** Which model a request concerns and the id its client gave, as the request log tells them. */
export interface CallTarget {
  readonly id?: string;
  readonly model: string;
  readonly version?: string;
}
export type Target<Req> = (request: Req) => CallTarget;
const NO_TARGET: CallTarget = { model: '' };
export const noTarget = (): CallTarget => NO_TARGET;
export const modelTarget = (request: { name: string; version: string }): CallTarget => ({ model: request.name, version: request.version });
export const inferTarget = (request: ModelInferRequest): CallTarget => ({ id: request.id, model: request.modelName, version: request.modelVersion });

/** The status name of a gRPC code, as the request log writes it (Status is a numeric enum: it maps both ways). */
const statusName = (code: Status): string => Status[code] ?? String(code);

/** Sizes are known for ModelInfer's messages only: its codecs measure them. */
export function record(
  rpc: string,
  target: CallTarget,
  requestId: string,
  arrivedNs: bigint,
  code: Status,
  bytesIn: number | undefined,
  bytesOut: number | undefined,
): RequestRecord {
  return {
    requestId,
    transport: 'grpc',
    operation: rpc,
    model: target.model,
    version: target.version ?? '',
    status: statusName(code),
    durationNs: process.hrtime.bigint() - arrivedNs,
    bytesIn,
    bytesOut,
  };
}
