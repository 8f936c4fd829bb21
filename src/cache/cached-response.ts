// One answer as the cache keeps it: the outputs' bytes copied out of whatever buffers the
// model (or a worker thread) handed back into one buffer of the cache's own, seen both as
// wire-ready raw bytes and as tensors (for monitoring), without a second copy.
import type { ParamValue } from '../model/index.js';
import { dictionary } from '../dictionary.js';
import { encodeOutputs, TYPED_ARRAY, type EncodedOutput, type NumericData, type Tensor } from '../tensor/index.js';

export interface CachedResponse {
  readonly outputs: readonly Tensor[];
  readonly encoded: readonly EncodedOutput[];
  /** The encoded outputs' bytes, same order: views on the entry's buffer. */
  readonly raw: readonly Uint8Array[];
  readonly parameters: Readonly<Record<string, ParamValue>>;
  /** What the entry counts against the cache's bound. */
  readonly byteSize: number;
  /** The keys a transport kept its encoding of this answer under (ResponseCache.keepEncoded). */
  readonly aliases: string[];
}

/** Bookkeeping counted per entry and per output beside the tensors' bytes and the key (objects, names, shapes). */
export const ENTRY_OVERHEAD_BYTES = 256;
export const OUTPUT_OVERHEAD_BYTES = 128;

/** Every tensor starts at a multiple of this, so that any typed array can view it. */
const ALIGN = 8;
const aligned = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

/** A BYTES tensor's elements, as views on its serialized form (4-byte little-endian length, then the bytes). */
function bytesElements(serialized: Uint8Array, count: number): Uint8Array[] {
  const view = new DataView(serialized.buffer, serialized.byteOffset, serialized.byteLength);
  const elements = new Array<Uint8Array>(count);
  for (let i = 0, p = 0; i < count; i++) {
    const length = view.getUint32(p, true);
    elements[i] = serialized.subarray(p + 4, p + 4 + length);
    p += 4 + length;
  }
  return elements;
}

/** The answer's outputs and parameters, copied: nothing the model keeps can change the entry. `keyLength`: its key's characters, counted too. */
export function cachedResponse(outputs: readonly Tensor[], parameters: Readonly<Record<string, ParamValue>>, keyLength = 0): CachedResponse {
  const { raw: fresh } = encodeOutputs(outputs);
  let total = 0;
  for (const bytes of fresh) total += aligned(bytes.byteLength);
  const buffer = new Uint8Array(total);
  const tensors = new Array<Tensor>(outputs.length);
  const encoded = new Array<EncodedOutput>(outputs.length);
  const raw = new Array<Uint8Array>(outputs.length);
  let byteSize = ENTRY_OVERHEAD_BYTES + keyLength * 2 + total;
  for (let i = 0, offset = 0; i < outputs.length; i++) {
    const { name, datatype, shape: given } = outputs[i]!;
    const bytes = fresh[i]!;
    buffer.set(bytes, offset);
    const copy = buffer.subarray(offset, offset + bytes.byteLength);
    const shape = Object.freeze([...given]);
    const count = shape.reduce((n, d) => n * d, 1);
    const data = datatype === 'BYTES' ? bytesElements(copy, count) : (new TYPED_ARRAY[datatype](buffer.buffer, offset, count) as NumericData);
    tensors[i] = Object.freeze({ name, datatype, shape, data });
    encoded[i] = Object.freeze({ name, datatype, shape });
    raw[i] = copy;
    byteSize += OUTPUT_OVERHEAD_BYTES + name.length * 2 + shape.length * 8 + (datatype === 'BYTES' ? count * 16 : 0);
    offset += aligned(bytes.byteLength);
  }
  return { outputs: tensors, encoded, raw, parameters: Object.freeze(dictionary(Object.entries(parameters))), byteSize, aliases: [] };
}
