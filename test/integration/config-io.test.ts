// config.pbtxt input and output fields through the real CLI, on both transports: `reshape`
// (the client uses the dims, the model the reshape shape, batches keep their batch dimension)
// and `optional` inputs (absent for the model, while a missing required input is the
// client's error naming it).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { ModelInferRequest, ModelInferResponse } from '../../generated/grpc_service.js';
import { startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { grpcError, infer } from './repository-fixtures.js';

const SHAPER_CONFIG = `backend: "nodejs"
max_batch_size: 4
input [ { name: "X" data_type: TYPE_FP32 dims: [ -1, 4 ] reshape: { shape: [ -1, 2, 2 ] } } ]
output [
  { name: "Y" data_type: TYPE_FP32 dims: [ -1, 4 ] reshape: { shape: [ -1, 2, 2 ] } },
  { name: "SEEN" data_type: TYPE_STRING dims: [ 1 ] }
]
dynamic_batching { preferred_batch_size: [ 2 ] max_queue_delay_microseconds: 2000000 }
`;

/** Y = 2·X in the shape the model sees; SEEN says, per row, the shape it saw. */
const SHAPER = `import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';

export default class Shaper extends ModelServer {
  predict(request: InferRequest): PredictOutputs {
    const x = request.tensors['X']!;
    const rows = x.shape[0]!;
    return {
      Y: { data: (x.data as Float32Array).map((v) => v * 2), shape: x.shape },
      SEEN: Array.from({ length: rows }, () => [JSON.stringify(x.shape)]),
    };
  }
}
`;

const PICKY_CONFIG = `backend: "nodejs"
max_batch_size: 0
input [
  { name: "A" data_type: TYPE_INT32 dims: [ 1 ] },
  { name: "B" data_type: TYPE_INT32 dims: [ 1 ] optional: true }
]
output [ { name: "SEEN" data_type: TYPE_STRING dims: [ 1 ] } ]
`;

/** SEEN names the tensors the model got and how many entries the list form has. */
const PICKY = `import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';

export default class Picky extends ModelServer {
  predict(request: InferRequest): PredictOutputs {
    return { SEEN: [\`\${Object.keys(request.tensors).join(',')} (\${request.inputs.length} in the list)\`] };
  }
}
`;

const float32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer);

/** X of shape [rows, n, 4] holding first, first + 1, … */
function shaperRequest(rows: number, n: number, first = 1): ModelInferRequest {
  const values = Array.from({ length: rows * n * 4 }, (_, i) => first + i);
  return {
    modelName: 'shaper',
    modelVersion: '',
    id: '',
    parameters: new Map(),
    inputs: [{ name: 'X', datatype: 'FP32', shape: [BigInt(rows), BigInt(n), 4n], parameters: new Map(), contents: undefined }],
    outputs: [],
    rawInputContents: [float32(values)],
  };
}

function pickyRequest(names: string[]): ModelInferRequest {
  return {
    modelName: 'picky',
    modelVersion: '',
    id: '',
    parameters: new Map(),
    inputs: names.map((name) => ({ name, datatype: 'INT32', shape: [1n], parameters: new Map(), contents: undefined })),
    outputs: [],
    rawInputContents: names.map((_, i) => Buffer.from(new Int32Array([i + 1]).buffer)),
  };
}

function output(response: ModelInferResponse, name: string): { shape: number[]; raw: Buffer } {
  const at = response.outputs.findIndex((tensor) => tensor.name === name);
  assert.ok(at >= 0, `no output ${name}`);
  return { shape: response.outputs[at]!.shape.map(Number), raw: response.rawOutputContents[at] as Buffer };
}

function floats(raw: Buffer): number[] {
  return [...new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))];
}

/** BYTES elements of a raw output, as strings. */
function strings(raw: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < raw.length; ) {
    const length = raw.readUInt32LE(at);
    out.push(raw.subarray(at + 4, at + 4 + length).toString());
    at += 4 + length;
  }
  return out;
}

async function postJson(cli: RunningCli, model: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${cli.http}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('config inputs and outputs - reshape and optional', () => {
  let cli: RunningCli;
  const repo = tempRepository({
    shaper: { config: SHAPER_CONFIG, versions: { '1': SHAPER } },
    picky: { config: PICKY_CONFIG, versions: { '1': PICKY } },
  });

  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`, '--serve-while-loading=false']);
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  test('reshape gRPC - the client sends and gets the dims, the model sees the reshape shape', async () => {
    // Alone in its batch: preferred_batch_size 2 holds it for the queue delay unless it fills the batch itself.
    const response = await infer(cli, shaperRequest(2, 3));
    const y = output(response, 'Y');
    assert.deepEqual(y.shape, [2, 3, 4]);
    assert.deepEqual(floats(y.raw), Array.from({ length: 24 }, (_, i) => 2 * (i + 1)));
    assert.deepEqual(strings(output(response, 'SEEN').raw), ['[2,3,2,2]', '[2,3,2,2]']);
  });

  test('reshape REST - the same both ways, JSON tensors', async () => {
    const { status: code, body } = await postJson(cli, 'shaper', {
      inputs: [{ name: 'X', datatype: 'FP32', shape: [2, 1, 4], data: [1, 2, 3, 4, 5, 6, 7, 8] }],
    });
    assert.equal(code, 200, JSON.stringify(body));
    const outputs = body['outputs'] as { name: string; shape: number[]; data: unknown[] }[];
    const y = outputs.find((tensor) => tensor.name === 'Y');
    assert.deepEqual(y?.shape, [2, 1, 4]);
    assert.deepEqual(y?.data, [2, 4, 6, 8, 10, 12, 14, 16]);
    assert.deepEqual(outputs.find((tensor) => tensor.name === 'SEEN')?.data, ['[2,1,2,2]', '[2,1,2,2]']);
  });

  test('reshape with batching - two requests in one batch, each answered in its own dims', async () => {
    const [first, second] = await Promise.all([infer(cli, shaperRequest(1, 1, 1)), infer(cli, shaperRequest(1, 1, 100))]);
    for (const [response, start] of [[first!, 1], [second!, 100]] as const) {
      const y = output(response, 'Y');
      assert.deepEqual(y.shape, [1, 1, 4]);
      assert.deepEqual(floats(y.raw), [0, 1, 2, 3].map((i) => 2 * (start + i)));
      // The model saw both rows at once, in its own shape.
      assert.deepEqual(strings(output(response, 'SEEN').raw), ['[2,1,2,2]']);
    }
  });

  test('reshape - a request in the reshape shape is refused against the dims', async () => {
    const request = { ...shaperRequest(1, 1), inputs: [{ ...shaperRequest(1, 1).inputs[0]!, shape: [1n, 1n, 2n, 2n] }] };
    await assert.rejects(infer(cli, request), grpcError(status.INVALID_ARGUMENT, /unexpected shape for input 'X' for model 'shaper'\. Expected \[-1,-1,4\], got \[1,1,2,2\]/));
  });

  test('optional gRPC - an absent optional input is absent for the model, not a zero tensor', async () => {
    assert.deepEqual(strings(output(await infer(cli, pickyRequest(['A'])), 'SEEN').raw), ['A (1 in the list)']);
    assert.deepEqual(strings(output(await infer(cli, pickyRequest(['A', 'B'])), 'SEEN').raw), ['A,B (2 in the list)']);
  });

  test('optional REST - the same', async () => {
    const { status: code, body } = await postJson(cli, 'picky', { inputs: [{ name: 'A', datatype: 'INT32', shape: [1], data: [7] }] });
    assert.equal(code, 200, JSON.stringify(body));
    assert.deepEqual((body['outputs'] as { data: unknown[] }[])[0]?.data, ['A (1 in the list)']);
  });

  test('a missing required input is INVALID_ARGUMENT naming it, on both transports', async () => {
    const message = /^expected number of inputs between 1 and 2 but got 1 inputs for model 'picky'\. Got input\(s\) \['B'\], but missing required input\(s\) \['A'\]\. Please provide all required input\(s\)\.$/;
    await assert.rejects(infer(cli, pickyRequest(['B'])), grpcError(status.INVALID_ARGUMENT, message));
    const { status: code, body } = await postJson(cli, 'picky', { inputs: [{ name: 'B', datatype: 'INT32', shape: [1], data: [7] }] });
    assert.equal(code, 400);
    assert.match(String(body['error']), message);
  });
});
