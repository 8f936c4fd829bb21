// Reads the element types of a model file's graph inputs and outputs straight from the
// protobuf. onnxruntime-node refuses some models before it tells which tensor is at fault
// ("Unsupported data type: 16" for a BFLOAT16 input); this lets the load error name it.

export interface OnnxGraphValue {
  readonly name: string;
  /** The ONNX element type number (ONNX_ELEM_TYPE); undefined for a value that is not a tensor. */
  readonly elemType: number | undefined;
}

export interface OnnxGraphIo {
  readonly inputs: readonly OnnxGraphValue[];
  readonly outputs: readonly OnnxGraphValue[];
}

const MODEL_GRAPH = 7;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const VALUE_INFO_NAME = 1;
const VALUE_INFO_TYPE = 2;
const TYPE_TENSOR = 1;
const TENSOR_ELEM_TYPE = 1;

interface Field {
  readonly number: number;
  /** The varint value, for wire type 0. */
  readonly value: bigint;
  /** The payload, for wire type 2. */
  readonly bytes: Uint8Array | undefined;
}

/** Walks the top-level fields of one message. */
function* fields(message: Uint8Array): Generator<Field> {
  let offset = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (offset >= message.length) throw new RangeError('truncated varint');
      const byte = message[offset++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
    }
  };
  while (offset < message.length) {
    const tag = Number(varint());
    const wireType = tag & 7;
    const number = tag >>> 3;
    if (wireType === 0) {
      yield { number, value: varint(), bytes: undefined };
    } else if (wireType === 2) {
      const length = Number(varint());
      if (offset + length > message.length) throw new RangeError('truncated field');
      yield { number, value: 0n, bytes: message.subarray(offset, offset + length) };
      offset += length;
    } else if (wireType === 1 || wireType === 5) {
      offset += wireType === 1 ? 8 : 4;
    } else {
      throw new RangeError(`unsupported wire type ${wireType}`);
    }
  }
}

function firstMessage(message: Uint8Array, number: number): Uint8Array | undefined {
  for (const field of fields(message)) if (field.number === number && field.bytes) return field.bytes;
  return undefined;
}

function readValueInfo(valueInfo: Uint8Array): OnnxGraphValue {
  let name = '';
  let elemType: number | undefined;
  for (const field of fields(valueInfo)) {
    if (field.number === VALUE_INFO_NAME && field.bytes) name = new TextDecoder().decode(field.bytes);
    if (field.number === VALUE_INFO_TYPE && field.bytes) {
      const tensorType = firstMessage(field.bytes, TYPE_TENSOR);
      const number = tensorType && [...fields(tensorType)].find((f) => f.number === TENSOR_ELEM_TYPE)?.value;
      if (number !== undefined) elemType = Number(number);
    }
  }
  return { name, elemType };
}

/** The graph's inputs and outputs with their element types; throws RangeError on bytes that are not a ModelProto. */
export function readOnnxGraphIo(model: Uint8Array): OnnxGraphIo {
  const graph = firstMessage(model, MODEL_GRAPH);
  if (graph === undefined) throw new RangeError('no graph in the model');
  const inputs: OnnxGraphValue[] = [];
  const outputs: OnnxGraphValue[] = [];
  for (const field of fields(graph)) {
    if (field.number === GRAPH_INPUT && field.bytes) inputs.push(readValueInfo(field.bytes));
    if (field.number === GRAPH_OUTPUT && field.bytes) outputs.push(readValueInfo(field.bytes));
  }
  return { inputs, outputs };
}
