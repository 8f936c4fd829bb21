// What predict() returned → output Tensors, shaped and typed by the declared outputs.
import { TYPED_ARRAY, elementCount, formatShape, isDatatype } from './datatypes.js';
import { convertValues, inferListDatatype, isNumericData, outputError, typedDatatype } from './convert.js';
import { flattenList } from './list.js';
import type {
  Datatype,
  IOSpec,
  NumericData,
  OutputValue,
  PredictOutputs,
  Tensor,
  TensorData,
  TensorLike,
  TensorSpec,
} from './types.js';

/**
 * Normalizes what a model's predict() returned.
 *
 * Form: an array is the list form, entry i being declared output i (named `OUTPUT0`,
 * `OUTPUT1`, ... when the model declares no outputs) and the count must equal the declared
 * count; a plain object maps output names to values (a subset of the declared outputs, in the
 * object's key order). Each value is a typed array, a BYTES array (Uint8Array[], Buffer[],
 * string[]), a nested JS list, a bare scalar/string, or a `TensorLike {data, shape?, datatype?}`.
 *
 * Datatype: `TensorLike.datatype`, else the declared output's, else inferred:
 * - typed arrays by constructor: Float32Array→FP32, Float64Array→FP64, Int8Array→INT8,
 *   Int16Array→INT16, Int32Array→INT32, BigInt64Array→INT64, Uint8Array (and Buffer)→UINT8,
 *   Uint16Array→UINT16, Uint32Array→UINT32, BigUint64Array→UINT64
 *   (FP16/BF16 are never guessed: declare them, and pass their bits as a Uint16Array or numbers);
 * - a list of typed-array rows (other than Uint8Array, which is a BYTES element in a list):
 *   by the first row's constructor, as above;
 * - lists and bare scalars by their leaves: strings or Uint8Arrays→BYTES (strings as UTF-8);
 *   booleans→BOOL; numbers→INT64 when every value is a safe integer (and not −0), else FP64;
 *   bigints (possibly with safe-integer numbers)→INT64, or UINT64 when a value needs it;
 *   an empty list→FP32. Other mixes fail.
 *
 * Shape: `TensorLike.shape` if given (its element count must match), else from the declared
 * dims: the data's own shape when it fits them; else a single -1 (or the leading batch dim when
 * `maxBatchSize > 0`) solved from the element count; else, for a batching model, data shaped
 * like the dims gets a batch dim of 1. Without a declaration: the nesting of a list, `[length]`
 * for a typed array, `[]` for a bare scalar.
 *
 * Values are converted exactly to the datatype (see convertValues); data that already has the
 * datatype's typed array is used as is, no copy. Every problem fails INTERNAL naming the output
 * (the model layer prefixes the model name).
 */
export function toOutputTensors(result: PredictOutputs, spec: IOSpec | undefined): Tensor[] {
  const declared = spec?.outputs ?? [];
  const batching = spec !== undefined && spec.maxBatchSize > 0;
  if (Array.isArray(result)) {
    const list = result as readonly OutputValue[];
    if (declared.length > 0 && list.length !== declared.length) {
      throw outputError(
        declared[Math.min(list.length, declared.length - 1)]!.name,
        `predict() returned ${list.length} outputs in list form, the model declares ${declared.length} ` +
          `(${declared.map((d) => d.name).join(', ')})`,
      );
    }
    const out = new Array<Tensor>(list.length);
    for (let i = 0; i < list.length; i++) {
      const d = declared[i];
      out[i] = toTensor(list[i]!, d?.name ?? `OUTPUT${i}`, d, batching);
    }
    return out;
  }
  if (typeof result !== 'object' || result === null || ArrayBuffer.isView(result)) {
    throw outputError('?', 'predict() must return an array of outputs or an object of named outputs');
  }
  const named = result as Readonly<Record<string, OutputValue>>;
  // Keys, not entries: no [name, value] pair per output.
  const names = Object.keys(named);
  const out = new Array<Tensor>(names.length);
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    let d: TensorSpec | undefined;
    if (declared.length > 0) {
      d = declaredOutput(declared, name);
      if (d === undefined) {
        throw outputError(name, `unexpected output; the model declares ${declared.map((s) => `'${s.name}'`).join(', ')}`);
      }
    }
    out[i] = toTensor(named[name]!, name, d, batching);
  }
  return out;
}

function declaredOutput(declared: readonly TensorSpec[], name: string): TensorSpec | undefined {
  for (let k = 0; k < declared.length; k++) if (declared[k]!.name === name) return declared[k];
  return undefined;
}

function isTensorLike(v: unknown): v is TensorLike {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) && 'data' in v;
}

function toTensor(value: OutputValue, name: string, d: TensorSpec | undefined, batching: boolean): Tensor {
  let data: unknown = value;
  let givenShape: readonly number[] | undefined;
  let datatype: Datatype | undefined = d?.datatype;
  if (isTensorLike(value)) {
    data = value.data;
    givenShape = value.shape;
    if (value.datatype !== undefined) {
      if (!isDatatype(value.datatype)) throw outputError(name, `unknown datatype '${String(value.datatype)}'`);
      if (d !== undefined && value.datatype !== d.datatype) {
        throw outputError(name, `datatype is '${value.datatype}', but the model declares '${d.datatype}'`);
      }
      datatype = value.datatype;
    }
  } else if (typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value)) {
    throw outputError(name, 'is an object without `data`; return a typed array, a list or {data, shape?, datatype?}');
  }

  let natural: number[];
  let tensorData: TensorData;
  if (isNumericData(data)) {
    natural = [data.length];
    if (datatype === 'BYTES' && data instanceof Uint8Array) {
      // A lone Uint8Array for a BYTES output is one element, not a list of bytes.
      natural = [];
      tensorData = [data];
    } else {
      datatype ??= typedDatatype(data)!;
      tensorData = fromTyped(data, datatype, name);
    }
  } else if (ArrayBuffer.isView(data)) {
    throw outputError(name, `${data.constructor.name} is not a tensor data type`);
  } else {
    const flat = flattenList(data, name);
    natural = flat.shape;
    datatype ??= flat.row !== undefined ? typedDatatype(flat.row)! : inferListDatatype(flat.values, name);
    tensorData = convertValues(flat.values, datatype, name);
  }

  const count = tensorData.length;
  let shape: number[];
  if (givenShape !== undefined) {
    if (elementCount(givenShape) !== count) {
      throw outputError(name, `has ${count} elements, shape ${formatShape(givenShape)} implies ${elementCount(givenShape)}`);
    }
    shape = [...givenShape];
    if (d !== undefined && !fitsDeclared(shape, d, batching)) {
      throw outputError(name, `shape ${formatShape(shape)} does not match the declared ${formatShape(fullDims(d, batching))}`);
    }
  } else if (d !== undefined) {
    shape = resolveShape(natural, count, d, batching, name);
  } else {
    shape = natural;
  }
  return { name, datatype, shape, data: tensorData };
}

/** Typed array → data of `datatype`: as is when it already is that datatype's array. */
function fromTyped(data: NumericData, datatype: Datatype, name: string): TensorData {
  if (datatype !== 'BYTES' && data instanceof TYPED_ARRAY[datatype]) {
    if (datatype !== 'BOOL') return data;
    // BOOL must be 0/1 on the wire; other bytes are normalized to 1 (a copy, only then).
    let ok = true;
    for (let k = 0; k < data.length && ok; k++) ok = data[k]! <= 1;
    if (ok) return data;
  }
  return convertValues(data, datatype, name);
}

function fullDims(d: TensorSpec, batching: boolean): readonly number[] {
  return batching ? [-1, ...d.dims] : d.dims;
}

function fits(shape: readonly number[], dims: readonly number[]): boolean {
  if (shape.length !== dims.length) return false;
  for (let k = 0; k < dims.length; k++) if (dims[k] !== -1 && dims[k] !== shape[k]) return false;
  return true;
}

/** fits(shape, fullDims(d, batching)) without building the dims. */
function fitsDeclared(shape: readonly number[], d: TensorSpec, batching: boolean): boolean {
  const skip = batching ? 1 : 0;
  const { dims } = d;
  if (shape.length !== dims.length + skip) return false;
  for (let k = 0; k < dims.length; k++) if (dims[k] !== -1 && dims[k] !== shape[k + skip]) return false;
  return true;
}

function resolveShape(natural: number[], count: number, d: TensorSpec, batching: boolean, name: string): number[] {
  if (fitsDeclared(natural, d, batching)) return natural;
  const full = fullDims(d, batching);
  let known = 1;
  let unknownAt = -1;
  let unknowns = 0;
  for (let k = 0; k < full.length; k++) {
    if (full[k] === -1) {
      unknowns++;
      unknownAt = k;
    } else known *= full[k]!;
  }
  if (unknowns === 0 && known === count) return [...full];
  if (unknowns === 1 && known > 0 && count % known === 0) {
    const shape = [...full];
    shape[unknownAt] = count / known;
    return shape;
  }
  if (batching && fits(natural, d.dims)) return [1, ...natural];
  throw outputError(
    name,
    `has ${count} elements (shape ${formatShape(natural)}), which does not fit the declared shape ${formatShape(full)}`,
  );
}
