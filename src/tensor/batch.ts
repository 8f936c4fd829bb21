// Concatenating and splitting tensors along the batch dimension (dim 0), for the dynamic
// batcher: several requests' inputs become one tensor, one output becomes one per request.
import { InferenceError } from '../errors.js';
import { TYPED_ARRAY, elementCount, formatShape } from './datatypes.js';
import type { BytesData, NumericData, Tensor } from './types.js';

/** Elements in one row: the product of the non-batch dims. */
function rowElements(tensor: Tensor): number {
  return elementCount(tensor.shape.slice(1));
}

function sameRowShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 1; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Stacks tensors of one name, datatype and row shape along dim 0, in order.
 *
 * This is a real concatenation: one new buffer per tensor (BYTES: one new element array
 * whose entries still view the received bytes). A model gets one contiguous tensor, as
 * from a single client, and a worker instance can transfer that buffer without a copy.
 * A single tensor is returned as is.
 */
export function concatBatch(parts: readonly Tensor[]): Tensor {
  const first = parts[0];
  if (first === undefined) throw new InferenceError('INTERNAL', 'concatBatch needs at least one tensor');
  if (parts.length === 1) return first;
  if (first.shape.length === 0) throw new InferenceError('INTERNAL', `tensor '${first.name}' has no batch dimension to concatenate along`);
  let rows = 0;
  for (const part of parts) {
    if (part.name !== first.name || part.datatype !== first.datatype || !sameRowShape(part.shape, first.shape)) {
      throw new InferenceError(
        'INTERNAL',
        `cannot concatenate tensor '${part.name}' ${part.datatype} ${formatShape(part.shape)} with '${first.name}' ${first.datatype} ${formatShape(first.shape)}`,
      );
    }
    rows += part.shape[0] as number;
  }
  const shape = [rows, ...first.shape.slice(1)];
  const perRow = rowElements(first);
  if (first.datatype === 'BYTES') {
    const data = new Array<Uint8Array>(rows * perRow);
    let at = 0;
    for (const part of parts) for (const element of part.data as BytesData) data[at++] = element;
    return { name: first.name, datatype: first.datatype, shape, data };
  }
  const data = new TYPED_ARRAY[first.datatype](rows * perRow);
  // Byte-wise: every part has the same typed array as `data`, so the bytes are the values.
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let offset = 0;
  for (const part of parts) {
    const src = part.data as NumericData;
    bytes.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), offset);
    offset += src.byteLength;
  }
  return { name: first.name, datatype: first.datatype, shape, data };
}

/**
 * Splits a tensor along dim 0 into consecutive pieces of `rows[i]` rows. No bytes are
 * copied: numeric pieces are views on the tensor's buffer, BYTES pieces slices of its
 * element array. Fails INTERNAL when the rows do not add up to the tensor's batch dim.
 */
export function splitBatch(tensor: Tensor, rows: readonly number[]): Tensor[] {
  const total = rows.reduce((sum, n) => sum + n, 0);
  if (tensor.shape.length === 0 || tensor.shape[0] !== total) {
    throw new InferenceError(
      'INTERNAL',
      `output '${tensor.name}' has shape ${formatShape(tensor.shape)}, expected a batch dimension of ${total} (the rows of the batched requests)`,
    );
  }
  const perRow = rowElements(tensor);
  const rest = tensor.shape.slice(1);
  const out = new Array<Tensor>(rows.length);
  let start = 0;
  for (let i = 0; i < rows.length; i++) {
    const n = rows[i] as number;
    const from = start * perRow;
    const to = (start + n) * perRow;
    let data: Tensor['data'];
    if (tensor.datatype === 'BYTES') {
      data = (tensor.data as BytesData).slice(from, to);
    } else {
      const whole = tensor.data as NumericData;
      data = new TYPED_ARRAY[tensor.datatype](whole.buffer, whole.byteOffset + from * whole.BYTES_PER_ELEMENT, to - from);
    }
    out[i] = { name: tensor.name, datatype: tensor.datatype, shape: [n, ...rest], data };
    start += n;
  }
  return out;
}
