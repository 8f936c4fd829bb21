// Request inputs → Tensors: validation against the model's IOSpec, then zero-copy decoding.
import { InferenceError } from '../errors.js';
import {
  ELEMENT_SIZE,
  TYPED_ARRAY,
  elementCount,
  formatShape,
  isDatatype,
  type NumericDatatype,
} from './datatypes.js';
import type {
  Datatype,
  IOSpec,
  NumericData,
  Tensor,
  TensorData,
  TensorSpec,
  TypedContents,
  ReceivedInput,
} from './types.js';

/** The InferTensorContents field each datatype uses (PROTOCOL §4); FP16/BF16 have none. */
const TYPED_FIELD: Readonly<Record<Datatype, keyof TypedContents | undefined>> = {
  BOOL: 'boolContents',
  UINT8: 'uintContents',
  UINT16: 'uintContents',
  UINT32: 'uintContents',
  UINT64: 'uint64Contents',
  INT8: 'intContents',
  INT16: 'intContents',
  INT32: 'intContents',
  INT64: 'int64Contents',
  FP16: undefined,
  FP32: 'fp32Contents',
  FP64: 'fp64Contents',
  BF16: undefined,
  BYTES: 'bytesContents',
};

const CONTENT_FIELDS: readonly (keyof TypedContents)[] = [
  'boolContents',
  'intContents',
  'int64Contents',
  'uintContents',
  'uint64Contents',
  'fp32Contents',
  'fp64Contents',
  'bytesContents',
];

/** Typed contents travel in 32-bit fields; narrower types must fit (Triton would truncate). */
const INT_RANGE: Partial<Record<Datatype, readonly [number, number]>> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  UINT8: [0, 255],
  UINT16: [0, 65535],
};

function hasTyped(c: TypedContents | undefined): boolean {
  if (c === undefined) return false;
  for (const f of CONTENT_FIELDS) if (c[f].length !== 0) return true;
  return false;
}

/** Up to this many inputs, duplicate names are found by scanning rather than with a Set. */
const LINEAR_SCAN_INPUTS = 8;

/** The model named in a message, built only when a message is. */
function forModel(spec: IOSpec | undefined): string {
  return spec?.modelName !== undefined ? ` for model '${spec.modelName}'` : '';
}

function fail(i: number, name: string, problem: string): InferenceError {
  return new InferenceError('INVALID_ARGUMENT', `inputs[${i}] '${name}': ${problem}`);
}

/**
 * Decodes a request's inputs, in request order, checked against `spec` (with
 * `spec === undefined` only the self-consistency rules apply).
 *
 * Raw numeric tensors are views on the received bytes (a copy only when misaligned), BYTES
 * elements are subarray views. Every size is checked before anything is allocated, so a shape
 * implying 10^12 elements is rejected at O(rank) cost. Errors are INVALID_ARGUMENT, worded
 * as Triton words them where it has a message (PROTOCOL §5.4), prefixed with the input.
 */
export function decodeInputs(inputs: readonly ReceivedInput[], spec: IOSpec | undefined): Tensor[] {
  const out: Tensor[] = new Array<Tensor>(inputs.length);
  const header = new HeaderCheck(spec, inputs);
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i]!;
    const name = input.name;
    const { shape } = input;
    const datatype = header.check(i, name, input.datatype, shape);
    const count = elementCount(shape);
    const bytes = input.raw;
    let data: TensorData;
    if (bytes !== undefined) {
      if (hasTyped(input.contents)) {
        throw fail(i, name, `contents field must not be specified when using raw_input_contents (input has both)`);
      }
      data = datatype === 'BYTES'
        ? decodeRawBytes(bytes, count, i, name, spec)
        : decodeRawNumeric(bytes, datatype, count, i, name, spec);
    } else {
      if (input.contents === undefined) {
        throw fail(i, name, `unable to find data for input tensor '${name}'${forModel(spec)}`);
      }
      data = decodeTyped(input.contents, datatype, count, i, name, spec);
    }
    out[i] = { name, datatype, shape, data };
  }
  if (spec !== undefined) checkMissing(inputs, spec);
  return out;
}

/**
 * The checks every input passes whichever way it came (wire or in-process tensors), with the
 * same wording: unique name, declared input, datatype, shape against the declared dims and
 * the batch size shared by all inputs.
 */
class HeaderCheck {
  private batch = -1;
  private seen: Set<string> | undefined;

  constructor(
    private readonly spec: IOSpec | undefined,
    /** Every input of the request; those before the one checked have passed. */
    private readonly inputs: readonly { readonly name: string }[],
  ) {}

  /** The input's datatype and shape, checked. */
  check(i: number, name: string, datatype: string, shape: readonly number[]): Datatype {
    const { spec } = this;
    if (this.isRepeated(i, name)) throw fail(i, name, `input '${name}' already exists in request`);
    let declared: TensorSpec | undefined;
    if (spec !== undefined) {
      declared = findSpec(spec.inputs, name);
      if (declared === undefined) {
        throw fail(i, name, `unexpected inference input '${name}'${forModel(spec)}`);
      }
    }
    if (!isDatatype(datatype)) {
      throw fail(i, name, `inference input '${name}' data-type is '${datatype}', which is not a valid datatype`);
    }
    if (declared !== undefined && declared.datatype !== datatype) {
      throw fail(
        i,
        name,
        `inference input '${name}' data-type is '${datatype}', but ` +
          `${spec!.modelName !== undefined ? `model '${spec!.modelName}'` : 'the model'} expects '${declared.datatype}'`,
      );
    }
    checkDims(shape, i, name, spec);
    if (elementCount(shape) === Infinity) {
      throw fail(i, name, `shape ${formatShape(shape)} implies more than 2^53-1 elements`);
    }
    if (declared !== undefined) {
      const batching = spec!.maxBatchSize > 0;
      let dims: readonly number[] = shape;
      if (batching) {
        if (shape.length === 0) {
          throw fail(i, name, `input '${name}' has no shape but model requires batch dimension${forModel(spec)}`);
        }
        const b = shape[0]!;
        if (b < 1 || b > spec!.maxBatchSize) {
          throw fail(
            i,
            name,
            `inference request batch-size must be <= ${spec!.maxBatchSize} and >= 1${forModel(spec)}, got ${b}`,
          );
        }
        if (this.batch === -1) this.batch = b;
        else if (b !== this.batch) {
          throw fail(i, name, `input '${name}' batch size does not match other inputs${forModel(spec)}: ${b} vs ${this.batch}`);
        }
        dims = shape.slice(1);
      }
      if (!dimsMatch(dims, declared.dims)) {
        const expected = batching ? [-1, ...declared.dims] : declared.dims;
        throw fail(
          i,
          name,
          `unexpected shape for input '${name}'${forModel(spec)}. Expected ${formatShape(expected)}, got ${formatShape(shape)}`,
        );
      }
    }
    return datatype;
  }

  /** Whether an input before the i-th has the same name. */
  private isRepeated(i: number, name: string): boolean {
    const { inputs } = this;
    // Requests carry a handful of inputs: a scan of those before beats a Set per request,
    // which only a request with many inputs needs (to stay linear).
    if (inputs.length <= LINEAR_SCAN_INPUTS) {
      for (let k = 0; k < i; k++) if (inputs[k]!.name === name) return true;
      return false;
    }
    this.seen ??= new Set();
    if (this.seen.has(name)) return true;
    this.seen.add(name);
    return false;
  }
}

/**
 * Checks tensors handed over in-process (a model calling another, an ensemble step) as
 * decodeInputs checks a request's inputs, with the same messages; the data is already
 * typed, so only its kind and length are checked. Returns the tensors as they are: no copy.
 */
export function checkTensors(tensors: readonly Tensor[], spec: IOSpec): readonly Tensor[] {
  const header = new HeaderCheck(spec, tensors);
  for (let i = 0; i < tensors.length; i++) {
    const tensor = tensors[i]!;
    const { name } = tensor;
    const datatype = header.check(i, name, tensor.datatype, tensor.shape);
    const count = elementCount(tensor.shape);
    if (datatype === 'BYTES') {
      if (!Array.isArray(tensor.data)) throw fail(i, name, 'BYTES data must be an array of Uint8Array elements');
      if (tensor.data.length !== count) {
        throw fail(i, name, `expected ${count} string elements for inference input '${name}'${spec}, got ${tensor.data.length}`);
      }
      continue;
    }
    const Ctor = TYPED_ARRAY[datatype];
    if (!(tensor.data instanceof Ctor)) {
      throw fail(i, name, `${datatype} data must be ${Ctor.name}`);
    }
    if (tensor.data.length !== count) {
      const size = ELEMENT_SIZE[datatype];
      throw byteSizeMismatch(i, name, spec, count * size, tensor.data.length * size, '');
    }
  }
  checkMissing(tensors, spec);
  return tensors;
}

function checkDims(shape: readonly number[], i: number, name: string, spec: IOSpec | undefined): void {
  for (const d of shape) {
    if (d === -1) {
      throw fail(i, name, `All input dimensions should be specified for input '${name}'${forModel(spec)}, got ${formatShape(shape)}`);
    }
    if (!Number.isSafeInteger(d) || d < 0) throw fail(i, name, `invalid dimension ${d} in shape ${formatShape(shape)}`);
  }
}

function findSpec(specs: readonly TensorSpec[], name: string): TensorSpec | undefined {
  // Models have a handful of inputs; a linear scan beats building a Map per request.
  for (let k = 0; k < specs.length; k++) if (specs[k]!.name === name) return specs[k];
  return undefined;
}

/** -1 in the declared dims matches any size; the rank must match. */
function dimsMatch(dims: readonly number[], declared: readonly number[]): boolean {
  if (dims.length !== declared.length) return false;
  for (let k = 0; k < dims.length; k++) {
    const d = declared[k]!;
    if (d !== -1 && d !== dims[k]) return false;
  }
  return true;
}

function byteSizeMismatch(
  i: number,
  name: string,
  spec: IOSpec | undefined,
  expected: number,
  got: number,
  detail: string,
): InferenceError {
  return fail(i, name, `input byte size mismatch for input '${name}'${forModel(spec)}. Expected ${expected}, got ${got}${detail}`);
}

function decodeRawNumeric(
  bytes: Uint8Array,
  datatype: NumericDatatype,
  count: number,
  i: number,
  name: string,
  spec: IOSpec | undefined,
): NumericData {
  const Ctor = TYPED_ARRAY[datatype];
  const size = Ctor.BYTES_PER_ELEMENT;
  const expected = count * size;
  if (bytes.byteLength !== expected) {
    throw byteSizeMismatch(i, name, spec, expected, bytes.byteLength, '');
  }
  if (datatype === 'BOOL') {
    for (let k = 0; k < count; k++) {
      if (bytes[k]! > 1) throw fail(i, name, `BOOL element ${k} is byte ${bytes[k]}, not 0 or 1`);
    }
  }
  if (bytes.byteOffset % size === 0) return new Ctor(bytes.buffer, bytes.byteOffset, count);
  // Decoded protobuf `bytes` are views into the receive buffer at any offset, and a typed
  // array needs byteOffset % size === 0. A misaligned one is copied once, a memcpy, into
  // Buffer.allocUnsafe's memory: its pool on 8-byte boundaries below 4 KiB (0.13 µs for 16
  // bytes where a fresh ArrayBuffer from Uint8Array#slice took 1.1 µs), a buffer of its own
  // above. `new Uint8Array(view)` of a Buffer takes a much slower path (a 4 MiB request cost
  // three times the CPU with it), and Buffer#slice would be a view, not a copy.
  const copy = Buffer.allocUnsafe(expected);
  copy.set(bytes);
  return new Ctor(copy.buffer, copy.byteOffset, count);
}

/**
 * BYTES elements are a 4-byte LE length followed by the payload (PROTOCOL §5.1), so an
 * element can't be found by index without walking the ones before it.
 */
function decodeRawBytes(
  bytes: Uint8Array,
  count: number,
  i: number,
  name: string,
  spec: IOSpec | undefined,
): Uint8Array[] {
  const n = bytes.byteLength;
  // Each element needs at least its 4-byte length: bounds the array allocated below.
  if (count > n / 4) {
    throw fail(
      i,
      name,
      `expected ${count} string elements for inference input '${name}'${forModel(spec)}, but ${n} bytes ` +
        `cannot hold them (each needs a 4-byte length)`,
    );
  }
  const out = new Array<Uint8Array>(count);
  const buf = bytes.buffer;
  const base = bytes.byteOffset;
  let p = 0;
  for (let k = 0; k < count; k++) {
    if (p === n) {
      throw fail(i, name, `expected ${count} string elements for inference input '${name}'${forModel(spec)}, got ${k}`);
    }
    if (n - p < 4) {
      throw fail(
        i,
        name,
        `incomplete string length indicator for inference input '${name}'${forModel(spec)}, expecting 4 bytes ` +
          `but only ${n - p} bytes available (element ${k})`,
      );
    }
    const len = (bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16) | (bytes[p + 3]! << 24)) >>> 0;
    p += 4;
    if (len > n - p) {
      throw fail(
        i,
        name,
        `incomplete string data for inference input '${name}'${forModel(spec)}, expecting string of length ` +
          `${len} but only ${n - p} bytes available (element ${k})`,
      );
    }
    // A view, not a copy; `new Uint8Array(buf, ...)` is cheaper than subarray() in V8.
    out[k] = new Uint8Array(buf, base + p, len);
    p += len;
  }
  if (p !== n) {
    throw fail(
      i,
      name,
      `unexpected number of string elements for inference input '${name}'${forModel(spec)}: expected ` +
        `${count}, but ${n - p} bytes remain after them`,
    );
  }
  return out;
}

function decodeTyped(
  contents: TypedContents,
  datatype: Datatype,
  count: number,
  i: number,
  name: string,
  spec: IOSpec | undefined,
): TensorData {
  const field = TYPED_FIELD[datatype];
  for (const f of CONTENT_FIELDS) {
    if (f !== field && contents[f].length !== 0) {
      const want = field === undefined ? `${datatype} can only be sent in raw_input_contents` : `expected ${field}`;
      throw fail(
        i,
        name,
        `unexpected explicit tensor data for input tensor '${name}'${forModel(spec)} for data type ${datatype}: ` +
          `got ${f}, ${want}`,
      );
    }
  }
  if (field === undefined) {
    // Contents present but empty: still not a place FP16/BF16 data can come from.
    throw fail(i, name, `unable to find data for input tensor '${name}'${forModel(spec)}: ${datatype} can only be sent in raw_input_contents`);
  }
  const values = contents[field];
  if (values.length !== count) {
    if (datatype === 'BYTES') {
      throw fail(i, name, `expected ${count} string elements for inference input '${name}'${forModel(spec)}, got ${values.length}`);
    }
    const size = ELEMENT_SIZE[datatype];
    throw byteSizeMismatch(
      i,
      name,
      spec,
      count * size,
      values.length * size,
      ` (${field} has ${values.length} elements, shape implies ${count})`,
    );
  }
  if (datatype === 'BYTES') return contents.bytesContents; // already one Uint8Array per element

  const data = new TYPED_ARRAY[datatype](count);
  switch (datatype) {
    case 'BOOL': {
      const src = contents.boolContents;
      for (let k = 0; k < count; k++) data[k] = src[k] ? 1 : 0;
      return data;
    }
    case 'INT64':
    case 'UINT64': {
      const src = datatype === 'INT64' ? contents.int64Contents : contents.uint64Contents;
      const dst = data as BigInt64Array | BigUint64Array;
      for (let k = 0; k < count; k++) dst[k] = src[k]!;
      return data;
    }
    default: {
      const src = contents[field] as number[];
      const range = INT_RANGE[datatype];
      if (range !== undefined) {
        const [lo, hi] = range;
        for (let k = 0; k < count; k++) {
          const v = src[k]!;
          if (v < lo || v > hi) {
            throw fail(i, name, `${field}[${k}] = ${v} is out of range for ${datatype} [${lo}, ${hi}]`);
          }
        }
      }
      (data as Exclude<NumericData, BigInt64Array | BigUint64Array>).set(src);
      return data;
    }
  }
}

/** A required input the request lacks fails INVALID_ARGUMENT naming every missing one, in Triton's words. */
function checkMissing(inputs: readonly { readonly name: string }[], spec: IOSpec): void {
  let required = 0;
  let missing: string[] | undefined;
  for (const s of spec.inputs) {
    if (s.optional === true) continue;
    required++;
    let found = false;
    for (let k = 0; k < inputs.length && !found; k++) found = inputs[k]!.name === s.name;
    if (!found) (missing ??= []).push(s.name);
  }
  if (missing === undefined) return;
  const expected = required === spec.inputs.length
    ? `expected ${required} inputs`
    : `expected number of inputs between ${required} and ${spec.inputs.length}`;
  const names = (list: readonly string[]) => `[${list.map((name) => `'${name}'`).join(',')}]`;
  throw new InferenceError(
    'INVALID_ARGUMENT',
    `${expected} but got ${inputs.length} inputs${forModel(spec)}. Got input(s) ${names(inputs.map((input) => input.name))}, ` +
      `but missing required input(s) ${names(missing)}. Please provide all required input(s).`,
  );
}

/**
 * The request's batch size: the leading dim shared by all inputs when the model batches
 * (`maxBatchSize > 0`, checked equal by decodeInputs), otherwise 1.
 */
export function batchSize(tensors: readonly Tensor[], spec: IOSpec | undefined): number {
  if (spec === undefined || spec.maxBatchSize <= 0) return 1;
  for (const t of tensors) if (t.shape.length > 0) return t.shape[0]!;
  return 1;
}
