// Datatype lookup tables (PROTOCOL §3.1, §4) and the overflow-safe element count.
import { DATATYPES, type Datatype, type NumericData } from './types.js';
import { dictionary } from '../dictionary.js';

export type NumericDatatype = Exclude<Datatype, 'BYTES'>;

/** Bytes per element on the wire; BYTES is variable-length and reports 0. */
export const ELEMENT_SIZE: Readonly<Record<Datatype, number>> = Object.freeze({
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  FP32: 4,
  FP64: 8,
  BF16: 2,
  BYTES: 0,
});

export interface NumericCtor {
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
  new (length: number): NumericData;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): NumericData;
}

/**
 * The typed array each numeric datatype decodes to. BOOL is one byte of 0/1, and
 * FP16/BF16 keep their raw bits (JS has no half-float array in Node 20; see toFloat32).
 */
export const TYPED_ARRAY: Readonly<Record<NumericDatatype, NumericCtor>> = Object.freeze({
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
  BF16: Uint16Array,
});

/** ModelConfig DataType enum numbers (model_config.proto); BYTES is TYPE_STRING. */
export const DATATYPE_TO_CONFIG: Readonly<Record<Datatype, number>> = Object.freeze({
  BOOL: 1,
  UINT8: 2,
  UINT16: 3,
  UINT32: 4,
  UINT64: 5,
  INT8: 6,
  INT16: 7,
  INT32: 8,
  INT64: 9,
  FP16: 10,
  FP32: 11,
  FP64: 12,
  BYTES: 13,
  BF16: 14,
});

/** The reverse of DATATYPE_TO_CONFIG; TYPE_INVALID (0) and unknown numbers are absent. */
export const CONFIG_TO_DATATYPE: Readonly<Record<number, Datatype>> = Object.freeze(
  dictionary(DATATYPES.map((d) => [String(DATATYPE_TO_CONFIG[d]), d] as const)) as Record<number, Datatype>,
);

const DATATYPE_SET: ReadonlySet<string> = new Set(DATATYPES);

export function isDatatype(s: string): s is Datatype {
  return DATATYPE_SET.has(s);
}

/**
 * Number of elements a shape implies.
 *
 * `[]` is a scalar of ONE element (numpy's rule, and what a model author expects
 * from `toList`); Triton's own helper says 0, but a 0-element scalar cannot carry a value.
 * Any 0 dim gives 0, whatever the other dims are.
 *
 * Never throws and never allocates: once the product would pass
 * Number.MAX_SAFE_INTEGER it returns Infinity, and a negative or non-integer dim gives NaN,
 * so a hostile shape costs O(rank) and compares unequal to any real count.
 */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  let overflow = false;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (!Number.isInteger(d) || d < 0) return NaN;
    if (d === 0) return 0; // [0, 1e300] is still empty
    if (overflow) continue;
    // n * d > MAX_SAFE without computing an inexact n * d.
    if (n > Math.floor(Number.MAX_SAFE_INTEGER / d)) overflow = true;
    else n *= d;
  }
  return overflow ? Infinity : n;
}

/** `[1,16]`: the bracketed form Triton prints in its messages. */
export function formatShape(shape: readonly (number | bigint)[]): string {
  return `[${shape.join(',')}]`;
}
