// Tensor ⇄ nested JS list (the form models may take inputs in and return outputs as).
import { elementCount, formatShape } from './datatypes.js';
import { convertValues, outputError } from './convert.js';
import { bf16BitsToFloat, fp16BitsToFloat } from './float16.js';
import type { Datatype, ListValue, NestedList, NumericData, Tensor } from './types.js';

/**
 * The tensor as nested arrays shaped by its dims; rank 0 gives the scalar itself.
 * BOOL → boolean, INT64/UINT64 → bigint (exact), FP16/BF16 → number (exact),
 * BYTES → Buffer views on the tensor's bytes (no copy), other types → number.
 * Does all its work when called, nothing before: the model layer calls it lazily.
 */
export function toList(tensor: Tensor): NestedList {
  const leaves = toLeaves(tensor);
  const shape = tensor.shape;
  if (shape.length === 0) return leaves[0]!;
  if (shape.length === 1) return leaves;
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  return nest(leaves, shape, strides, 0, 0);
}

function nest(
  leaves: ListValue[],
  shape: readonly number[],
  strides: readonly number[],
  depth: number,
  offset: number,
): NestedList[] {
  const len = shape[depth]!;
  if (depth === shape.length - 1) return leaves.slice(offset, offset + len);
  const out = new Array<NestedList>(len);
  const stride = strides[depth]!;
  for (let j = 0; j < len; j++) out[j] = nest(leaves, shape, strides, depth + 1, offset + j * stride);
  return out;
}

function toLeaves(tensor: Tensor): ListValue[] {
  const { data, datatype } = tensor;
  if (!ArrayBuffer.isView(data)) {
    const out = new Array<ListValue>(data.length);
    for (let k = 0; k < data.length; k++) {
      const el = data[k]!;
      out[k] = Buffer.from(el.buffer, el.byteOffset, el.length);
    }
    return out;
  }
  const n = data.length;
  const out = new Array<ListValue>(n);
  switch (datatype) {
    case 'BOOL':
      for (let k = 0; k < n; k++) out[k] = data[k] !== 0;
      break;
    case 'FP16':
      for (let k = 0; k < n; k++) out[k] = fp16BitsToFloat(data[k] as number);
      break;
    case 'BF16':
      for (let k = 0; k < n; k++) out[k] = bf16BitsToFloat(data[k] as number);
      break;
    default:
      for (let k = 0; k < n; k++) out[k] = data[k]!;
  }
  return out;
}

/** Arrays, and typed arrays other than Uint8Array (which is a BYTES element in a list). */
function isRow(x: unknown): x is ArrayLike<unknown> {
  return Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof Uint8Array) && !(x instanceof DataView));
}

/**
 * A nested list's shape (from its nesting) and its leaves in row-major order. Rank 0 and
 * rank 1 need no copy. Ragged lists fail INTERNAL. Leaves are not type-checked here.
 * `row` is the first typed-array row met (e.g. a list of Float32Array rows), for inference.
 */
export function flattenList(
  list: unknown,
  name: string,
): { shape: number[]; values: ArrayLike<unknown>; row?: NumericData } {
  if (!isRow(list)) return { shape: [], values: [list] };
  const shape: number[] = [];
  let cur: unknown = list;
  let row: NumericData | undefined;
  while (isRow(cur)) {
    shape.push(cur.length);
    if (!Array.isArray(cur)) row = cur as NumericData;
    if (cur.length === 0) break;
    cur = cur[0];
  }
  if (shape.length === 1) {
    if (Array.isArray(list)) {
      for (let k = 0; k < list.length; k++) {
        if (isRow(list[k])) throw ragged(name, [k], 'is a list where its siblings are values');
      }
    }
    return row === undefined ? { shape, values: list } : { shape, values: list, row };
  }
  const values: unknown[] = [];
  const index: number[] = [];
  walk(list, 0, shape, values, index, name);
  return row === undefined ? { shape, values } : { shape, values, row };
}

function walk(x: unknown, depth: number, shape: readonly number[], out: unknown[], index: number[], name: string): void {
  if (depth === shape.length) {
    if (isRow(x)) throw ragged(name, index, 'is a list where its siblings are values');
    out.push(x);
    return;
  }
  if (!isRow(x)) throw ragged(name, index, `is a value where a list of ${shape[depth]} is expected`);
  if (x.length !== shape[depth]) {
    throw ragged(name, index, `has ${x.length} elements, its siblings have ${shape[depth]}`);
  }
  for (let j = 0; j < x.length; j++) {
    index.push(j);
    walk(x[j], depth + 1, shape, out, index, name);
    index.pop();
  }
}

function ragged(name: string, index: readonly number[], problem: string): Error {
  return outputError(name, `ragged nested list: element ${formatShape(index)} ${problem}`);
}

/**
 * The reverse of toList: a nested list (or a list of strings) as a tensor of `datatype`,
 * converted exactly (see convertValues). The shape is the list's nesting unless `shape`
 * is given, in which case only the element count must agree. Problems fail INTERNAL naming
 * the output: this is the model's data, not the client's.
 */
export function fromList(
  list: NestedList | readonly string[],
  datatype: Datatype,
  name: string,
  shape?: readonly number[],
): Tensor {
  const flat = flattenList(list, name);
  if (shape !== undefined && elementCount(shape) !== flat.values.length) {
    throw outputError(
      name,
      `has ${flat.values.length} elements, shape ${formatShape(shape)} implies ${elementCount(shape)}`,
    );
  }
  const data = convertValues(flat.values, datatype, name);
  return { name, datatype, shape: shape !== undefined ? [...shape] : flat.shape, data };
}
