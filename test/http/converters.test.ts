import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { InferResult } from '../../src/pipeline/index.js';
import type { ModelMetadata } from '../../src/repository/index.js';
import {
  fromIndexJson,
  fromLoadJson,
  fromLogSettingsJson,
  fromRegisterJson,
  jsonObject,
  rawBinaryCall,
  toInferCall,
  toInferReply,
  unloadDependents,
  type InferTarget,
} from '../../src/http/converters.js';

const TARGET: InferTarget = { model: 'simple', version: '', operation: undefined };
const NO_BINARY = new Uint8Array(0);

/** The call made from a JSON header (given as a value) and the binary part after it. */
function call(header: unknown, binary: Uint8Array = NO_BINARY, target: InferTarget = TARGET) {
  return toInferCall(target, jsonObject(Buffer.from(JSON.stringify(header))), binary, 7n);
}

/** The InferenceError INVALID_ARGUMENT whose message names `field`. */
function invalid(field: string, problem?: RegExp) {
  return (err: unknown) => {
    assert.equal((err as { name?: string }).name, 'InferenceError');
    assert.equal((err as { code?: string }).code, 'INVALID_ARGUMENT');
    const message = (err as Error).message;
    assert.ok(message.startsWith(`'${field}'`), `expected the message to name '${field}': ${message}`);
    if (problem) assert.match(message, problem);
    return true;
  };
}

const int32Input = { name: 'INPUT0', datatype: 'INT32', shape: [1, 2], data: [1, 2] };

describe('jsonObject', () => {
  test('an empty body is an empty object', () => {
    assert.deepEqual({ ...jsonObject(new Uint8Array(0)) }, {});
  });

  test('a body that is not JSON names the request body', () => {
    assert.throws(() => jsonObject(Buffer.from('{')), invalid('request body', /is not valid JSON/));
  });

  test('a JSON value that is not an object is refused', () => {
    assert.throws(() => jsonObject(Buffer.from('[1]')), invalid('request body', /must be a JSON object/));
  });
});

describe('toInferCall', () => {
  test('encodes JSON data as the little-endian bytes of its datatype', () => {
    const { call: made } = call({ id: 'a', inputs: [int32Input, { name: 'B', datatype: 'FP32', shape: [2], data: [[0.5], [1.5]] }] });
    assert.equal(made.model, 'simple');
    assert.equal(made.id, 'a');
    assert.equal(made.requestId, 'a');
    assert.equal(made.arrivedNs, 7n);
    assert.deepEqual(made.inputs.map((input) => [input.name, input.datatype, input.shape]), [
      ['INPUT0', 'INT32', [1, 2]],
      ['B', 'FP32', [2]],
    ]);
    assert.deepEqual([...new Int32Array(Uint8Array.from(made.inputs[0]!.raw!).buffer)], [1, 2]);
    assert.deepEqual([...new Float32Array(Uint8Array.from(made.inputs[1]!.raw!).buffer)], [0.5, 1.5]);
    assert.equal(made.inputs[0]!.parameters, undefined);
  });

  test('encodes BYTES data as a 4-byte length before each element', () => {
    const { call: made } = call({ inputs: [{ name: 'S', datatype: 'BYTES', shape: [2], data: ['hi', ''] }] });
    assert.deepEqual([...made.inputs[0]!.raw!], [2, 0, 0, 0, 104, 105, 0, 0, 0, 0]);
  });

  test('binary inputs are views on the binary part, in order of the inputs', () => {
    const binary = new Uint8Array(16).map((_, i) => i);
    const { call: made } = call(
      {
        inputs: [
          { name: 'A', datatype: 'INT32', shape: [2], parameters: { binary_data_size: 8 } },
          { name: 'B', datatype: 'INT32', shape: [2], parameters: { binary_data_size: 8 } },
        ],
      },
      binary,
    );
    assert.equal(made.inputs[0]!.raw!.buffer, binary.buffer);
    assert.deepEqual([...made.inputs[1]!.raw!], [8, 9, 10, 11, 12, 13, 14, 15]);
    assert.equal(made.inputs[0]!.parameters, undefined);
  });

  test('an input in shared memory keeps its parameters and has no data', () => {
    const { call: made } = call({ inputs: [{ name: 'A', datatype: 'INT32', shape: [1], parameters: { shared_memory_region: 'r', shared_memory_byte_size: 4 } }] });
    assert.equal(made.inputs[0]!.raw, undefined);
    assert.deepEqual({ ...made.inputs[0]!.parameters }, { shared_memory_region: 'r', shared_memory_byte_size: 4 });
  });

  test('request parameters reach the call without binary_data_output; the URL operation is added', () => {
    const { call: made } = call({ parameters: { timeout: 5, binary_data_output: true, constructor: 'x' }, inputs: [int32Input] }, NO_BINARY, { ...TARGET, operation: 'explain' });
    assert.deepEqual({ ...made.parameters }, { timeout: 5, constructor: 'x', operation: 'explain' });
    assert.equal(Object.getPrototypeOf(made.parameters), null);
  });

  test('a request without an id gets a request id of its own', () => {
    const { call: made } = call({ inputs: [int32Input] });
    assert.equal(made.id, '');
    assert.notEqual(made.requestId, '');
  });

  test('requested outputs keep their parameters without binary_data', () => {
    const { call: made } = call({ inputs: [int32Input], outputs: [{ name: 'OUTPUT0', parameters: { classification: 2, binary_data: true } }, { name: 'OUTPUT1' }] });
    assert.deepEqual(
      made.outputs.map((output) => [output.name, { ...output.parameters }]),
      [
        ['OUTPUT0', { classification: 2 }],
        ['OUTPUT1', {}],
      ],
    );
  });

  const refusals: [string, unknown, string, RegExp][] = [
    ['an id that is not a string', { id: 1, inputs: [] }, 'id', /must be a string/],
    ['parameters that are not an object', { parameters: [], inputs: [] }, 'parameters', /must be a JSON object/],
    ['a parameter that is an object', { parameters: { p: {} }, inputs: [] }, 'parameters.p', /must be a boolean, a number or a string/],
    ['a binary_data_output that is not a boolean', { parameters: { binary_data_output: 1 }, inputs: [] }, 'parameters.binary_data_output', /must be true or false/],
    ['inputs that are not an array', { inputs: {} }, 'inputs', /must be an array/],
    ['an input that is not an object', { inputs: [int32Input, 3] }, 'inputs[1]', /must be a JSON object/],
    ['an input without a name', { inputs: [{ ...int32Input, name: undefined }] }, 'inputs[0].name', /must be a string/],
    ['an input without a datatype', { inputs: [{ ...int32Input, datatype: 5 }] }, 'inputs[0].datatype', /must be a string/],
    ['a shape that is not an array', { inputs: [{ ...int32Input, shape: 2 }] }, 'inputs[0].shape', /must be an array of integers/],
    ['a negative dimension', { inputs: [{ ...int32Input, shape: [1, -2] }] }, 'inputs[0].shape[1]', /must be an integer >= 0, got -2/],
    ['input parameters that are not an object', { inputs: [{ ...int32Input, parameters: 1 }] }, 'inputs[0].parameters', /must be a JSON object/],
    ['an input parameter that is null', { inputs: [{ ...int32Input, parameters: { q: null } }] }, 'inputs[0].parameters.q', /got null/],
    ['an input without data', { inputs: [{ ...int32Input, data: undefined }] }, 'inputs[0].data', /is missing/],
    ['data of the wrong length', { inputs: [{ ...int32Input, data: [1] }] }, 'inputs[0].data', /has 1 elements, the shape implies 2/],
    ['a value out of its datatype', { inputs: [{ ...int32Input, data: [1, 2 ** 31] }] }, 'inputs[0].data[1]', /INT32 integer/],
    ['an unknown datatype', { inputs: [{ ...int32Input, datatype: 'INT3' }] }, 'inputs[0].datatype', /'INT3' is not a datatype/],
    ['FP16 in JSON', { inputs: [{ ...int32Input, datatype: 'FP16' }] }, 'inputs[0].data', /binary data format/],
    ['a binary_data_size that is not an integer', { inputs: [{ ...int32Input, data: undefined, parameters: { binary_data_size: 1.5 } }] }, 'inputs[0].parameters.binary_data_size', /must be an integer >= 0/],
    ['both data and binary_data_size', { inputs: [{ ...int32Input, parameters: { binary_data_size: 0 } }] }, 'inputs[0]', /has both data and binary_data_size/],
    [
      'data and a shared memory region',
      { inputs: [{ ...int32Input, parameters: { shared_memory_region: 'r' } }] },
      'inputs[0]',
      /is in shared memory: it must have no data and no binary_data_size/,
    ],
    ['outputs that are not an array', { inputs: [int32Input], outputs: {} }, 'outputs', /must be an array/],
    ['an output that is not an object', { inputs: [int32Input], outputs: [null] }, 'outputs[0]', /must be a JSON object/],
    ['an output without a name', { inputs: [int32Input], outputs: [{}] }, 'outputs[0].name', /must be a string/],
    ['output parameters that are not an object', { inputs: [int32Input], outputs: [{ name: 'O', parameters: 'x' }] }, 'outputs[0].parameters', /must be a JSON object/],
    ['an output parameter that is an array', { inputs: [int32Input], outputs: [{ name: 'O', parameters: { p: [] } }] }, 'outputs[0].parameters.p', /must be a boolean/],
    ['a binary_data that is not a boolean', { inputs: [int32Input], outputs: [{ name: 'O', parameters: { binary_data: 'yes' } }] }, 'outputs[0].parameters.binary_data', /must be true or false/],
  ];
  for (const [what, header, field, problem] of refusals) {
    test(`refuses ${what}, naming ${field}`, () => {
      assert.throws(() => call(header), invalid(field, problem));
    });
  }

  test('refuses a binary_data_size beyond the binary part, naming the input', () => {
    const header = { inputs: [{ name: 'A', datatype: 'INT32', shape: [2], parameters: { binary_data_size: 8 } }] };
    assert.throws(() => call(header, new Uint8Array(4)), invalid('inputs[0]', /unexpected size for input 'A', expecting 8 additional bytes, got 4/));
  });

  test('refuses binary bytes that no input claims', () => {
    assert.throws(() => call({ inputs: [int32Input] }, new Uint8Array(3)), invalid('request body', /has 3 bytes of binary data/));
  });

  test('names the first bad field of a later input', () => {
    assert.throws(() => call({ inputs: [int32Input, { ...int32Input, shape: [1, 'x'] }] }), invalid('inputs[1].shape[1]'));
  });
});

describe('rawBinaryCall', () => {
  const metadata = (shape: number[], datatype = 'FP32'): ModelMetadata => ({ name: 'm', versions: ['1'], platform: 'p', inputs: [{ name: 'IN', datatype, shape }], outputs: [] });

  test('the body is the one input, its variable dimension from the size, batch 1', () => {
    const body = new Uint8Array(24);
    const { call: made } = rawBinaryCall(TARGET, metadata([-1, 2, -1]), true, body, 1n);
    assert.deepEqual(made.inputs[0]!.shape, [1, 2, 3]);
    assert.equal(made.inputs[0]!.raw, body);
  });

  test('refuses a body that is not a multiple of the fixed dimensions', () => {
    assert.throws(() => rawBinaryCall(TARGET, metadata([-1, 2]), false, new Uint8Array(12), 1n), invalid('request body', /not a multiple of 8/));
  });

  test('a BYTES input gets the body as its one element', () => {
    const { call: made } = rawBinaryCall(TARGET, metadata([1], 'BYTES'), false, Buffer.from('ab'), 1n);
    assert.deepEqual([...made.inputs[0]!.raw!], [2, 0, 0, 0, 97, 98]);
  });
});

describe('toInferReply', () => {
  const int32 = (values: number[]) => new Uint8Array(Int32Array.from(values).buffer);
  const result: InferResult = {
    model: 'simple',
    version: '1',
    id: 'x"y',
    parameters: { big: 2n ** 60n, sequence_end: true },
    outputs: [
      { name: 'OUTPUT0', datatype: 'INT32', shape: [1, 2] },
      { name: 'OUTPUT1', datatype: 'INT32', shape: [1, 2] },
    ],
    raw: [int32([3, -1]), int32([5, 6])],
  };

  test('writes JSON data by default, with the id and parameters (bigints in full)', () => {
    const reply = toInferReply(result, call({ inputs: [int32Input] }));
    assert.deepEqual(reply.binary, []);
    assert.equal(
      reply.json,
      '{"model_name":"simple","model_version":"1","id":"x\\"y","parameters":{"big":1152921504606846976,"sequence_end":true},"outputs":[' +
        '{"name":"OUTPUT0","datatype":"INT32","shape":[1,2],"data":[3,-1]},{"name":"OUTPUT1","datatype":"INT32","shape":[1,2],"data":[5,6]}]}',
    );
  });

  test('binary_data_output sends every output binary, after the header, unless the output says otherwise', () => {
    const request = call({ parameters: { binary_data_output: true }, inputs: [int32Input], outputs: [{ name: 'OUTPUT0' }, { name: 'OUTPUT1', parameters: { binary_data: false } }] });
    const reply = toInferReply({ ...result, id: '', parameters: {} }, request);
    assert.deepEqual(reply.binary, [result.raw[0]]);
    assert.equal(
      reply.json,
      '{"model_name":"simple","model_version":"1","outputs":[' +
        '{"name":"OUTPUT0","datatype":"INT32","shape":[1,2],"parameters":{"binary_data_size":8}},{"name":"OUTPUT1","datatype":"INT32","shape":[1,2],"data":[5,6]}]}',
    );
  });

  test('an output asking for binary_data goes binary without binary_data_output', () => {
    const request = call({ inputs: [int32Input], outputs: [{ name: 'OUTPUT1', parameters: { binary_data: true } }] });
    assert.deepEqual(toInferReply(result, request).binary, [result.raw[1]]);
  });

  test('an output placed in shared memory is named with no data', () => {
    const request = call({ inputs: [int32Input], outputs: [{ name: 'OUTPUT0', parameters: { shared_memory_region: 'r' } }] });
    const reply = toInferReply({ ...result, outputs: [result.outputs[0]!], raw: [new Uint8Array(0)] }, request);
    assert.match(reply.json, /"outputs":\[\{"name":"OUTPUT0","datatype":"INT32","shape":\[1,2\]\}\]/);
  });

  test('an FP16 output in JSON is refused, naming the output', () => {
    const half = { ...result, outputs: [{ name: 'H', datatype: 'FP16', shape: [1] }], raw: [new Uint8Array(2)] };
    assert.throws(() => toInferReply(half, call({ inputs: [int32Input] })), invalid("outputs[0] 'H'", /binary data format/));
  });
});

describe('the other routes\' JSON', () => {
  test('fromRegisterJson reads key, offset and byte_size, naming a bad one', () => {
    assert.deepEqual(fromRegisterJson({ key: '/k', byte_size: 16 }), { key: '/k', offset: 0n, byteSize: 16n });
    assert.throws(() => fromRegisterJson({ key: '/k', byte_size: -1 }), invalid('byte_size'));
  });

  test('fromLogSettingsJson refuses a value of the wrong kind, naming the setting', () => {
    assert.throws(() => fromLogSettingsJson({ log_info: 'yes' }), invalid('settings.log_info', /must be a boolean/));
  });

  test('fromLoadJson reads the config and base64 files, refusing other parameters by name', () => {
    const { config, files } = fromLoadJson({ parameters: { config: '{}', 'file:1/model.onnx': 'AAE=' } });
    assert.equal(config, '{}');
    assert.deepEqual([...files.get('1/model.onnx')!], [0, 1]);
    assert.throws(() => fromLoadJson({ parameters: { other: 1 } }), invalid('parameters.other', /unrecognized load parameter/));
  });

  test('fromIndexJson and unloadDependents default to false and check their booleans', () => {
    assert.equal(fromIndexJson({}), false);
    assert.equal(unloadDependents({ parameters: { unload_dependents: true } }), true);
    assert.throws(() => unloadDependents({ parameters: { unload_dependents: 1 } }), invalid('parameters.unload_dependents'));
  });
});
