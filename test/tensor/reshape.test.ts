import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Reshapes, checkReshape, modelView, reshapeDims, type IOSpec, type Tensor } from '../../src/tensor/index.js';

describe('reshapeDims', () => {
  const cases: [string, number[], number[], number[], boolean, number[]][] = [
    ['fixed to fixed, batch kept', [3, 2, 4], [2, 4], [8], true, [3, 8]],
    ['to a scalar per row', [5, 1], [1], [], true, [5]],
    ['variable sizes carried in order', [2, 4, 7, 6], [2, 4, -1, 6], [8, -1, 1, 6], false, [8, 7, 1, 6]],
    ['two variable dims', [1, 3, 5], [-1, -1], [-1, 1, -1], true, [1, 3, 1, 5]],
    ['back from the reshape', [4, 8], [8], [2, 4], true, [4, 2, 4]],
  ];
  for (const [what, shape, from, to, batching, expected] of cases) {
    test(what, () => assert.deepEqual(reshapeDims(shape, from, to, batching), expected));
  }
});

describe('checkReshape', () => {
  const fine: [number[], number[]][] = [
    [[2, 4], [8]],
    [[1], []],
    [[2, 4, -1, 6], [8, -1, 1, 6]],
    [[-1], [-1, 1]],
  ];
  for (const [dims, reshape] of fine) {
    test(`[${dims}] → [${reshape}] is fine`, () => assert.equal(checkReshape(dims, reshape), undefined));
  }
  const wrong: [number[], number[], RegExp][] = [
    [[2, 4], [9], /holds other elements than dims \[2,4\]/],
    [[2], [], /is empty \(a scalar\), but dims \[2\] hold more than one element/],
    [[-1, 4], [4, 2], /has 0 variable dimensions, dims \[-1,4\] have 1/],
    [[2, 4, -1, 6], [4, -1, 2, 6], /holds other elements/],
    [[4], [0, 4], /neither >= 1 nor -1/],
  ];
  for (const [dims, reshape, problem] of wrong) {
    test(`[${dims}] → [${reshape}] is refused`, () => assert.match(checkReshape(dims, reshape) ?? '', problem));
  }
});

describe('Reshapes', () => {
  const io: IOSpec = {
    maxBatchSize: 4,
    inputs: [
      { name: 'flat', datatype: 'FP32', dims: [2, 2], reshape: [4] },
      { name: 'plain', datatype: 'FP32', dims: [3] },
    ],
    outputs: [{ name: 'square', datatype: 'FP32', dims: [2, 2], reshape: [4] }],
  };
  const reshapes = new Reshapes(io);
  const tensor = (name: string, shape: number[]): Tensor => ({ name, datatype: 'FP32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });

  test('inputs become the reshape shape, batch kept, data shared; others are untouched', () => {
    const flat = tensor('flat', [3, 2, 2]);
    const plain = tensor('plain', [3, 3]);
    const [reshaped, same] = reshapes.toModel([flat, plain]);
    assert.deepEqual(reshaped!.shape, [3, 4]);
    assert.equal(reshaped!.data, flat.data);
    assert.equal(same, plain);
  });

  test('outputs go back to the dims', () => {
    assert.deepEqual(reshapes.toWire([tensor('square', [3, 4])])[0]!.shape, [3, 2, 2]);
  });

  test('an output of another rank than its reshape is INTERNAL naming it', () => {
    assert.throws(() => reshapes.toWire([tensor('square', [3, 2, 2])]), { code: 'INTERNAL', message: /output 'square' has shape \[3,2,2\], but its reshape is \[4\]/ });
  });

  test('without reshapes nothing is copied', () => {
    const none = new Reshapes({ maxBatchSize: 0, inputs: [{ name: 'x', datatype: 'FP32', dims: [1] }], outputs: [] });
    const tensors = [tensor('x', [1])];
    assert.equal(none.any, false);
    assert.equal(none.toModel(tensors), tensors);
  });

  test('the model view declares the reshape shapes', () => {
    const view = modelView(io);
    assert.deepEqual(view.inputs.map((spec) => spec.dims), [[4], [3]]);
    assert.deepEqual(view.outputs.map((spec) => spec.dims), [[4]]);
    const plain: IOSpec = { maxBatchSize: 0, inputs: [], outputs: [] };
    assert.equal(modelView(plain), plain);
  });
});
