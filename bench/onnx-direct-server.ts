// The ONNX scenarios' baseline: the same model files and session options as v2serve, the same
// gRPC path (grpc-js + the generated service, raw_input_contents in, raw_output_contents out),
// and nothing between them: ModelInfer calls session.run directly on the main thread. So the
// ratio v2serve/baseline is what v2serve's pipeline, scheduler and worker hop cost on top of
// onnxruntime and the transport both pay. (A loop calling session.run in one process, with no
// transport, would make the ratio mostly about gRPC: a 10 µs Iris run behind a ~100 µs call.)
//   --model-repository=DIR   every <model>/config.pbtxt + <model>/1/model.onnx in DIR
// Logs `{"msg":"listening","port":N}` like v2serve, and exits on SIGTERM.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import {
  GRPCInferenceServiceService,
  type GRPCInferenceServiceServer,
  type ModelInferRequest,
  type ModelInferResponse,
} from '../generated/grpc_service.js';
import { ONNX_TYPES, sessionOptionsFromConfig } from '../src/onnx/index.js';
import { parseConfigText } from '../src/repository/index.js';
import { CHANNEL_OPTIONS } from './grpc-raw.js';

const { values } = parseArgs({ options: { 'model-repository': { type: 'string' }, address: { type: 'string', default: '127.0.0.1' } } });
const root = values['model-repository'];
if (!root) {
  process.stderr.write('usage: onnx-direct-server.ts --model-repository=DIR [--address=127.0.0.1]\n');
  process.exit(2);
}

const sessions = new Map<string, InferenceSession>();
for (const entry of readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory())) {
  const config = parseConfigText(readFileSync(join(root, entry.name, 'config.pbtxt'), 'utf8'), 'config.pbtxt');
  sessions.set(entry.name, await InferenceSession.create(join(root, entry.name, '1', 'model.onnx'), sessionOptionsFromConfig(config)));
}

const BY_DATATYPE = new Map(ONNX_TYPES.map((entry) => [entry.datatype as string, entry]));
const BY_ORT = new Map(ONNX_TYPES.map((entry) => [entry.ort as string, entry]));

/** A raw input as onnxruntime takes it (numeric types; realigned when the received bytes are not). */
function feed(request: ModelInferRequest, i: number): OrtTensor {
  const input = request.inputs[i]!;
  const entry = BY_DATATYPE.get(input.datatype);
  if (entry === undefined || entry.ort === 'string') throw new Error(`${input.datatype} is not a numeric datatype`);
  let raw = request.rawInputContents[i]!;
  const View = entry.array as Float32ArrayConstructor;
  if (raw.byteOffset % View.BYTES_PER_ELEMENT !== 0) raw = Buffer.from(raw);
  const data = new View(raw.buffer, raw.byteOffset, raw.byteLength / View.BYTES_PER_ELEMENT);
  return new OrtTensor(entry.ort as 'float32', data, input.shape.map(Number));
}

async function infer(request: ModelInferRequest): Promise<ModelInferResponse> {
  const session = sessions.get(request.modelName);
  if (!session) throw new Error(`unknown model '${request.modelName}'`);
  const feeds: Record<string, OrtTensor> = Object.create(null) as Record<string, OrtTensor>;
  request.inputs.forEach((input, i) => (feeds[input.name] = feed(request, i)));
  const results = await session.run(feeds);
  const names = request.outputs.length > 0 ? request.outputs.map((output) => output.name) : session.outputNames;
  const tensors = names.map((name) => results[name]!);
  return {
    modelName: request.modelName,
    modelVersion: '1',
    id: request.id,
    parameters: new Map(),
    outputs: names.map((name, i) => ({
      name,
      datatype: BY_ORT.get(tensors[i]!.type)!.datatype,
      shape: tensors[i]!.dims.map(BigInt),
      parameters: new Map(),
      contents: undefined,
    })),
    rawOutputContents: tensors.map((tensor) => {
      const data = tensor.data as Float32Array;
      return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    }),
  };
}

const server = new Server(CHANNEL_OPTIONS);
const service: Partial<GRPCInferenceServiceServer> = {
  modelInfer: (call: ServerUnaryCall<ModelInferRequest, ModelInferResponse>, callback: sendUnaryData<ModelInferResponse>) => {
    infer(call.request).then(
      (response) => callback(null, response),
      (err: unknown) => callback({ code: status.INVALID_ARGUMENT, details: err instanceof Error ? err.message : String(err) }),
    );
  },
};
server.addService(GRPCInferenceServiceService, service as GRPCInferenceServiceServer);

const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync(`${values.address}:0`, ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
);
process.stdout.write(`${JSON.stringify({ msg: 'listening', port, models: [...sessions.keys()] })}\n`);

process.once('SIGTERM', () => {
  server.forceShutdown();
  process.exit(0);
});
