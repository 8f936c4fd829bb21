// ModelInferResponse written straight from the core's InferResult: the tensor bytes are
// copied once, into their place in the message, and grpc-js copies the message once more,
// into its frame. The generated encoder would copy them three times (into a chunk, into the
// finished array, into a Buffer) after building a protobuf object graph. Field numbers are the
// contract's (proto/grpc_service.proto).
//
// grpc-js copies a serialized response into its frame before it returns from the serializer's
// caller (server-interceptors.js, serializeMessage), so the message is written into a scratch
// buffer reused from call to call: a 4 MiB answer allocates nothing here, and every ArrayBuffer
// not allocated is garbage collection not paid (large ones push V8 into full collections).
// Each server has an encoder, and so a scratch buffer, of its own.
import type { ParamValue, Parameters } from '../model/index.js';
import type { InferResult } from '../pipeline/index.js';

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;

/** ModelInferResponse. */
const RESPONSE = { modelName: 1, modelVersion: 2, id: 3, parameters: 4, outputs: 5, rawOutputContents: 6 } as const;
/** ModelInferResponse.InferOutputTensor. */
const OUTPUT = { name: 1, datatype: 2, shape: 3 } as const;
/** A map<string, InferParameter> entry. */
const ENTRY = { key: 1, value: 2 } as const;
/** InferParameter's oneof. */
const PARAMETER = { bool: 1, int64: 2, string: 3, double: 4 } as const;

const tag = (field: number, wireType: number): number => (field << 3) | wireType;

/** Bytes of `value` as a protobuf varint. */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** An int64 as protobuf writes it: negative values take ten bytes (two's complement). */
function int64Size(value: bigint): number {
  let v = value < 0n ? value + (1n << 64n) : value;
  let size = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    size++;
  }
  return size;
}

const stringSize = (field: number, text: string): number => {
  if (text === '') return 0;
  const length = Buffer.byteLength(text);
  return varintSize(tag(field, WIRE_BYTES)) + varintSize(length) + length;
};

/** The InferParameter a value becomes (as toInferParameter decides): its oneof and payload size. */
function parameterSize(value: ParamValue): number {
  switch (typeof value) {
    case 'boolean':
      return 2;
    case 'string':
      return stringSize(PARAMETER.string, value) || 2;
    case 'bigint':
      return 1 + int64Size(value);
    default:
      return Number.isSafeInteger(value) ? 1 + int64Size(BigInt(value)) : 9;
  }
}

class Writer {
  offset = 0;
  constructor(readonly buffer: Buffer) {}

  varint(value: number): void {
    while (value >= 0x80) {
      this.buffer[this.offset++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    this.buffer[this.offset++] = value;
  }

  int64(value: bigint): void {
    let v = value < 0n ? value + (1n << 64n) : value;
    while (v >= 0x80n) {
      this.buffer[this.offset++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buffer[this.offset++] = Number(v);
  }

  string(field: number, text: string): void {
    if (text === '') return;
    this.varint(tag(field, WIRE_BYTES));
    this.varint(Buffer.byteLength(text));
    this.offset += this.buffer.write(text, this.offset, 'utf8');
  }

  bytes(field: number, bytes: Uint8Array): void {
    this.varint(tag(field, WIRE_BYTES));
    this.varint(bytes.byteLength);
    this.buffer.set(bytes, this.offset);
    this.offset += bytes.byteLength;
  }

  parameter(value: ParamValue): void {
    switch (typeof value) {
      case 'boolean':
        this.varint(tag(PARAMETER.bool, WIRE_VARINT));
        this.varint(value ? 1 : 0);
        return;
      case 'string':
        if (value === '') {
          // An empty string still says which oneof is set.
          this.varint(tag(PARAMETER.string, WIRE_BYTES));
          this.varint(0);
        } else {
          this.string(PARAMETER.string, value);
        }
        return;
      case 'bigint':
        this.varint(tag(PARAMETER.int64, WIRE_VARINT));
        this.int64(value);
        return;
      default:
        if (Number.isSafeInteger(value)) {
          this.varint(tag(PARAMETER.int64, WIRE_VARINT));
          this.int64(BigInt(value));
        } else {
          this.varint(tag(PARAMETER.double, WIRE_FIXED64));
          this.offset = this.buffer.writeDoubleLE(value, this.offset);
        }
    }
  }
}

function entrySize(key: string, value: ParamValue): number {
  const valueSize = parameterSize(value);
  return stringSize(ENTRY.key, key) + varintSize(tag(ENTRY.value, WIRE_BYTES)) + varintSize(valueSize) + valueSize;
}

function shapeSize(shape: readonly bigint[]): number {
  let size = 0;
  for (const dim of shape) size += int64Size(dim);
  return size;
}

/** Scratch buffers up to this size are kept for the next call; a larger message gets its own. */
const KEPT_SCRATCH_BYTES = 64 * 2 ** 20;
const FIRST_SCRATCH_BYTES = 64 * 1024;

const WIRE_SIZE = Symbol('wireSize');

/** A buffer reused from message to message, grown (up to KEPT_SCRATCH_BYTES) as messages need. */
class ScratchBuffer {
  private buffer = Buffer.allocUnsafeSlow(FIRST_SCRATCH_BYTES);

  take(size: number): Buffer {
    if (size > this.buffer.byteLength) {
      if (size > KEPT_SCRATCH_BYTES) return Buffer.allocUnsafeSlow(size);
      this.buffer = Buffer.allocUnsafeSlow(Math.min(KEPT_SCRATCH_BYTES, 2 ** Math.ceil(Math.log2(size))));
    }
    return this.buffer.subarray(0, size);
  }
}

/**
 * Serializes an InferResult as a ModelInferResponse. The bytes live in the encoder's scratch
 * buffer, which its next call overwrites: copy them (as grpc-js does) before serializing another.
 */
export type InferResultEncoder = (result: InferResult) => Buffer;

/** An encoder with a scratch buffer of its own: one per server. */
export function inferResultEncoder(): InferResultEncoder {
  const scratch = new ScratchBuffer();
  return (result) => encodeInferResult(result, scratch);
}

function encodeInferResult(result: InferResult, scratch: ScratchBuffer): Buffer {
  const parameterKeys = Object.keys(result.parameters);
  const entrySizes = parameterKeys.map((key) => entrySize(key, (result.parameters as Parameters)[key] as ParamValue));
  const outputSizes: number[] = new Array<number>(result.outputs.length);
  const shapeSizes: number[] = new Array<number>(result.outputs.length);
  let size =
    stringSize(RESPONSE.modelName, result.model) + stringSize(RESPONSE.modelVersion, result.version) + stringSize(RESPONSE.id, result.id);
  for (const entry of entrySizes) size += 1 + varintSize(entry) + entry;
  for (let i = 0; i < result.outputs.length; i++) {
    const output = result.outputs[i]!;
    const shape = shapeSize(output.shape);
    shapeSizes[i] = shape;
    const outputSize =
      stringSize(OUTPUT.name, output.name) +
      stringSize(OUTPUT.datatype, output.datatype) +
      (output.shape.length > 0 ? 1 + varintSize(shape) + shape : 0);
    outputSizes[i] = outputSize;
    size += 1 + varintSize(outputSize) + outputSize;
  }
  for (const raw of result.raw) size += 1 + varintSize(raw.byteLength) + raw.byteLength;

  const writer = new Writer(scratch.take(size));
  writer.string(RESPONSE.modelName, result.model);
  writer.string(RESPONSE.modelVersion, result.version);
  writer.string(RESPONSE.id, result.id);
  for (let i = 0; i < parameterKeys.length; i++) {
    const key = parameterKeys[i]!;
    const value = (result.parameters as Parameters)[key] as ParamValue;
    writer.varint(tag(RESPONSE.parameters, WIRE_BYTES));
    writer.varint(entrySizes[i]!);
    writer.string(ENTRY.key, key);
    writer.varint(tag(ENTRY.value, WIRE_BYTES));
    writer.varint(parameterSize(value));
    writer.parameter(value);
  }
  for (let i = 0; i < result.outputs.length; i++) {
    const output = result.outputs[i]!;
    writer.varint(tag(RESPONSE.outputs, WIRE_BYTES));
    writer.varint(outputSizes[i]!);
    writer.string(OUTPUT.name, output.name);
    writer.string(OUTPUT.datatype, output.datatype);
    if (output.shape.length > 0) {
      writer.varint(tag(OUTPUT.shape, WIRE_BYTES));
      writer.varint(shapeSizes[i]!);
      for (const dim of output.shape) writer.int64(dim);
    }
  }
  for (const raw of result.raw) writer.bytes(RESPONSE.rawOutputContents, raw);
  // Not enumerable: the result stays equal to what the core answered.
  Object.defineProperty(result, WIRE_SIZE, { value: size, configurable: true });
  return writer.buffer;
}

/** The size of the message `result` was serialized to (grpc-js serializes while the handler answers), for the request log. */
export function responseWireSize(result: InferResult): number | undefined {
  return (result as { readonly [WIRE_SIZE]?: number })[WIRE_SIZE];
}
