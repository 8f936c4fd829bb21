import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { toOutputTensors, type IOSpec, type OutputValue, type Tensor } from '../../src/tensor/index.js';
import { internal } from './wire.js';

const one = (v: OutputValue, spec?: IOSpec): Tensor => toOutputTensors([v], spec)[0]!;

describe('toOutputTensors - form and names', () => {
  const spec: IOSpec = {
    maxBatchSize: 0,
    inputs: [],
    outputs: [
      { name: 'OUT0', datatype: 'INT32', dims: [2] },
      { name: 'OUT1', datatype: 'FP32', dims: [2] },
    ],
  };

  test('list form maps entry i to declared output i', () => {
    const ts = toOutputTensors([[1, 2], [3, 4]], spec);
    assert.deepEqual(ts.map((x) => [x.name, x.datatype]), [['OUT0', 'INT32'], ['OUT1', 'FP32']]);
  });

  test('list form without declared outputs names them OUTPUT0, OUTPUT1, ...', () => {
    assert.deepEqual(toOutputTensors([[1], [2], [3]], undefined).map((x) => x.name), ['OUTPUT0', 'OUTPUT1', 'OUTPUT2']);
  });

  test('list form with the wrong count fails INTERNAL', () => {
    assert.throws(() => toOutputTensors([[1, 2]], spec), internal(/^output 'OUT1': predict\(\) returned 1 outputs in list form, the model declares 2 \(OUT0, OUT1\)/));
  });

  test('named form keeps the object order and may be a subset', () => {
    const ts = toOutputTensors({ OUT1: [1, 2] }, spec);
    assert.deepEqual(ts.map((x) => [x.name, x.datatype]), [['OUT1', 'FP32']]);
  });

  test('named form rejects an undeclared name', () => {
    assert.throws(() => toOutputTensors({ OUTX: [1, 2] }, spec), internal(/^output 'OUTX': unexpected output; the model declares 'OUT0', 'OUT1'/));
  });

  test('named form without declared outputs takes any name', () => {
    assert.equal(toOutputTensors({ anything: [1] }, undefined)[0]!.name, 'anything');
  });

  test('rejects an object value without data', () => {
    assert.throws(() => toOutputTensors({ X: { values: [1] } as never }, undefined), internal(/output 'X': is an object without `data`/));
  });
});

describe('toOutputTensors - inference without a declaration', () => {
  const cases: [string, Parameters<typeof one>[0], string, number[]][] = [
    ['Float32Array', new Float32Array(3), 'FP32', [3]],
    ['Float64Array', new Float64Array(3), 'FP64', [3]],
    ['Int8Array', new Int8Array(1), 'INT8', [1]],
    ['Int16Array', new Int16Array(1), 'INT16', [1]],
    ['Int32Array', new Int32Array(2), 'INT32', [2]],
    ['BigInt64Array', new BigInt64Array(1), 'INT64', [1]],
    ['Uint8Array', new Uint8Array(4), 'UINT8', [4]],
    ['Buffer', Buffer.alloc(4), 'UINT8', [4]],
    ['Uint16Array', new Uint16Array(1), 'UINT16', [1]],
    ['Uint32Array', new Uint32Array(1), 'UINT32', [1]],
    ['BigUint64Array', new BigUint64Array(1), 'UINT64', [1]],
    ['safe integers', [[1, 2, 3], [4, 5, 6]], 'INT64', [2, 3]],
    ['non-integers', [1, 2.5], 'FP64', [2]],
    ['NaN', [1, NaN], 'FP64', [2]],
    ['-0', [-0, 1], 'FP64', [2]],
    ['unsafe integers', [2 ** 60], 'FP64', [1]],
    ['booleans', [true, false], 'BOOL', [2]],
    ['strings', ['a', 'b'], 'BYTES', [2]],
    ['Uint8Array[]', [Buffer.from('a'), new Uint8Array(2)], 'BYTES', [2]],
    ['bigints', [1n, 2], 'INT64', [2]],
    ['bigints beyond int64', [2n ** 63n], 'UINT64', [1]],
    ['a bare number', 3, 'INT64', []],
    ['a bare string', 'hello', 'BYTES', []],
    ['an empty list', [], 'FP32', [0]],
    ['rows of typed arrays', [new Float32Array(2), new Float32Array(2)] as never, 'FP32', [2, 2]],
  ];
  for (const [what, value, datatype, shape] of cases) {
    test(`${what} → ${datatype} ${JSON.stringify(shape)}`, () => {
      const x = one(value);
      assert.equal(x.datatype, datatype);
      assert.deepEqual(x.shape, shape);
    });
  }

  test('a typed array is used as is, no copy', () => {
    const data = new Int32Array(3);
    assert.equal(one(data).data, data);
  });

  test('mixed element kinds fail INTERNAL', () => {
    assert.throws(() => one([1, 'a'] as never), internal(/output 'OUTPUT0': mixes element kinds/));
    assert.throws(() => one([1n, 0.5]), internal(/mixes bigints with non-integer numbers/));
    assert.throws(() => one([null as never]), internal(/element 0 \(null\) is not a number/));
  });

  test('ragged lists fail INTERNAL', () => {
    assert.throws(() => one([[1, 2], [3]]), internal(/output 'OUTPUT0': ragged nested list/));
  });
});

describe('toOutputTensors - declared outputs', () => {
  const spec = (datatype: Tensor['datatype'], dims: number[], maxBatchSize = 0): IOSpec => ({
    maxBatchSize,
    inputs: [],
    outputs: [{ name: 'Y', datatype, dims }],
  });

  test('a nested list of numbers declared FP32 becomes a Float32Array', () => {
    const x = one([[1.5, 2], [3, 4]], spec('FP32', [2, 2]));
    assert.deepEqual(x, { name: 'Y', datatype: 'FP32', shape: [2, 2], data: new Float32Array([1.5, 2, 3, 4]) });
  });

  test('a Float64Array declared FP32 is converted', () => {
    assert.deepEqual(one(new Float64Array([0.1, 2]), spec('FP32', [2])).data, new Float32Array([0.1, 2]));
  });

  test('an Int32Array declared INT32 is used as is', () => {
    const data = new Int32Array([1, 2]);
    assert.equal(one(data, spec('INT32', [2])).data, data);
  });

  test('a Uint16Array declared FP16 is taken as the bits', () => {
    const data = new Uint16Array([0x3c00]);
    assert.equal(one(data, spec('FP16', [1])).data, data);
  });

  test('numbers declared FP16/BF16 are rounded to bits', () => {
    assert.deepEqual(one([1, 0.1], spec('FP16', [2])).data, new Uint16Array([0x3c00, 0x2e66]));
    assert.deepEqual(one(new Float32Array([1]), spec('BF16', [1])).data, new Uint16Array([0x3f80]));
  });

  test('numbers declared INT64 become exact bigints', () => {
    assert.deepEqual(one([2 ** 53, -1], spec('INT64', [2])).data, new BigInt64Array([2n ** 53n, -1n]));
  });

  test('a Uint8Array declared BOOL is used as is when 0/1, normalized otherwise', () => {
    const ok = new Uint8Array([0, 1]);
    assert.equal(one(ok, spec('BOOL', [2])).data, ok);
    assert.deepEqual(one(new Uint8Array([0, 7]), spec('BOOL', [2])).data, new Uint8Array([0, 1]));
    assert.deepEqual(one([true, 0, 2], spec('BOOL', [3])).data, new Uint8Array([1, 0, 1]));
  });

  test('strings and a lone Buffer declared BYTES', () => {
    assert.deepEqual(one(['ab'], spec('BYTES', [1])).shape, [1]);
    const buf = Buffer.from([0, 1, 2]);
    const x = one(buf, spec('BYTES', [1]));
    assert.deepEqual(x.shape, [1]);
    assert.equal((x.data as Uint8Array[])[0], buf);
  });

  test('data that cannot be the declared datatype fails INTERNAL', () => {
    assert.throws(() => one([1.5], spec('INT32', [1])), internal(/^output 'Y': element 0 \(1.5\) cannot be INT32/));
    assert.throws(() => one(new Float32Array([1]), spec('BYTES', [1])), internal(/output 'Y': element 0 \(1\) cannot be BYTES/));
    assert.throws(() => one(['x'], spec('FP32', [1])), internal(/output 'Y': element 0 \(string "x"\) cannot be FP32/));
  });

  test('-1 dims are resolved from the data', () => {
    assert.deepEqual(one(new Float32Array(6), spec('FP32', [-1, 3])).shape, [2, 3]);
    assert.deepEqual(one([[1, 2], [3, 4], [5, 6]], spec('FP32', [-1, -1])).shape, [3, 2]);
  });

  test('a flat array takes the declared dims', () => {
    assert.deepEqual(one(new Float32Array(6), spec('FP32', [2, 3])).shape, [2, 3]);
    assert.deepEqual(one(new Float32Array(1), spec('FP32', [])).shape, []);
  });

  test('the batch dim is inferred from the element count', () => {
    assert.deepEqual(one(new Float32Array(48), spec('FP32', [16], 8)).shape, [3, 16]);
    assert.deepEqual(one([[1, 2], [3, 4]], spec('FP32', [2], 8)).shape, [2, 2]);
  });

  test('data shaped like the dims gets a batch dim of 1 when the count cannot decide', () => {
    assert.deepEqual(one([1, 2, 3], spec('FP32', [-1], 8)).shape, [1, 3]);
  });

  test('an element count not matching the declared dims fails INTERNAL', () => {
    assert.throws(() => one(new Float32Array(5), spec('FP32', [2, 3])), internal(/^output 'Y': has 5 elements \(shape \[5\]\), which does not fit the declared shape \[2,3\]/));
    assert.throws(() => one(new Float32Array(5), spec('FP32', [3], 8)), internal(/does not fit the declared shape \[-1,3\]/));
  });

  test('TensorLike gives shape and datatype explicitly', () => {
    const x = one({ data: [1, 2, 3, 4, 5, 6], shape: [1, 2, 3], datatype: 'INT16' });
    assert.deepEqual(x, { name: 'OUTPUT0', datatype: 'INT16', shape: [1, 2, 3], data: new Int16Array([1, 2, 3, 4, 5, 6]) });
  });

  test('TensorLike shape must match its data and the declaration', () => {
    assert.throws(() => one({ data: [1, 2, 3], shape: [2, 2] }), internal(/output 'OUTPUT0': has 3 elements, shape \[2,2\] implies 4/));
    assert.throws(() => one({ data: new Float32Array(4), shape: [4] }, spec('FP32', [2, 2])), internal(/output 'Y': shape \[4\] does not match the declared \[2,2\]/));
  });

  test('TensorLike datatype must agree with the declaration', () => {
    assert.throws(() => one({ data: [1], datatype: 'FP64' }, spec('FP32', [1])), internal(/output 'Y': datatype is 'FP64', but the model declares 'FP32'/));
    assert.throws(() => one({ data: [1], datatype: 'FLOAT' as never }), internal(/unknown datatype 'FLOAT'/));
  });
});
