import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { batchSize, type IOSpec } from '../../src/tensor/index.js';
import { at, decodeWithRaw as decodeInputs, input, invalid, rawOf } from './wire.js';

const SPEC: IOSpec = {
  modelName: 'simple',
  maxBatchSize: 8,
  inputs: [
    { name: 'INPUT0', datatype: 'INT32', dims: [16] },
    { name: 'INPUT1', datatype: 'FP32', dims: [-1, 2] },
  ],
  outputs: [],
};

const i32 = (n: number) => rawOf('INT32', Array.from({ length: n }, (_, k) => k));
const f32 = (n: number) => rawOf('FP32', Array.from({ length: n }, (_, k) => k / 2));

describe('decodeInputs - zero copy', () => {
  test('an aligned raw FP32 input is a view on the received buffer', () => {
    const bytes = at(f32(6), 8);
    const [t] = decodeInputs([input('X', 'FP32', [2, 3])], [bytes], undefined);
    const view = t!.data as Float32Array;
    assert.ok(view instanceof Float32Array);
    assert.equal(view.buffer, bytes.buffer);
    assert.equal(view.byteOffset, 8);
    assert.deepEqual([...view], [0, 0.5, 1, 1.5, 2, 2.5]);
  });

  test('a misaligned raw FP32 input is copied once, with the right values', () => {
    const bytes = at(f32(6), 3);
    const [t] = decodeInputs([input('X', 'FP32', [6])], [bytes], undefined);
    const view = t!.data as Float32Array;
    assert.notEqual(view.buffer, bytes.buffer);
    assert.deepEqual([...view], [0, 0.5, 1, 1.5, 2, 2.5]);
  });

  test('a misaligned Buffer is copied, not viewed (Buffer#slice would alias)', () => {
    const pool = Buffer.alloc(64);
    Buffer.from(rawOf('INT64', [-1n, 2n ** 62n])).copy(pool, 5);
    const bytes = pool.subarray(5, 21);
    const [t] = decodeInputs([input('X', 'INT64', [2])], [bytes], undefined);
    assert.notEqual((t!.data as BigInt64Array).buffer, pool.buffer);
    assert.deepEqual([...(t!.data as BigInt64Array)], [-1n, 2n ** 62n]);
    pool.fill(0);
    assert.deepEqual([...(t!.data as BigInt64Array)], [-1n, 2n ** 62n]);
  });

  test('raw BYTES elements are views on the received buffer', () => {
    const bytes = at(rawOf('BYTES', ['ab', '', 'c']), 1);
    const [t] = decodeInputs([input('S', 'BYTES', [3])], [bytes], undefined);
    const els = t!.data as Uint8Array[];
    assert.equal(els.length, 3);
    for (const el of els) assert.equal(el.buffer, bytes.buffer);
    assert.deepEqual(els.map((e) => Buffer.from(e).toString()), ['ab', '', 'c']);
  });

  test('FP16 and BF16 decode to a Uint16Array of the raw bits', () => {
    const [h, b] = decodeInputs(
      [input('H', 'FP16', [2]), input('B', 'BF16', [2])],
      [rawOf('FP16', [0x3c00, 0x8001]), rawOf('BF16', [0x3f80, 0xff80])],
      undefined,
    );
    assert.deepEqual(h!.data, new Uint16Array([0x3c00, 0x8001]));
    assert.deepEqual(b!.data, new Uint16Array([0x3f80, 0xff80]));
  });

  test('inputs come back in request order with number shapes', () => {
    const ts = decodeInputs([input('B', 'INT32', [1, 16]), input('A', 'FP32', [1, 3, 2])], [i32(16), f32(6)], undefined);
    assert.deepEqual(ts.map((t) => [t.name, t.datatype, t.shape]), [['B', 'INT32', [1, 16]], ['A', 'FP32', [1, 3, 2]]]);
  });

  test('an empty shape is a scalar of one element', () => {
    const [t] = decodeInputs([input('S', 'FP64', [])], [rawOf('FP64', [2.5])], undefined);
    assert.deepEqual(t!.shape, []);
    assert.deepEqual([...(t!.data as Float64Array)], [2.5]);
  });

  test('a 0 dim is an empty tensor whatever the other dims are', () => {
    const [t] = decodeInputs([input('E', 'FP32', [0, 1e9])], [new Uint8Array(0)], undefined);
    assert.equal(t!.data.length, 0);
  });
});

describe('decodeInputs - typed contents', () => {
  test('INT8 from int_contents', () => {
    const [t] = decodeInputs([input('X', 'INT8', [3], { intContents: [-128, 0, 127] })], [], undefined);
    assert.deepEqual(t!.data, new Int8Array([-128, 0, 127]));
  });

  test('UINT16 from uint_contents', () => {
    const [t] = decodeInputs([input('X', 'UINT16', [2], { uintContents: [0, 65535] })], [], undefined);
    assert.deepEqual(t!.data, new Uint16Array([0, 65535]));
  });

  test('BOOL from bool_contents is 0/1 bytes', () => {
    const [t] = decodeInputs([input('X', 'BOOL', [3], { boolContents: [true, false, true] })], [], undefined);
    assert.deepEqual(t!.data, new Uint8Array([1, 0, 1]));
  });

  test('BYTES from bytes_contents keeps the elements as they are', () => {
    const el = [Buffer.from('a'), Buffer.from([0xff, 0])];
    const [t] = decodeInputs([input('X', 'BYTES', [2], { bytesContents: el })], [], undefined);
    assert.equal((t!.data as Uint8Array[])[1], el[1]);
  });

  test('an empty typed tensor decodes with empty contents', () => {
    const [t] = decodeInputs([input('X', 'FP32', [0], {})], [], undefined);
    assert.deepEqual(t!.data, new Float32Array(0));
  });
});

describe('decodeInputs - validation (INVALID_ARGUMENT naming the tensor)', () => {
  const ok = () => [input('INPUT0', 'INT32', [1, 16]), input('INPUT1', 'FP32', [1, 3, 2])];
  const okRaw = () => [i32(16), f32(6)];

  test('accepts a request matching the spec', () => {
    const ts = decodeInputs(ok(), okRaw(), SPEC);
    assert.equal(ts.length, 2);
    assert.equal(batchSize(ts, SPEC), 1);
  });

  test('rejects an unknown datatype', () => {
    assert.throws(() => decodeInputs([input('X', 'FLOAT', [1])], [f32(1)], undefined), invalid(/^inputs\[0\] 'X': .*data-type is 'FLOAT'/));
  });

  test('rejects a datatype that differs from the declared one', () => {
    const inputs = ok();
    inputs[1]!.datatype = 'FP64';
    assert.throws(
      () => decodeInputs(inputs, [i32(16), rawOf('FP64', [1, 2, 3, 4, 5, 6])], SPEC),
      invalid(/^inputs\[1\] 'INPUT1': inference input 'INPUT1' data-type is 'FP64', but model 'simple' expects 'FP32'/),
    );
  });

  test('rejects -1 in a request shape', () => {
    assert.throws(
      () => decodeInputs([input('X', 'FP32', [-1, 2])], [f32(2)], undefined),
      invalid(/inputs\[0\] 'X': All input dimensions should be specified for input 'X'/),
    );
  });

  test('rejects any other negative dim', () => {
    assert.throws(() => decodeInputs([input('X', 'FP32', [2, -3])], [f32(6)], undefined), invalid(/inputs\[0\] 'X': invalid dimension -3/));
  });

  test('rejects a shape implying 10^12 elements before allocating anything', () => {
    const t0 = performance.now();
    assert.throws(
      () => decodeInputs([input('X', 'FP32', [1_000_000, 1_000_000])], [f32(4)], undefined),
      invalid(/inputs\[0\] 'X': input byte size mismatch for input 'X'. Expected 4000000000000, got 16/),
    );
    assert.throws(
      () => decodeInputs([input('X', 'INT64', [1_000_000, 1_000_000])], [], undefined).length,
      invalid(/inputs\[0\] 'X': unable to find data/),
    );
    assert.throws(
      () => decodeInputs([input('X', 'INT64', [1_000_000, 1_000_000], { int64Contents: [1n] })], [], undefined),
      invalid(/inputs\[0\] 'X': input byte size mismatch/),
    );
    assert.throws(
      () => decodeInputs([input('X', 'BYTES', [1_000_000, 1_000_000])], [rawOf('BYTES', ['a'])], undefined),
      invalid(/inputs\[0\] 'X': expected 1000000000000 string elements/),
    );
    assert.ok(performance.now() - t0 < 50);
  });

  test('rejects a shape whose product overflows 2^53', () => {
    assert.throws(
      () => decodeInputs([input('X', 'FP32', [2 ** 30, 2 ** 30, 2 ** 30])], [f32(1)], undefined),
      invalid(/inputs\[0\] 'X': shape \[1073741824,1073741824,1073741824\] implies more than 2\^53-1 elements/),
    );
  });

  test('rejects a shape not matching the declared dims', () => {
    const inputs = ok();
    inputs[0]!.shape = [1, 15];
    assert.throws(
      () => decodeInputs(inputs, [i32(15), f32(6)], SPEC),
      invalid(/^inputs\[0\] 'INPUT0': unexpected shape for input 'INPUT0' for model 'simple'. Expected \[-1,16\], got \[1,15\]/),
    );
  });

  test('rejects a shape of the wrong rank', () => {
    const inputs = ok();
    inputs[1]!.shape = [1, 6];
    assert.throws(() => decodeInputs(inputs, okRaw(), SPEC), invalid(/inputs\[1\] 'INPUT1': unexpected shape .* Expected \[-1,-1,2\], got \[1,6\]/));
  });

  test('-1 in the spec matches any size', () => {
    const inputs = ok();
    inputs[1]!.shape = [1, 7, 2];
    assert.equal(decodeInputs(inputs, [i32(16), f32(14)], SPEC).length, 2);
  });

  test('without batching the shape is the declared dims exactly', () => {
    const spec: IOSpec = { maxBatchSize: 0, inputs: [{ name: 'X', datatype: 'FP32', dims: [2] }], outputs: [] };
    assert.equal(decodeInputs([input('X', 'FP32', [2])], [f32(2)], spec).length, 1);
    assert.throws(() => decodeInputs([input('X', 'FP32', [1, 2])], [f32(2)], spec), invalid(/inputs\[0\] 'X': unexpected shape/));
  });

  test('rejects a batch size above maxBatchSize', () => {
    const inputs = ok();
    inputs[0]!.shape = [9, 16];
    inputs[1]!.shape = [9, 1, 2];
    assert.throws(
      () => decodeInputs(inputs, [i32(144), f32(18)], SPEC),
      invalid(/inputs\[0\] 'INPUT0': inference request batch-size must be <= 8/),
    );
  });

  test('rejects a batch size of 0', () => {
    assert.throws(
      () => decodeInputs([input('INPUT0', 'INT32', [0, 16]), input('INPUT1', 'FP32', [0, 1, 2])], [new Uint8Array(0), new Uint8Array(0)], SPEC),
      invalid(/inputs\[0\] 'INPUT0': inference request batch-size must be <= 8 and >= 1/),
    );
  });

  test('rejects inputs whose batch sizes differ', () => {
    const inputs = ok();
    inputs[1]!.shape = [2, 3, 2];
    assert.throws(
      () => decodeInputs(inputs, [i32(16), f32(12)], SPEC),
      invalid(/inputs\[1\] 'INPUT1': input 'INPUT1' batch size does not match other inputs/),
    );
  });

  test('rejects a scalar input to a batching model', () => {
    const inputs = ok();
    inputs[0]!.shape = [];
    assert.throws(() => decodeInputs(inputs, [i32(1), f32(6)], SPEC), invalid(/inputs\[0\] 'INPUT0': input 'INPUT0' has no shape but model requires batch dimension/));
  });

  test('batchSize is the shared leading dim of a batching model', () => {
    const inputs = ok();
    inputs[0]!.shape = [4, 16];
    inputs[1]!.shape = [4, 1, 2];
    const ts = decodeInputs(inputs, [i32(64), f32(8)], SPEC);
    assert.equal(batchSize(ts, SPEC), 4);
    assert.equal(batchSize(ts, { ...SPEC, maxBatchSize: 0 }), 1);
    assert.equal(batchSize(ts, undefined), 1);
  });

  test('rejects a typed element count that differs from the shape', () => {
    assert.throws(
      () => decodeInputs([input('X', 'INT32', [4], { intContents: [1, 2, 3] })], [], undefined),
      invalid(/^inputs\[0\] 'X': input byte size mismatch for input 'X'. Expected 16, got 12 \(intContents has 3 elements, shape implies 4\)/),
    );
  });

  test('rejects a typed BYTES element count that differs from the shape', () => {
    assert.throws(
      () => decodeInputs([input('X', 'BYTES', [2], { bytesContents: [Buffer.from('a')] })], [], undefined),
      invalid(/inputs\[0\] 'X': expected 2 string elements for inference input 'X', got 1/),
    );
  });

  test('rejects a typed field that does not match the datatype', () => {
    assert.throws(
      () => decodeInputs([input('X', 'INT32', [1], { fp32Contents: [1.5] })], [], undefined),
      invalid(/inputs\[0\] 'X': unexpected explicit tensor data for input tensor 'X' for data type INT32: got fp32Contents, expected intContents/),
    );
  });

  test('rejects typed contents for FP16 and BF16', () => {
    for (const dt of ['FP16', 'BF16']) {
      assert.throws(() => decodeInputs([input('H', dt, [1], { uintContents: [0x3c00] })], [], undefined), invalid(/inputs\[0\] 'H': .*can only be sent in raw_input_contents/));
      assert.throws(() => decodeInputs([input('H', dt, [0], {})], [], undefined), invalid(/inputs\[0\] 'H': .*can only be sent in raw_input_contents/));
    }
  });

  test('rejects out-of-range typed values for INT8, INT16, UINT8 and UINT16', () => {
    const cases: [string, Partial<Record<'intContents' | 'uintContents', number[]>>][] = [
      ['INT8', { intContents: [128] }],
      ['INT8', { intContents: [-129] }],
      ['INT16', { intContents: [32768] }],
      ['UINT8', { uintContents: [256] }],
      ['UINT16', { uintContents: [65536] }],
    ];
    for (const [dt, c] of cases) {
      assert.throws(() => decodeInputs([input('X', dt, [1], c)], [], undefined), invalid(/inputs\[0\] 'X': .* is out of range for/), dt);
    }
  });

  test('rejects a raw byte size that differs from the shape', () => {
    assert.throws(
      () => decodeInputs([input('X', 'FP32', [2, 2])], [f32(3)], undefined),
      invalid(/^inputs\[0\] 'X': input byte size mismatch for input 'X'. Expected 16, got 12$/),
    );
  });

  test('rejects a raw BOOL byte other than 0 or 1', () => {
    assert.throws(() => decodeInputs([input('B', 'BOOL', [3])], [new Uint8Array([0, 1, 2])], undefined), invalid(/inputs\[0\] 'B': BOOL element 2 is byte 2/));
  });

  test('rejects typed contents on an input that also has raw data', () => {
    assert.throws(
      () => decodeInputs([input('X', 'INT32', [1], { intContents: [1] })], [i32(1)], undefined),
      invalid(/inputs\[0\] 'X': contents field must not be specified when using raw_input_contents \(input has both\)/),
    );
  });

  test('rejects an input with no data at all', () => {
    assert.throws(() => decodeInputs([input('A', 'INT32', [1])], [], undefined), invalid(/^inputs\[0\] 'A': unable to find data for input tensor 'A'$/));
  });

  test('rejects a BYTES length prefix cut short', () => {
    const bytes = new Uint8Array([...rawOf('BYTES', ['ab']), 1, 0]);
    assert.throws(
      () => decodeInputs([input('S', 'BYTES', [2])], [bytes], undefined),
      invalid(/inputs\[0\] 'S': incomplete string length indicator for inference input 'S', expecting 4 bytes but only 2 bytes available \(element 1\)/),
    );
  });

  test('rejects a BYTES length running past the buffer', () => {
    const bytes = rawOf('BYTES', ['abcd']).subarray(0, 6);
    assert.throws(
      () => decodeInputs([input('S', 'BYTES', [1])], [bytes], undefined),
      invalid(/inputs\[0\] 'S': incomplete string data for inference input 'S', expecting string of length 4 but only 2 bytes available/),
    );
  });

  test('rejects a BYTES length near 2^32 without overflowing', () => {
    const bytes = new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2]);
    assert.throws(() => decodeInputs([input('S', 'BYTES', [1])], [bytes], undefined), invalid(/expecting string of length 4294967295 but only 2 bytes/));
  });

  test('rejects fewer BYTES elements than the shape implies', () => {
    assert.throws(
      () => decodeInputs([input('S', 'BYTES', [3])], [rawOf('BYTES', ['abcdefgh', 'ijklmn'])], undefined),
      invalid(/inputs\[0\] 'S': expected 3 string elements for inference input 'S', got 2/),
    );
  });

  test('rejects trailing bytes after the BYTES elements', () => {
    assert.throws(
      () => decodeInputs([input('S', 'BYTES', [1])], [rawOf('BYTES', ['a', 'b'])], undefined),
      invalid(/inputs\[0\] 'S': unexpected number of string elements for inference input 'S': expected 1, but 5 bytes remain/),
    );
  });

  test('rejects duplicate input names', () => {
    assert.throws(
      () => decodeInputs([input('A', 'INT32', [1]), input('A', 'INT32', [1])], [i32(1), i32(1)], undefined),
      invalid(/^inputs\[1\] 'A': input 'A' already exists in request/),
    );
  });

  test('rejects duplicate input names among many inputs, naming the later one', () => {
    const names = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'C'];
    assert.throws(
      () => decodeInputs(names.map((n) => input(n, 'INT32', [1])), names.map(() => i32(1)), undefined),
      invalid(/^inputs\[10\] 'C': input 'C' already exists in request/),
    );
  });

  test('rejects a missing declared input, naming it', () => {
    assert.throws(
      () => decodeInputs([input('INPUT0', 'INT32', [1, 16])], [i32(16)], SPEC),
      invalid(/^expected 2 inputs but got 1 inputs for model 'simple'\. Got input\(s\) \['INPUT0'\], but missing required input\(s\) \['INPUT1'\]\. Please provide all required input\(s\)\.$/),
    );
  });

  test('accepts a missing optional input', () => {
    const spec: IOSpec = { ...SPEC, inputs: [SPEC.inputs[0]!, { ...SPEC.inputs[1]!, optional: true }] };
    assert.equal(decodeInputs([input('INPUT0', 'INT32', [1, 16])], [i32(16)], spec).length, 1);
    assert.throws(
      () => decodeInputs([input('INPUT1', 'FP32', [1, 1, 2])], [f32(2)], spec),
      invalid(/^expected number of inputs between 1 and 2 but got 1 inputs for model 'simple'\. Got input\(s\) \['INPUT1'\], but missing required input\(s\) \['INPUT0'\]/),
    );
  });

  test('rejects an input the model does not declare', () => {
    assert.throws(
      () => decodeInputs([...ok(), input('EXTRA', 'INT32', [1, 1])], [...okRaw(), i32(1)], SPEC),
      invalid(/^inputs\[2\] 'EXTRA': unexpected inference input 'EXTRA' for model 'simple'$/),
    );
  });

  test('without a model name the messages still name the tensor', () => {
    const { modelName: _, ...spec } = SPEC;
    const inputs = ok();
    inputs[0]!.datatype = 'INT64';
    assert.throws(() => decodeInputs(inputs, [rawOf('INT64', Array(16).fill(0n)), f32(6)], spec), invalid(/inputs\[0\] 'INPUT0': .* but the model expects 'INT32'/));
  });

  test('without a spec, undeclared names, any shape and any count are accepted', () => {
    const ts = decodeInputs([input('whatever', 'UINT8', [2, 2, 1])], [new Uint8Array(4)], undefined);
    assert.deepEqual(ts[0]!.shape, [2, 2, 1]);
  });
});
