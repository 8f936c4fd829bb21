import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { INLINE_KEY_BYTES, requestKey, type KeyedRequest } from '../../src/cache/index.js';
import { dictionary } from '../../src/dictionary.js';

/** Small inputs make a key holding the request; bigger ones a SHA-256: both must tell every request apart. */
for (const [kind, elements] of [
  ['inline', 2],
  ['hashed', INLINE_KEY_BYTES / 4 + 1],
] as const) {
  const values = Int32Array.from({ length: elements }, (_, i) => i + 1);
  const changed = Int32Array.from(values, (v, i) => (i === elements - 1 ? v + 1 : v));
  const base: KeyedRequest = {
    model: 'm',
    version: '1',
    load: 1,
    inputs: [{ name: 'IN', datatype: 'INT32', shape: [1, elements], data: values }],
    outputs: [],
    parameters: dictionary(),
  };

  const key = (change: Partial<KeyedRequest>) => requestKey({ ...base, ...change });

  describe(`requestKey (${kind})`, () => {
    test('the same request has the same key, whatever buffer its bytes sit in', () => {
      const bytes = new Uint8Array(8 + values.byteLength);
      const view = new Int32Array(bytes.buffer, 8, elements);
      view.set(values);
      assert.equal(key({ inputs: [{ ...base.inputs[0]!, data: view }] }), key({}));
      if (kind === 'hashed') assert.equal(key({}).length, 45);
      else assert.ok(key({}).length > values.byteLength);
    });

    test('each thing that decides the answer changes the key', () => {
      const keys = [
        key({}),
        key({ model: 'n' }),
        key({ version: '2' }),
        key({ load: 2 }),
        key({ inputs: [{ ...base.inputs[0]!, name: 'OTHER' }] }),
        key({ inputs: [{ ...base.inputs[0]!, shape: [elements, 1] }] }),
        key({ inputs: [{ ...base.inputs[0]!, datatype: 'UINT32', data: new Uint32Array(values) }] }),
        key({ inputs: [{ ...base.inputs[0]!, data: changed }] }),
        key({ outputs: [{ name: 'OUT', parameters: dictionary() }] }),
        key({ outputs: [{ name: 'OUT', parameters: dictionary([['classification', 2]]) }] }),
        key({ parameters: dictionary([['p', 1]]) }),
        key({ parameters: dictionary([['p', 1n]]) }),
        key({ parameters: dictionary([['p', '1']]) }),
        key({ parameters: dictionary([['p', true]]) }),
        key({ parameters: dictionary([['p', -0]]) }),
        key({ parameters: dictionary([['p', 0]]) }),
      ];
      assert.equal(new Set(keys).size, keys.length);
    });

    test('parameters in another order are the same request', () => {
      const ab = dictionary<number>([['a', 1], ['b', 2]]);
      const ba = dictionary<number>([['b', 2], ['a', 1]]);
      assert.equal(key({ parameters: ab }), key({ parameters: ba }));
    });

    test('__proto__ and constructor are names like others, as inputs, outputs and parameters', () => {
      const plain = key({});
      const proto = JSON.parse('{"__proto__": "x"}') as Record<string, string>;
      const keys = [
        plain,
        key({ parameters: proto }),
        key({ parameters: dictionary([['__proto__', 'x']]) }),
        key({ parameters: dictionary([['constructor', 'x']]) }),
        key({ outputs: [{ name: '__proto__', parameters: dictionary() }] }),
        key({ outputs: [{ name: 'OUT', parameters: dictionary([['constructor', 1]]) }] }),
        key({ inputs: [{ ...base.inputs[0]!, name: '__proto__' }] }),
        key({ inputs: [{ ...base.inputs[0]!, name: 'constructor' }] }),
      ];
      // A record from JSON with an own __proto__ key and a dictionary with it are the same parameters.
      assert.equal(keys[1], keys[2]);
      keys.splice(2, 1);
      assert.equal(new Set(keys).size, keys.length);
    });

    test('fields never run into each other: lengths delimit every name, value and tensor', () => {
      const pad = kind === 'hashed' ? [base.inputs[0]!] : [];
      const bytes = (elements: string[], name = 'S'): KeyedRequest['inputs'][number] => ({
        name,
        datatype: 'BYTES',
        shape: [elements.length],
        data: elements.map((e) => new TextEncoder().encode(e)),
      });
      const keys = [
        key({ inputs: [...pad, bytes(['ab', 'c'])] }),
        key({ inputs: [...pad, bytes(['a', 'bc'])] }),
        key({ inputs: [...pad, bytes(['abc', ''])] }),
        key({ parameters: dictionary([['ab', 'c']]) }),
        key({ parameters: dictionary([['a', 'bc']]) }),
        key({ parameters: dictionary([['a', 'b'], ['c', 'd']]) }),
        key({ parameters: dictionary([['a', 'b;1:cs1:d']]) }),
        key({ inputs: [...pad, bytes(['x'], 'A'), bytes(['y'], 'B')] }),
        key({ inputs: [...pad, bytes(['x', 'y'], 'A')] }),
        // Lone surrogates stay apart (UTF-8 would make both U+FFFD).
        key({ parameters: dictionary([['p', '\ud800']]) }),
        key({ parameters: dictionary([['p', '\udbff']]) }),
      ];
      assert.equal(new Set(keys).size, keys.length);
    });
  });
}
