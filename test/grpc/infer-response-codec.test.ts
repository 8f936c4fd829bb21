// An InferResultEncoder writes the bytes the generated encoder would, for every kind of field.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ModelInferResponse, ModelStreamInferResponse, type InferParameter } from '../../generated/grpc_service.js';
import { dictionary } from '../../src/dictionary.js';
import { InferResultEncoder, KeptReply } from '../../src/grpc/infer-response-codec.js';
import type { ParamValue, Parameters } from '../../src/model/index.js';
import type { InferResult } from '../../src/pipeline/index.js';

const result = (over: Partial<InferResult> = {}): InferResult => ({
  model: 'simple',
  version: '1',
  id: 'req-1',
  parameters: dictionary(),
  outputs: [{ name: 'OUTPUT0', datatype: 'INT32', shape: [1, 16] }],
  raw: [new Uint8Array(new Int32Array(16).fill(7).buffer)],
  ...over,
});

/** The InferParameter each value becomes: whole numbers as int64, other numbers as double. */
function toInferParameters(parameters: Parameters): Map<string, InferParameter> {
  const oneof = (value: ParamValue): InferParameter => {
    if (typeof value === 'boolean') return { boolParam: value };
    if (typeof value === 'string') return { stringParam: value };
    if (typeof value === 'bigint') return { int64Param: value };
    return Number.isSafeInteger(value) ? { int64Param: BigInt(value) } : { doubleParam: value };
  };
  return new Map(Object.entries(parameters).map(([key, value]) => [key, oneof(value)]));
}

/** The generated message for the same answer. */
const message = (r: InferResult, parameters: Map<string, InferParameter> = toInferParameters(r.parameters)): ModelInferResponse => ({
  modelName: r.model,
  modelVersion: r.version,
  id: r.id,
  parameters,
  outputs: r.outputs.map((output) => ({ name: output.name, datatype: output.datatype, shape: output.shape.map(BigInt), parameters: new Map(), contents: undefined })),
  rawOutputContents: r.raw.map((bytes) => Buffer.from(bytes)),
});

/** The generated encoder's bytes for the same answer: the reference. */
const reference = (r: InferResult): Buffer => Buffer.from(ModelInferResponse.encode(message(r)).finish());

/** The generated encoder's bytes for the same answer on a stream, flagged final as Triton flags it. */
const streamReference = (r: InferResult, errorMessage: string, final = true): Buffer =>
  Buffer.from(
    ModelStreamInferResponse.encode({
      errorMessage,
      inferResponse: message(r, toInferParameters(r.parameters).set('triton_final_response', { boolParam: final })),
    }).finish(),
  );

describe('InferResultEncoder', () => {
  const encoder = new InferResultEncoder();
  const encodeInferResult = encoder.unary;
  const cases: [string, InferResult][] = [
    ['a plain answer', result()],
    ['empty id, version and model', result({ id: '', version: '', model: '' })],
    ['names and ids beyond ASCII', result({ id: 'ид-✓', outputs: [{ name: 'выход', datatype: 'BYTES', shape: [2] }] })],
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
    ['a zero and a large dim', result({ outputs: [{ name: 'X', datatype: 'FP32', shape: [0, 1048576] }], raw: [new Uint8Array(0)] })],
    [
      'several outputs',
      result({
        outputs: [
          { name: 'A', datatype: 'UINT8', shape: [3] },
          { name: 'B', datatype: 'INT64', shape: [1, 2] },
        ],
        raw: [new Uint8Array([1, 2, 3]), new Uint8Array(new BigInt64Array([-1n, 1n]).buffer)],
      }),
    ],
    ['a 4 MiB tensor', result({ outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [1, 1048576] }], raw: [new Uint8Array(4 * 2 ** 20).fill(0x3f)] })],
  ];
  for (const [name, r] of cases) {
    test(`${name}: the same bytes as the generated encoder`, () => {
      const ours = Buffer.from(encodeInferResult(r));
      assert.ok(ours.equals(reference(r)), `${name}: ${ours.length} bytes vs ${reference(r).length}`);
      assert.equal(encoder.lastSize, ours.length, 'the encoder knows the size it wrote');
    });
    test(`${name}, kept by the response cache: sent under any id, the bytes the generated encoder writes for that id`, () => {
      encodeInferResult(r);
      const kept = encoder.encodedAnswer(r);
      assert.ok(kept);
      for (const id of ['', 'another', 'ид-✓-longer-than-before', r.id]) {
        const ours: Buffer = Buffer.from(encodeInferResult(new KeptReply(kept, id)));
        const expected = reference({ ...r, id });
        assert.ok(ours.equals(expected), `${name} (id '${id}'): ${ours.length} bytes vs ${expected.length}`);
        assert.equal(encoder.lastSize, ours.length);
      }
    });
    test(`${name}, on a stream: the same bytes as the generated encoder, flagged final or not`, () => {
      for (const errorMessage of ['', 'model failed']) {
        for (const final of [true, false]) {
          const ours = Buffer.from(encoder.stream({ result: r, errorMessage, final }));
          const expected = streamReference(r, errorMessage, final);
          assert.ok(ours.equals(expected), `${name} (final ${final}): ${ours.length} bytes vs ${expected.length}`);
        }
      }
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
    const other = new InferResultEncoder();
    const first = encodeInferResult(result({ id: 'first' }));
    other.unary(result({ id: 'other' }));
    assert.equal(ModelInferResponse.decode(first).id, 'first');
  });

  test('an answer is kept encoded only right after it was written: not after another answer, a kept one or a stream answer', () => {
    const first = result({ id: 'first' });
    encodeInferResult(first);
    encodeInferResult(result({ id: 'other' }));
    assert.equal(encoder.encodedAnswer(first), undefined);
    encodeInferResult(first);
    const kept = encoder.encodedAnswer(first) as NonNullable<ReturnType<InferResultEncoder['encodedAnswer']>>;
    encodeInferResult(new KeptReply(kept, 'x'));
    assert.equal(encoder.encodedAnswer(first), undefined);
    encoder.stream({ result: first, errorMessage: '', final: true });
    assert.equal(encoder.encodedAnswer(first), undefined);
  });

  test('the raw bytes are copied into the message, not referenced', () => {
    const raw = new Uint8Array([9, 9, 9, 9]);
    const encoded = encodeInferResult(result({ outputs: [{ name: 'X', datatype: 'UINT8', shape: [4] }], raw: [raw] }));
    raw.fill(0);
    assert.deepEqual([...ModelInferResponse.decode(encoded).rawOutputContents[0]!], [9, 9, 9, 9]);
  });
});
