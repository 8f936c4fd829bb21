import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeOutputs, type Tensor } from '../../src/tensor/index.js';
import { internal, rawOf } from './wire.js';

describe('encodeOutputs', () => {
  test('a numeric tensor is viewed, not copied', () => {
    const backing = new Float32Array(8);
    const data = backing.subarray(2, 6);
    data.set([1, -0, NaN, Infinity]);
    const { outputs, raw } = encodeOutputs([{ name: 'Y', datatype: 'FP32', shape: [2, 2], data }]);
    assert.equal(raw[0]!.buffer, backing.buffer);
    assert.equal(raw[0]!.byteOffset, 8);
    assert.equal(raw[0]!.byteLength, 16);
    assert.deepEqual(outputs, [{ name: 'Y', datatype: 'FP32', shape: [2, 2] }]);
    assert.deepEqual(raw[0], rawOf('FP32', [1, -0, NaN, Infinity]));
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
