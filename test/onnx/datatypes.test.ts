// The type table: v2 datatype ⇄ onnxruntime type ⇄ ONNX element type ⇄ JS array.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ONNX_TYPES, onnxTypeOfDatatype, onnxTypeOfOrt } from '../../src/onnx/index.js';
import { DATATYPES, TYPED_ARRAY } from '../../src/tensor/index.js';

describe('ONNX_TYPES', () => {
  test('pairs each v2 datatype but BF16 with the onnxruntime type ONNX.md lists', () => {
    const pairs = Object.fromEntries(ONNX_TYPES.map((entry) => [entry.datatype, entry.ort]));
    assert.deepEqual(pairs, {
      BOOL: 'bool',
      UINT8: 'uint8',
      UINT16: 'uint16',
      UINT32: 'uint32',
      UINT64: 'uint64',
      INT8: 'int8',
      INT16: 'int16',
      INT32: 'int32',
      INT64: 'int64',
      FP16: 'float16',
      FP32: 'float32',
      FP64: 'float64',
      BYTES: 'string',
    });
    assert.deepEqual(
      DATATYPES.filter((datatype) => !(datatype in pairs)),
      ['BF16'],
    );
  });

  test('names the ONNX element type of each', () => {
    const onnx = Object.fromEntries(ONNX_TYPES.map((entry) => [entry.datatype, entry.onnx]));
    assert.equal(onnx['FP32'], 'FLOAT');
    assert.equal(onnx['FP64'], 'DOUBLE');
    assert.equal(onnx['FP16'], 'FLOAT16');
    assert.equal(onnx['BYTES'], 'STRING');
    assert.equal(onnx['INT64'], 'INT64');
  });

  test('numeric types use the typed array the tensor codec decodes to, so feeding needs no copy', () => {
    for (const entry of ONNX_TYPES) {
      if (entry.datatype === 'BYTES') assert.equal(entry.array, Array);
      else assert.equal(entry.array, TYPED_ARRAY[entry.datatype]);
    }
  });

  test('each onnxruntime type appears once, so the reverse lookup is unambiguous', () => {
    assert.equal(new Set(ONNX_TYPES.map((entry) => entry.ort)).size, ONNX_TYPES.length);
  });
});

describe('onnxTypeOfDatatype', () => {
  test('finds the entry of a supported datatype', () => {
    assert.equal(onnxTypeOfDatatype('INT64', "input 'x'").ort, 'int64');
  });

  test('BF16 is INVALID_ARGUMENT naming the tensor', () => {
    assert.throws(() => onnxTypeOfDatatype('BF16', "input 'half'"), {
      name: 'InferenceError',
      code: 'INVALID_ARGUMENT',
      message: /^input 'half' has datatype BF16, which onnxruntime-node cannot feed or read/,
    });
  });
});

describe('onnxTypeOfOrt', () => {
  test('maps onnxruntime types back to v2 datatypes', () => {
    assert.equal(onnxTypeOfOrt('string', "output 'y'").datatype, 'BYTES');
    assert.equal(onnxTypeOfOrt('bool', "output 'y'").datatype, 'BOOL');
  });

  test('a type without a v2 datatype (int4) is INVALID_ARGUMENT naming the tensor', () => {
    assert.throws(() => onnxTypeOfOrt('int4', "output 'packed'"), {
      code: 'INVALID_ARGUMENT',
      message: /^output 'packed' has ONNX type int4/,
    });
  });
});
