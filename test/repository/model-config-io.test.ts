// The IO spec a config gives: optional inputs and reshapes as parsed and checked at load.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ioSpec, normalizeConfig, parseConfigText } from '../../src/repository/model-config.js';

const io = (text: string) => ioSpec(normalizeConfig(parseConfigText(`name: "m"\n${text}`, 'config.pbtxt'), 'm'));

describe('ioSpec', () => {
  test('optional inputs and reshapes are carried, dims stay the wire shape', () => {
    const spec = io(`max_batch_size: 2
      input [ { name: "a" data_type: TYPE_FP32 dims: [ 2, 2 ] reshape: { shape: [ 4 ] } optional: true }, { name: "b" data_type: TYPE_INT32 dims: [ 1 ] } ]
      output [ { name: "y" data_type: TYPE_FP32 dims: [ 1 ] reshape: { shape: [ ] } } ]`);
    assert.deepEqual(spec.inputs, [
      { name: 'a', datatype: 'FP32', dims: [2, 2], optional: true, reshape: [4] },
      { name: 'b', datatype: 'INT32', dims: [1], optional: false },
    ]);
    assert.deepEqual(spec.outputs, [{ name: 'y', datatype: 'FP32', dims: [1], optional: false, reshape: [] }]);
  });

  test('a reshape of other elements than the dims fails the load naming the field', () => {
    assert.throws(() => io('input [ { name: "a" data_type: TYPE_FP32 dims: [ 2, 4 ] reshape: { shape: [ 9 ] } } ]'), {
      code: 'INVALID_ARGUMENT',
      message: "'m: input[0].reshape.shape' holds other elements than dims [2,4]",
    });
    assert.throws(() => io('output [ { name: "y" data_type: TYPE_FP32 dims: [ -1, 4 ] reshape: { shape: [ 4, 1 ] } } ]'), {
      message: "'m: output[0].reshape.shape' has 0 variable dimensions, dims [-1,4] have 1",
    });
    assert.throws(() => io('input [ { name: "a" data_type: TYPE_FP32 dims: [ 4 ] reshape: { shape: [ -2, 4 ] } } ]'), {
      message: /'m: input\[0\]\.reshape\.shape' has an invalid dimension -2/,
    });
  });
});
