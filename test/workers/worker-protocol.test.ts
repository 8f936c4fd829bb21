// Packing tensors and errors for the thread boundary, without threads: what moves,
// what is copied (once), and what survives structured clone.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { InferenceError } from '../../src/errors.js';
import type { Tensor } from '../../src/tensor/index.js';
import {
  deserializeError,
  packInputs,
  packTensor,
  serializeError,
  transferPacked,
  unpackTensor,
  type PackedTensor,
} from '../../src/workers/worker-protocol.js';

/** Posts `value` through a real MessagePort with `transfer`, as the pool does. */
function roundTrip<T>(value: T, transfer: Set<ArrayBuffer>): Promise<T> {
  const { port1, port2 } = new MessageChannel();
  return new Promise<T>((resolve) => {
    port2.once('message', (received: T) => {
      port1.close();
      resolve(received);
    });
    port1.postMessage(value, [...transfer]);
  });
}

describe('worker protocol - tensors', () => {
  test('a typed array spanning its whole buffer moves: no copy, the sender is detached', async () => {
    const data = new Float32Array([1, 2, 3]);
    const transfer = new Set<ArrayBuffer>();
    const packed = packTensor({ name: 'x', datatype: 'FP32', shape: [3], data }, transfer);
    assert.equal((packed as { data: Float32Array }).data, data);
    assert.deepEqual([...transfer], [data.buffer]);
    const received = unpackTensor(await roundTrip(packed, transfer));
    assert.equal(data.buffer.byteLength, 0);
    assert.ok(received.data instanceof Float32Array);
    assert.deepEqual([...received.data], [1, 2, 3]);
  });

  test('a view on a larger buffer is copied once into a buffer of exactly its size; the larger one stays', () => {
    const message = new Uint8Array(64);
    const view = new Float32Array(message.buffer, 8, 4);
    view.set([1, 2, 3, 4]);
    const transfer = new Set<ArrayBuffer>();
    const packed = packTensor({ name: 'x', datatype: 'FP32', shape: [4], data: view }, transfer);
    const data = (packed as { data: Float32Array }).data;
    assert.ok(data instanceof Float32Array);
    assert.notEqual(data.buffer, message.buffer);
    assert.equal(data.buffer.byteLength, 16);
    assert.equal(data.byteOffset, 0);
    assert.deepEqual([...data], [1, 2, 3, 4]);
    assert.deepEqual([...transfer], [data.buffer]);
  });

  test("a job's inputs viewing larger buffers are copied into one buffer, aligned; one alone on its buffer moves", async () => {
    const message = new Uint8Array(64);
    const a = new Int32Array(message.buffer, 4, 3);
    a.set([1, 2, 3]);
    const b = new Float64Array(message.buffer, 24, 2);
    b.set([0.5, 1.5]);
    const whole = new Float32Array([7]);
    const transfer = new Set<ArrayBuffer>();
    const packed = packInputs(
      [
        { name: 'a', datatype: 'INT32', shape: [3], data: a },
        { name: 'b', datatype: 'FP64', shape: [2], data: b },
        { name: 'c', datatype: 'FP32', shape: [1], data: whole },
      ],
      transfer,
    );
    assert.equal(packed.moved, true);
    const [pa, pb, pc] = packed.tensors.map((tensor) => (tensor as { data: Int32Array | Float64Array | Float32Array }).data);
    assert.equal(pa?.buffer, pb?.buffer, 'one buffer for both copies');
    assert.notEqual(pa?.buffer, message.buffer);
    assert.equal((pb?.byteOffset ?? 1) % 8, 0);
    assert.equal(pc, whole);
    assert.deepEqual([...transfer], [pa?.buffer, whole.buffer]);
    const received = (await roundTrip(packed.tensors, transfer)).map(unpackTensor);
    assert.deepEqual([...(received[0]?.data as Int32Array)], [1, 2, 3]);
    assert.deepEqual([...(received[1]?.data as Float64Array)], [0.5, 1.5]);
    assert.deepEqual([...(received[2]?.data as Float32Array)], [7]);
    assert.equal(message.byteLength, 64, 'the received message stays with the sender');
  });

  test('inputs that are all views move none of the sender\'s buffers', () => {
    const message = new Uint8Array(32);
    const packed = packInputs([{ name: 'a', datatype: 'UINT8', shape: [4], data: message.subarray(8, 12) }], new Set());
    assert.equal(packed.moved, false);
  });

  test('the copy keeps the datatype: INT64 stays a BigInt64Array', () => {
    const backing = new BigInt64Array(4);
    backing.set([1n, -2n, 3n, 4n]);
    const view = backing.subarray(1, 3);
    const packed = packTensor({ name: 'x', datatype: 'INT64', shape: [2], data: view }, new Set());
    const data = (packed as { data: BigInt64Array }).data;
    assert.ok(data instanceof BigInt64Array);
    assert.deepEqual([...data], [-2n, 3n]);
  });

  test('a Buffer from the shared pool is copied, never transferred', () => {
    const pooled = Buffer.from([1, 2, 3]);
    const transfer = new Set<ArrayBuffer>();
    const packed = packTensor({ name: 'x', datatype: 'UINT8', shape: [3], data: pooled }, transfer);
    assert.ok(!transfer.has(pooled.buffer as ArrayBuffer));
    assert.equal((packed as { data: Uint8Array }).data.buffer.byteLength, 3);
  });

  test('two tensors on the same whole buffer transfer it once and still share it', async () => {
    const data = new Float32Array([5, 6]);
    const transfer = new Set<ArrayBuffer>();
    const a = packTensor({ name: 'a', datatype: 'FP32', shape: [2], data }, transfer);
    const b = packTensor({ name: 'b', datatype: 'FP32', shape: [2], data }, transfer);
    assert.equal(transfer.size, 1);
    const [ra, rb] = (await roundTrip([a, b], transfer)).map(unpackTensor);
    assert.equal(ra?.data, rb?.data);
  });

  test('BYTES elements pack into one buffer plus offsets, and unpack into views on it', async () => {
    const message = new TextEncoder().encode('..hello..||world..');
    const elements = [message.subarray(2, 7), new Uint8Array(0), message.subarray(11, 16)];
    const tensor: Tensor = { name: 's', datatype: 'BYTES', shape: [3], data: elements };
    const transfer = new Set<ArrayBuffer>();
    const packed = packTensor(tensor, transfer);
    assert.ok('bytes' in packed);
    assert.equal(packed.bytes.byteLength, 10);
    assert.deepEqual([...packed.offsets], [0, 5, 5, 10]);
    assert.equal(transfer.size, 2);
    const received = unpackTensor(await roundTrip(packed, transfer));
    const data = received.data as Uint8Array[];
    assert.deepEqual(
      data.map((e) => new TextDecoder().decode(e)),
      ['hello', '', 'world'],
    );
    assert.ok(data.every((e) => e.buffer === data[0]?.buffer));
  });

  test('an array whose buffer already moved is refused, naming the tensor', () => {
    const kept = new Float32Array([1, 2]);
    structuredClone(kept.buffer, { transfer: [kept.buffer] });
    assert.throws(() => packTensor({ name: 'cached', datatype: 'FP32', shape: [0], data: kept }, new Set()), {
      code: 'INTERNAL',
      message: /tensor 'cached' is on a buffer already moved to another thread.*array\.slice\(\)/,
    });
  });

  test('an empty array is not mistaken for a moved one', () => {
    const packed = packTensor({ name: 'empty', datatype: 'FP32', shape: [0], data: new Float32Array(0) }, new Set());
    assert.equal((packed as { data: Float32Array }).data.length, 0);
  });

  test('a packed tensor sent back as it came moves its buffers again', () => {
    const transfer = new Set<ArrayBuffer>();
    const packed: PackedTensor = packTensor({ name: 's', datatype: 'BYTES', shape: [1], data: [new Uint8Array([1])] }, new Set());
    transferPacked(packed, transfer);
    assert.equal(transfer.size, 2);
  });
});

describe('worker protocol - errors', () => {
  test('an InferenceError keeps its code, message and name through structured clone', async () => {
    const original = new InferenceError('FAILED_PRECONDITION', "model 'm' version 1 operation 'infer': not today");
    const received = deserializeError(await roundTrip(serializeError(original), new Set()));
    assert.ok(received instanceof InferenceError);
    assert.equal(received.code, 'FAILED_PRECONDITION');
    assert.equal(received.message, original.message);
    assert.equal(received.name, 'InferenceError');
  });

  test('any other error comes back as a plain Error with its name and message', () => {
    const received = deserializeError(serializeError(new RangeError('too far')));
    assert.ok(!(received instanceof InferenceError));
    assert.equal(received.name, 'RangeError');
    assert.equal(received.message, 'too far');
  });
});
