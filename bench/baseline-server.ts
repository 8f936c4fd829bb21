// The gRPC floors v2serve is measured against, each run as its own process:
//   --kind=bare       grpc-js with identity (de)serializers on the ModelInfer path,
//                     answering precomputed response bytes: what any grpc-js server pays.
//   --kind=generated  baseline (a): grpc-js + the generated GRPCInferenceServiceService;
//                     ModelInfer answers a precomputed ModelInferResponse object, so a call
//                     costs ts-proto decode of the request + encode of the response.
//   --kind=onnx --model-repository=DIR
//                     the generated service, and ModelInfer calls onnxruntime's session.run
//                     on the request's raw inputs, with the session options v2serve takes
//                     from the same config.pbtxt (every <model>/config.pbtxt and
//                     <model>/1/model.onnx in DIR): what v2serve adds on top of onnxruntime
//                     and the transport, both of which it pays too.
// For bare and generated, stdin holds the serialized response (captured from v2serve for the
// same request, so both send exactly the bytes v2serve does); they bind once they have read it.
// --channel-options=JSON are the grpc-js server options v2serve builds from the run's
// flags (bench/run.ts derives them with v2serve's own code), so that transport settings
// are the same on both sides of a ratio.
// Logs `{"msg":"listening","port":N}` like v2serve, and exits on SIGTERM.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Server, ServerCredentials, status, type ChannelOptions, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import {
  GRPCInferenceServiceService,
  ModelInferResponse,
  type GRPCInferenceServiceServer,
  type ModelInferRequest,
} from '../generated/grpc_service.js';
import { dictionary } from '../src/dictionary.js';
import { ONNX_TYPES, sessionOptionsFromConfig } from '../src/onnx/index.js';
import { parseConfigText } from '../src/repository/index.js';
import { identity, MODEL_INFER_PATH } from './grpc-raw.js';

const USAGE = `usage: baseline-server.ts --kind=bare|generated --channel-options=JSON [--address=127.0.0.1] < response.bin
       baseline-server.ts --kind=onnx --model-repository=DIR --channel-options=JSON [--address=127.0.0.1]
`;

const { values } = parseArgs({
  options: {
    kind: { type: 'string' },
    'channel-options': { type: 'string' },
    'model-repository': { type: 'string' },
    address: { type: 'string', default: '127.0.0.1' },
  },
});
const kind = values.kind;
if ((kind !== 'generated' && kind !== 'bare' && kind !== 'onnx') || !values['channel-options'] || (kind === 'onnx') !== (values['model-repository'] !== undefined)) {
  process.stderr.write(USAGE);
  process.exit(2);
}

async function readResponse(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  if (bytes.length === 0) {
    process.stderr.write('baseline-server.ts: no response on stdin\n');
    process.exit(2);
  }
  return bytes;
}

const BY_DATATYPE = new Map(ONNX_TYPES.map((entry) => [entry.datatype as string, entry]));
const BY_ORT = new Map(ONNX_TYPES.map((entry) => [entry.ort as string, entry]));

/** A session per model of the repository, with the options its config.pbtxt gives v2serve. */
async function loadSessions(root: string): Promise<Map<string, InferenceSession>> {
  const sessions = new Map<string, InferenceSession>();
  for (const entry of readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory())) {
    const config = parseConfigText(readFileSync(join(root, entry.name, 'config.pbtxt'), 'utf8'), 'config.pbtxt');
    sessions.set(entry.name, await InferenceSession.create(join(root, entry.name, '1', 'model.onnx'), sessionOptionsFromConfig(config)));
  }
  return sessions;
}

/** A raw numeric input as onnxruntime takes it: a view, or a copy when it is off its element boundary. */
function feed(request: ModelInferRequest, i: number): OrtTensor {
  const input = request.inputs[i] as ModelInferRequest['inputs'][number];
  const entry = BY_DATATYPE.get(input.datatype);
  if (entry === undefined || entry.ort === 'string') throw new Error(`${input.datatype} is not a numeric datatype`);
  const View = entry.array as Float32ArrayConstructor;
  let raw = request.rawInputContents[i] ?? new Uint8Array(0);
  if (raw.byteOffset % View.BYTES_PER_ELEMENT !== 0) raw = new Uint8Array(raw);
  return new OrtTensor(entry.ort as 'float32', new View(raw.buffer, raw.byteOffset, raw.byteLength / View.BYTES_PER_ELEMENT), input.shape.map(Number));
}

async function runOnnx(sessions: ReadonlyMap<string, InferenceSession>, request: ModelInferRequest): Promise<ModelInferResponse> {
  const session = sessions.get(request.modelName);
  if (!session) throw new Error(`unknown model '${request.modelName}'`);
  const feeds = new Map(request.inputs.map((input, i) => [input.name, feed(request, i)]));
  const results = await session.run(dictionary(feeds));
  const names = request.outputs.length > 0 ? request.outputs.map((output) => output.name) : session.outputNames;
  const tensors = names.map((name) => results[name] as OrtTensor);
  return ModelInferResponse.fromPartial({
    modelName: request.modelName,
    modelVersion: '1',
    id: request.id,
    outputs: names.map((name, i) => ({
      name,
      datatype: BY_ORT.get((tensors[i] as OrtTensor).type)?.datatype ?? '',
      shape: (tensors[i] as OrtTensor).dims.map(BigInt),
    })),
    rawOutputContents: tensors.map((tensor) => {
      const data = tensor.data as Float32Array;
      return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    }),
  });
}

const channelOptions = JSON.parse(values['channel-options']) as ChannelOptions;
const server = new Server(channelOptions);

if (kind === 'onnx') {
  const sessions = await loadSessions(values['model-repository'] as string);
  const service: Partial<GRPCInferenceServiceServer> = {
    modelInfer: (call: ServerUnaryCall<ModelInferRequest, ModelInferResponse>, callback: sendUnaryData<ModelInferResponse>) => {
      runOnnx(sessions, call.request).then(
        (response) => callback(null, response),
        (err: unknown) => callback({ code: status.INVALID_ARGUMENT, details: err instanceof Error ? err.message : String(err) }),
      );
    },
  };
  server.addService(GRPCInferenceServiceService, service as GRPCInferenceServiceServer);
} else if (kind === 'generated') {
  const response = ModelInferResponse.decode(await readResponse());
  // Every other method is left out: grpc-js answers them UNIMPLEMENTED.
  const service: Partial<GRPCInferenceServiceServer> = {
    modelInfer: (_call: ServerUnaryCall<ModelInferRequest, ModelInferResponse>, callback: sendUnaryData<ModelInferResponse>) =>
      callback(null, response),
  };
  server.addService(GRPCInferenceServiceService, service as GRPCInferenceServiceServer);
} else {
  const responseBytes = await readResponse();
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
process.stdout.write(`${JSON.stringify({ msg: 'listening', port, kind, channelOptions })}\n`);

process.once('SIGTERM', () => {
  server.forceShutdown();
  process.exit(0);
});
