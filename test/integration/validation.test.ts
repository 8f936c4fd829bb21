// Every tensor validation rule through the real server: INVALID_ARGUMENT naming the
// tensor, and the same connection then serves a good request.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { InferTensorContents, ModelInferRequest, ModelInferRequest_InferInputTensor } from '../../generated/grpc_service.js';
import { call, startCli, type RunningCli } from '../helpers/server.js';

const EMPTY: InferTensorContents = {
  boolContents: [],
  intContents: [],
  int64Contents: [],
  uintContents: [],
  uint64Contents: [],
  fp32Contents: [],
  fp64Contents: [],
  bytesContents: [],
};

const int32 = (n: number, value = 1) => Buffer.from(new Int32Array(n).fill(value).buffer);

function input(name: string, datatype = 'INT32', shape: bigint[] = [1n, 16n], contents?: Partial<InferTensorContents>): ModelInferRequest_InferInputTensor {
  return { name, datatype, shape, parameters: new Map(), contents: contents ? { ...EMPTY, ...contents } : undefined };
}

function request(inputs: ModelInferRequest_InferInputTensor[], raw: Buffer[], modelName = 'simple'): ModelInferRequest {
  return { modelName, modelVersion: '', id: 'v', parameters: new Map(), inputs, outputs: [], rawInputContents: raw };
}

const good = () => request([input('INPUT0'), input('INPUT1')], [int32(16), int32(16)]);

function bytesElements(...elements: string[]): Buffer {
  return Buffer.concat(
    elements.map((e) => {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(Buffer.byteLength(e));
      return Buffer.concat([length, Buffer.from(e)]);
    }),
  );
}

/** [rule, request, the tensor the message must name] */
const CASES: [string, ModelInferRequest, RegExp][] = [
  ['unknown datatype', request([input('INPUT0', 'FP8'), input('INPUT1')], [int32(16), int32(16)]), /INPUT0/],
  ['datatype differs from the declared one', request([input('INPUT0'), input('INPUT1', 'FP32')], [int32(16), int32(16)]), /INPUT1/],
  ['negative dimension', request([input('INPUT0', 'INT32', [-1n, 16n]), input('INPUT1')], [int32(16), int32(16)]), /INPUT0/],
  ['shape not matching the declared dims', request([input('INPUT0', 'INT32', [1n, 15n]), input('INPUT1')], [int32(15), int32(16)]), /INPUT0/],
  ['batch larger than max_batch_size', request([input('INPUT0', 'INT32', [9n, 16n]), input('INPUT1', 'INT32', [9n, 16n])], [int32(144), int32(144)]), /INPUT0|batch/],
  ['typed element count differs from the shape', request([input('INPUT0', 'INT32', [1n, 16n], { intContents: [1, 2] }), input('INPUT1', 'INT32', [1n, 16n], { intContents: Array(16).fill(1) })], []), /INPUT0/],
  ['typed field not matching the datatype', request([input('INPUT0', 'INT32', [1n, 16n], { fp32Contents: Array(16).fill(1) }), input('INPUT1', 'INT32', [1n, 16n], { intContents: Array(16).fill(1) })], []), /INPUT0/],
  ['raw byte size differs from shape × element size', request([input('INPUT0'), input('INPUT1')], [int32(15), int32(16)]), /INPUT0/],
  ['raw for one input and typed for another', request([input('INPUT0'), input('INPUT1', 'INT32', [1n, 16n], { intContents: Array(16).fill(1) })], [int32(16)]), /INPUT1/],
  ['more raw buffers than inputs', request([input('INPUT0'), input('INPUT1')], [int32(16), int32(16), int32(16)]), /raw_input_contents/],
  ['duplicate input names', request([input('INPUT0'), input('INPUT0')], [int32(16), int32(16)]), /INPUT0/],
  ['a declared input is missing', request([input('INPUT0')], [int32(16)]), /INPUT1/],
  ['an input the model does not declare', request([input('INPUT0'), input('INPUT1'), input('INPUT2')], [int32(16), int32(16), int32(16)]), /INPUT2/],
  ['a shape implying 10^12 elements', request([input('INPUT0', 'INT32', [1n, 1_000_000_000_000n]), input('INPUT1')], [int32(16), int32(16)]), /INPUT0/],
  [
    'a BYTES length prefix running past the buffer',
    request(
      [input('INPUT0', 'BYTES'), input('INPUT1', 'BYTES')],
      [Buffer.concat([bytesElements(...Array(15).fill('1')), Buffer.from([200, 0, 0, 0, 49])]), bytesElements(...Array(16).fill('1'))],
      'simple_string',
    ),
    /INPUT0/,
  ],
];

describe('validation', () => {
  let cli: RunningCli;
  before(async () => {
    cli = await startCli();
    await cli.waitForLog((l) => l['model'] === 'simple_string' && l['msg'] === 'model loaded');
    await cli.waitForLog((l) => l['model'] === 'simple' && l['msg'] === 'model loaded');
  });
  after(async () => {
    await cli.stop();
  });

  for (const [rule, bad, names] of CASES) {
    test(`validation - ${rule} is INVALID_ARGUMENT naming the tensor; the connection then serves`, async () => {
      await assert.rejects(call(cli.client, cli.client.modelInfer, bad), (err: ServiceError) => {
        assert.equal(err.code, status.INVALID_ARGUMENT, err.details);
        assert.match(err.details, names);
        return true;
      });
      const response = await call(cli.client, cli.client.modelInfer, good());
      const sum = response.rawOutputContents[0] as Buffer;
      assert.deepEqual([...new Int32Array(sum.buffer.slice(sum.byteOffset, sum.byteOffset + sum.byteLength))], Array(16).fill(2));
    });
  }
});
