// Per-datatype round trips with edge values: typed → decode → encode → raw, and
// raw → decode → toList → fromList → encode → the same raw bytes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DATATYPES,
  encodeOutputs,
  fromList,
  toList,
  type Datatype,
  type TypedContents,
} from '../../src/tensor/index.js';
import { at, decodeWithRaw, input, rawOf } from './wire.js';

interface Case {
  values: unknown[];
  typed?: (values: unknown[]) => Partial<TypedContents>;
}

const CASES: Record<Datatype, Case> = {
  BOOL: { values: [true, false, true], typed: (v) => ({ boolContents: v as boolean[] }) },
  UINT8: { values: [0, 1, 255], typed: (v) => ({ uintContents: v as number[] }) },
  UINT16: { values: [0, 65535, 256], typed: (v) => ({ uintContents: v as number[] }) },
  UINT32: { values: [0, 4294967295, 65536], typed: (v) => ({ uintContents: v as number[] }) },
  UINT64: { values: [0n, 2n ** 64n - 1n, 2n ** 53n + 1n], typed: (v) => ({ uint64Contents: v as bigint[] }) },
  INT8: { values: [-128, 0, 127], typed: (v) => ({ intContents: v as number[] }) },
  INT16: { values: [-32768, 0, 32767], typed: (v) => ({ intContents: v as number[] }) },
  INT32: { values: [-(2 ** 31), 2 ** 31 - 1, -1], typed: (v) => ({ intContents: v as number[] }) },
  INT64: { values: [-(2n ** 63n), 2n ** 63n - 1n, 0n], typed: (v) => ({ int64Contents: v as bigint[] }) },
  // FP16/BF16 travel raw only; values are bits: subnormal, −0, ±Inf, NaN, max.
  FP16: { values: [0x0001, 0x03ff, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x7bff] },
  BF16: { values: [0x0001, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0x7f7f] },
  FP32: {
    values: [NaN, Infinity, -Infinity, -0, 1.5, 1e-45, 3.4028234663852886e38],
    typed: (v) => ({ fp32Contents: v as number[] }),
  },
  FP64: {
    values: [NaN, Infinity, -Infinity, -0, 5e-324, Number.MAX_VALUE],
    typed: (v) => ({ fp64Contents: v as number[] }),
  },
  BYTES: {
    values: ['', 'hello', new Uint8Array([0xff, 0xfe, 0x00, 0x80]), 'he\0llo', 'é'],
    typed: (v) => ({ bytesContents: v.map((e) => (typeof e === 'string' ? Buffer.from(e) : (e as Buffer))) }),
  },
};

describe('round trips per datatype', () => {
  for (const dt of DATATYPES) {
    const { values, typed } = CASES[dt];
    const raw = rawOf(dt, values);

    if (typed !== undefined) {
      test(`${dt}: typed → decode → encode gives the raw layout`, () => {
        const tensors = decodeWithRaw([input('X', dt, [values.length], typed(values))], [], undefined);
        const { outputs, raw: out } = encodeOutputs(tensors);
        assert.deepEqual(outputs, [{ name: 'X', datatype: dt, shape: [values.length] }]);
        assert.deepEqual(new Uint8Array(out[0]!), raw);
      });
    }

    test(`${dt}: raw → decode → toList → fromList → encode gives the same bytes`, () => {
      const [t] = decodeWithRaw([input('X', dt, [1, values.length])], [raw], undefined);
      const list = toList(t!);
      const back = fromList(list, dt, 'X', t!.shape);
      const { raw: out } = encodeOutputs([back]);
      assert.deepEqual(new Uint8Array(out[0]!), raw);
    });

    test(`${dt}: misaligned raw decodes to the same tensor`, () => {
      const [a] = decodeWithRaw([input('X', dt, [values.length])], [raw], undefined);
      const [b] = decodeWithRaw([input('X', dt, [values.length])], [at(raw, 1)], undefined);
      assert.deepEqual(toList(b!), toList(a!));
    });

    test(`${dt}: an empty tensor with a 0 dim round-trips`, () => {
      const [t] = decodeWithRaw([input('X', dt, [2, 0, 3])], [new Uint8Array(0)], undefined);
      assert.deepEqual(toList(t!), [[], []]);
      const { outputs, raw: out } = encodeOutputs([fromList(toList(t!), dt, 'X', [2, 0, 3])]);
      assert.deepEqual(outputs[0]!.shape, [2, 0, 3]);
      assert.equal(out[0]!.byteLength, 0);
    });
  }

  test('raw → decode → encode keeps NaN payloads bit for bit', () => {
    const raw = new Uint8Array(new Uint32Array([0x7fa00001, 0xffc00123]).buffer);
    const { raw: out } = encodeOutputs(decodeWithRaw([input('X', 'FP32', [2])], [raw], undefined));
    assert.deepEqual(new Uint8Array(out[0]!), raw);
  });
});
