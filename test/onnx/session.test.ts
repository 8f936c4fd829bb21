// OnnxSession: v2serve tensors in and out of onnxruntime, value by value, and its errors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { OnnxSession, encodeOnnxModel, readOnnxSignature, type OnnxElemType, type OnnxTensorInfo } from '../../src/onnx/index.js';
import { checkFeeds, runError, toOrtTensor } from '../../src/onnx/session.js';
import { InferenceError } from '../../src/errors.js';
import type { Datatype, Tensor, TensorData } from '../../src/tensor/index.js';
import { addSubModel, identityModel, scratchDir, writeModel } from './onnx-fixtures.js';

const utf8 = new TextEncoder();

/** Per datatype: the ONNX element type and values at the edges of its range. */
const IDENTITY_CASES: [Datatype, OnnxElemType, TensorData][] = [
  ['BOOL', 'BOOL', new Uint8Array([0, 1, 1, 0])],
  ['UINT8', 'UINT8', new Uint8Array([0, 255, 7])],
  ['UINT16', 'UINT16', new Uint16Array([0, 65535, 1234])],
  ['UINT32', 'UINT32', new Uint32Array([0, 4294967295, 1])],
  ['UINT64', 'UINT64', new BigUint64Array([0n, 2n ** 64n - 1n, 2n ** 53n + 1n])],
  ['INT8', 'INT8', new Int8Array([-128, 127, 0])],
  ['INT16', 'INT16', new Int16Array([-32768, 32767, -1])],
  ['INT32', 'INT32', new Int32Array([-2147483648, 2147483647, 0])],
  ['INT64', 'INT64', new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 2n ** 53n + 1n])],
  // 1, -2, +inf, a NaN with payload, the smallest subnormal, -0: raw bits, untouched.
  ['FP16', 'FLOAT16', new Uint16Array([0x3c00, 0xc000, 0x7c00, 0x7e01, 0x0001, 0x8000])],
  ['FP32', 'FLOAT', new Float32Array([1.5, -0, Infinity, 3.4028234663852886e38, 1e-45, NaN])],
  ['FP64', 'DOUBLE', new Float64Array([Math.PI, -Number.MAX_VALUE, 5e-324, -Infinity])],
  ['BYTES', 'STRING', ['', 'hello', 'ünïcödé ✓ 🚀', 'tab\tnew\nline'].map((text) => utf8.encode(text))],
];

function tensor(name: string, datatype: Datatype, shape: readonly number[], data: TensorData): Tensor {
  return { name, datatype, shape, data };
}

let scratch: ReturnType<typeof scratchDir>;
before(() => {
  scratch = scratchDir();
});
after(() => scratch.cleanup());

async function open(bytes: Uint8Array, file = 'model.onnx'): Promise<OnnxSession> {
  return OnnxSession.open(writeModel(join(scratch.dir, String(Math.random()).slice(2)), bytes, file), {});
}

describe('OnnxSession - identity models', () => {
  for (const [datatype, elemType, data] of IDENTITY_CASES) {
    test(`${datatype} goes through ${elemType} unchanged, value by value`, async () => {
      const session = await open(identityModel(elemType));
      try {
        assert.deepEqual(session.signature.inputs, [
          { name: 'x', datatype, ortType: session.signature.inputs[0]!.ortType, shape: ['n'] },
        ]);
        const out = await session.run({ x: tensor('x', datatype, [data.length], data) });
        const y = out['y']!;
        assert.equal(y.name, 'y');
        assert.equal(y.datatype, datatype);
        assert.deepEqual(y.shape, [data.length]);
        assert.equal(y.data.constructor, data.constructor);
        if (datatype === 'BYTES') {
          assert.deepEqual((y.data as Uint8Array[]).map((element) => [...element]), (data as Uint8Array[]).map((element) => [...element]));
        } else {
          // Object.is per element: -0 and NaN must survive too.
          const got = [...(y.data as Iterable<number | bigint>)];
          const want = [...(data as Iterable<number | bigint>)];
          assert.equal(got.length, want.length);
          want.forEach((value, i) => assert.ok(Object.is(got[i], value), `element ${i}: ${String(got[i])} ≠ ${String(value)}`));
        }
      } finally {
        await session.release();
      }
    });
  }

  test('a multi-dimensional shape comes back as it went in', async () => {
    const session = await open(identityModel('INT32', ['rows', 'cols']));
    try {
      const out = await session.run({ x: tensor('x', 'INT32', [2, 3], new Int32Array([1, 2, 3, 4, 5, 6])) });
      assert.deepEqual(out['y']!.shape, [2, 3]);
      assert.deepEqual([...(out['y']!.data as Int32Array)], [1, 2, 3, 4, 5, 6]);
    } finally {
      await session.release();
    }
  });
});

describe('OnnxSession - open', () => {
  test('a BF16 input or output fails INVALID_ARGUMENT naming each tensor', async () => {
    await assert.rejects(open(identityModel('BFLOAT16'), 'half.onnx'), {
      name: 'InferenceError',
      code: 'INVALID_ARGUMENT',
      message: "half.onnx: input 'x', output 'y' have ONNX type BFLOAT16, which onnxruntime-node cannot feed or read",
    });
  });

  test('a file that is not a model fails INVALID_ARGUMENT naming the file', async () => {
    await assert.rejects(open(utf8.encode('not a model'), 'broken.onnx'), {
      code: 'INVALID_ARGUMENT',
      message: /^onnxruntime cannot open broken.onnx: /,
    });
  });

  test('a missing file fails INVALID_ARGUMENT naming it', async () => {
    await assert.rejects(OnnxSession.open(join(scratch.dir, 'absent.onnx'), {}), {
      code: 'INVALID_ARGUMENT',
      message: /^onnxruntime cannot open absent.onnx: /,
    });
  });
});

describe('OnnxSession - run', () => {
  let session: OnnxSession;
  before(async () => {
    session = await open(addSubModel());
  });
  after(() => session.release());

  const a = tensor('a', 'FP32', [2, 4], new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]));
  const b = tensor('b', 'FP32', [2, 4], new Float32Array([8, 7, 6, 5, 4, 3, 2, 1]));

  test('returns every output by name when none are asked for', async () => {
    const out = await session.run({ a, b });
    assert.deepEqual(Object.keys(out), ['sum', 'difference']);
    assert.deepEqual([...(out['sum']!.data as Float32Array)], [9, 9, 9, 9, 9, 9, 9, 9]);
    assert.deepEqual([...(out['difference']!.data as Float32Array)], [-7, -5, -3, -1, 1, 3, 5, 7]);
  });

  test('returns only the outputs asked for', async () => {
    assert.deepEqual(Object.keys(await session.run({ a, b }, ['difference'])), ['difference']);
  });

  test('an output the model lacks is INVALID_ARGUMENT listing its outputs', async () => {
    await assert.rejects(session.run({ a, b }, ['product']), {
      code: 'INVALID_ARGUMENT',
      message: "unexpected output 'product'; the model's outputs are 'sum', 'difference'",
    });
  });

  test('a request with the wrong datatype is INVALID_ARGUMENT naming the tensor', async () => {
    await assert.rejects(session.run({ a, b: tensor('b', 'INT32', [2, 4], new Int32Array(8)) }), {
      code: 'INVALID_ARGUMENT',
      message: "input 'b' has datatype INT32, the model expects FP32",
    });
  });

  test('an aborted signal stops the run before it starts', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(session.run({ a, b }, undefined, controller.signal), { code: 'CANCELLED' });
  });

  test('concurrent runs on one session each get their own answer', async () => {
    const runs = Array.from({ length: 8 }, (_, k) =>
      session.run({ a: tensor('a', 'FP32', [1, 4], new Float32Array(4).fill(k)), b: tensor('b', 'FP32', [1, 4], new Float32Array(4).fill(1)) }),
    );
    const results = await Promise.all(runs);
    results.forEach((out, k) => assert.deepEqual([...(out['sum']!.data as Float32Array)], [k + 1, k + 1, k + 1, k + 1]));
  });

  test('a failure inside the graph is INTERNAL with onnxruntime’s message', async () => {
    const reshape = await open(
      encodeOnnxModel({
        graph: {
          name: 'reshape',
          inputs: [
            { name: 'x', elemType: 'FLOAT', shape: ['n'] },
            { name: 'shape', elemType: 'INT64', shape: [2] },
          ],
          outputs: [{ name: 'y', elemType: 'FLOAT', shape: ['r', 'c'] }],
          nodes: [{ opType: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'] }],
        },
      }),
    );
    try {
      await assert.rejects(
        reshape.run({ x: tensor('x', 'FP32', [5], new Float32Array(5)), shape: tensor('shape', 'INT64', [2], new BigInt64Array([2n, 2n])) }),
        { code: 'INTERNAL', message: /^onnxruntime failed: .*Reshape/ },
      );
    } finally {
      await reshape.release();
    }
  });

  // What decides where ONNX models run: if a release of onnxruntime-node computes off the
  // calling thread, this test fails and main-thread instances become an option.
  test('onnxruntime-node computes on the calling thread: timers wait until the run ends', async () => {
    const size = 640;
    const matmul = await OnnxSession.open(
      writeModel(
        join(scratch.dir, 'matmul'),
        encodeOnnxModel({
          graph: {
            name: 'matmul',
            inputs: [{ name: 'x', elemType: 'FLOAT', shape: [size, size] }],
            outputs: [{ name: 'y', elemType: 'FLOAT', shape: [size, size] }],
            nodes: [
              { opType: 'MatMul', inputs: ['x', 'x'], outputs: ['x2'] },
              { opType: 'MatMul', inputs: ['x2', 'x'], outputs: ['x3'] },
              { opType: 'MatMul', inputs: ['x3', 'x'], outputs: ['y'] },
            ],
          },
        }),
      ),
      { intraOpNumThreads: 1 },
    );
    try {
      const x = tensor('x', 'FP32', [size, size], new Float32Array(size * size).fill(0.001));
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 1);
      const started = performance.now();
      await matmul.run({ x });
      const elapsed = performance.now() - started;
      clearInterval(ticker);
      assert.ok(elapsed > 10, `the run should take a while, took ${elapsed.toFixed(1)} ms`);
      assert.ok(ticks <= 2, `a 1 ms interval ticked ${ticks} times during a ${elapsed.toFixed(1)} ms run`);
    } finally {
      await matmul.release();
    }
  });
});

describe('toOrtTensor', () => {
  test('wraps numeric data without copying it', () => {
    const data = new Float32Array([1, 2]);
    assert.equal(toOrtTensor(tensor('x', 'FP32', [2], data)).data, data);
  });

  test('BYTES that are not UTF-8 are INVALID_ARGUMENT naming tensor and element', () => {
    assert.throws(() => toOrtTensor(tensor('s', 'BYTES', [2], [utf8.encode('ok'), new Uint8Array([0xff, 0xfe])])), {
      code: 'INVALID_ARGUMENT',
      message: "input 's' element 1 is not valid UTF-8, which onnxruntime-node needs for STRING tensors",
    });
  });

  test('BYTES with a NUL byte are INVALID_ARGUMENT naming tensor and element, since onnxruntime-node would cut them there', () => {
    assert.throws(() => toOrtTensor(tensor('s', 'BYTES', [2], [utf8.encode('ok'), utf8.encode('zero\0byte')])), {
      code: 'INVALID_ARGUMENT',
      message: "input 's' element 1 contains a NUL byte, which onnxruntime-node's STRING tensors cannot hold (it cuts the string there)",
    });
  });

  test('a hook that hands over the wrong array is INTERNAL naming the tensor', () => {
    assert.throws(() => toOrtTensor(tensor('x', 'FP32', [2], new Float64Array(2))), {
      code: 'INTERNAL',
      message: "input 'x' (FP32) carries a Float64Array, onnxruntime needs a Float32Array for float32",
    });
  });
});

describe('checkFeeds', () => {
  const inputs: OnnxTensorInfo[] = [
    { name: 'a', datatype: 'FP32', ortType: 'float32', shape: ['batch', 4] },
    { name: 'b', datatype: 'FP32', ortType: 'float32', shape: ['batch', ''] },
  ];
  const fp32 = (name: string, shape: number[]): Tensor => tensor(name, 'FP32', shape, new Float32Array(shape.reduce((p, d) => p * d, 1)));

  test('accepts tensors that fit, with any size for open dimensions', () => {
    assert.doesNotThrow(() => checkFeeds(inputs, { a: fp32('a', [3, 4]), b: fp32('b', [3, 7]) }));
  });

  const table: [string, Record<string, Tensor>, string][] = [
    ['an input the model lacks', { a: fp32('a', [1, 4]), b: fp32('b', [1, 4]), z: fp32('z', [1]) }, "unexpected input 'z'; the model's inputs are 'a', 'b'"],
    ['a missing input', { a: fp32('a', [1, 4]) }, "input 'b' is missing; the model's inputs are 'a', 'b'"],
    ['the wrong rank', { a: fp32('a', [4]), b: fp32('b', [1, 4]) }, "input 'a' has shape [4], the model expects [batch,4]"],
    ['a fixed dimension of another size', { a: fp32('a', [1, 3]), b: fp32('b', [1, 4]) }, "input 'a' has shape [1,3], the model expects [batch,4]"],
    [
      'a symbolic dimension that differs between inputs',
      { a: fp32('a', [2, 4]), b: fp32('b', [3, 4]) },
      "input 'b' has shape [3,4]: dimension 'batch' is 3 there but 2 in input 'a'",
    ],
  ];
  for (const [what, tensors, message] of table) {
    test(`${what} is INVALID_ARGUMENT naming the tensor`, () => {
      assert.throws(() => checkFeeds(inputs, tensors), { name: 'InferenceError', code: 'INVALID_ARGUMENT', message });
    });
  }
});

describe('runError', () => {
  // Messages onnxruntime-node 1.30 gives (see /work/shared/ONNX.md and the session tests).
  const clientMistakes = [
    "input 'b' is missing in 'feeds'.",
    'Invalid rank for input: a Got: 1 Expected: 2 Please fix either the inputs/outputs or the model.',
    'Got invalid dimensions for input: b for the following indices\n index: 1 Got: 3 Expected: 4',
    'Unexpected input data type. Actual: (tensor(int32)) , expected: (tensor(float))',
    "'fetches' contains invalid output name: nope.",
  ];
  for (const message of clientMistakes) {
    test(`INVALID_ARGUMENT: ${message.split('\n')[0]!.slice(0, 40)}…`, () => {
      const mapped = runError(new Error(message));
      assert.equal(mapped.code, 'INVALID_ARGUMENT');
      assert.equal(mapped.message, message);
    });
  }

  test('any other failure is INTERNAL', () => {
    const mapped = runError(new Error("Non-zero status code returned while running Add node. Name:''"));
    assert.equal(mapped.code, 'INTERNAL');
    assert.match(mapped.message, /^onnxruntime failed: Non-zero status code/);
  });

  test('an InferenceError keeps its code', () => {
    const original = new InferenceError('CANCELLED', 'gone');
    assert.equal(runError(original), original);
  });
});

describe('readOnnxSignature', () => {
  test('reads inputs and outputs, symbolic dimensions by name, and closes the session', async () => {
    const path = writeModel(join(scratch.dir, 'signature'), addSubModel());
    const signature = await readOnnxSignature(path);
    assert.deepEqual(signature, {
      inputs: [
        { name: 'a', datatype: 'FP32', ortType: 'float32', shape: ['batch', 4] },
        { name: 'b', datatype: 'FP32', ortType: 'float32', shape: ['batch', 4] },
      ],
      outputs: [
        { name: 'sum', datatype: 'FP32', ortType: 'float32', shape: ['batch', 4] },
        { name: 'difference', datatype: 'FP32', ortType: 'float32', shape: ['batch', 4] },
      ],
    });
  });
});
