// The ONNX writer: protobuf bytes checked by hand, and models onnxruntime loads and runs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { encodeOnnxModel, onnxElemTypeName } from '../../src/onnx/index.js';
import { ProtoWriter, encodeVarint } from '../../src/onnx/onnx-writer.js';
import { addSubModel } from './onnx-fixtures.js';

describe('encodeVarint', () => {
  test('small values take one byte, 300 takes two (the protobuf documentation example)', () => {
    assert.deepEqual([...encodeVarint(0)], [0]);
    assert.deepEqual([...encodeVarint(127)], [127]);
    assert.deepEqual([...encodeVarint(300)], [0xac, 0x02]);
  });

  test('negative values take ten bytes, as int64 two’s complement', () => {
    assert.deepEqual([...encodeVarint(-1)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  });

  test('int64 extremes are exact as bigints', () => {
    assert.deepEqual([...encodeVarint(2n ** 63n - 1n)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    assert.deepEqual([...encodeVarint(-(2n ** 63n))], [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
  });

  test('a number beyond 2^53 is refused rather than rounded', () => {
    assert.throws(() => encodeVarint(2 ** 60), RangeError);
  });
});

describe('ProtoWriter', () => {
  test('a string field is tag, length, UTF-8 bytes', () => {
    assert.deepEqual([...new ProtoWriter().string(1, 'ab').finish()], [0x0a, 0x02, 0x61, 0x62]);
  });

  test('a nested message is length-delimited', () => {
    const bytes = new ProtoWriter().message(7, (inner) => inner.varint(1, 150)).finish();
    assert.deepEqual([...bytes], [0x3a, 0x03, 0x08, 0x96, 0x01]);
  });

  test('a float is fixed32 little-endian', () => {
    assert.deepEqual([...new ProtoWriter().float(2, 1).finish()], [0x15, 0x00, 0x00, 0x80, 0x3f]);
  });

  test('packed varints share one length-delimited field', () => {
    assert.deepEqual([...new ProtoWriter().packedVarints(8, [1, 300]).finish()], [0x42, 0x03, 0x01, 0xac, 0x02]);
  });
});

describe('encodeOnnxModel', () => {
  test('starts with ir_version 8 and names v2serve as producer', () => {
    const bytes = encodeOnnxModel({ graph: { name: 'g', inputs: [], outputs: [], nodes: [] } });
    assert.deepEqual([...bytes.subarray(0, 2)], [0x08, 0x08]);
    assert.deepEqual([...bytes.subarray(2, 11)], [0x12, 0x07, ...new TextEncoder().encode('v2serve')]);
  });

  test('an initializer whose dims disagree with its data is refused', () => {
    assert.throws(
      () =>
        encodeOnnxModel({
          graph: {
            name: 'g',
            inputs: [],
            outputs: [],
            nodes: [],
            initializers: [{ name: 'w', elemType: 'FLOAT', dims: [2, 2], data: new Float32Array(3) }],
          },
        }),
      /tensor 'w': dims \[2,2\] imply 4 values, got 3/,
    );
  });

  test('a symbolic batch dimension reaches onnxruntime, which runs any batch size', async () => {
    const session = await InferenceSession.create(addSubModel());
    try {
      assert.deepEqual(session.inputMetadata[0], { name: 'a', isTensor: true, type: 'float32', shape: ['batch', 4] });
      for (const rows of [1, 3]) {
        const a = Float32Array.from({ length: rows * 4 }, (_, i) => i);
        const b = Float32Array.from({ length: rows * 4 }, (_, i) => 0.5 * i);
        const out = await session.run({ a: new OrtTensor('float32', a, [rows, 4]), b: new OrtTensor('float32', b, [rows, 4]) });
        assert.deepEqual(out['sum']!.dims, [rows, 4]);
        assert.deepEqual([...(out['sum']!.data as Float32Array)], [...a].map((v, i) => v + b[i]!));
        assert.deepEqual([...(out['difference']!.data as Float32Array)], [...a].map((v, i) => v - b[i]!));
      }
    } finally {
      await session.release();
    }
  });

  test('initializers and int, float and ints attributes run as written (Transpose, Gemm)', async () => {
    // y = 2 · transpose(x) · Wᵀ + bias
    const bytes = encodeOnnxModel({
      graph: {
        name: 'gemm',
        inputs: [{ name: 'x', elemType: 'FLOAT', shape: [2, 3] }],
        outputs: [{ name: 'y', elemType: 'FLOAT', shape: [3, 2] }],
        initializers: [
          { name: 'w', elemType: 'FLOAT', dims: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
          { name: 'bias', elemType: 'FLOAT', dims: [2], data: new Float32Array([10, 20]) },
        ],
        nodes: [
          { opType: 'Transpose', inputs: ['x'], outputs: ['t'], attributes: { perm: { ints: [1, 0] } } },
          {
            opType: 'Gemm',
            inputs: ['t', 'w', 'bias'],
            outputs: ['y'],
            attributes: { alpha: { float: 2 }, beta: { float: 1 }, transB: { int: 1 } },
          },
        ],
      },
    });
    const session = await InferenceSession.create(bytes);
    try {
      const x = new Float32Array([1, 2, 3, 4, 5, 6]); // rows [1,2,3] and [4,5,6]
      const out = await session.run({ x: new OrtTensor('float32', x, [2, 3]) });
      // transpose(x) rows: [1,4] [2,5] [3,6]; row·Wᵀ = [r0 + 2 r1, 3 r0 + 4 r1]
      const expected = [[1, 4], [2, 5], [3, 6]].flatMap(([r0, r1]) => [2 * (r0! + 2 * r1!) + 10, 2 * (3 * r0! + 4 * r1!) + 20]);
      assert.deepEqual([...(out['y']!.data as Float32Array)], expected);
    } finally {
      await session.release();
    }
  });

  test('string, tensor and floats attributes run as written (Pad, Constant)', async () => {
    const bytes = encodeOnnxModel({
      graph: {
        name: 'pad',
        inputs: [{ name: 'x', elemType: 'FLOAT', shape: [3] }],
        outputs: [
          { name: 'padded', elemType: 'FLOAT', shape: [5] },
          { name: 'constant', elemType: 'FLOAT', shape: [2] },
        ],
        nodes: [
          {
            opType: 'Constant',
            inputs: [],
            outputs: ['pads'],
            attributes: { value: { tensor: { elemType: 'INT64', dims: [2], data: new BigInt64Array([1n, 1n]) } } },
          },
          { opType: 'Pad', inputs: ['x', 'pads'], outputs: ['padded'], attributes: { mode: { string: 'edge' } } },
          { opType: 'Constant', inputs: [], outputs: ['constant'], attributes: { value_floats: { floats: [1.5, -2] } } },
        ],
      },
    });
    const session = await InferenceSession.create(bytes);
    try {
      const out = await session.run({ x: new OrtTensor('float32', new Float32Array([7, 8, 9]), [3]) });
      assert.deepEqual([...(out['padded']!.data as Float32Array)], [7, 7, 8, 9, 9]);
      assert.deepEqual([...(out['constant']!.data as Float32Array)], [1.5, -2]);
    } finally {
      await session.release();
    }
  });
});

describe('onnxElemTypeName', () => {
  test('names the element types of onnx.proto and numbers the others', () => {
    assert.equal(onnxElemTypeName(16), 'BFLOAT16');
    assert.equal(onnxElemTypeName(1), 'FLOAT');
    assert.equal(onnxElemTypeName(99), 'type 99');
  });
});
