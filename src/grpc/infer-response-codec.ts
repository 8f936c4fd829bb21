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
import type { EncodedAnswer } from '../cache/index.js';
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
      if (!Number.isSafeInteger(value)) return 9;
      return 1 + (value >= 0 ? varintSize(value) : int64Size(BigInt(value)));
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

  /** One map<string, InferParameter> entry of the response's parameters. */
  entry(size: number, key: string, value: ParamValue): void {
    this.varint(tag(RESPONSE.parameters, WIRE_BYTES));
    this.varint(size);
    this.string(ENTRY.key, key);
    this.varint(tag(ENTRY.value, WIRE_BYTES));
    this.varint(parameterSize(value));
    this.parameter(value);
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
          if (value >= 0) this.varint(value);
          else this.int64(BigInt(value));
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

/** Output dims are whole numbers ≥ 0: plain varints, no int64 arithmetic. */
function shapeSize(shape: readonly number[]): number {
  let size = 0;
  for (let k = 0; k < shape.length; k++) size += varintSize(shape[k]!);
  return size;
}

/** Scratch buffers up to this size are kept for the next call; a larger message gets its own. */
const KEPT_SCRATCH_BYTES = 64 * 2 ** 20;
const FIRST_SCRATCH_BYTES = 64 * 1024;


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

/** A ModelStreamInfer answer: a result (empty for a failed request, which carries its error text). */
export interface StreamAnswer {
  readonly result: InferResult;
  readonly errorMessage: string;
  /** `triton_final_response`: the request's last response (every answer of a model that is not decoupled). */
  readonly final: boolean;
}

/** ModelStreamInferResponse. */
const STREAM = { errorMessage: 1, inferResponse: 2 } as const;
/** Triton flags every stream response, the request's last one true. */
const FINAL_RESPONSE_KEY = 'triton_final_response';
// A bool entry's size does not depend on its value.
const FINAL_RESPONSE_SIZE = entrySize(FINAL_RESPONSE_KEY, true);

/** A ModelInfer answer kept by the response cache, encoded before: it goes out under the request's own id. */
export class KeptReply {
  constructor(
    readonly encoded: EncodedAnswer,
    readonly id: string,
  ) {}
}

/**
 * Serializes InferResults as ModelInferResponses (unary) or ModelStreamInferResponses
 * (stream), each tensor copied once, into its place. The bytes live in the encoder's scratch
 * buffer, which its next call overwrites: grpc-js copies them into its frame before that.
 */
export class InferResultEncoder {
  private readonly scratch = new ScratchBuffer();
  /** The size of the last message written: the request log's bytes out. */
  lastSize = 0;

  /** The unary answer last written, and its message: kept only until the next one overwrites the scratch buffer. */
  private lastResult: InferResult | undefined;
  private lastMessage: Buffer | undefined;

  readonly unary = (answer: InferResult | KeptReply): Buffer => (answer instanceof KeptReply ? this.encodeKept(answer) : this.encode(answer, undefined, true));

  /**
   * The message just written for `result`, without its id: what a request with the same bytes
   * (but the id) is answered with while the response cache keeps the answer. Undefined when the
   * last message written was not `result`'s (a call cancelled before its answer was serialized).
   */
  encodedAnswer(result: InferResult): EncodedAnswer | undefined {
    const message = this.lastMessage;
    if (this.lastResult !== result || message === undefined) return undefined;
    const idOffset = stringSize(RESPONSE.modelName, result.model) + stringSize(RESPONSE.modelVersion, result.version);
    const idSize = stringSize(RESPONSE.id, result.id);
    const bytes = new Uint8Array(message.byteLength - idSize);
    bytes.set(message.subarray(0, idOffset));
    bytes.set(message.subarray(idOffset + idSize), idOffset);
    return { bytes, idOffset };
  }

  /** The kept message with the request's id written in its place, as `encode` places it. */
  private encodeKept({ encoded, id }: KeptReply): Buffer {
    const { bytes, idOffset } = encoded;
    const total = bytes.byteLength + stringSize(RESPONSE.id, id);
    const writer = new Writer(this.scratch.take(total));
    writer.buffer.set(bytes.subarray(0, idOffset));
    writer.offset = idOffset;
    writer.string(RESPONSE.id, id);
    writer.buffer.set(bytes.subarray(idOffset), writer.offset);
    this.lastResult = undefined;
    this.lastSize = total;
    return writer.buffer;
  }

  readonly stream = (answer: StreamAnswer): Buffer => this.encode(answer.result, answer.errorMessage, answer.final);

  /** `errorMessage` undefined: a ModelInferResponse; else the ModelStreamInferResponse around it, flagged with `final`. */
  private encode(result: InferResult, errorMessage: string | undefined, final: boolean): Buffer {
    const stream = errorMessage !== undefined;
    const parameters = result.parameters as Parameters;
    const parameterKeys = Object.keys(parameters);
    const entrySizes = new Array<number>(parameterKeys.length);
    const outputSizes = new Array<number>(result.outputs.length);
    const shapeSizes = new Array<number>(result.outputs.length);
    let size =
      stringSize(RESPONSE.modelName, result.model) + stringSize(RESPONSE.modelVersion, result.version) + stringSize(RESPONSE.id, result.id);
    for (let i = 0; i < parameterKeys.length; i++) {
      const key = parameterKeys[i]!;
      const entry = entrySize(key, parameters[key] as ParamValue);
      entrySizes[i] = entry;
      size += 1 + varintSize(entry) + entry;
    }
    if (stream) size += 1 + varintSize(FINAL_RESPONSE_SIZE) + FINAL_RESPONSE_SIZE;
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
    for (let i = 0; i < result.raw.length; i++) size += 1 + varintSize(result.raw[i]!.byteLength) + result.raw[i]!.byteLength;
    const total = stream ? stringSize(STREAM.errorMessage, errorMessage) + 1 + varintSize(size) + size : size;

    const writer = new Writer(this.scratch.take(total));
    if (stream) {
      writer.string(STREAM.errorMessage, errorMessage);
      writer.varint(tag(STREAM.inferResponse, WIRE_BYTES));
      writer.varint(size);
    }
    writer.string(RESPONSE.modelName, result.model);
    writer.string(RESPONSE.modelVersion, result.version);
    writer.string(RESPONSE.id, result.id);
    for (let i = 0; i < parameterKeys.length; i++) {
      const key = parameterKeys[i]!;
      writer.entry(entrySizes[i]!, key, parameters[key] as ParamValue);
    }
    if (stream) writer.entry(FINAL_RESPONSE_SIZE, FINAL_RESPONSE_KEY, final);
    for (let i = 0; i < result.outputs.length; i++) {
      const output = result.outputs[i]!;
      writer.varint(tag(RESPONSE.outputs, WIRE_BYTES));
      writer.varint(outputSizes[i]!);
      writer.string(OUTPUT.name, output.name);
      writer.string(OUTPUT.datatype, output.datatype);
      if (output.shape.length > 0) {
        writer.varint(tag(OUTPUT.shape, WIRE_BYTES));
        writer.varint(shapeSizes[i]!);
        for (let k = 0; k < output.shape.length; k++) writer.varint(output.shape[k]!);
      }
    }
    for (let i = 0; i < result.raw.length; i++) writer.bytes(RESPONSE.rawOutputContents, result.raw[i]!);
    this.lastSize = total;
    this.lastResult = stream ? undefined : result;
    this.lastMessage = writer.buffer;
    return writer.buffer;
  }
}
