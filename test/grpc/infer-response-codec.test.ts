// An InferResultEncoder writes the bytes the generated encoder would, for every kind of field.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ModelInferResponse } from '../../generated/grpc_service.js';
import { dictionary } from '../../src/dictionary.js';
import { toInferResponse } from '../../src/grpc/converters.js';
import { inferResultEncoder } from '../../src/grpc/infer-response-codec.js';
import type { InferResult } from '../../src/pipeline/index.js';

const result = (over: Partial<InferResult> = {}): InferResult => ({
  model: 'simple',
  version: '1',
  id: 'req-1',
  parameters: dictionary(),
  outputs: [{ name: 'OUTPUT0', datatype: 'INT32', shape: [1n, 16n] }],
  raw: [new Uint8Array(new Int32Array(16).fill(7).buffer)],
  ...over,
});

/** The generated encoder's bytes for the same answer: the reference. */
const reference = (r: InferResult): Buffer => Buffer.from(ModelInferResponse.encode(toInferResponse(r)).finish());

describe('inferResultEncoder', () => {
  const encodeInferResult = inferResultEncoder();
  const cases: [string, InferResult][] = [
    ['a plain answer', result()],
    ['empty id, version and model', result({ id: '', version: '', model: '' })],
    ['names and ids beyond ASCII', result({ id: 'ид-✓', outputs: [{ name: 'выход', datatype: 'BYTES', shape: [2n] }] })],
    [
      'parameters of every kind, empty and extreme values included',
      result({
        parameters: dictionary<boolean | number | bigint | string>([
          ['flag', false],
          ['on', true],
          ['empty', ''],
          ['text', 'ok'],
          ['count', 42],
          ['negative', -5],
          ['big', 2n ** 63n - 1n],
          ['small', -(2n ** 63n)],
          ['ratio', 0.25],
          ['', 'empty key'],
        ]),
      }),
    ],
    ['a scalar output (no shape) and an empty raw entry (an output written to shared memory)', result({ outputs: [{ name: 'S', datatype: 'FP32', shape: [] }], raw: [new Uint8Array(0)] })],
    ['a negative and a large dim', result({ outputs: [{ name: 'X', datatype: 'FP32', shape: [-1n, 1048576n] }], raw: [new Uint8Array(4)] })],
    [
      'several outputs',
      result({
        outputs: [
          { name: 'A', datatype: 'UINT8', shape: [3n] },
          { name: 'B', datatype: 'INT64', shape: [1n, 2n] },
        ],
        raw: [new Uint8Array([1, 2, 3]), new Uint8Array(new BigInt64Array([-1n, 1n]).buffer)],
      }),
    ],
    ['a 4 MiB tensor', result({ outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [1n, 1048576n] }], raw: [new Uint8Array(4 * 2 ** 20).fill(0x3f)] })],
  ];
  for (const [name, r] of cases) {
    test(`${name}: the same bytes as the generated encoder`, () => {
      const ours = Buffer.from(encodeInferResult(r));
      assert.ok(ours.equals(reference(r)), `${name}: ${ours.length} bytes vs ${reference(r).length}`);
    });
  }

  test('the next answer reuses the scratch buffer: a caller copies one before serializing another (as grpc-js does)', () => {
    const first = encodeInferResult(result({ id: 'first' }));
    const copy = Buffer.from(first);
    encodeInferResult(result({ id: 'other' }));
    assert.equal(ModelInferResponse.decode(copy).id, 'first');
    assert.equal(ModelInferResponse.decode(first).id, 'other', 'the view was overwritten: copying it is the caller\'s job');
  });

  test('each encoder has a scratch buffer of its own: one server\'s answer is not overwritten by another\'s', () => {
    const other = inferResultEncoder();
    const first = encodeInferResult(result({ id: 'first' }));
    other(result({ id: 'other' }));
    assert.equal(ModelInferResponse.decode(first).id, 'first');
  });

  test('the raw bytes are copied into the message, not referenced', () => {
    const raw = new Uint8Array([9, 9, 9, 9]);
    const encoded = encodeInferResult(result({ outputs: [{ name: 'X', datatype: 'UINT8', shape: [4n] }], raw: [raw] }));
    raw.fill(0);
    assert.deepEqual([...ModelInferResponse.decode(encoded).rawOutputContents[0]!], [9, 9, 9, 9]);
  });
});
