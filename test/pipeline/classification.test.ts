import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classify, formatValue } from '../../src/pipeline/classification.js';
import type { Tensor } from '../../src/tensor/index.js';

const text = (tensor: Tensor) => (tensor.data as Uint8Array[]).map((bytes) => new TextDecoder().decode(bytes));

describe('formatValue', () => {
  test('formats floats with six decimals like std::to_string', () => {
    assert.equal(formatValue(Math.fround(0.1), true), '0.100000');
    assert.equal(formatValue(Math.fround(3.3), true), '3.300000');
    assert.equal(formatValue(Math.fround(0.9), true), '0.900000');
    assert.equal(formatValue(-2.5, true), '-2.500000');
  });

  test('breaks exact ties to even as printf does', () => {
    assert.equal(formatValue(1 / 128, true), '0.007812');
    assert.equal(formatValue(3 / 128, true), '0.023438');
    assert.equal(formatValue(-1 / 128, true), '-0.007812');
  });

  test('keeps the sign of zero and prints large values without an exponent', () => {
    assert.equal(formatValue(-0, true), '-0.000000');
    assert.equal(formatValue(1e22, true), '10000000000000000000000.000000');
    assert.equal(formatValue(Number.NaN, true), 'nan');
    assert.equal(formatValue(-Infinity, true), '-inf');
  });

  test('prints integers plainly', () => {
    assert.equal(formatValue(42, false), '42');
    assert.equal(formatValue(-7n, false), '-7');
  });
});

describe('classify', () => {
  const probs: Tensor = { name: 'P', datatype: 'FP32', shape: [4], data: new Float32Array([0.1, 0.9, 0.5, 0.9]) };

  test('returns the top-k as "value:index", highest first, ties in index order', () => {
    const result = classify(probs, 2, undefined, false, 'm');
    assert.equal(result.datatype, 'BYTES');
    assert.deepEqual(result.shape, [2]);
    assert.deepEqual(text(result), ['0.900000:1', '0.900000:3']);
  });

  test('appends the label of the index when there is one', () => {
    assert.deepEqual(text(classify(probs, 3, ['a', 'b', 'c'], false, 'm')), ['0.900000:1:b', '0.900000:3', '0.500000:2:c']);
  });

  test('classifies each batch item separately, shape [batch, k]', () => {
    const batch: Tensor = { name: 'P', datatype: 'INT32', shape: [2, 3], data: new Int32Array([1, 3, 2, 9, 8, 7]) };
    const result = classify(batch, 2, undefined, true, 'm');
    assert.deepEqual(result.shape, [2, 2]);
    assert.deepEqual(text(result), ['3:1', '2:2', '9:0', '8:1']);
  });

  test('k larger than the element count gives every element', () => {
    assert.deepEqual(classify(probs, 10, undefined, false, 'm').shape, [4]);
  });

  test('orders INT64 values exactly', () => {
    const big: Tensor = { name: 'B', datatype: 'INT64', shape: [2], data: new BigInt64Array([2n ** 60n, 2n ** 60n + 1n]) };
    assert.deepEqual(text(classify(big, 1, undefined, false, 'm')), [`${2n ** 60n + 1n}:1`]);
  });

  test('rejects a datatype Triton does not classify', () => {
    const half: Tensor = { name: 'H', datatype: 'FP16', shape: [1], data: new Uint16Array([0]) };
    assert.throws(() => classify(half, 1, undefined, false, 'm'), { code: 'INVALID_ARGUMENT', message: /class result not available.*FP16/ });
  });
});
