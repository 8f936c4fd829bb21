// The response cache's key for one request: everything that decides the model's answer —
// model, version (and which load of it), each input's name, datatype, shape and bytes, the requested outputs with
// their parameters and the request's parameters. The fields are written length-prefixed, so
// two different requests never serialize alike. A small request's key is that serialization
// itself (the Map compares it whole: no collision is possible, and no hash object is made per
// request); a bigger one's is its SHA-256, where a collision (two requests sharing an answer)
// is out of reach, unlike with Triton's 64-bit hash.
import { createHash } from 'node:crypto';
import type { Parameters, ParamValue, RequestedOutput } from '../model/index.js';
import type { Tensor } from '../tensor/index.js';

export interface KeyedRequest {
  readonly model: string;
  readonly version: string;
  /** Which load of the version (ResponseCache.newLoad()): a reloaded version never gets its predecessor's answers. */
  readonly load: number;
  /** Decoded and checked, in the order the request sent them. */
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly RequestedOutput[];
  readonly parameters: Parameters;
}

const field = (text: string): string => `${text.length}:${text}`;

/** Typed, so that 1, 1n, '1' and true stay apart: a model may read them differently. */
function valueField(value: ParamValue): string {
  switch (typeof value) {
    case 'string':
      return `s${field(value)}`;
    case 'boolean':
      return value ? 'T' : 'F';
    case 'bigint':
      return `i${field(String(value))}`;
    default:
      return `n${field(Object.is(value, -0) ? '-0' : String(value))}`;
  }
}

/** Sorted by key: a record's order means nothing to the model. Own keys only, whatever their names. */
function parametersField(parameters: Parameters): string {
  const keys = Object.keys(parameters);
  if (keys.length > 1) keys.sort();
  let text = `${keys.length};`;
  for (const key of keys) text += field(key) + valueField(parameters[key] as ParamValue);
  return text;
}

/** What is hashed beside the tensors' bytes: every length, so that the bytes that follow are delimited. */
function describe(request: KeyedRequest): string {
  let text = field(request.model) + field(request.version) + `${request.load};${request.inputs.length};`;
  for (const tensor of request.inputs) {
    text += field(tensor.name) + field(tensor.datatype) + `${tensor.shape.join(',')};`;
    const { data } = tensor;
    if (ArrayBuffer.isView(data)) text += `${data.byteLength};`;
    else {
      text += `${data.length}:`;
      for (let i = 0; i < data.length; i++) text += `${(data[i] as Uint8Array).byteLength},`;
      text += ';';
    }
  }
  text += `${request.outputs.length};`;
  for (const output of request.outputs) text += field(output.name) + parametersField(output.parameters);
  return text + parametersField(request.parameters);
}

/** Up to this many input bytes the key holds them; above, their hash. */
export const INLINE_KEY_BYTES = 1024;

const latin1 = (view: ArrayBufferView): string => Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('latin1');

function inputBytes(inputs: readonly Tensor[]): number {
  let total = 0;
  for (const { data } of inputs) {
    if (ArrayBuffer.isView(data)) total += data.byteLength;
    else for (let i = 0; i < data.length; i++) total += (data[i] as Uint8Array).byteLength;
  }
  return total;
}

/**
 * The key of a request's answer in the response cache: `k` and the whole serialization (one
 * character per input byte after the description) up to INLINE_KEY_BYTES of inputs, `h` and
 * a SHA-256 (44 characters) above.
 */
export function requestKey(request: KeyedRequest): string {
  const description = describe(request);
  if (inputBytes(request.inputs) <= INLINE_KEY_BYTES) {
    let key = `k${description}`;
    for (const { data } of request.inputs) {
      if (ArrayBuffer.isView(data)) key += latin1(data);
      else for (let i = 0; i < data.length; i++) key += latin1(data[i] as Uint8Array);
    }
    return key;
  }
  const hash = createHash('sha256');
  // UTF-16 code units as they are: a lone surrogate in a parameter stays itself (UTF-8 would turn every one into U+FFFD).
  hash.update(description, 'utf16le');
  for (const { data } of request.inputs) {
    if (ArrayBuffer.isView(data)) hash.update(data);
    else for (let i = 0; i < data.length; i++) hash.update(data[i] as Uint8Array);
  }
  return `h${hash.digest('base64')}`;
}
