// Exact value conversion for model outputs: JS values / typed arrays → a datatype's data.
import { InferenceError } from '../errors.js';
import { TYPED_ARRAY } from './datatypes.js';
import { float32ToBf16Bits, float32ToFp16Bits } from './float16.js';
import type { Datatype, NumericData, TensorData } from './types.js';

export function outputError(name: string, problem: string): InferenceError {
  return new InferenceError('INTERNAL', `output '${name}': ${problem}`);
}

/** A typed array that is numeric data (DataView and Uint8ClampedArray are not). */
export function isNumericData(x: unknown): x is NumericData {
  return ArrayBuffer.isView(x) && typedDatatype(x as NumericData) !== undefined;
}

/** The datatype a typed array is taken for when nothing is declared. */
export function typedDatatype(ta: NumericData): Datatype | undefined {
  // Buffer is a Uint8Array subclass; the exact prototype check would miss it.
  if (ta instanceof Float32Array) return 'FP32';
  if (ta instanceof Float64Array) return 'FP64';
  if (ta instanceof Int32Array) return 'INT32';
  if (ta instanceof BigInt64Array) return 'INT64';
  if (ta instanceof Uint8Array) return 'UINT8';
  if (ta instanceof Int8Array) return 'INT8';
  if (ta instanceof Int16Array) return 'INT16';
  if (ta instanceof Uint16Array) return 'UINT16';
  if (ta instanceof Uint32Array) return 'UINT32';
  if (ta instanceof BigUint64Array) return 'UINT64';
  return undefined;
}

const INT_RANGE: Partial<Record<Datatype, readonly [number, number]>> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-2147483648, 2147483647],
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 4294967295],
};
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

function describe(v: unknown): string {
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}…` : v)}`;
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof Uint8Array) return `Uint8Array(${v.byteLength})`;
  if (Array.isArray(v)) return 'a nested list';
  return v === null ? 'null' : typeof v;
}

function cannot(name: string, k: number, v: unknown, datatype: Datatype): InferenceError {
  return outputError(name, `element ${k} (${describe(v)}) cannot be ${datatype}`);
}

/**
 * Converts `values` (a typed array or a flat JS array of leaves) to `datatype`, exactly:
 * integers must be integral and in range, bigints must fit, FP32/FP16/BF16 round to nearest
 * even (the only inexact step, and the one the datatype asks for), BOOL takes `v !== 0`,
 * BYTES takes Uint8Arrays as they are and strings as UTF-8. Anything else fails INTERNAL.
 * Always returns new data; callers keep an already-matching typed array themselves.
 */
export function convertValues(values: ArrayLike<unknown>, datatype: Datatype, name: string): TensorData {
  const n = values.length;
  switch (datatype) {
    case 'BYTES': {
      const out = new Array<Uint8Array>(n);
      for (let k = 0; k < n; k++) {
        const v = values[k];
        if (typeof v === 'string') out[k] = Buffer.from(v, 'utf8');
        else if (v instanceof Uint8Array) out[k] = v;
        else throw cannot(name, k, v, datatype);
      }
      return out;
    }
    case 'FP32':
    case 'FP64': {
      const out = new TYPED_ARRAY[datatype](n) as Float32Array | Float64Array;
      if (ArrayBuffer.isView(values) && !(values instanceof BigInt64Array || values instanceof BigUint64Array)) {
        out.set(values as Exclude<NumericData, BigInt64Array | BigUint64Array>); // native, rounds like fround
        return out;
      }
      for (let k = 0; k < n; k++) out[k] = toNumber(values[k], k, datatype, name);
      return out;
    }
    case 'FP16':
    case 'BF16': {
      const out = new Uint16Array(n);
      const round = datatype === 'FP16' ? float32ToFp16Bits : float32ToBf16Bits;
      for (let k = 0; k < n; k++) out[k] = round(toNumber(values[k], k, datatype, name));
      return out;
    }
    case 'BOOL': {
      const out = new Uint8Array(n);
      for (let k = 0; k < n; k++) {
        const v = values[k];
        if (typeof v === 'boolean') out[k] = v ? 1 : 0;
        else if (typeof v === 'number') out[k] = v !== 0 ? 1 : 0; // NaN is true, as in numpy
        else if (typeof v === 'bigint') out[k] = v !== 0n ? 1 : 0;
        else throw cannot(name, k, v, datatype);
      }
      return out;
    }
    case 'INT64':
    case 'UINT64': {
      const out = datatype === 'INT64' ? new BigInt64Array(n) : new BigUint64Array(n);
      const lo = datatype === 'INT64' ? INT64_MIN : 0n;
      const hi = datatype === 'INT64' ? INT64_MAX : UINT64_MAX;
      for (let k = 0; k < n; k++) {
        const v = values[k];
        let b: bigint;
        if (typeof v === 'bigint') b = v;
        else if (typeof v === 'number' && Number.isInteger(v)) b = BigInt(v); // exact for any integral double
        else if (typeof v === 'boolean') b = v ? 1n : 0n;
        else throw cannot(name, k, v, datatype);
        if (b < lo || b > hi) throw cannot(name, k, v, datatype);
        out[k] = b;
      }
      return out;
    }
    default: {
      const [lo, hi] = INT_RANGE[datatype]!;
      const out = new TYPED_ARRAY[datatype](n) as Exclude<NumericData, BigInt64Array | BigUint64Array>;
      for (let k = 0; k < n; k++) {
        const v = values[k];
        let x: number;
        if (typeof v === 'number') x = v;
        else if (typeof v === 'bigint') x = v >= BigInt(lo) && v <= BigInt(hi) ? Number(v) : NaN;
        else if (typeof v === 'boolean') x = v ? 1 : 0;
        else throw cannot(name, k, v, datatype);
        // Number.isInteger rejects NaN/±Inf; -0 stores as 0, which integers cannot tell apart.
        if (!Number.isInteger(x) || x < lo || x > hi) throw cannot(name, k, v, datatype);
        out[k] = x;
      }
      return out;
    }
  }
}

function toNumber(v: unknown, k: number, datatype: Datatype, name: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw cannot(name, k, v, datatype);
}

const NUM = 1;
const BIG = 2;
const BOOL = 4;
const BYTES = 8;

/**
 * The datatype of a flat JS list of leaves when nothing is declared (see toOutputTensors):
 * strings/Uint8Arrays → BYTES; booleans → BOOL; numbers → INT64 when every value is a safe
 * integer (and not −0, which INT64 cannot hold), else FP64; bigints, with or without
 * safe-integer numbers → INT64, or UINT64 when some value needs it; an empty list → FP32.
 * Any other mix fails INTERNAL.
 */
export function inferListDatatype(values: ArrayLike<unknown>, name: string): Datatype {
  let kinds = 0;
  let allInt = true;
  let min = 0n;
  let max = 0n;
  for (let k = 0; k < values.length; k++) {
    const v = values[k];
    switch (typeof v) {
      case 'number':
        kinds |= NUM;
        if (allInt && (!Number.isSafeInteger(v) || Object.is(v, -0))) allInt = false;
        break;
      case 'bigint':
        kinds |= BIG;
        if (v < min) min = v;
        if (v > max) max = v;
        break;
      case 'boolean':
        kinds |= BOOL;
        break;
      case 'string':
        kinds |= BYTES;
        break;
      default:
        if (v instanceof Uint8Array) kinds |= BYTES;
        else throw outputError(name, `element ${k} (${describe(v)}) is not a number, bigint, boolean, string or Uint8Array`);
    }
  }
  switch (kinds) {
    case 0:
      return 'FP32';
    case BYTES:
      return 'BYTES';
    case BOOL:
      return 'BOOL';
    case NUM:
      return allInt ? 'INT64' : 'FP64';
    case BIG:
    case BIG | NUM:
      if (!allInt) throw outputError(name, 'mixes bigints with non-integer numbers; declare its datatype');
      if (min >= INT64_MIN && max <= INT64_MAX) return 'INT64';
      if (min >= 0n && max <= UINT64_MAX) return 'UINT64';
      throw outputError(name, `has bigints outside the 64-bit range [${min}, ${max}]`);
    default:
      throw outputError(name, 'mixes element kinds (numbers, booleans, strings/bytes); declare its datatype');
  }
}
