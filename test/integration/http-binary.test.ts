// Triton's binary tensor data extension over HTTP: binary inputs (FP16, BYTES), binary
// outputs after the JSON header, the raw binary request, and a 64 MiB tensor.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { httpSuite, request } from './http-fixtures.js';

/** A binary request: the JSON header, then the blobs; the header length goes in Inference-Header-Content-Length. */
function binaryBody(header: unknown, ...blobs: Uint8Array[]): { body: Uint8Array; headers: Record<string, string> } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...blobs]), headers: { 'Inference-Header-Content-Length': String(json.byteLength) } };
}

/** Splits a binary answer into its JSON header and the bytes after it. */
function split(bytes: Uint8Array, headerLength: string | null): { json: { outputs: { name: string; parameters?: Record<string, number>; data?: unknown }[] }; rest: Buffer } {
  const n = Number(headerLength);
  return { json: JSON.parse(Buffer.from(bytes.subarray(0, n)).toString('utf8')) as never, rest: Buffer.from(bytes.subarray(n)) };
}

describe('http - binary', () => {
  const suite = httpSuite();

  test('binary - an FP16 input and output travel binary, byte for byte', async () => {
    const fp16 = Buffer.from(new Uint16Array([0x3c00, 0xc000, 0x7bff]).buffer);
    const { body, headers } = binaryBody(
      { inputs: [{ name: 'X_FP16', datatype: 'FP16', shape: [3], parameters: { binary_data_size: 6 } }], outputs: [{ name: 'Y_FP16', parameters: { binary_data: true } }] },
      fp16,
    );
    const reply = await request(suite.base, '/v2/models/echo/infer', body, headers);
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.headers.get('content-type'), 'application/octet-stream');
    const { json, rest } = split(reply.bytes, reply.headers.get('inference-header-content-length'));
    assert.deepEqual(json.outputs[0], { name: 'Y_FP16', datatype: 'FP16', shape: [3], parameters: { binary_data_size: 6 } });
    assert.deepEqual(rest, fp16);
  });

  test('binary - BYTES binary input, binary_data_output for every output, JSON for one overriding it', async () => {
    const element = (s: string) => {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(Buffer.byteLength(s));
      return Buffer.concat([length, Buffer.from(s)]);
    };
    const bytes = Buffer.concat([element('ab'), element('')]);
    const { body, headers } = binaryBody(
      {
        parameters: { binary_data_output: true },
        inputs: [
          { name: 'X_BYTES', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: bytes.byteLength } },
          { name: 'X_INT32', datatype: 'INT32', shape: [2], data: [7, 8] },
        ],
        outputs: [{ name: 'Y_BYTES' }, { name: 'Y_INT32', parameters: { binary_data: false } }],
      },
      bytes,
    );
    const reply = await request(suite.base, '/v2/models/echo/infer', body, headers);
    assert.equal(reply.status, 200, reply.text);
    const { json, rest } = split(reply.bytes, reply.headers.get('inference-header-content-length'));
    assert.deepEqual(json.outputs[0]?.parameters, { binary_data_size: bytes.byteLength });
    assert.deepEqual(json.outputs[1]?.data, [7, 8]);
    assert.deepEqual(rest, bytes);
  });

  test('binary - a raw binary request (header length 0) feeds the one input of simple_identity-like models', async () => {
    const fp32 = Buffer.from(new Float32Array([1.5, 2.5]).buffer);
    const reply = await request(suite.base, '/v2/models/slow/infer', fp32, { 'Inference-Header-Content-Length': '0' });
    assert.equal(reply.status, 200, reply.text);
    const { json, rest } = split(reply.bytes, reply.headers.get('inference-header-content-length'));
    assert.deepEqual(json.outputs[0], { name: 'Y', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8 } });
    assert.deepEqual(rest, fp32);
    const many = await request(suite.base, '/v2/models/echo/infer', fp32, { 'Inference-Header-Content-Length': '0' });
    assert.equal(many.status, 400);
    assert.match(String(many.json()['error']), /one input/);
  });

  test('binary - a 64 MiB FP32 tensor goes in and comes back binary', async () => {
    const n = (64 * 1024 * 1024) / 4 - 64;
    const values = new Float32Array(n);
    for (let i = 0; i < n; i += 4096) values[i] = i;
    const blob = Buffer.from(values.buffer);
    const { body, headers } = binaryBody(
      { inputs: [{ name: 'X', datatype: 'FP32', shape: [n], parameters: { binary_data_size: blob.byteLength } }], outputs: [{ name: 'Y', parameters: { binary_data: true } }] },
      blob,
    );
    assert.ok(body.byteLength <= 1 << 26);
    const reply = await request(suite.base, '/v2/models/slow/infer', body, headers);
    assert.equal(reply.status, 200, reply.text.slice(0, 200));
    const { rest } = split(reply.bytes, reply.headers.get('inference-header-content-length'));
    assert.equal(rest.byteLength, blob.byteLength);
    assert.ok(rest.equals(blob));
  });

  test('binary - blobs no input claims are 400', async () => {
    const { body, headers } = binaryBody({ inputs: [{ name: 'X', datatype: 'FP32', shape: [1], data: [1] }] }, Buffer.alloc(4));
    const reply = await request(suite.base, '/v2/models/slow/infer', body, headers);
    assert.equal(reply.status, 400);
    assert.match(String(reply.json()['error']), /no input's binary_data_size claims/);
  });
});
