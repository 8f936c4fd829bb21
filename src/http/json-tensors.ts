// JSON tensor data ⇄ the wire bytes the codec reads (little-endian, row-major, BYTES as
// 4-byte length + payload). JSON inputs are encoded to those bytes once, so that every input
// takes the codec's raw path, binary or not; raw outputs are written back as JSON values.
import { InferenceError } from '../errors.js';
import { ELEMENT_SIZE, TYPED_ARRAY, isDatatype, type Datatype, type NumericData } from '../tensor/index.js';

/** Integer datatypes whose values fit a JS number exactly, with their ranges. */
const INT_RANGE: ReadonlyMap<Datatype, readonly [number, number]> = new Map([
  ['UINT8', [0, 0xff]],
  ['UINT16', [0, 0xffff]],
  ['UINT32', [0, 0xffffffff]],
  ['INT8', [-0x80, 0x7f]],
  ['INT16', [-0x8000, 0x7fff]],
  ['INT32', [-0x80000000, 0x7fffffff]],
] as const);

/** Triton's rule: half floats travel only in the binary extension, both ways. */
export const BINARY_ONLY: ReadonlySet<Datatype> = new Set(['FP16', 'BF16']);

export function binaryOnlyError(field: string, datatype: Datatype): InferenceError {
  return InferenceError.invalidArgument(field, `is ${datatype}: ${datatype} via JSON is not supported. Please use the binary data format`);
}

/** Nesting deeper than any real tensor's rank: refused before it can exhaust the stack. */
const MAX_DEPTH = 64;

/** Row-major values of `data`, nested or flat. */
function flatten(data: unknown, field: () => string): unknown[] {
  if (!Array.isArray(data)) return [data];
  const out: unknown[] = [];
  const walk = (value: readonly unknown[], depth: number): void => {
    if (depth > MAX_DEPTH) throw InferenceError.invalidArgument(field(), `is nested deeper than ${MAX_DEPTH} levels`);
    for (const element of value) {
      if (Array.isArray(element)) walk(element, depth + 1);
      else out.push(element);
    }
  };
  walk(data, 1);
  return out;
}

function badValue(field: () => string, index: number, expected: string, value: unknown): InferenceError {
  return InferenceError.invalidArgument(`${field()}[${index}]`, `must be ${expected}, got ${JSON.stringify(value) ?? typeof value}`);
}

/**
 * Encodes a JSON input's `data` as the wire bytes of `datatype` with `count` elements.
 * `field` names the data in messages (`inputs[0].data`); it is built only for one.
 */
export function encodeJsonData(data: unknown, datatype: string, count: number, field: () => string): Uint8Array {
  if (!isDatatype(datatype)) throw InferenceError.invalidArgument(field().replace(/\.data$/, '.datatype'), `'${datatype}' is not a datatype`);
  if (BINARY_ONLY.has(datatype)) throw binaryOnlyError(field(), datatype);
  // Flat data (the usual form) is read as it is; nested data is flattened first.
  const values = Array.isArray(data) && !Array.isArray(data[0]) ? (data as readonly unknown[]) : flatten(data, field);
  if (values.length !== count) {
    throw InferenceError.invalidArgument(field(), `has ${values.length} elements, the shape implies ${count}`);
  }
  if (datatype === 'BYTES') return encodeBytes(values, field);
  const array = new TYPED_ARRAY[datatype](count);
  // One loop per kind of value, the datatype decided once rather than per element.
  switch (datatype) {
    case 'BOOL': {
      const bools = array as Uint8Array;
      for (let i = 0; i < count; i++) {
        const value = values[i];
        if (typeof value !== 'boolean') throw badValue(field, i, 'true or false', value);
        bools[i] = value ? 1 : 0;
      }
      break;
    }
    case 'FP32':
    case 'FP64': {
      const floats = array as Float32Array | Float64Array;
      for (let i = 0; i < count; i++) {
        const value = values[i];
        if (typeof value !== 'number') throw badValue(field, i, 'a number', value);
        floats[i] = value;
      }
      break;
    }
    case 'INT64':
    case 'UINT64': {
      const longs = array as BigInt64Array | BigUint64Array;
      const min = datatype === 'UINT64' ? 0 : -Number.MAX_SAFE_INTEGER;
      for (let i = 0; i < count; i++) {
        const value = values[i];
        // JSON.parse gives doubles: beyond 2^53 the value the client meant is already lost.
        if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
          throw badValue(field, i, `an integer in ${min}..${Number.MAX_SAFE_INTEGER} (larger ${datatype} values need the binary data format)`, value);
        }
        longs[i] = BigInt(value);
      }
      break;
    }
    default: {
      const ints = array as Exclude<NumericData, BigInt64Array | BigUint64Array>;
      const [min, max] = INT_RANGE.get(datatype) as readonly [number, number];
      for (let i = 0; i < count; i++) {
        const value = values[i];
        if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
          throw badValue(field, i, `a ${datatype} integer in ${min}..${max}`, value);
        }
        ints[i] = value;
      }
    }
  }
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

function encodeBytes(values: readonly unknown[], field: () => string): Uint8Array {
  const encoded = values.map((value, i) => {
    if (typeof value !== 'string') throw badValue(field, i, 'a string', value);
    return Buffer.from(value, 'utf8');
  });
  const out = Buffer.allocUnsafe(encoded.reduce((n, e) => n + 4 + e.byteLength, 0));
  let offset = 0;
  for (const element of encoded) {
    out.writeUInt32LE(element.byteLength, offset);
    element.copy(out, offset + 4);
    offset += 4 + element.byteLength;
  }
  return out;
}

/**
 * The JSON text of an output's data (a flat array), written by hand so that INT64/UINT64
 * values beyond 2^53 keep every digit, which JSON.stringify of a number would not.
 */
export function jsonDataText(bytes: Uint8Array, datatype: Datatype, field: () => string): string {
  if (BINARY_ONLY.has(datatype)) throw binaryOnlyError(field(), datatype);
  if (datatype === 'BYTES') return JSON.stringify(bytesElements(bytes, field));
  const size = ELEMENT_SIZE[datatype];
  // Outputs are encoded at any offset; typed arrays need it aligned to the element size.
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const values: NumericData = new TYPED_ARRAY[datatype](aligned.buffer, aligned.byteOffset, aligned.byteLength / size);
  if (datatype === 'BOOL') return `[${Array.from(values as Uint8Array, (v) => (v ? 'true' : 'false')).join(',')}]`;
  if (datatype === 'FP32' || datatype === 'FP64') {
    const floats = values as Float32Array | Float64Array;
    // JSON has no NaN or Infinity: null, as JSON.stringify writes them, keeps the body parseable.
    for (let i = 0; i < floats.length; i++) {
      if (!Number.isFinite(floats[i]!)) return `[${Array.from(floats, (v) => (Number.isFinite(v) ? String(v) : 'null')).join(',')}]`;
    }
  }
  // The typed array's own join writes the digits without a string per element in between.
  return `[${values.join(',')}]`;
}

/** The elements of a BYTES tensor, as UTF-8 strings. */
function bytesElements(bytes: Uint8Array, field: () => string): string[] {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: string[] = [];
  let offset = 0;
  while (offset < view.byteLength) {
    if (offset + 4 > view.byteLength) throw new InferenceError('INTERNAL', `${field()}: truncated BYTES element`);
    const length = view.readUInt32LE(offset);
    out.push(view.toString('utf8', offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  return out;
}
