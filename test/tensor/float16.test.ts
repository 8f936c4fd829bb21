import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bf16BitsToFloat,
  float32ToBf16Bits,
  float32ToFp16Bits,
  fp16BitsToFloat,
  toFloat32,
  type Tensor,
} from '../../src/tensor/index.js';

const isNaNBits16 = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
const isNaNBf16 = (h: number) => (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;

/** IEEE float32 → bfloat16, round to nearest even, by the usual bit trick (reference). */
function bf16Reference(f: number): number {
  const u = new Uint32Array(new Float32Array([f]).buffer)[0]!;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

describe('fp16', () => {
  test('known values decode exactly', () => {
    assert.equal(fp16BitsToFloat(0x3c00), 1);
    assert.equal(fp16BitsToFloat(0xc000), -2);
    assert.equal(fp16BitsToFloat(0x7bff), 65504);
    assert.equal(fp16BitsToFloat(0x0001), 2 ** -24); // smallest subnormal
    assert.equal(fp16BitsToFloat(0x03ff), 1023 * 2 ** -24); // largest subnormal
    assert.equal(fp16BitsToFloat(0x0400), 2 ** -14);
    assert.ok(Object.is(fp16BitsToFloat(0x8000), -0));
    assert.equal(fp16BitsToFloat(0x7c00), Infinity);
    assert.equal(fp16BitsToFloat(0xfc00), -Infinity);
    assert.ok(Number.isNaN(fp16BitsToFloat(0x7e00)));
  });

  test('every non-NaN pattern round-trips through its value', () => {
    for (let h = 0; h < 65536; h++) {
      if (isNaNBits16(h)) continue;
      assert.equal(float32ToFp16Bits(fp16BitsToFloat(h)), h, `0x${h.toString(16)}`);
    }
  });

  test('every NaN pattern decodes to NaN, and NaN encodes to a quiet NaN', () => {
    for (let h = 0; h < 65536; h++) if (isNaNBits16(h)) assert.ok(Number.isNaN(fp16BitsToFloat(h)));
    assert.equal(float32ToFp16Bits(NaN), 0x7e00);
  });

  test('midpoints round to the even neighbour, others to the nearest', () => {
    for (let h = 0; h < 0x7bff; h++) { // 0x7bff..Inf: see the overflow test
      const lo = fp16BitsToFloat(h);
      const hi = fp16BitsToFloat(h + 1);
      const mid = (lo + hi) / 2; // exact in float64
      const even = h % 2 === 0 ? h : h + 1;
      assert.equal(float32ToFp16Bits(mid), even, `mid 0x${h.toString(16)}`);
      assert.equal(float32ToFp16Bits(-mid), even | 0x8000);
      assert.equal(float32ToFp16Bits(mid - (hi - lo) / 1024), h);
      assert.equal(float32ToFp16Bits(mid + (hi - lo) / 1024), h + 1);
    }
  });

  test('overflow goes to infinity at 65520 (ties to even), not before', () => {
    assert.equal(float32ToFp16Bits(65519.99), 0x7bff);
    assert.equal(float32ToFp16Bits(65520), 0x7c00);
    assert.equal(float32ToFp16Bits(-1e10), 0xfc00);
    assert.equal(float32ToFp16Bits(Infinity), 0x7c00);
  });

  test('underflow keeps the sign of zero', () => {
    assert.equal(float32ToFp16Bits(2 ** -26), 0); // below half the smallest subnormal
    assert.equal(float32ToFp16Bits(2 ** -25), 0); // exactly half: ties to even (0)
    assert.equal(float32ToFp16Bits(2 ** -25 * 1.0001), 1);
    assert.equal(float32ToFp16Bits(-0), 0x8000);
    assert.equal(float32ToFp16Bits(-1e-30), 0x8000);
  });

  test('a float64 is rounded once, not twice through float32', () => {
    // 1 + 2^-11 + 2^-40: just above the fp16 midpoint, but float32 rounds it onto the midpoint.
    const v = 1 + 2 ** -11 + 2 ** -40;
    assert.equal(float32ToFp16Bits(v), 0x3c01);
    assert.equal(float32ToFp16Bits(Math.fround(v)), 0x3c00);
  });
});

describe('bf16', () => {
  test('every non-NaN pattern round-trips and decodes to the upper half of a float32', () => {
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (let h = 0; h < 65536; h++) {
      u[0] = h << 16;
      if (isNaNBf16(h)) {
        assert.ok(Number.isNaN(bf16BitsToFloat(h)));
        continue;
      }
      assert.ok(Object.is(bf16BitsToFloat(h), f[0]), `0x${h.toString(16)}`);
      assert.equal(float32ToBf16Bits(bf16BitsToFloat(h)), h);
    }
  });

  test('rounds float32 values like the reference bit trick', () => {
    const u = new Uint32Array(1);
    const f = new Float32Array(u.buffer);
    let x = 0x12345678;
    for (let k = 0; k < 200_000; k++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0; // LCG: fixed sequence
      u[0] = x;
      if (Number.isNaN(f[0])) continue;
      assert.equal(float32ToBf16Bits(f[0]!), bf16Reference(f[0]!), `0x${x.toString(16)}`);
    }
  });

  test('NaN encodes to a quiet NaN and overflow to infinity', () => {
    assert.equal(float32ToBf16Bits(NaN), 0x7fc0);
    assert.equal(float32ToBf16Bits(3.4e38), 0x7f80);
    assert.equal(float32ToBf16Bits(-Infinity), 0xff80);
  });
});

describe('toFloat32', () => {
  const t = (datatype: Tensor['datatype'], data: Tensor['data']): Tensor => ({ name: 'x', datatype, shape: [data.length], data });

  test('FP16 converts exactly, keeping NaN payloads and -0', () => {
    const bits = new Uint16Array(65536).map((_, k) => k);
    const out = toFloat32(t('FP16', bits));
    const outBits = new Uint32Array(out.buffer);
    for (let h = 0; h < 65536; h++) {
      if (isNaNBits16(h)) {
        assert.equal(outBits[h], (((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13)) >>> 0);
      } else {
        assert.ok(Object.is(out[h], fp16BitsToFloat(h)), `0x${h.toString(16)}`);
      }
    }
  });

  test('BF16 converts to the bits shifted into the upper half', () => {
    const out = toFloat32(t('BF16', new Uint16Array([0x3f80, 0xff81, 0x8000])));
    assert.deepEqual([...new Uint32Array(out.buffer)], [0x3f800000, 0xff810000, 0x80000000]);
  });

  test('FP32 is returned as is, no copy', () => {
    const data = new Float32Array([1, 2]);
    assert.equal(toFloat32(t('FP32', data)), data);
  });

  test('integer, 64-bit and FP64 tensors convert numerically', () => {
    assert.deepEqual(toFloat32(t('INT64', new BigInt64Array([-3n, 2n ** 40n]))), new Float32Array([-3, 2 ** 40]));
    assert.deepEqual(toFloat32(t('UINT8', new Uint8Array([255]))), new Float32Array([255]));
    assert.deepEqual(toFloat32(t('FP64', new Float64Array([0.1]))), new Float32Array([Math.fround(0.1)]));
  });

  test('rejects a BYTES tensor', () => {
    assert.throws(() => toFloat32(t('BYTES', [new Uint8Array(1)])), { name: 'InferenceError', code: 'INVALID_ARGUMENT', message: /'x' is BYTES/ });
  });
});
