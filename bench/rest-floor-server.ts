// The REST scenarios' floor: node:http and the least a KServe v2 server does for one model.
// It reads the body, JSON.parses it (only the JSON header of a binary request, whose length is
// Inference-Header-Content-Length), takes the inputs, computes the model's outputs and answers
// them in JSON, or as a JSON header and binary outputs when the request asked for
// binary_data_output. No routing, validation, scheduling or statistics: v2serve ÷ floor is
// what those and the rest of v2serve's HTTP path cost.
//   --model=simple          INPUT0, INPUT1 INT32 → OUTPUT0 = sum, OUTPUT1 = difference
//   --model=identity_fp32   INPUT0 FP32 → OUTPUT0, the same values
// Logs `{"msg":"listening","port":N}` like v2serve, and exits on SIGTERM.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

type Values = Int32Array | Float32Array;

interface Tensor {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly values: Values;
}

interface JsonInput {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly data?: readonly number[];
  readonly parameters?: { readonly binary_data_size?: number };
}

interface JsonRequest {
  readonly id?: string;
  readonly inputs: readonly JsonInput[];
  readonly parameters?: { readonly binary_data_output?: boolean };
}

const MODELS: Readonly<Record<'simple' | 'identity_fp32', (inputs: readonly Tensor[]) => Tensor[]>> = {
  simple: ([a, b]) => {
    const x = (a as Tensor).values as Int32Array;
    const y = (b as Tensor).values as Int32Array;
    const sum = new Int32Array(x.length);
    const difference = new Int32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      sum[i] = (x[i] as number) + (y[i] as number);
      difference[i] = (x[i] as number) - (y[i] as number);
    }
    const shape = (a as Tensor).shape;
    return [
      { name: 'OUTPUT0', datatype: 'INT32', shape, values: sum },
      { name: 'OUTPUT1', datatype: 'INT32', shape, values: difference },
    ];
  },
  identity_fp32: ([input]) => [{ ...(input as Tensor), name: 'OUTPUT0' }],
};

const { values: args } = parseArgs({ options: { model: { type: 'string' }, address: { type: 'string', default: '127.0.0.1' } } });
if (args.model !== 'simple' && args.model !== 'identity_fp32') {
  process.stderr.write('usage: rest-floor-server.ts --model=simple|identity_fp32 [--address=127.0.0.1]\n');
  process.exit(2);
}
const model = args.model;
const run = MODELS[model];

/** The values of a binary input: a view, or a copy when the body holds them off their element boundary. */
function view(datatype: string, body: Buffer, offset: number, bytes: number): Values {
  const TypedArray = datatype === 'INT32' ? Int32Array : Float32Array;
  let source: Uint8Array<ArrayBuffer> = body.subarray(offset, offset + bytes) as Uint8Array<ArrayBuffer>;
  if (source.byteOffset % TypedArray.BYTES_PER_ELEMENT !== 0) source = new Uint8Array(source);
  return new TypedArray(source.buffer, source.byteOffset, bytes / TypedArray.BYTES_PER_ELEMENT);
}

function answer(request: IncomingMessage, response: ServerResponse, body: Buffer): void {
  const declared = request.headers['inference-header-content-length'];
  const headerLength = declared === undefined ? body.length : Number(declared);
  const parsed = JSON.parse(body.toString('utf8', 0, headerLength)) as JsonRequest;
  let offset = headerLength;
  const inputs = parsed.inputs.map((input): Tensor => {
    const size = input.parameters?.binary_data_size;
    let values: Values;
    if (size === undefined) {
      values = input.datatype === 'INT32' ? Int32Array.from(input.data ?? []) : Float32Array.from(input.data ?? []);
    } else {
      values = view(input.datatype, body, offset, size);
      offset += size;
    }
    return { name: input.name, datatype: input.datatype, shape: input.shape, values };
  });
  const outputs = run(inputs);
  const id = parsed.id === undefined ? {} : { id: parsed.id };
  if (parsed.parameters?.binary_data_output === true) {
    const header = Buffer.from(
      JSON.stringify({
        model_name: model,
        model_version: '1',
        ...id,
        outputs: outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape, parameters: { binary_data_size: o.values.byteLength } })),
      }),
    );
    response.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Inference-Header-Content-Length': header.length,
      'Content-Length': outputs.reduce((n, o) => n + o.values.byteLength, header.length),
    });
    response.write(header);
    for (const o of outputs) response.write(new Uint8Array(o.values.buffer, o.values.byteOffset, o.values.byteLength));
    response.end();
    return;
  }
  const json = Buffer.from(
    JSON.stringify({
      model_name: model,
      model_version: '1',
      ...id,
      outputs: outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape, data: Array.from(o.values) })),
    }),
  );
  response.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': json.length }).end(json);
}

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.once('end', () => answer(request, response, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
});

server.listen(0, args.address, () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port, model })}\n`);
});

process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  process.exit(0);
});
