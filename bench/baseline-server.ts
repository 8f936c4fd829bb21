// The two floors v2serve is measured against, each run as its own process:
//   --kind=bare       grpc-js with identity (de)serializers on the ModelInfer path,
//                     answering precomputed response bytes: what any grpc-js server pays.
//   --kind=generated  baseline (a): grpc-js + the generated GRPCInferenceServiceService;
//                     ModelInfer answers a precomputed ModelInferResponse object, so a call
//                     costs ts-proto decode of the request + encode of the response.
// stdin holds the serialized response (captured from v2serve for the same request, so
// both floors send exactly the bytes v2serve does); the server binds once it has read it.
// --channel-options=JSON are the grpc-js server options v2serve builds from the run's
// flags (bench/run.ts derives them with v2serve's own code), so that transport settings
// are the same on both sides of a ratio.
// Logs `{"msg":"listening","port":N}` like v2serve, and exits on SIGTERM.
import { parseArgs } from 'node:util';
import { Server, ServerCredentials, type ChannelOptions, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import {
  GRPCInferenceServiceService,
  ModelInferResponse,
  type GRPCInferenceServiceServer,
  type ModelInferRequest,
} from '../generated/grpc_service.js';
import { identity, MODEL_INFER_PATH } from './grpc-raw.js';

const { values } = parseArgs({
  options: {
    kind: { type: 'string' },
    'channel-options': { type: 'string' },
    address: { type: 'string', default: '127.0.0.1' },
  },
});
if ((values.kind !== 'generated' && values.kind !== 'bare') || !values['channel-options']) {
  process.stderr.write('usage: baseline-server.ts --kind=bare|generated --channel-options=JSON [--address=127.0.0.1] < response.bin\n');
  process.exit(2);
}

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const responseBytes = Buffer.concat(chunks);
if (responseBytes.length === 0) {
  process.stderr.write('baseline-server.ts: no response on stdin\n');
  process.exit(2);
}
const channelOptions = JSON.parse(values['channel-options']) as ChannelOptions;
const server = new Server(channelOptions);

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
process.stdout.write(`${JSON.stringify({ msg: 'listening', port, kind: values.kind, responseBytes: responseBytes.length, channelOptions })}\n`);

process.once('SIGTERM', () => {
  server.forceShutdown();
  process.exit(0);
});
