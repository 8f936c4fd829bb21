// Raw input tensors arrive as views into the received message at whatever offset protobuf
// put them, and a typed array needs its offset to be a multiple of the element size, so the
// codec copies a misaligned tensor. A large copy is a large allocation, and large allocations
// drive V8 into full garbage collections (the 4 MiB bench spent most of its CPU there). The
// bytes just before a raw_input_contents entry are its own tag and length, already read: when
// the entry needs to move back no further than that, it is moved there, within the message,
// and the view lands aligned with no allocation at all.
import type { ModelInferRequest } from '../../generated/grpc_service.js';
import { ELEMENT_SIZE, isDatatype } from '../tensor/index.js';
import { varintSize } from './infer-response-codec.js';

/** raw_input_contents is field 7 of ModelInferRequest: its tag (7 << 3 | 2) takes one byte. */
const RAW_TAG_BYTES = 1;

/**
 * Moves each misaligned raw input back onto its element size's boundary inside the message
 * buffer when its own tag and length leave room, and replaces its view. Only for requests
 * whose raw entries are one per input, in order (no shared memory, no typed contents).
 */
export function alignRawInputs(request: ModelInferRequest): void {
  const raw = request.rawInputContents;
  if (raw.length === 0 || raw.length !== request.inputs.length) return;
  for (let i = 0; i < raw.length; i++) {
    const datatype = request.inputs[i]!.datatype;
    if (!isDatatype(datatype) || datatype === 'BYTES') continue;
    const size = ELEMENT_SIZE[datatype];
    const bytes = raw[i]!;
    const shift = bytes.byteOffset % size;
    if (shift === 0 || shift > RAW_TAG_BYTES + varintSize(bytes.byteLength)) continue;
    const start = bytes.byteOffset - shift;
    const message = Buffer.from(bytes.buffer, start, bytes.byteLength + shift);
    message.copyWithin(0, shift);
    raw[i] = message.subarray(0, bytes.byteLength);
  }
}
