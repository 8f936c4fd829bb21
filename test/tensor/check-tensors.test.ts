// checkTensors (in-process calls) against decodeInputs (the wire): the same input, bad the
// same way, gets the same message.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkTensors, type IOSpec, type Tensor, type ReceivedInput } from '../../src/tensor/index.js';
import { decodeWithRaw } from './wire.js';

const SPEC: IOSpec = {
  modelName: 'm',
  maxBatchSize: 4,
  inputs: [
    { name: 'A', datatype: 'INT32', dims: [2] },
    { name: 'B', datatype: 'FP32', dims: [-1] },
  ],
  outputs: [],
};

const tensor = (name: string, datatype: Tensor['datatype'], shape: number[], data: Tensor['data']): Tensor => ({ name, datatype, shape, data });

/** The same tensors as a wire request with raw contents. */
function wire(tensors: readonly Tensor[]): { inputs: ReceivedInput[]; raw: Uint8Array[] } {
  return {
    inputs: tensors.map((t) => ({ name: t.name, datatype: t.datatype, shape: [...t.shape] })),
    raw: tensors.map((t) => {
      const data = t.data as Int32Array;
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    }),
  };
}

const A = tensor('A', 'INT32', [1, 2], new Int32Array([1, 2]));
const B = tensor('B', 'FP32', [1, 3], new Float32Array(3));

describe('checkTensors', () => {
  test('hands well-formed tensors back as they are', () => {
    const tensors = [A, B];
    const checked = checkTensors(tensors, SPEC);
    assert.equal(checked, tensors);
    assert.equal(checked[0]!.data, A.data);
  });

  const table: [string, Tensor[]][] = [
    ['an undeclared input', [A, B, tensor('C', 'INT32', [1, 1], new Int32Array(1))]],
    ['a wrong datatype', [tensor('A', 'FP32', [1, 2], new Float32Array(2)), B]],
    ['a wrong shape', [tensor('A', 'INT32', [1, 3], new Int32Array(3)), B]],
    ['a batch too large', [tensor('A', 'INT32', [5, 2], new Int32Array(10)), tensor('B', 'FP32', [5, 1], new Float32Array(5))]],
    ['batch sizes that differ', [A, tensor('B', 'FP32', [2, 1], new Float32Array(2))]],
    ['a missing input', [A]],
    ['a duplicate input', [A, A, B]],
    ['data shorter than the shape', [tensor('A', 'INT32', [1, 2], new Int32Array(1)), B]],
  ];
  for (const [what, tensors] of table) {
    test(`${what}: the wire path's message`, () => {
      const { inputs, raw } = wire(tensors);
      let expected = '';
      assert.throws(() => decodeWithRaw(inputs, raw, SPEC), (err: Error) => ((expected = err.message), true));
      assert.throws(() => checkTensors(tensors, SPEC), { name: 'InferenceError', code: 'INVALID_ARGUMENT', message: expected });
    });
  }

  test('data of another typed array than the datatype is refused', () => {
    assert.throws(() => checkTensors([tensor('A', 'INT32', [1, 2], new Float32Array(2)), B], SPEC), {
      code: 'INVALID_ARGUMENT',
      message: /INT32 data must be Int32Array/,
    });
  });
});
