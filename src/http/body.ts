// Request bodies, bounded by --http-max-input-size before anything is buffered: a declared
// Content-Length above it is refused at once, a body that grows past it (chunked, or
// decompressed from gzip/deflate) is cut off as soon as it does.
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import { InferenceError } from '../errors.js';

function tooLarge(max: number, what: string): InferenceError {
  return new InferenceError('PAYLOAD_TOO_LARGE', `${what} exceeds the maximum input size of ${max} bytes (--http-max-input-size)`);
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
  return new Promise((resolve, reject) => {
    // With a known, uncompressed length the body is received straight into its final buffer.
    const whole = !compressed && length !== undefined ? Buffer.allocUnsafe(length) : undefined;
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
    source.once('end', () => resolve(whole ? whole.subarray(0, received) : Buffer.concat(chunks, received)));
  });
}
