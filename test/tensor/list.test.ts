import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fromList, toList, type Tensor } from '../../src/tensor/index.js';
import { internal } from './wire.js';

const t = (datatype: Tensor['datatype'], shape: number[], data: Tensor['data']): Tensor => ({ name: 'x', datatype, shape, data });

describe('toList', () => {
  test('nests by the dims, row-major', () => {
    assert.deepEqual(toList(t('INT32', [2, 3], new Int32Array([1, 2, 3, 4, 5, 6]))), [[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(toList(t('INT32', [3, 1, 2], new Int32Array([1, 2, 3, 4, 5, 6]))), [[[1, 2]], [[3, 4]], [[5, 6]]]);
  });

  test('rank 0 is the scalar itself', () => {
    assert.equal(toList(t('FP64', [], new Float64Array([2.5]))), 2.5);
  });

  test('0 dims give empty lists at their depth', () => {
    assert.deepEqual(toList(t('FP32', [2, 0, 3], new Float32Array(0))), [[], []]);
    assert.deepEqual(toList(t('FP32', [2, 3, 0], new Float32Array(0))), [[[], [], []], [[], [], []]]);
    assert.deepEqual(toList(t('FP32', [0], new Float32Array(0))), []);
  });

  test('BOOL gives booleans', () => {
    assert.deepEqual(toList(t('BOOL', [3], new Uint8Array([1, 0, 1]))), [true, false, true]);
  });

  test('INT64 and UINT64 give exact bigints', () => {
    assert.deepEqual(toList(t('INT64', [2], new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]))), [-(2n ** 63n), 2n ** 63n - 1n]);
    assert.deepEqual(toList(t('UINT64', [1], new BigUint64Array([2n ** 64n - 1n]))), [2n ** 64n - 1n]);
  });

  test('FP16 and BF16 give exact numbers', () => {
    assert.deepEqual(toList(t('FP16', [3], new Uint16Array([0x3c00, 0x0001, 0xfc00]))), [1, 2 ** -24, -Infinity]);
    assert.deepEqual(toList(t('BF16', [2], new Uint16Array([0x3f80, 0xc040]))), [1, -3]);
  });

  test('BYTES gives Buffer views on the same bytes', () => {
    const backing = new Uint8Array([0, 104, 105, 0xff]);
    const list = toList(t('BYTES', [2], [backing.subarray(1, 3), backing.subarray(3)])) as Buffer[];
    assert.ok(Buffer.isBuffer(list[0]));
    assert.equal(list[0]!.buffer, backing.buffer);
    assert.equal(list[0]!.toString(), 'hi');
    assert.deepEqual([...list[1]!], [0xff]);
  });
});

describe('fromList', () => {
  test('takes the shape from the nesting', () => {
    const x = fromList([[1, 2], [3, 4], [5, 6]], 'FP32', 'Y');
    assert.deepEqual(x, { name: 'Y', datatype: 'FP32', shape: [3, 2], data: new Float32Array([1, 2, 3, 4, 5, 6]) });
  });

  test('takes a given shape when the element count agrees', () => {
    assert.deepEqual(fromList([[1, 2], [3, 4]], 'INT8', 'Y', [4]).shape, [4]);
    assert.throws(() => fromList([[1, 2], [3, 4]], 'INT8', 'Y', [5]), internal(/^output 'Y': has 4 elements, shape \[5\] implies 5/));
  });

  test('a scalar has rank 0', () => {
    assert.deepEqual(fromList(7n, 'INT64', 'Y'), { name: 'Y', datatype: 'INT64', shape: [], data: new BigInt64Array([7n]) });
  });

  test('strings become UTF-8 BYTES elements', () => {
    const x = fromList(['é', ''], 'BYTES', 'Y');
    assert.deepEqual((x.data as Uint8Array[]).map((e) => [...e]), [[0xc3, 0xa9], []]);
  });

  test('rejects a ragged list', () => {
    assert.throws(() => fromList([[1, 2], [3]], 'FP32', 'Y'), internal(/output 'Y': ragged nested list: element \[1\] has 1 elements, its siblings have 2/));
    assert.throws(() => fromList([1, [2]], 'FP32', 'Y'), internal(/output 'Y': ragged nested list: element \[1\] is a list/));
    assert.throws(() => fromList([[1], 2], 'FP32', 'Y'), internal(/output 'Y': ragged nested list: element \[1\] is a value/));
    assert.throws(() => fromList([[[1]], [[2, 3]]], 'FP32', 'Y'), internal(/element \[1,0\] has 2 elements/));
  });

  test('rejects values that cannot be the datatype', () => {
    assert.throws(() => fromList([1.5], 'INT32', 'Y'), internal(/output 'Y': element 0 \(1.5\) cannot be INT32/));
    assert.throws(() => fromList([256], 'UINT8', 'Y'), internal(/element 0 \(256\) cannot be UINT8/));
    assert.throws(() => fromList([-1], 'UINT64', 'Y'), internal(/cannot be UINT64/));
    assert.throws(() => fromList([2n ** 63n], 'INT64', 'Y'), internal(/cannot be INT64/));
    assert.throws(() => fromList(['a'], 'FP32', 'Y'), internal(/element 0 \(string "a"\) cannot be FP32/));
    assert.throws(() => fromList([1], 'BYTES', 'Y'), internal(/cannot be BYTES/));
    assert.throws(() => fromList([NaN], 'INT16', 'Y'), internal(/cannot be INT16/));
  });

  test('converts numbers to FP16/BF16 bits, rounding to nearest even', () => {
    assert.deepEqual(fromList([1, 65504, -0], 'FP16', 'Y').data, new Uint16Array([0x3c00, 0x7bff, 0x8000]));
    assert.deepEqual(fromList([1, -2], 'BF16', 'Y').data, new Uint16Array([0x3f80, 0xc000]));
  });

  test('round-trips toList for every shape and exact types', () => {
    const x = t('INT64', [2, 1, 2], new BigInt64Array([1n, -(2n ** 63n), 3n, 2n ** 63n - 1n]));
    assert.deepEqual(fromList(toList(x), 'INT64', 'x'), x);
  });
});
