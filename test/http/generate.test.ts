// The generate extension's mapping both ways: fields → inputs and parameters, a response → one
// flat object.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateShape, sseEvent, toGenerateCall, toGenerateJson } from '../../src/http/generate.js';
import type { InferResult } from '../../src/pipeline/index.js';
import type { ModelMetadata } from '../../src/repository/index.js';

const METADATA: ModelMetadata = {
  name: 'm',
  versions: ['1'],
  platform: 'nodejs',
  inputs: [
    { name: 'text_input', datatype: 'BYTES', shape: [1] },
    { name: 'numbers', datatype: 'INT32', shape: [-1] },
    { name: 'pair', datatype: 'FP32', shape: [-1, 2] },
    { name: 'flag', datatype: 'BOOL', shape: [1] },
  ],
  outputs: [],
};

const call = (body: Record<string, unknown>, metadata: ModelMetadata = METADATA) => toGenerateCall({ model: 'm', version: '' }, body, metadata, 1n);

/** The InferenceError INVALID_ARGUMENT whose message names `field`. */
function invalid(field: string, problem?: RegExp) {
  return (err: unknown) => {
    assert.equal((err as { code?: string }).code, 'INVALID_ARGUMENT');
    const message = (err as Error).message;
    assert.ok(message.startsWith(`'${field}'`), `expected the message to name '${field}': ${message}`);
    if (problem) assert.match(message, problem);
    return true;
  };
}

describe('toGenerateCall', () => {
  test('a field named as an input is that input, with the datatype the model declares and its shape filled in', () => {
    const made = call({ text_input: 'héllo', numbers: [1, 2, 3], pair: [1, 2, 3, 4], flag: true });
    assert.deepEqual(
      made.inputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
      [
        { name: 'text_input', datatype: 'BYTES', shape: [1] },
        { name: 'numbers', datatype: 'INT32', shape: [3] },
        { name: 'pair', datatype: 'FP32', shape: [2, 2] },
        { name: 'flag', datatype: 'BOOL', shape: [1] },
      ],
    );
    const text = Buffer.from('héllo');
    const bytes = Buffer.alloc(4 + text.byteLength);
    bytes.writeUInt32LE(text.byteLength, 0);
    text.copy(bytes, 4);
    assert.deepEqual(Buffer.from(made.inputs[0]!.raw!), bytes);
    assert.deepEqual([...new Int32Array(Uint8Array.from(made.inputs[1]!.raw!).buffer)], [1, 2, 3]);
    assert.deepEqual([...made.inputs[3]!.raw!], [1]);
    assert.deepEqual(made.outputs, [], 'every output');
  });

  test('any other field, and every field of `parameters` not named as an input, is a parameter; `parameters` may hold inputs too', () => {
    const made = call({ text_input: 'a', max_tokens: 5, parameters: { temperature: 0.5, stream: true, numbers: [7], seed: 'x' } });
    assert.deepEqual({ ...made.parameters }, { max_tokens: 5, temperature: 0.5, stream: true, seed: 'x' });
    assert.deepEqual(
      made.inputs.map((input) => input.name),
      ['text_input', 'numbers'],
    );
    assert.equal(Object.getPrototypeOf(made.parameters), null);
  });

  test('`id` is the request id, and a parameter as in Triton', () => {
    const made = call({ id: '42', text_input: 'a' });
    assert.equal(made.id, '42');
    assert.equal(made.requestId, '42');
    assert.equal(made.parameters['id'], '42');
    assert.throws(() => call({ id: 42 }), invalid('id', /must be a string/));
  });

  test('names are only keys: __proto__ and constructor are parameters like any other', () => {
    const made = call(JSON.parse('{"__proto__": 1, "constructor": "c"}') as Record<string, unknown>);
    assert.equal(Object.hasOwn(made.parameters, '__proto__'), true);
    assert.equal(made.parameters['constructor'], 'c');
  });

  test('bad fields are refused naming them', () => {
    assert.throws(() => call({ max_tokens: [1, 2] }), invalid('max_tokens', /input of the model or a parameter/));
    assert.throws(() => call({ parameters: { nested: { a: 1 } } }), invalid('parameters.nested'));
    assert.throws(() => call({ parameters: null }), invalid('parameters', /JSON object/));
    assert.throws(() => call({ parameters: [1] }), invalid('parameters', /JSON object/));
    assert.throws(() => call({ numbers: 'x' }), invalid('numbers[0]', /INT32/));
    assert.throws(() => call({ parameters: { numbers: [1.5] } }), invalid('parameters.numbers[0]', /INT32/));
    assert.throws(() => call({ flag: 1 }), invalid('flag[0]', /true or false/));
    assert.throws(() => call({ text_input: ['a', 'b'] }), invalid('text_input', /2 value\(s\).*\[1\]/));
    assert.throws(() => call({ pair: [1, 2, 3] }), invalid('pair', /3 value\(s\)/));
    const withParametersInput: ModelMetadata = { ...METADATA, inputs: [{ name: 'parameters', datatype: 'INT32', shape: [1] }] };
    assert.throws(() => call({ parameters: {} }, withParametersInput), invalid('parameters', /also has an input of that name/));
  });
});

describe('generateShape', () => {
  const table: [number[], number, number[] | 'refused'][] = [
    [[1], 1, [1]],
    [[-1], 3, [3]],
    [[-1], 0, [0]],
    [[-1, 2], 6, [3, 2]],
    [[-1, -1], 4, [1, 4]],
    [[2, -1, 3], 12, [2, 2, 3]],
    [[2, 2], 4, [2, 2]],
    [[2, 2], 2, 'refused'],
    [[-1, 2], 3, 'refused'],
    [[1], 0, 'refused'],
    [[0], 0, [0]],
    [[0], 1, 'refused'],
  ];
  for (const [declared, count, expected] of table) {
    test(`[${declared.join(',')}] with ${count} value(s) → ${expected === 'refused' ? expected : `[${expected.join(',')}]`}`, () => {
      if (expected === 'refused') assert.throws(() => generateShape('x', declared, count), invalid('x'));
      else assert.deepEqual(generateShape('x', declared, count), expected);
    });
  }
});

function bytesTensor(...values: string[]): Uint8Array {
  return Buffer.concat(values.flatMap((value) => {
    const length = Buffer.alloc(4);
    length.writeUInt32LE(Buffer.byteLength(value));
    return [length, Buffer.from(value)];
  }));
}

describe('toGenerateJson', () => {
  const result = (overrides: Partial<InferResult>): InferResult => ({ model: 'm', version: '1', id: '', parameters: {}, outputs: [], raw: [], ...overrides });

  test('outputs by name, a one-element output as a plain value, fields in byte order of their names', () => {
    const json = toGenerateJson(
      result({
        id: '42',
        parameters: { zeta: true, big: 9007199254740993n, ratio: 0.5 },
        outputs: [
          { name: 'text_output', datatype: 'BYTES', shape: [1] },
          { name: 'B', datatype: 'INT32', shape: [2] },
          { name: 'one', datatype: 'FP32', shape: [1, 1] },
        ],
        raw: [bytesTensor('héllo'), new Uint8Array(new Int32Array([1, -2]).buffer), new Uint8Array(new Float32Array([1.5]).buffer)],
      }),
    );
    assert.equal(json, '{"B":[1,-2],"big":9007199254740993,"id":"42","model_name":"m","model_version":"1","one":1.5,"ratio":0.5,"text_output":"héllo","zeta":true}');
  });

  test('no id without one; a name taken by model_name keeps model_name', () => {
    const json = toGenerateJson(result({ outputs: [{ name: 'model_name', datatype: 'BYTES', shape: [1] }], raw: [bytesTensor('other')] }));
    assert.equal(json, '{"model_name":"m","model_version":"1"}');
  });

  test('an output that JSON cannot carry is an error naming it', () => {
    assert.throws(() => toGenerateJson(result({ outputs: [{ name: 'half', datatype: 'FP16', shape: [1] }], raw: [new Uint8Array(2)] })), /half/);
  });

  test('an event is `data: <json>` and a blank line', () => {
    assert.equal(sseEvent('{"a":1}'), 'data: {"a":1}\n\n');
  });
});
