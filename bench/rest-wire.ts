// The REST scenarios on the wire: KServe v2 inference bodies in JSON and in Triton's binary
// tensor data extension (a JSON header of Inference-Header-Content-Length bytes, then the
// tensors' bytes), and the reading of an answer into outputs. Written here from the protocol,
// not with src/http, so that a mistake there cannot hide in the check of its own answers.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Answer } from './answers.js';

/** One POST, as h2load repeats it: path, headers and body. */
export interface HttpRequest {
  readonly path: string;
  /** `name: value` lines, as h2load's -H takes them. */
  readonly headers: readonly string[];
  readonly body: Buffer;
}

export interface InputTensor {
  readonly name: string;
  readonly datatype: 'INT32' | 'FP32';
  readonly shape: readonly number[];
  readonly data: Int32Array | Float32Array;
}

const HEADER_LENGTH = 'Inference-Header-Content-Length';

const inferPath = (model: string): string => `/v2/models/${encodeURIComponent(model)}/infer`;

/** Every input's values in `data`; the answer comes back in JSON. */
export function jsonInferRequest(model: string, id: string, inputs: readonly InputTensor[]): HttpRequest {
  const body = JSON.stringify({
    id,
    inputs: inputs.map((t) => ({ name: t.name, shape: t.shape, datatype: t.datatype, data: Array.from(t.data) })),
  });
  return { path: inferPath(model), headers: ['Content-Type: application/json'], body: Buffer.from(body) };
}

/** Every input as binary data after the JSON header, and every output asked for in binary. */
export function binaryInferRequest(model: string, id: string, inputs: readonly InputTensor[]): HttpRequest {
  const header = Buffer.from(
    JSON.stringify({
      id,
      inputs: inputs.map((t) => ({ name: t.name, shape: t.shape, datatype: t.datatype, parameters: { binary_data_size: t.data.byteLength } })),
      parameters: { binary_data_output: true },
    }),
  );
  const tensors = inputs.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return {
    path: inferPath(model),
    headers: ['Content-Type: application/octet-stream', `${HEADER_LENGTH}: ${header.length}`],
    body: Buffer.concat([header, ...tensors]),
  };
}

export interface HttpReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * Sends `request` once with node:http, which asks for no compression (fetch would ask for
 * gzip, and the answer would not be the one h2load receives).
 */
export function postOnce(port: number, request: HttpRequest): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const call = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: request.path }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('error', reject);
      response.once('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
    });
    for (const line of request.headers) call.setHeader(line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim());
    call.setHeader('Content-Length', request.body.length);
    call.once('error', reject);
    call.end(request.body);
  });
}

/** The status of a GET; 0 when the connection failed (a server not listening yet). */
export function getStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const call = httpRequest({ host: '127.0.0.1', port, path }, (response) => {
      response.resume();
      response.once('end', () => resolve(response.statusCode ?? 0));
    });
    call.once('error', () => resolve(0));
    call.end();
  });
}

interface JsonOutput {
  readonly name?: unknown;
  readonly datatype?: unknown;
  readonly shape?: unknown;
  readonly data?: unknown;
  readonly parameters?: { readonly binary_data_size?: unknown };
}

function valuesOf(datatype: string, data: unknown): Uint8Array | undefined {
  if (!Array.isArray(data)) return undefined;
  const flat = data.flat(Infinity) as number[];
  const typed = datatype === 'INT32' ? Int32Array.from(flat) : datatype === 'FP32' ? Float32Array.from(flat) : undefined;
  return typed && new Uint8Array(typed.buffer);
}

/** The outputs of a 200 answer, JSON or binary; throws, saying why, on anything else. */
export function httpAnswer(reply: HttpReply): Answer {
  const text = (bytes: Buffer): string => bytes.toString('utf8', 0, Math.min(bytes.length, 500));
  if (reply.status !== 200) throw new Error(`HTTP ${reply.status}: ${text(reply.body)}`);
  const declared = reply.headers[HEADER_LENGTH.toLowerCase()];
  const contentType = reply.headers['content-type'] ?? '';
  const headerLength = declared === undefined ? reply.body.length : Number(declared);
  if (!Number.isSafeInteger(headerLength) || headerLength < 0 || headerLength > reply.body.length) {
    throw new Error(`${HEADER_LENGTH} is '${String(declared)}' for a body of ${reply.body.length} bytes`);
  }
  const binaryExpected = declared !== undefined;
  if (binaryExpected !== contentType.startsWith('application/octet-stream') || (!binaryExpected && !contentType.startsWith('application/json'))) {
    throw new Error(`Content-Type '${contentType}' ${binaryExpected ? `with ${HEADER_LENGTH}` : `without ${HEADER_LENGTH}`}`);
  }
  const header = JSON.parse(reply.body.toString('utf8', 0, headerLength)) as { outputs?: unknown };
  if (!Array.isArray(header.outputs)) throw new Error(`the answer has no outputs: ${text(reply.body)}`);
  let offset = headerLength;
  const outputs = (header.outputs as JsonOutput[]).map((output) => {
    const datatype = String(output.datatype);
    const size = output.parameters?.binary_data_size;
    let raw: Uint8Array | undefined;
    if (typeof size === 'number') {
      raw = reply.body.subarray(offset, offset + size);
      offset += size;
    } else {
      raw = valuesOf(datatype, output.data);
    }
    return { name: String(output.name), datatype, shape: Array.isArray(output.shape) ? output.shape.map(Number) : [], raw };
  });
  if (offset !== reply.body.length) throw new Error(`the outputs claim ${offset - headerLength} bytes of binary data, the body holds ${reply.body.length - headerLength}`);
  return { outputs };
}
