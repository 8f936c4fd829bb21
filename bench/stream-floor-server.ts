// The floor of the stream bench: a bare grpc-js server whose ModelStreamInfer answers each
// request with --responses precomputed ModelStreamInferResponse messages (the bytes of
// repeat_int32's responses: OUT and IDX, flagged not final), written as fast as the stream
// takes them (awaiting 'drain' when write() returns false), then ends the stream once the
// client has half-closed. Identity (de)serializers: no protobuf work per message.
// Logs `{"msg":"listening","port":N}` like v2serve, and exits on SIGTERM.
import { parseArgs } from 'node:util';
import { Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { ModelStreamInferResponse } from '../generated/grpc_service.js';
import { identity, MODEL_STREAM_INFER_PATH } from './grpc-raw.js';

const { values } = parseArgs({ options: { responses: { type: 'string' }, address: { type: 'string' } }, strict: true });
const count = Number(values.responses ?? 10_000);

/** repeat_int32's i-th response to a request of id 'bench'. */
function response(i: number): Buffer {
  return Buffer.from(
    ModelStreamInferResponse.encode({
      errorMessage: '',
      inferResponse: {
        modelName: 'repeat_int32',
        modelVersion: '1',
        id: 'bench',
        parameters: new Map([['triton_final_response', { boolParam: false }]]),
        outputs: [
          { name: 'OUT', datatype: 'INT32', shape: [1n], parameters: new Map(), contents: undefined },
          { name: 'IDX', datatype: 'UINT32', shape: [1n], parameters: new Map(), contents: undefined },
        ],
        rawOutputContents: [Buffer.from(new Int32Array([i]).buffer), Buffer.from(new Uint32Array([i]).buffer)],
      },
    }).finish(),
  );
}

const responses = Array.from({ length: count }, (_, i) => response(i));

async function answer(call: ServerDuplexStream<Buffer, Buffer>): Promise<void> {
  for (const message of responses) {
    if (!call.write(message)) await new Promise((resolve) => call.once('drain', resolve));
  }
}

const server = new Server();
server.register<Buffer, Buffer>(MODEL_STREAM_INFER_PATH, (call: ServerDuplexStream<Buffer, Buffer>) => {
  let pending = 0;
  let halfClosed = false;
  const endWhenDone = (): void => {
    if (pending === 0 && halfClosed) call.end();
  };
  call.on('data', () => {
    pending++;
    void answer(call).then(() => {
      pending--;
      endWhenDone();
    });
  });
  call.on('end', () => {
    halfClosed = true;
    endWhenDone();
  });
}, identity, identity, 'bidi');
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync(`${values.address ?? '127.0.0.1'}:0`, ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
);
console.log(JSON.stringify({ msg: 'listening', port }));
process.once('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
