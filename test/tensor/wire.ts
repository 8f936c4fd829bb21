// Test helpers: build received inputs and raw bytes independently of the codec.
import { decodeInputs, type Datatype, type IOSpec, type ReceivedInput, type Tensor, type TypedContents } from '../../src/tensor/index.js';

export function contents(fields: Partial<TypedContents> = {}): TypedContents {
  return {
    boolContents: [],
    intContents: [],
    int64Contents: [],
    uintContents: [],
    uint64Contents: [],
    fp32Contents: [],
    fp64Contents: [],
    bytesContents: [],
    ...fields,
  };
}

export function input(
  name: string,
  datatype: string,
  shape: readonly number[],
  typed?: Partial<TypedContents>,
): { -readonly [K in keyof ReceivedInput]: ReceivedInput[K] } {
  return { name, datatype, shape, contents: typed === undefined ? undefined : contents(typed) };
}

/** `inputs` with `raw[i]` as the raw data of input i, as a transport hands them to the codec. */
function withRaw(inputs: readonly ReceivedInput[], raw: readonly Uint8Array[]): ReceivedInput[] {
  return inputs.map((received, i) => (raw[i] === undefined ? received : { ...received, raw: raw[i] }));
}

/** Decodes `inputs` given raw data for the first `raw.length` of them. */
export function decodeWithRaw(inputs: readonly ReceivedInput[], raw: readonly Uint8Array[], spec: IOSpec | undefined): Tensor[] {
  return decodeInputs(withRaw(inputs, raw), spec);
}

/** Raw little-endian bytes of `values`, written with DataView (not with the codec). */
export function rawOf(datatype: Datatype, values: readonly unknown[]): Uint8Array {
  if (datatype === 'BYTES') {
    const parts = values.map((v) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : (v as Uint8Array)));
    const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.byteLength, 0));
    const dv = new DataView(out.buffer);
    let p = 0;
    for (const part of parts) {
      dv.setUint32(p, part.byteLength, true);
      out.set(part, p + 4);
      p += 4 + part.byteLength;
    }
    return out;
  }
  const size = { BOOL: 1, UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, FP16: 2, BF16: 2, UINT32: 4, INT32: 4, FP32: 4, UINT64: 8, INT64: 8, FP64: 8 }[datatype];
  const out = new Uint8Array(values.length * size);
  const dv = new DataView(out.buffer);
  values.forEach((v, k) => {
    const o = k * size;
    switch (datatype) {
      case 'BOOL': dv.setUint8(o, v ? 1 : 0); break;
      case 'UINT8': dv.setUint8(o, v as number); break;
      case 'INT8': dv.setInt8(o, v as number); break;
      case 'UINT16': case 'FP16': case 'BF16': dv.setUint16(o, v as number, true); break;
      case 'INT16': dv.setInt16(o, v as number, true); break;
      case 'UINT32': dv.setUint32(o, v as number, true); break;
      case 'INT32': dv.setInt32(o, v as number, true); break;
      case 'FP32': dv.setFloat32(o, v as number, true); break;
      case 'FP64': dv.setFloat64(o, v as number, true); break;
      case 'UINT64': dv.setBigUint64(o, v as bigint, true); break;
      case 'INT64': dv.setBigInt64(o, v as bigint, true); break;
    }
  });
  return out;
}

/** `bytes` copied to `offset` bytes into a fresh buffer, to control alignment. */
export function at(bytes: Uint8Array, offset: number): Uint8Array {
  const buf = new Uint8Array(offset + bytes.byteLength + 3);
  buf.set(bytes, offset);
  return buf.subarray(offset, offset + bytes.byteLength);
}

export const invalid = (pattern: RegExp) => ({ name: 'InferenceError', code: 'INVALID_ARGUMENT', message: pattern });
export const internal = (pattern: RegExp) => ({ name: 'InferenceError', code: 'INTERNAL', message: pattern });
