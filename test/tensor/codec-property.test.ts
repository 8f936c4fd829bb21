// Seeded property tests: decode(encode(x)) == x over random tensors, and random damage to
// valid raw requests yields a correct decode or INVALID_ARGUMENT, never another exception.
// Reproduce a failure with FC_SEED=<seed printed below> (fast-check also prints the path).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DATATYPES,
  elementCount,
  encodeOutputs,
  toList,
  type Datatype,
  type IOSpec,
  type Tensor,
  type TensorData,
  type TypedContents,
  type ReceivedInput,
} from '../../src/tensor/index.js';
import { InferenceError } from '../../src/errors.js';
import { contents, decodeWithRaw } from './wire.js';

const SEED = Number(process.env['FC_SEED'] ?? 0x5eed2024);
const RUNS = Number(process.env['FC_RUNS'] ?? 1000);

function elementArb(dt: Datatype): fc.Arbitrary<unknown> {
  switch (dt) {
    case 'BOOL': return fc.boolean();
    case 'UINT8': return fc.integer({ min: 0, max: 255 });
    case 'UINT16': return fc.integer({ min: 0, max: 65535 });
    case 'UINT32': return fc.integer({ min: 0, max: 4294967295 });
    case 'UINT64': return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case 'INT8': return fc.integer({ min: -128, max: 127 });
    case 'INT16': return fc.integer({ min: -32768, max: 32767 });
    case 'INT32': return fc.integer();
    case 'INT64': return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'FP16': case 'BF16': return fc.integer({ min: 0, max: 65535 }); // bits
    case 'FP32': return fc.float();
    case 'FP64': return fc.double();
    case 'BYTES': return fc.uint8Array({ maxLength: 6 });
  }
}

function build(dt: Datatype, values: unknown[]): TensorData {
  switch (dt) {
    case 'BYTES': return values as Uint8Array[];
    case 'BOOL': return Uint8Array.from(values as boolean[], (b) => (b ? 1 : 0));
    case 'UINT8': return Uint8Array.from(values as number[]);
    case 'UINT16': case 'FP16': case 'BF16': return Uint16Array.from(values as number[]);
    case 'UINT32': return Uint32Array.from(values as number[]);
    case 'UINT64': return BigUint64Array.from(values as bigint[]);
    case 'INT8': return Int8Array.from(values as number[]);
    case 'INT16': return Int16Array.from(values as number[]);
    case 'INT32': return Int32Array.from(values as number[]);
    case 'INT64': return BigInt64Array.from(values as bigint[]);
    case 'FP32': return Float32Array.from(values as number[]);
    case 'FP64': return Float64Array.from(values as number[]);
  }
}

const tensorArb = (name: string): fc.Arbitrary<Tensor> =>
  fc
    .record({
      datatype: fc.constantFrom(...DATATYPES),
      shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
    })
    .chain(({ datatype, shape }) =>
      fc
        .array(elementArb(datatype), { minLength: elementCount(shape), maxLength: elementCount(shape) })
        .map((values): Tensor => ({ name, datatype, shape, data: build(datatype, values) })),
    );

function typedContents(t: Tensor): TypedContents {
  const d = t.data as ArrayLike<unknown>;
  const a = Array.from(d);
  switch (t.datatype) {
    case 'BOOL': return contents({ boolContents: a.map((v) => v === 1) });
    case 'UINT8': case 'UINT16': case 'UINT32': return contents({ uintContents: a as number[] });
    case 'INT8': case 'INT16': case 'INT32': return contents({ intContents: a as number[] });
    case 'UINT64': return contents({ uint64Contents: a as bigint[] });
    case 'INT64': return contents({ int64Contents: a as bigint[] });
    case 'FP32': return contents({ fp32Contents: a as number[] });
    case 'FP64': return contents({ fp64Contents: a as number[] });
    case 'BYTES': return contents({ bytesContents: a as Buffer[] });
    default: throw new Error(`${t.datatype} has no typed contents`);
  }
}

/** The raw bytes placed `offset` bytes into a fresh buffer (alignment is part of the input). */
function placed(bytes: Uint8Array, offset: number): Uint8Array {
  const buf = new Uint8Array(offset + bytes.byteLength);
  buf.set(bytes, offset);
  return buf.subarray(offset);
}

/** A received input the mutations below may change in place. */
type MutableInput = { -readonly [K in keyof ReceivedInput]: ReceivedInput[K] } & { shape: number[] };

const wireOf = (t: Tensor): MutableInput => ({ name: t.name, datatype: t.datatype, shape: [...t.shape] });

/** What every successful decode must satisfy, whatever the input was. */
function checkInvariants(ts: readonly Tensor[]): void {
  for (const t of ts) {
    assert.equal(t.data.length, elementCount(t.shape), `${t.name}: data length vs shape`);
    if (t.datatype === 'BOOL') for (const b of t.data as Uint8Array) assert.ok(b <= 1);
    if (t.datatype === 'BYTES') for (const el of t.data as Uint8Array[]) assert.ok(el instanceof Uint8Array);
  }
}

describe('codec properties', () => {
  test('decode(encode(x)) == x, raw and typed, at any alignment', (t) => {
    t.diagnostic(`fast-check seed ${SEED} (FC_SEED to reproduce)`);
    fc.assert(
      fc.property(tensorArb('X'), fc.boolean(), fc.integer({ min: 0, max: 7 }), (x, raw, offset) => {
        const { raw: encoded } = encodeOutputs([x]);
        const typed = !raw && x.datatype !== 'FP16' && x.datatype !== 'BF16';
        const [y] = typed
          ? decodeWithRaw([{ ...wireOf(x), contents: typedContents(x) }], [], undefined)
          : decodeWithRaw([wireOf(x)], [placed(encoded[0]!, offset)], undefined);
        assert.equal(y!.datatype, x.datatype);
        assert.deepEqual(y!.shape, x.shape);
        assert.deepEqual(toList(y!), toList(x));
        if (!typed) assert.deepEqual(new Uint8Array(encodeOutputs([y!]).raw[0]!), new Uint8Array(encoded[0]!));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  const mutationArb = fc.oneof(
    fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('extend' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 9 }) }),
    fc.record({
      kind: fc.constant('dim' as const),
      at: fc.nat(),
      value: fc.oneof(fc.integer({ min: -3, max: 9 }), fc.constant(2 ** 40), fc.constant(2 ** 62)),
    }),
    fc.record({ kind: fc.constant('rank' as const), add: fc.boolean() }),
    fc.record({ kind: fc.constant('datatype' as const), value: fc.constantFrom(...DATATYPES, 'FLOAT', '') }),
    fc.record({ kind: fc.constant('dropRaw' as const) }),
    fc.record({ kind: fc.constant('addRaw' as const) }),
    fc.record({ kind: fc.constant('addTyped' as const) }),
    fc.record({ kind: fc.constant('rename' as const), to: fc.constantFrom('A', 'B', 'C', 'Z') }),
  );
  type Mutation = typeof mutationArb extends fc.Arbitrary<infer M> ? M : never;

  function mutate(inputs: MutableInput[], raw: Uint8Array[], which: number, m: Mutation): void {
    const k = which % inputs.length;
    const input = inputs[k]!;
    const bytes = raw[k] ?? new Uint8Array(0); // an earlier dropRaw may have removed it
    switch (m.kind) {
      case 'byte':
        if (bytes.byteLength > 0) bytes[m.at % bytes.byteLength] = m.value;
        break;
      case 'truncate':
        if (k < raw.length) raw[k] = bytes.subarray(0, m.at % (bytes.byteLength + 1));
        break;
      case 'extend':
        if (k < raw.length) raw[k] = Uint8Array.from([...bytes, ...m.bytes]);
        break;
      case 'dim':
        if (input.shape.length > 0) input.shape[m.at % input.shape.length] = m.value;
        break;
      case 'rank':
        if (m.add) input.shape.push(1);
        else input.shape.pop();
        break;
      case 'datatype':
        input.datatype = m.value;
        break;
      case 'dropRaw':
        raw.pop();
        break;
      case 'addRaw':
        raw.push(new Uint8Array(4));
        break;
      case 'addTyped':
        input.contents = contents({ int64Contents: [1n] });
        break;
      case 'rename':
        input.name = m.to;
        break;
    }
  }

  test('damaged raw requests decode correctly or fail INVALID_ARGUMENT, nothing else', (t) => {
    t.diagnostic(`fast-check seed ${SEED} (FC_SEED to reproduce)`);
    const request = fc.tuple(tensorArb('A'), tensorArb('B'), tensorArb('C')).chain((ts) =>
      fc.tuple(fc.constant(ts), fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.array(fc.tuple(fc.nat(), mutationArb), { minLength: 1, maxLength: 3 })),
    );
    fc.assert(
      fc.property(request, ([all, n, withSpec, mutations]) => {
        const ts = all.slice(0, n);
        const { raw: encoded } = encodeOutputs(ts);
        // Copies: mutations write into the bytes, and encoded BYTES may share Buffer's pool.
        const raw = encoded.map((b) => Uint8Array.from(b));
        const inputs = ts.map(wireOf);
        const spec: IOSpec | undefined = withSpec
          ? { maxBatchSize: 0, inputs: ts.map((x) => ({ name: x.name, datatype: x.datatype, dims: x.shape.map((d, k) => (k === 0 ? -1 : d)) })), outputs: [] }
          : undefined;
        for (const [which, m] of mutations) mutate(inputs, raw, which, m);
        let decoded: Tensor[];
        try {
          decoded = decodeWithRaw(inputs, raw, spec);
        } catch (e) {
          assert.ok(e instanceof InferenceError, `not an InferenceError: ${String(e)}`);
          assert.equal(e.code, 'INVALID_ARGUMENT');
          assert.match(e.message, /^(inputs\[\d\] '[A-Z]*'|input '[A-Z]'|raw_input_contents\[\d\])/);
          return;
        }
        checkInvariants(decoded);
        assert.equal(decoded.length, inputs.length);
      }),
      { seed: SEED, numRuns: RUNS * 2 },
    );
  });
});
