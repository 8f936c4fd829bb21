import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeOutputs, type Tensor } from '../../src/tensor/index.js';
import { internal, rawOf } from './wire.js';

describe('encodeOutputs', () => {
  test('a numeric tensor over 64 bytes is viewed, not copied', () => {
    const backing = new Float32Array(40);
    const data = backing.subarray(2, 38);
    data.set([1, -0, NaN, Infinity]);
    const { outputs, raw } = encodeOutputs([{ name: 'Y', datatype: 'FP32', shape: [6, 6], data }]);
    assert.equal(raw[0]!.buffer, backing.buffer);
    assert.equal(raw[0]!.byteOffset, 8);
    assert.equal(raw[0]!.byteLength, 144);
    assert.deepEqual(outputs, [{ name: 'Y', datatype: 'FP32', shape: [6, 6] }]);
    assert.deepEqual(raw[0], rawOf('FP32', [1, -0, NaN, Infinity, ...new Array<number>(32).fill(0)]));
  });

  test('a numeric tensor of 64 bytes or less is copied, whatever its element type', () => {
    const int32 = new Int32Array([1, -2, 3, 2 ** 31 - 1]);
    const int64 = new BigInt64Array([-1n, 2n ** 62n]);
    const fp64 = new Float64Array([0.5, -0, NaN, Infinity, 1e300, -1e-300, 2, 3]);
    const { raw } = encodeOutputs([
      { name: 'A', datatype: 'INT32', shape: [4], data: int32 },
      { name: 'B', datatype: 'INT64', shape: [2], data: int64 },
      { name: 'C', datatype: 'FP64', shape: [8], data: fp64 },
      { name: 'D', datatype: 'UINT8', shape: [0], data: new Uint8Array(0) },
    ]);
    assert.deepEqual(raw[0], rawOf('INT32', [1, -2, 3, 2 ** 31 - 1]));
    assert.deepEqual(raw[1], rawOf('INT64', [-1n, 2n ** 62n]));
    assert.deepEqual(raw[2], rawOf('FP64', [0.5, -0, NaN, Infinity, 1e300, -1e-300, 2, 3]));
    assert.equal(raw[3]!.byteLength, 0);
    int32[0] = 99;
    assert.deepEqual(raw[0], rawOf('INT32', [1, -2, 3, 2 ** 31 - 1]), 'a copy: the model changing its array later changes nothing sent');
  });

  test('one raw entry per tensor, same order, including empty ones', () => {
    const { outputs, raw } = encodeOutputs([
      { name: 'A', datatype: 'INT64', shape: [1], data: new BigInt64Array([-(2n ** 63n)]) },
      { name: 'B', datatype: 'UINT8', shape: [0, 4], data: new Uint8Array(0) },
      { name: 'C', datatype: 'BYTES', shape: [0], data: [] },
    ]);
    assert.deepEqual(outputs.map((o) => o.name), ['A', 'B', 'C']);
    assert.deepEqual(raw.map((r) => r.byteLength), [8, 0, 0]);
  });

  test('BYTES elements are serialized with LE length prefixes into one buffer', () => {
    const els = [Buffer.from(''), Buffer.from('he\0llo'), new Uint8Array([0xff, 0xfe]), Buffer.alloc(300, 7)];
    const { raw } = encodeOutputs([{ name: 'S', datatype: 'BYTES', shape: [2, 2], data: els }]);
    assert.deepEqual(new Uint8Array(raw[0]!), rawOf('BYTES', els));
  });

  test('a scalar keeps its empty shape', () => {
    const { outputs } = encodeOutputs([{ name: 'S', datatype: 'FP64', shape: [], data: new Float64Array([1]) }]);
    assert.deepEqual(outputs[0]!.shape, []);
  });

  test('rejects data whose length does not match the shape (INTERNAL)', () => {
    const t: Tensor = { name: 'Y', datatype: 'FP32', shape: [3], data: new Float32Array(2) };
    assert.throws(() => encodeOutputs([t]), internal(/^output 'Y': has 2 elements, shape \[3\] implies 3/));
  });

  test('rejects data of the wrong typed array for the datatype (INTERNAL)', () => {
    const t: Tensor = { name: 'Y', datatype: 'FP32', shape: [2], data: new Float64Array(2) };
    assert.throws(() => encodeOutputs([t]), internal(/output 'Y': FP32 data must be a Float32Array/));
  });

  test('rejects BYTES data that is not Uint8Arrays (INTERNAL)', () => {
    const t = { name: 'S', datatype: 'BYTES', shape: [1], data: ['x'] } as unknown as Tensor;
    assert.throws(() => encodeOutputs([t]), internal(/output 'S': BYTES element 0 is not a Uint8Array/));
  });
});
