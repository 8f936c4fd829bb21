// The reader that names a tensor onnxruntime-node refuses: graph inputs and outputs of a file.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ONNX_ELEM_TYPE, encodeOnnxModel } from '../../src/onnx/index.js';
import { readOnnxGraphIo } from '../../src/onnx/onnx-reader.js';
import { addSubModel, identityModel } from './onnx-fixtures.js';

describe('readOnnxGraphIo', () => {
  test('lists inputs and outputs in graph order with their element types', () => {
    assert.deepEqual(readOnnxGraphIo(addSubModel()), {
      inputs: [
        { name: 'a', elemType: ONNX_ELEM_TYPE.FLOAT },
        { name: 'b', elemType: ONNX_ELEM_TYPE.FLOAT },
      ],
      outputs: [
        { name: 'sum', elemType: ONNX_ELEM_TYPE.FLOAT },
        { name: 'difference', elemType: ONNX_ELEM_TYPE.FLOAT },
      ],
    });
  });

  test('finds a BFLOAT16 tensor behind initializers and nodes', () => {
    const bytes = encodeOnnxModel({
      graph: {
        name: 'mixed',
        inputs: [{ name: 'half', elemType: 'BFLOAT16', shape: [2] }],
        outputs: [{ name: 'out', elemType: 'BFLOAT16', shape: [2] }],
        initializers: [{ name: 'k', elemType: 'FLOAT', dims: [1], data: new Float32Array([1]) }],
        nodes: [{ opType: 'Identity', inputs: ['half'], outputs: ['out'], attributes: { unused: { float: 0.5 } } }],
      },
    });
    const io = readOnnxGraphIo(bytes);
    assert.deepEqual(io.inputs, [{ name: 'half', elemType: 16 }]);
    assert.deepEqual(io.outputs, [{ name: 'out', elemType: 16 }]);
  });

  test('a file cut inside its graph is a RangeError, not a wrong answer', () => {
    const bytes = identityModel('INT64');
    assert.throws(() => readOnnxGraphIo(bytes.subarray(0, bytes.length / 2)), /truncated/);
  });

  test('bytes without a graph are a RangeError', () => {
    assert.throws(() => readOnnxGraphIo(new TextEncoder().encode('\x08\x08')), /no graph/);
  });
});
