// Config auto-complete and the config-vs-model check, as tables over signatures.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ModelConfig } from '../../generated/model_config.js';
import { parseConfigText } from '../../src/repository/index.js';
import { autoCompleteConfig, checkConfigAgainstModel, type OnnxSignature, type OnnxTensorInfo } from '../../src/onnx/index.js';
import type { Datatype } from '../../src/tensor/index.js';

const ORT: Partial<Record<Datatype, OnnxTensorInfo['ortType']>> = { FP32: 'float32', INT64: 'int64', BYTES: 'string' };

function info(name: string, datatype: Datatype, shape: (number | string)[]): OnnxTensorInfo {
  return { name, datatype, ortType: ORT[datatype]!, shape };
}

const BATCHABLE: OnnxSignature = {
  inputs: [info('a', 'FP32', ['batch', 4]), info('b', 'FP32', ['batch', 4])],
  outputs: [info('sum', 'FP32', ['batch', 4]), info('difference', 'FP32', ['batch', 4])],
};
const FIXED: OnnxSignature = {
  inputs: [info('a', 'FP32', [2, 4])],
  outputs: [info('y', 'FP32', [2, 4])],
};
const SCALAR: OnnxSignature = { inputs: [info('x', 'INT64', [])], outputs: [info('y', 'INT64', [])] };
const PER_ROW: OnnxSignature = { inputs: [info('x', 'FP32', ['batch', 'seq', 8])], outputs: [info('label', 'INT64', ['batch'])] };

function config(text = ''): ModelConfig {
  return parseConfigText(`name: "m"\nplatform: "onnxruntime_onnx"\n${text}`, 'config.pbtxt');
}

/** What a test compares: the fields auto-complete fills, in config.pbtxt terms. */
function summary(completed: ModelConfig): unknown {
  const tensor = (t: { name: string; dataType: number; dims: bigint[]; reshape?: { shape: bigint[] } | undefined }): string =>
    `${t.name} ${t.dataType} [${t.dims.join(',')}]${t.reshape ? ` reshape [${t.reshape.shape.join(',')}]` : ''}`;
  return {
    maxBatchSize: completed.maxBatchSize,
    dynamicBatching: completed.dynamicBatching !== undefined,
    input: completed.input.map(tensor),
    output: completed.output.map(tensor),
  };
}

// data_type numbers of model_config.proto: TYPE_INT64 = 9, TYPE_FP32 = 11.
describe('autoCompleteConfig', () => {
  const table: [string, ModelConfig, OnnxSignature, { defaultMaxBatchSize?: number }, unknown][] = [
    [
      'no inputs or outputs, batchable model: max_batch_size 4, dynamic batching, dims without the batch dim',
      config(),
      BATCHABLE,
      {},
      { maxBatchSize: 4, dynamicBatching: true, input: ['a 11 [4]', 'b 11 [4]'], output: ['sum 11 [4]', 'difference 11 [4]'] },
    ],
    [
      'a default max_batch_size from the backend config',
      config(),
      BATCHABLE,
      { defaultMaxBatchSize: 8 },
      { maxBatchSize: 8, dynamicBatching: true, input: ['a 11 [4]', 'b 11 [4]'], output: ['sum 11 [4]', 'difference 11 [4]'] },
    ],
    [
      'a default max_batch_size of 0 keeps the batch dim in dims',
      config(),
      BATCHABLE,
      { defaultMaxBatchSize: 0 },
      { maxBatchSize: 0, dynamicBatching: false, input: ['a 11 [-1,4]', 'b 11 [-1,4]'], output: ['sum 11 [-1,4]', 'difference 11 [-1,4]'] },
    ],
    [
      'a declared max_batch_size is kept',
      config('max_batch_size: 16'),
      BATCHABLE,
      {},
      { maxBatchSize: 16, dynamicBatching: true, input: ['a 11 [4]', 'b 11 [4]'], output: ['sum 11 [4]', 'difference 11 [4]'] },
    ],
    [
      'max_batch_size 1 gets no dynamic batching (nothing to merge)',
      config('max_batch_size: 1'),
      BATCHABLE,
      {},
      { maxBatchSize: 1, dynamicBatching: false, input: ['a 11 [4]', 'b 11 [4]'], output: ['sum 11 [4]', 'difference 11 [4]'] },
    ],
    [
      'a sequence batcher is not joined by a dynamic one',
      config('sequence_batching { }'),
      BATCHABLE,
      {},
      { maxBatchSize: 4, dynamicBatching: false, input: ['a 11 [4]', 'b 11 [4]'], output: ['sum 11 [4]', 'difference 11 [4]'] },
    ],
    [
      'a model with a fixed first dimension does not batch',
      config(),
      FIXED,
      {},
      { maxBatchSize: 0, dynamicBatching: false, input: ['a 11 [2,4]'], output: ['y 11 [2,4]'] },
    ],
    [
      'declared inputs are kept, missing outputs filled',
      config('max_batch_size: 2\ninput [ { name: "a" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "b" data_type: TYPE_FP32 dims: [ 4 ] } ]'),
      BATCHABLE,
      {},
      { maxBatchSize: 2, dynamicBatching: true, input: ['a 11 [4]', 'b 11 [4]'], output: ['sum 11 [4]', 'difference 11 [4]'] },
    ],
    [
      'a scalar per row is declared [1], reshaped to the model’s scalar',
      config(),
      PER_ROW,
      {},
      { maxBatchSize: 4, dynamicBatching: true, input: ['x 11 [-1,8]'], output: ['label 9 [1] reshape []'] },
    ],
    [
      'a scalar model without batching is declared [1], reshaped to a scalar',
      config(),
      SCALAR,
      {},
      { maxBatchSize: 0, dynamicBatching: false, input: ['x 9 [1] reshape []'], output: ['y 9 [1] reshape []'] },
    ],
  ];
  for (const [what, declared, signature, options, expected] of table) {
    test(what, () => {
      const completed = autoCompleteConfig(declared, signature, options);
      assert.deepEqual(summary(completed), expected);
      assert.doesNotThrow(() => checkConfigAgainstModel(completed, signature), 'the completed config fits its model');
    });
  }

  test('a config declaring inputs and outputs is returned as it is', () => {
    const declared = config(
      'input [ { name: "a" data_type: TYPE_FP32 dims: [ -1, 4 ] }, { name: "b" data_type: TYPE_FP32 dims: [ -1, 4 ] } ]\n' +
        'output [ { name: "sum" data_type: TYPE_FP32 dims: [ -1, 4 ] } ]',
    );
    assert.equal(autoCompleteConfig(declared, BATCHABLE), declared);
  });

  test('max_batch_size on a model that cannot batch is INVALID_ARGUMENT naming the tensor and its shape', () => {
    assert.throws(() => autoCompleteConfig(config('max_batch_size: 8'), FIXED), {
      name: 'InferenceError',
      code: 'INVALID_ARGUMENT',
      message: "max_batch_size 8 needs every input and output of the model to have an open first dimension, but input 'a' has shape [2,4]",
    });
  });

  test('the declared config is not modified', () => {
    const declared = config();
    autoCompleteConfig(declared, BATCHABLE);
    assert.equal(declared.input.length, 0);
    assert.equal(declared.maxBatchSize, 0);
  });
});

describe('checkConfigAgainstModel', () => {
  const table: [string, string, OnnxSignature, string][] = [
    [
      'a datatype other than the model’s',
      'max_batch_size: 8\ninput [ { name: "a" data_type: TYPE_INT32 dims: [ 4 ] }, { name: "b" data_type: TYPE_FP32 dims: [ 4 ] } ]',
      BATCHABLE,
      "input 'a': config.pbtxt declares TYPE_INT32, the model has TYPE_FP32 (float32)",
    ],
    [
      'BYTES against a float model, in config.pbtxt words',
      'output [ { name: "y" data_type: TYPE_STRING dims: [ 2, 4 ] } ]\ninput [ { name: "a" data_type: TYPE_FP32 dims: [ 2, 4 ] } ]',
      FIXED,
      "output 'y': config.pbtxt declares TYPE_STRING, the model has TYPE_FP32 (float32)",
    ],
    [
      'dims other than the model’s',
      'max_batch_size: 8\ninput [ { name: "a" data_type: TYPE_FP32 dims: [ 3 ] }, { name: "b" data_type: TYPE_FP32 dims: [ 4 ] } ]',
      BATCHABLE,
      "input 'a': config.pbtxt declares dims [3] (with the batch dimension: [-1,3]), the model has shape [batch,4]",
    ],
    [
      'an open dimension where the model has a fixed one',
      'max_batch_size: 8\ninput [ { name: "a" data_type: TYPE_FP32 dims: [ -1 ] }, { name: "b" data_type: TYPE_FP32 dims: [ 4 ] } ]',
      BATCHABLE,
      "input 'a': config.pbtxt declares dims [-1] (with the batch dimension: [-1,-1]), the model has shape [batch,4]",
    ],
    [
      'the batch dimension declared again in dims',
      'max_batch_size: 8\ninput [ { name: "a" data_type: TYPE_FP32 dims: [ -1, 4 ] }, { name: "b" data_type: TYPE_FP32 dims: [ 4 ] } ]',
      BATCHABLE,
      "input 'a': config.pbtxt declares dims [-1,4] (with the batch dimension: [-1,-1,4]), the model has shape [batch,4]",
    ],
    [
      'max_batch_size on a model with a fixed first dimension',
      'max_batch_size: 8\ninput [ { name: "a" data_type: TYPE_FP32 dims: [ 4 ] } ]',
      FIXED,
      "input 'a': max_batch_size 8 needs an open first dimension, the model has [2,4]",
    ],
    [
      'an input the model lacks',
      'input [ { name: "c" data_type: TYPE_FP32 dims: [ 2, 4 ] } ]',
      FIXED,
      "input 'c': config.pbtxt declares it, the model has no such input (its inputs: 'a')",
    ],
    [
      'an output the model lacks',
      'input [ { name: "a" data_type: TYPE_FP32 dims: [ 2, 4 ] } ]\noutput [ { name: "z" data_type: TYPE_FP32 dims: [ 2, 4 ] } ]',
      FIXED,
      "output 'z': config.pbtxt declares it, the model has no such output (its outputs: 'y')",
    ],
    [
      'a model input left undeclared',
      'max_batch_size: 8\ninput [ { name: "a" data_type: TYPE_FP32 dims: [ 4 ] } ]',
      BATCHABLE,
      "input 'b': the model needs it (TYPE_FP32 [batch,4]), config.pbtxt does not declare it (declared: 'a')",
    ],
    [
      'an optional input',
      'max_batch_size: 8\ninput [ { name: "a" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "b" data_type: TYPE_FP32 dims: [ 4 ] optional: true } ]',
      BATCHABLE,
      "input 'b': config.pbtxt declares it optional, but onnxruntime runs the graph only with every one of its inputs",
    ],
  ];
  for (const [what, text, signature, message] of table) {
    test(`${what} is INVALID_ARGUMENT naming the tensor and both sides`, () => {
      assert.throws(() => checkConfigAgainstModel(config(text), signature), { name: 'InferenceError', code: 'INVALID_ARGUMENT', message });
    });
  }

  const fits: [string, string, OnnxSignature][] = [
    ['fixed dims where the model has open ones', 'input [ { name: "a" data_type: TYPE_FP32 dims: [ 2, 4 ] }, { name: "b" data_type: TYPE_FP32 dims: [ 2, 4 ] } ]', BATCHABLE],
    ['a subset of the outputs', 'max_batch_size: 8\ninput [ { name: "a" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "b" data_type: TYPE_FP32 dims: [ 4 ] } ]\noutput [ { name: "difference" data_type: TYPE_FP32 dims: [ 4 ] } ]', BATCHABLE],
    ['a reshape to the model’s scalar', 'max_batch_size: 8\ninput [ { name: "x" data_type: TYPE_FP32 dims: [ -1, 8 ] } ]\noutput [ { name: "label" data_type: TYPE_INT64 dims: [ 1 ] reshape: { shape: [ ] } } ]', PER_ROW],
  ];
  for (const [what, text, signature] of fits) {
    test(`accepts ${what}`, () => assert.doesNotThrow(() => checkConfigAgainstModel(config(text), signature)));
  }
});
