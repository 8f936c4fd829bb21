import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { concatBatch, splitBatch, type Tensor } from '../../src/tensor/index.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

function int32(name: string, rows: number, cols: number, first: number): Tensor {
  return { name, datatype: 'INT32', shape: [rows, cols], data: Int32Array.from({ length: rows * cols }, (_, i) => first + i) };
}

function bytes(name: string, values: string[][]): Tensor {
  return { name, datatype: 'BYTES', shape: [values.length, values[0]?.length ?? 0], data: values.flat().map((v) => enc.encode(v)) };
}

describe('concatBatch', () => {
  test('stacks numeric tensors along dim 0 in order', () => {
    const t = concatBatch([int32('X', 1, 3, 0), int32('X', 2, 3, 100)]);
    assert.deepEqual(t.shape, [3, 3]);
    assert.deepEqual([...(t.data as Int32Array)], [0, 1, 2, 100, 101, 102, 103, 104, 105]);
  });

  test('copies into one new buffer that the result spans alone', () => {
    // Parts that are views at odd offsets into one receive buffer, as decoded protobuf bytes are.
    const receive = new ArrayBuffer(64);
    const a: Tensor = { name: 'X', datatype: 'FP32', shape: [1, 2], data: new Float32Array(receive, 8, 2).fill(1.5) };
    const b: Tensor = { name: 'X', datatype: 'FP32', shape: [1, 2], data: new Float32Array(receive, 32, 2).fill(-2) };
    const t = concatBatch([a, b]);
    const data = t.data as Float32Array;
    assert.notEqual(data.buffer, receive);
    assert.equal(data.byteOffset, 0);
    assert.equal(data.byteLength, (data.buffer as ArrayBuffer).byteLength);
    assert.deepEqual([...data], [1.5, 1.5, -2, -2]);
  });

  test('a single tensor is returned as is, no copy', () => {
    const only = int32('X', 2, 2, 7);
    assert.equal(concatBatch([only]), only);
  });

  test('keeps INT64 values exact', () => {
    const big = (v: bigint): Tensor => ({ name: 'X', datatype: 'INT64', shape: [1], data: BigInt64Array.of(v) });
    const t = concatBatch([big(2n ** 62n), big(-5n)]);
    assert.deepEqual([...(t.data as BigInt64Array)], [2n ** 62n, -5n]);
  });

  test('BYTES: one element array, whose entries are the same views (no byte copies)', () => {
    const a = bytes('S', [['a', 'bb']]);
    const b = bytes('S', [['ccc', ''], ['d', 'e']]);
    const t = concatBatch([a, b]);
    assert.deepEqual(t.shape, [3, 2]);
    const data = t.data as readonly Uint8Array[];
    assert.deepEqual(data.map((e) => dec.decode(e)), ['a', 'bb', 'ccc', '', 'd', 'e']);
    assert.equal(data[0], (a.data as readonly Uint8Array[])[0]);
  });

  test('a part with 0 rows contributes nothing', () => {
    const t = concatBatch([int32('X', 0, 3, 0), int32('X', 1, 3, 9)]);
    assert.deepEqual(t.shape, [1, 3]);
    assert.deepEqual([...(t.data as Int32Array)], [9, 10, 11]);
  });

  test('rejects parts whose row shapes differ, naming the tensor', () => {
    assert.throws(() => concatBatch([int32('X', 1, 3, 0), int32('X', 1, 4, 0)]), {
      name: 'InferenceError',
      code: 'INTERNAL',
      message: /cannot concatenate tensor 'X' INT32 \[1,4\]/,
    });
  });

  test('rejects parts of different datatypes', () => {
    const f: Tensor = { name: 'X', datatype: 'FP32', shape: [1, 3], data: new Float32Array(3) };
    assert.throws(() => concatBatch([int32('X', 1, 3, 0), f]), { code: 'INTERNAL' });
  });
});

describe('splitBatch', () => {
  test('numeric pieces are views on the batched buffer, with their own rows', () => {
    const whole = int32('Y', 4, 2, 0);
    const [a, b, c] = splitBatch(whole, [1, 2, 1]) as [Tensor, Tensor, Tensor];
    assert.deepEqual([a.shape, b.shape, c.shape], [[1, 2], [2, 2], [1, 2]]);
    assert.deepEqual([...(a.data as Int32Array)], [0, 1]);
    assert.deepEqual([...(b.data as Int32Array)], [2, 3, 4, 5]);
    assert.deepEqual([...(c.data as Int32Array)], [6, 7]);
    for (const piece of [a, b, c]) assert.equal((piece.data as Int32Array).buffer, (whole.data as Int32Array).buffer);
  });

  test('respects the byteOffset of a tensor that is itself a view', () => {
    const backing = new Float64Array(10).map((_, i) => i);
    const whole: Tensor = { name: 'Y', datatype: 'FP64', shape: [3, 2], data: backing.subarray(3, 9) };
    const pieces = splitBatch(whole, [2, 1]);
    assert.deepEqual([...(pieces[0]!.data as Float64Array)], [3, 4, 5, 6]);
    assert.deepEqual([...(pieces[1]!.data as Float64Array)], [7, 8]);
  });

  test('BYTES pieces are slices of the element array', () => {
    const whole = bytes('S', [['r0'], ['r1'], ['r2']]);
    const pieces = splitBatch(whole, [2, 1]);
    assert.deepEqual(pieces.map((p) => p.shape), [[2, 1], [1, 1]]);
    assert.deepEqual((pieces[0]!.data as readonly Uint8Array[]).map((e) => dec.decode(e)), ['r0', 'r1']);
    assert.equal((pieces[1]!.data as readonly Uint8Array[])[0], (whole.data as readonly Uint8Array[])[2]);
  });

  test('a request with 0 rows gets an empty piece of shape [0, ...]', () => {
    const pieces = splitBatch(int32('Y', 2, 3, 0), [1, 0, 1]);
    assert.deepEqual(pieces.map((p) => p.shape), [[1, 3], [0, 3], [1, 3]]);
    assert.equal((pieces[1]!.data as Int32Array).length, 0);
    assert.deepEqual([...(pieces[2]!.data as Int32Array)], [3, 4, 5]);
  });

  test('concat then split gives every part back', () => {
    const parts = [int32('X', 1, 4, 0), int32('X', 3, 4, 50), int32('X', 2, 4, -9)];
    const pieces = splitBatch(concatBatch(parts), parts.map((p) => p.shape[0] as number));
    assert.deepEqual(pieces.map((p) => [...(p.data as Int32Array)]), parts.map((p) => [...(p.data as Int32Array)]));
  });

  test('rows that do not add up to the batch dim fail INTERNAL naming the output', () => {
    assert.throws(() => splitBatch(int32('Y', 3, 1, 0), [1, 1]), {
      name: 'InferenceError',
      code: 'INTERNAL',
      message: /output 'Y' has shape \[3,1\], expected a batch dimension of 2/,
    });
  });

  test('a tensor without a batch dim fails INTERNAL', () => {
    const scalar: Tensor = { name: 'Y', datatype: 'FP32', shape: [], data: new Float32Array(1) };
    assert.throws(() => splitBatch(scalar, [1]), { code: 'INTERNAL' });
  });
});
