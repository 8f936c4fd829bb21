// Exact FP16/BF16 conversions. Our own code (≈40 lines) instead of a dependency:
// Node 20 has no Float16Array / Math.f16round, and the bit rules are short and
// checked exhaustively over all 65536 patterns in test/tensor/float16.test.ts.
import { InferenceError } from '../errors.js';
import type { Tensor } from './types.js';

/** The exact value of an IEEE 754 binary16 bit pattern (−0, subnormals, ±Inf, NaN included). */
export function fp16BitsToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // subnormal (and ±0)
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** The exact value of a bfloat16 bit pattern (the upper half of a float32). */
export function bf16BitsToFloat(bits: number): number {
  F32_SCRATCH_U32[0] = (bits & 0xffff) << 16;
  return F32_SCRATCH[0]!;
}

/**
 * `value` rounded to the nearest binary16, ties to even, as bits. NaN → 0x7e00
 * (quiet NaN); overflow → ±Inf. Rounds from the exact value of `value`, so a float64
 * input is rounded once (no double rounding through float32); for a float32 input this is
 * the IEEE float32 → half conversion.
 */
export function float32ToFp16Bits(value: number): number {
  return roundToMinifloat(value, 5, 10, 0x7e00);
}

/** `value` rounded to the nearest bfloat16, ties to even, as bits; NaN → 0x7fc0. */
export function float32ToBf16Bits(value: number): number {
  return roundToMinifloat(value, 8, 7, 0x7fc0);
}

/**
 * Generic round-to-nearest-even into a sign/exponent/mantissa format narrower than float64.
 * Every step is exact in float64: scaling by powers of two, `m - 1` for m in [1, 2),
 * and `q - floor(q)`.
 */
function roundToMinifloat(value: number, expBits: number, mantBits: number, nan: number): number {
  if (Number.isNaN(value)) return nan;
  const sign = value < 0 || Object.is(value, -0) ? 1 << (expBits + mantBits) : 0;
  const a = Math.abs(value);
  const bias = (1 << (expBits - 1)) - 1;
  const emin = 1 - bias;
  const inf = sign | (((1 << expBits) - 1) << mantBits);
  if (a === Infinity) return inf;
  if (a < 2 ** emin) {
    // Subnormal range: fixed quantum 2^(emin - mantBits). A result of 1 << mantBits is
    // the smallest normal, which is also its correct encoding.
    return sign | roundHalfEven(a * 2 ** (mantBits - emin));
  }
  let e = Math.floor(Math.log2(a));
  // log2 may be off by one near powers of two; fix it exactly.
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  let q = roundHalfEven((a / 2 ** e - 1) * 2 ** mantBits);
  if (q === 1 << mantBits) {
    q = 0;
    e++;
  }
  if (e > bias) return inf;
  return sign | ((e + bias) << mantBits) | q;
}

function roundHalfEven(q: number): number {
  const f = Math.floor(q);
  const d = q - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f + (f & 1);
}

const F32_SCRATCH = new Float32Array(1);
const F32_SCRATCH_U32 = new Uint32Array(F32_SCRATCH.buffer);

/** binary16 bits → float32 bits; built on first use (256 KiB), keeps NaN payloads. */
let fp16ToF32Bits: Uint32Array | undefined;

function fp16Table(): Uint32Array {
  if (fp16ToF32Bits !== undefined) return fp16ToF32Bits;
  const table = new Uint32Array(65536);
  const f = new Float32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const exp = (h >> 10) & 0x1f;
    if (exp === 0x1f && (h & 0x3ff) !== 0) {
      // NaN: keep sign and payload (shifted into the float32 mantissa), as hardware does.
      table[h] = (((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13)) >>> 0;
    } else {
      f[h] = fp16BitsToFloat(h); // exact: every binary16 value is a float32
    }
  }
  fp16ToF32Bits = table;
  return table;
}

/**
 * The tensor's values as float32. FP16 and BF16 are exact (every half/bfloat16 value is a
 * float32); other types round as `Math.fround` does. An FP32 tensor returns its own data
 * (no copy), so writing to the result writes to the tensor.
 */
export function toFloat32(tensor: Tensor): Float32Array {
  const { data, datatype } = tensor;
  if (datatype === 'BYTES' || !ArrayBuffer.isView(data)) {
    throw new InferenceError(
      'INVALID_ARGUMENT',
      `tensor '${tensor.name}' is ${datatype}; toFloat32 needs a numeric tensor`,
    );
  }
  if (data instanceof Float32Array) return data;
  const n = data.length;
  const out = new Float32Array(n);
  if (datatype === 'FP16' || datatype === 'BF16') {
    const src = data as Uint16Array;
    const bits = new Uint32Array(out.buffer);
    if (datatype === 'BF16') {
      for (let i = 0; i < n; i++) bits[i] = src[i]! << 16;
    } else {
      const table = fp16Table();
      for (let i = 0; i < n; i++) bits[i] = table[src[i]!]!;
    }
    return out;
  }
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) out[i] = Number(data[i]!);
    return out;
  }
  out.set(data); // native numeric conversion, rounds like Math.fround
  return out;
}
