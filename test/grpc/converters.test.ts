// ModelInferRequest → the neutral call: raw_input_contents matched to inputs (shared-memory
// inputs take no entry), dims as numbers, parameters as plain values.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { InferParameter, ModelInferRequest, ModelInferRequest_InferInputTensor } from '../../generated/grpc_service.js';
import { toInferCall } from '../../src/grpc/converters.js';
import { contents } from '../tensor/wire.js';

const INVALID = (message: RegExp) => ({ name: 'InferenceError', code: 'INVALID_ARGUMENT', message });

function input(name: string, shape: bigint[], typed?: Parameters<typeof contents>[0], parameters = new Map<string, InferParameter>()): ModelInferRequest_InferInputTensor {
  return { name, datatype: 'INT32', shape, parameters, contents: typed === undefined ? undefined : (contents(typed) as ModelInferRequest_InferInputTensor['contents']) };
}

function request(inputs: ModelInferRequest_InferInputTensor[], raw: Buffer[]): ModelInferRequest {
  return { modelName: 'm', modelVersion: '', id: 'x', parameters: new Map(), inputs, outputs: [], rawInputContents: raw };
}

const four = () => Buffer.alloc(4);
const placed = new Map<string, InferParameter>([['shared_memory_region', { stringParam: 'r' }], ['shared_memory_byte_size', { int64Param: 4n }]]);

describe('gRPC toInferCall', () => {
  test('raw entries go to the inputs in order; dims become numbers; input parameters are plain values', () => {
    const a = four();
    const b = four();
    const call = toInferCall(request([input('A', [1n, 1n]), input('B', [1n])], [a, b]), 0n, 'id');
    assert.deepEqual(call.inputs.map((i) => [i.name, i.shape, i.raw]), [['A', [1, 1], a], ['B', [1], b]]);
  });

  test('an input in shared memory takes no raw entry: the next input gets it', () => {
    const b = four();
    const call = toInferCall(request([input('A', [1n], undefined, placed), input('B', [1n])], [b]), 0n, 'id');
    assert.equal(call.inputs[0]!.raw, undefined);
    assert.deepEqual({ ...call.inputs[0]!.parameters }, { shared_memory_region: 'r', shared_memory_byte_size: 4 });
    assert.equal(call.inputs[1]!.raw, b);
  });

  test('typed contents are handed on when no input is raw', () => {
    const call = toInferCall(request([input('A', [1n], { intContents: [5] })], []), 0n, 'id');
    assert.deepEqual(call.inputs[0]!.contents?.intContents, [5]);
  });

  test('rejects raw data for some inputs and typed contents for others', () => {
    assert.throws(
      () => toInferCall(request([input('A', [1n]), input('B', [1n], { intContents: [1] })], [four()]), 0n, 'id'),
      INVALID(/inputs\[1\] 'B': contents field must not be specified when using raw_input_contents \(other inputs are raw\)/),
    );
  });

  test('rejects fewer raw buffers than inputs, naming the model', () => {
    assert.throws(
      () => toInferCall(request([input('A', [1n]), input('B', [1n])], [four()]), 0n, 'id'),
      INVALID(/inputs\[1\] 'B': unable to find data for input tensor 'B' for model 'm': request has 1 raw_input_contents for 2 inputs/),
    );
  });

  test('rejects more raw buffers than inputs', () => {
    assert.throws(
      () => toInferCall(request([input('A', [1n])], [four(), four()]), 0n, 'id'),
      INVALID(/raw_input_contents\[1\]: request has 2 raw_input_contents but only 1 inputs/),
    );
  });

  test('rejects a raw entry left over once shared-memory inputs took none', () => {
    assert.throws(
      () => toInferCall(request([input('A', [1n], undefined, placed), input('B', [1n])], [four(), four()]), 0n, 'id'),
      INVALID(/'raw_input_contents' has 2 entries but only 1 inputs are not in shared memory/),
    );
  });

  test('rejects a dim beyond 2^53-1', () => {
    assert.throws(() => toInferCall(request([input('X', [2n ** 60n])], [four()]), 0n, 'id'), INVALID(/inputs\[0\] 'X': dimension 1152921504606846976 .* too large/));
  });

  test("a Triton parameter sent as double_param is refused by its oneof, though its value is whole", () => {
    const withTimeout = { ...request([], []), parameters: new Map<string, InferParameter>([['timeout', { doubleParam: 1000 }]]) };
    assert.throws(() => toInferCall(withTimeout, 0n, 'id'), INVALID(/'parameters\.timeout' must be an integer, got double_param 1000/));
  });

  test('an input whose placement lacks its region is refused before raw entries are counted', () => {
    const badPlacement = new Map<string, InferParameter>([['shared_memory_byte_size', { int64Param: 4n }]]);
    assert.throws(() => toInferCall(request([input('A', [1n], undefined, badPlacement)], [four()]), 0n, 'id'), INVALID(/need 'shared_memory_region'/));
  });

  test('rejects an empty model name', () => {
    assert.throws(() => toInferCall({ ...request([], []), modelName: '' }, 0n, 'id'), INVALID(/'model_name' must not be empty/));
  });
});
