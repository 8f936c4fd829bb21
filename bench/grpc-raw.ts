// ModelInfer on already-serialized bytes: identity (de)serializers, so whoever uses
// these does no protobuf work per call. Shared by the bare baseline, the h2load driver
// (the path) and the orchestrator's probe, the one grpc-js call that checks an answer.
import { Client, credentials, type ChannelOptions, type ServiceError } from '@grpc/grpc-js';

export const MODEL_INFER_PATH = '/inference.GRPCInferenceService/ModelInfer';
export const MODEL_STREAM_INFER_PATH = '/inference.GRPCInferenceService/ModelStreamInfer';

/** The probe's limits: v2serve's default (INT32_MAX), so that a 4 MiB answer gets through. */
const CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.max_receive_message_length': 2 ** 31 - 1,
  'grpc.max_send_message_length': 2 ** 31 - 1,
};

export const identity = (bytes: Buffer): Buffer => bytes;

export function rawClient(address: string): Client {
  return new Client(address, credentials.createInsecure(), CHANNEL_OPTIONS);
}

/** One ModelInfer call with pre-encoded request bytes; resolves with the response bytes. */
export function rawModelInfer(client: Client, request: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(MODEL_INFER_PATH, identity, identity, request, (err: ServiceError | null, response?: Buffer) =>
      err || !response ? reject(err ?? new Error('empty response')) : resolve(response),
    );
  });
}
