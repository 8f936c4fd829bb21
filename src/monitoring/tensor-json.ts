// JSON form of tensors and of whatever loggedResults() returned. Runs off the request
// path (in the queue drain), but still bounded: a tensor above maxElements is reduced
// to a summary in one pass over its typed array, without building a list.
import { dictionary } from '../dictionary.js';
import type { Datatype, Tensor, TensorData } from '../tensor/types.js';
import { type ByteWriter, type IntegerArray, utf8 } from './byte-writer.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Summary that replaces a tensor's values when it has more than maxElements of them. */
export interface TensorSummary {
  [key: string]: JsonValue;
  name: string;
  datatype: string;
  shape: number[];
  truncated: true;
  /** bigint tensors give exact decimal strings; BYTES give byte lengths; NaN is ignored. */
  min: number | string | null;
  max: number | string | null;
  mean: number | null;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** BYTES element: the utf8 string when the bytes are valid UTF-8, else `{ base64 }`. */
export function bytesToJson(b: Uint8Array): JsonValue {
  try {
    return strictUtf8.decode(b);
  } catch {
    return { base64: Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64') };
  }
}

// FP16 data holds raw IEEE half bits. Node 20 has no Float16Array, so decode by hand.
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

// BF16 is the high half of an FP32.
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);
function bf16ToNumber(b: number): number {
  u32Scratch[0] = b << 16;
  return f32Scratch[0] as number;
}

/** JSON value of element i: bigint → decimal string, BOOL → boolean, non-finite → null. */
function elementReader(datatype: Datatype, data: TensorData): (i: number) => JsonValue {
  if (isBytesData(data)) {
    return (i) => {
      const b = data[i];
      return b instanceof Uint8Array ? bytesToJson(b) : null;
    };
  }
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    return (i) => String(data[i]);
  }
  const num = numberReader(datatype, data);
  if (datatype === 'BOOL') return (i) => num(i) !== 0;
  return (i) => {
    const v = num(i);
    return Number.isFinite(v) ? v : null;
  };
}

function numberReader(
  datatype: Datatype,
  data: Exclude<TensorData, readonly Uint8Array[] | BigInt64Array | BigUint64Array>,
): (i: number) => number {
  if (datatype === 'FP16') return (i) => halfToNumber(data[i] as number);
  if (datatype === 'BF16') return (i) => bf16ToNumber(data[i] as number);
  return (i) => data[i] as number;
}

function isBytesData(data: TensorData): data is readonly Uint8Array[] {
  return Array.isArray(data);
}

function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function nest(flat: JsonValue[], shape: readonly number[], dim: number, start: number): JsonValue[] {
  const n = shape[dim] as number;
  if (dim === shape.length - 1) return flat.slice(start, start + n);
  const stride = shapeSize(shape.slice(dim + 1));
  const out: JsonValue[] = [];
  for (let i = 0; i < n; i++) out.push(nest(flat, shape, dim + 1, start + i * stride));
  return out;
}

/**
 * A tensor as a nested list shaped by its dims (a scalar for shape []), or, when it has
 * more than maxElements values, a TensorSummary. A shape that does not match the data
 * length gives a flat list rather than a wrong nesting.
 */
export function tensorToJson(t: Tensor, maxElements: number): JsonValue {
  const count = t.data.length;
  if (count > maxElements) return summarize(t);
  const read = elementReader(t.datatype, t.data);
  // Pushed, not written into new Array(count): a preallocated array is "holey" in V8, and
  // JSON.stringify takes its slow path for holey arrays, a third of an event's encoding.
  const flat: JsonValue[] = [];
  for (let i = 0; i < count; i++) flat.push(read(i));
  const shape = t.shape;
  if (shape.length === 0) return count === 1 ? (flat[0] as JsonValue) : flat;
  // A zero dim gives no values; nesting [1e9, 0] would still build 1e9 empty lists.
  if (shapeSize(shape) !== count || count === 0) return flat;
  return nest(flat, shape, 0, 0);
}

/**
 * Writes JSON.stringify(tensorToJson(t, maxElements)) straight from a numeric typed array:
 * the drain encodes every sampled event, and building the nested lists first took most of its
 * time. bigint and BYTES tensors go through tensorToJson.
 */
export function writeTensorJson(w: ByteWriter, t: Tensor, maxElements: number): void {
  const data = t.data;
  const count = data.length;
  if (count > maxElements) return w.text(JSON.stringify(summarize(t)));
  if (isBytesData(data) || data instanceof BigInt64Array || data instanceof BigUint64Array) {
    return w.text(JSON.stringify(tensorToJson(t, maxElements)));
  }
  const element = elementWriter(w, t.datatype, data);
  const shape = t.shape;
  if (shape.length === 0 && count === 1) return element(0);
  const integers = integerArray(t.datatype, data);
  const list: ListWriter = integers ? (start, n) => w.integerList(integers, start, n) : (start, n) => writeList(w, element, start, n);
  if (shape.length === 0 || shapeSize(shape) !== count || count === 0) return list(0, count);
  writeNested(w, list, shape, 0, 0);
}

/** Writes the JSON list of n elements from start. */
type ListWriter = (start: number, n: number) => void;

/** The data when its elements are their JSON values as integers: not BOOL, FP16, BF16 or floats. */
function integerArray(
  datatype: Datatype,
  data: Exclude<TensorData, readonly Uint8Array[] | BigInt64Array | BigUint64Array>,
): IntegerArray | undefined {
  if (datatype === 'BOOL' || datatype === 'FP16' || datatype === 'BF16') return undefined;
  if (data instanceof Float32Array || data instanceof Float64Array) return undefined;
  return data;
}

/** Writes element i: a number, true/false for BOOL, null when not finite. */
function elementWriter(
  w: ByteWriter,
  datatype: Datatype,
  data: Exclude<TensorData, readonly Uint8Array[] | BigInt64Array | BigUint64Array>,
): (i: number) => void {
  const integers = integerArray(datatype, data);
  if (integers) return (i) => w.integer(integers[i] as number);
  if (datatype === 'BOOL') return (i) => w.bytes(data[i] === 0 ? FALSE : TRUE);
  if (datatype === 'FP16' || datatype === 'BF16') {
    const num = numberReader(datatype, data);
    return (i) => w.number(num(i));
  }
  return (i) => w.number(data[i] as number);
}

const TRUE = utf8('true');
const FALSE = utf8('false');
const OPEN = 0x5b; // [
const COMMA = 0x2c;
const CLOSE = 0x5d; // ]

function writeList(w: ByteWriter, element: (i: number) => void, start: number, n: number): void {
  w.byte(OPEN);
  for (let i = 0; i < n; i++) {
    if (i > 0) w.byte(COMMA);
    element(start + i);
  }
  w.byte(CLOSE);
}

function writeNested(w: ByteWriter, list: ListWriter, shape: readonly number[], dim: number, start: number): void {
  const n = shape[dim] as number;
  if (dim === shape.length - 1) return list(start, n);
  let stride = 1;
  for (let d = dim + 1; d < shape.length; d++) stride *= shape[d] as number;
  w.byte(OPEN);
  for (let i = 0; i < n; i++) {
    if (i > 0) w.byte(COMMA);
    writeNested(w, list, shape, dim + 1, start + i * stride);
  }
  w.byte(CLOSE);
}

/** min, max and mean in one pass, no intermediate list. */
export function summarize(t: Tensor): TensorSummary {
  const head = { name: t.name, datatype: t.datatype, shape: [...t.shape], truncated: true as const };
  const data = t.data;
  if (isBytesData(data)) {
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (const b of data) {
      const n = b.byteLength;
      if (n < min) min = n;
      if (n > max) max = n;
      sum += n;
    }
    return data.length === 0
      ? { ...head, min: null, max: null, mean: null }
      : { ...head, min, max, mean: sum / data.length };
  }
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    if (data.length === 0) return { ...head, min: null, max: null, mean: null };
    let min = data[0] as bigint;
    let max = min;
    let sum = 0n;
    for (const v of data) {
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    return { ...head, min: String(min), max: String(max), mean: Number(sum) / data.length };
  }
  const num = numberReader(t.datatype, data);
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let n = 0;
  for (let i = 0; i < data.length; i++) {
    const v = num(i);
    if (Number.isNaN(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    n++;
  }
  if (n === 0) return { ...head, min: null, max: null, mean: null };
  return { ...head, min: finiteOrNull(min), max: finiteOrNull(max), mean: finiteOrNull(sum / n) };
}

function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

function isTensor(v: object): v is Tensor {
  const t = v as Partial<Tensor>;
  return (
    typeof t.name === 'string' &&
    typeof t.datatype === 'string' &&
    Array.isArray(t.shape) &&
    (ArrayBuffer.isView(t.data) || Array.isArray(t.data))
  );
}

const MAX_DEPTH = 32;

const TYPED_ARRAY_DATATYPE: Readonly<Record<string, Datatype>> = dictionary({
  Uint8ClampedArray: 'UINT8',
  Int8Array: 'INT8',
  Uint16Array: 'UINT16',
  Int16Array: 'INT16',
  Uint32Array: 'UINT32',
  Int32Array: 'INT32',
  BigInt64Array: 'INT64',
  BigUint64Array: 'UINT64',
  Float32Array: 'FP32',
  Float64Array: 'FP64',
});

/**
 * JSON form of an arbitrary value (what loggedResults() returned, metrics, parameters).
 * Tensors → tensorToJson; Uint8Array → a BYTES element (utf8 or {base64}), because in
 * list form a Uint8Array is one BYTES value; other typed arrays → lists, or a summary
 * past maxElements; bigint → string; lists longer than maxElements → {truncated, length};
 * Date → ISO string; functions and symbols → null. Deeper than 32 levels (or a cycle) → null.
 */
export function toJson(value: unknown, maxElements: number, depth = 0): JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      return String(value);
    case 'object':
      break;
    default:
      return null;
  }
  if (value === null || depth >= MAX_DEPTH) return null;
  if (value instanceof Uint8Array) return bytesToJson(value);
  if (ArrayBuffer.isView(value)) {
    if (value instanceof DataView) return null;
    const data = value as unknown as TensorData;
    const datatype = TYPED_ARRAY_DATATYPE[value.constructor.name] ?? 'FP64';
    return tensorToJson({ name: '', datatype, shape: [data.length], data }, maxElements);
  }
  if (Array.isArray(value)) {
    if (value.length > maxElements) return { truncated: true, length: value.length };
    return value.map((v) => toJson(v, maxElements, depth + 1));
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (isTensor(value)) return tensorToJson(value, maxElements);
  const out = dictionary<JsonValue>();
  for (const [k, v] of Object.entries(value)) out[k] = toJson(v, maxElements, depth + 1);
  return out;
}
