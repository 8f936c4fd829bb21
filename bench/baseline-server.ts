// The two ceilings v2serve is measured against, each run as its own process:
//   --kind=generated  grpc-js + the generated GRPCInferenceServiceService; ModelInfer
//                     answers a precomputed ModelInferResponse object, so a call costs
//                     ts-proto decode of the request + encode of the response, nothing else.
//   --kind=raw        grpc-js with identity (de)serializers on the ModelInfer path,
//                     answering precomputed response bytes: the transport alone.
// --response=FILE holds the serialized response (captured from v2serve for the same
// request, so both ceilings send exactly as many bytes as v2serve does).
// Logs `{"msg":"listening","port":N}` like v2serve, and exits on SIGTERM.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import {
  GRPCInferenceServiceService,
  ModelInferResponse,
  type GRPCInferenceServiceServer,
  type ModelInferRequest,
} from '../generated/grpc_service.js';
import { CHANNEL_OPTIONS, identity, MODEL_INFER_PATH } from './grpc-raw.js';

const { values } = parseArgs({
  options: {
    kind: { type: 'string' },
    response: { type: 'string' },
    address: { type: 'string', default: '127.0.0.1' },
  },
});
if ((values.kind !== 'generated' && values.kind !== 'raw') || !values.response) {
  process.stderr.write('usage: baseline-server.ts --kind=generated|raw --response=FILE [--address=127.0.0.1]\n');
  process.exit(2);
}

const responseBytes = readFileSync(values.response);
const server = new Server(CHANNEL_OPTIONS);

if (values.kind === 'generated') {
  const response = ModelInferResponse.decode(responseBytes);
  // Every other method is left out: grpc-js answers them UNIMPLEMENTED.
  const service: Partial<GRPCInferenceServiceServer> = {
    modelInfer: (_call: ServerUnaryCall<ModelInferRequest, ModelInferResponse>, callback: sendUnaryData<ModelInferResponse>) =>
      callback(null, response),
  };
  server.addService(GRPCInferenceServiceService, service as GRPCInferenceServiceServer);
} else {
  server.register(
    MODEL_INFER_PATH,
    (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => callback(null, responseBytes),
    identity,
    identity,
    'unary',
  );
}

const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync(`${values.address}:0`, ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
);
process.stdout.write(`${JSON.stringify({ msg: 'listening', port, kind: values.kind, responseBytes: responseBytes.length })}\n`);

process.once('SIGTERM', () => {
  server.forceShutdown();
  process.exit(0);
});
