// Request bodies, bounded by --http-max-input-size before anything is buffered: a declared
// Content-Length above it is refused at once, a body that grows past it (chunked, or
// decompressed from gzip/deflate) is cut off as soon as it does. The body is placed so that
// the binary tensors after an Inference-Header-Content-Length JSON header start on an 8-byte
// boundary: the codec can then view them as typed arrays instead of copying them.
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import { InferenceError } from '../errors.js';

function tooLarge(max: number, what: string): InferenceError {
  return new InferenceError('PAYLOAD_TOO_LARGE', `${what} exceeds the maximum input size of ${max} bytes (--http-max-input-size)`);
}

/** Where Triton's binary extension puts the first tensor: after the JSON header; else 0. */
function tensorsOffset(request: IncomingMessage): number {
  // Only the placement depends on it: the route checks the header and refuses a bad one.
  const declared = Number(request.headers['inference-header-content-length']);
  return Number.isSafeInteger(declared) && declared > 0 ? declared : 0;
}

/** The widest element (FP64, INT64, UINT64): a tensor starting on it is aligned for every datatype. */
const ALIGNMENT = 8;

/** `length` uninitialised bytes whose byte `at` lies on an ALIGNMENT boundary. */
function alignedBuffer(length: number, at: number): Buffer {
  const room = Buffer.allocUnsafe(length + ALIGNMENT - 1);
  const shift = (ALIGNMENT - ((room.byteOffset + at) % ALIGNMENT)) % ALIGNMENT;
  return room.subarray(shift, shift + length);
}

/** The stream the body's bytes come from: the request, or a decompressor fed by it. */
function decoded(request: IncomingMessage): Readable {
  const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity') return request;
  if (encoding === 'gzip' || encoding === 'x-gzip') return request.pipe(createGunzip());
  if (encoding === 'deflate') return request.pipe(createInflate());
  throw new InferenceError('UNSUPPORTED_MEDIA_TYPE', `unsupported Content-Encoding '${encoding}' (gzip, deflate or identity)`);
}

/** The whole body, at most `max` bytes; one buffer, so binary tensors can be views on it. */
export function readBody(request: IncomingMessage, max: number): Promise<Buffer> {
  const declared = request.headers['content-length'];
  const length = declared === undefined ? undefined : Number(declared);
  if (length !== undefined && length > max) return Promise.reject(tooLarge(max, `Content-Length ${length}`));
  let source: Readable;
  try {
    source = decoded(request);
  } catch (err) {
    return Promise.reject(err);
  }
  const compressed = source !== request;
  const tensorsAt = tensorsOffset(request);
  return new Promise((resolve, reject) => {
    // With a known, uncompressed length the body is received straight into its final buffer.
    const whole = !compressed && length !== undefined ? alignedBuffer(length, tensorsAt) : undefined;
    const chunks: Buffer[] = [];
    let received = 0;
    const fail = (err: Error): void => {
      source.removeAllListeners('data');
      if (compressed) request.unpipe();
      reject(err);
    };
    source.on('data', (chunk: Buffer) => {
      if (received + chunk.byteLength > (whole ? whole.byteLength : max)) {
        fail(whole ? new InferenceError('INVALID_ARGUMENT', 'the body is longer than its Content-Length') : tooLarge(max, compressed ? 'the decompressed body' : 'the body'));
        return;
      }
      if (whole) chunk.copy(whole, received);
      else chunks.push(chunk);
      received += chunk.byteLength;
    });
    source.once('error', (err) => fail(compressed ? new InferenceError('INVALID_ARGUMENT', `the body is not valid ${request.headers['content-encoding']}: ${err.message}`) : err));
    source.once('end', () => {
      if (whole) {
        resolve(whole.subarray(0, received));
        return;
      }
      const body = alignedBuffer(received, tensorsAt);
      let at = 0;
      for (const chunk of chunks) at += chunk.copy(body, at);
      resolve(body);
    });
  });
}
