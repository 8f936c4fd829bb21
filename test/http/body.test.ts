import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { readBody } from '../../src/http/body.js';

/** A request whose body arrives in `chunks`, with `headers`. */
function request(chunks: readonly Buffer[], headers: Record<string, string>): IncomingMessage {
  return Object.assign(Readable.from(chunks), { headers }) as unknown as IncomingMessage;
}

const body = Buffer.from('{"inputs":[]}abcdefgh01234567');
const headerLength = body.indexOf('a');

describe('readBody', () => {
  test('puts the tensors after a declared JSON header on an 8-byte boundary', async () => {
    for (let split = 1; split < body.length; split += 5) {
      const read = await readBody(request([body.subarray(0, split), body.subarray(split)], { 'content-length': String(body.length), 'inference-header-content-length': String(headerLength) }), 1000);
      assert.deepEqual(read, body);
      assert.equal((read.byteOffset + headerLength) % 8, 0);
    }
  });

  test('aligns the tensors of a body without Content-Length too', async () => {
    const read = await readBody(request([body.subarray(0, 7), body.subarray(7)], { 'inference-header-content-length': String(headerLength) }), 1000);
    assert.deepEqual(read, body);
    assert.equal((read.byteOffset + headerLength) % 8, 0);
  });

  test('aligns the tensors of a decompressed body', async () => {
    const read = await readBody(request([gzipSync(body)], { 'content-encoding': 'gzip', 'inference-header-content-length': String(headerLength) }), 1000);
    assert.deepEqual(read, body);
    assert.equal((read.byteOffset + headerLength) % 8, 0);
  });

  test('reads a body whose Inference-Header-Content-Length is not a number', async () => {
    const read = await readBody(request([body], { 'content-length': String(body.length), 'inference-header-content-length': 'x' }), 1000);
    assert.deepEqual(read, body);
  });

  test('refuses a declared Content-Length above the maximum', async () => {
    await assert.rejects(readBody(request([body], { 'content-length': String(body.length) }), 10), { name: 'InferenceError', code: 'PAYLOAD_TOO_LARGE', message: /--http-max-input-size/ });
  });

  test('refuses a body longer than its Content-Length', async () => {
    await assert.rejects(readBody(request([body], { 'content-length': '4' }), 1000), { name: 'InferenceError', code: 'INVALID_ARGUMENT', message: /longer than its Content-Length/ });
  });
});
