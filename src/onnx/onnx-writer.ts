// A small encoder for ONNX ModelProto (onnx.proto, protobuf binary). It is enough for the
// graphs v2serve builds itself — test models and the Iris classifier — so neither the tests
// nor the training script need Python or a protobuf dependency. Serving never uses it.
import type { NumericData } from '../tensor/index.js';

/** ONNX TensorProto.DataType numbers (onnx.proto). */
export const ONNX_ELEM_TYPE = Object.freeze({
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
});
export type OnnxElemType = keyof typeof ONNX_ELEM_TYPE;

const ELEM_TYPE_NAME: ReadonlyMap<number, OnnxElemType> = new Map(
  Object.entries(ONNX_ELEM_TYPE).map(([name, number]) => [number, name as OnnxElemType]),
);

/** `BFLOAT16` for 16; `type 99` for a number onnx.proto does not define (yet). */
export function onnxElemTypeName(elemType: number): string {
  return ELEM_TYPE_NAME.get(elemType) ?? `type ${elemType}`;
}

/** A dimension: a size, or a name for a size chosen at run time (`'batch'`). */
export type OnnxDim = number | string;

/** A graph input or output. */
export interface OnnxValueInfo {
  readonly name: string;
  readonly elemType: OnnxElemType;
  readonly shape: readonly OnnxDim[];
}

/**
 * A constant tensor (an initializer, or a node attribute). Values are written as raw
 * little-endian bytes, so a typed array of the element type's width is expected:
 * Float32Array for FLOAT, BigInt64Array for INT64, Uint8Array of 0/1 for BOOL,
 * Uint16Array of raw bits for FLOAT16/BFLOAT16. STRING constants are not supported.
 */
export interface OnnxTensorValue {
  readonly name?: string;
  readonly elemType: Exclude<OnnxElemType, 'STRING'>;
  readonly dims: readonly number[];
  readonly data: NumericData;
}

/** One node attribute: exactly one of the keys is set, naming the attribute's type. */
export type OnnxAttributeValue =
  | { readonly int: number | bigint }
  | { readonly float: number }
  | { readonly string: string }
  | { readonly tensor: OnnxTensorValue }
  | { readonly ints: readonly (number | bigint)[] }
  | { readonly floats: readonly number[] };

export interface OnnxNode {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
  /** Empty (the default ONNX domain) unless the operator comes from another one. */
  readonly domain?: string;
  readonly attributes?: Readonly<Record<string, OnnxAttributeValue>>;
}

export interface OnnxGraph {
  readonly name: string;
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  readonly nodes: readonly OnnxNode[];
  readonly initializers?: readonly (OnnxTensorValue & { readonly name: string })[];
}

export interface OnnxModelSpec {
  readonly graph: OnnxGraph;
  /** Default 8, which onnxruntime 1.30 reads. */
  readonly irVersion?: number;
  /** Default `{ '': 13 }`: the default domain at opset 13. */
  readonly opsets?: Readonly<Record<string, number>>;
  readonly producerName?: string;
}

// Field numbers of onnx.proto.
const MODEL = { irVersion: 1, producerName: 2, graph: 7, opsetImport: 8 } as const;
const OPSET = { domain: 1, version: 2 } as const;
const GRAPH = { node: 1, name: 2, initializer: 5, input: 11, output: 12 } as const;
const NODE = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 } as const;
const VALUE_INFO = { name: 1, type: 2 } as const;
const TYPE = { tensorType: 1 } as const;
const TENSOR_TYPE = { elemType: 1, shape: 2 } as const;
const SHAPE = { dim: 1 } as const;
const DIMENSION = { dimValue: 1, dimParam: 2 } as const;
const TENSOR = { dims: 1, dataType: 2, name: 8, rawData: 9 } as const;
const ATTRIBUTE = { name: 1, f: 2, i: 3, s: 4, t: 5, floats: 7, ints: 8, type: 20 } as const;
/** AttributeProto.AttributeType numbers. */
const ATTRIBUTE_TYPE = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

const utf8 = new TextEncoder();

/** Appends protobuf fields to a growing list of chunks; `finish()` joins them. */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];

  /** An int32/int64/enum/bool field. Negative values take ten bytes (two's complement), as protobuf encodes int64. */
  varint(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.chunks.push(encodeVarint(value));
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.chunks.push(encodeVarint(value.byteLength), value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  message(field: number, build: (writer: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.chunks.push(bytes);
    return this;
  }

  /** A repeated varint field, packed (protobuf parsers accept packed encoding for any repeated scalar). */
  packedVarints(field: number, values: readonly (number | bigint)[]): this {
    return this.bytes(field, concat(values.map(encodeVarint)));
  }

  packedFloats(field: number, values: readonly number[]): this {
    const bytes = new Uint8Array(values.length * 4);
    const view = new DataView(bytes.buffer);
    values.forEach((value, i) => view.setFloat32(i * 4, value, true));
    return this.bytes(field, bytes);
  }

  finish(): Uint8Array {
    return concat(this.chunks);
  }

  private tag(field: number, wireType: number): void {
    this.chunks.push(encodeVarint((field << 3) | wireType));
  }
}

/** Base-128 varint of an integer, negative ones as their 64-bit two's complement. */
export function encodeVarint(value: number | bigint): Uint8Array {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new RangeError(`varint: ${value} is not a safe integer`);
  }
  let rest = BigInt.asUintN(64, BigInt(value));
  const bytes: number[] = [];
  while (rest >= 0x80n) {
    bytes.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  bytes.push(Number(rest));
  return Uint8Array.from(bytes);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** Encodes a ModelProto: the bytes of a `.onnx` file. */
export function encodeOnnxModel(spec: OnnxModelSpec): Uint8Array {
  const model = new ProtoWriter()
    .varint(MODEL.irVersion, spec.irVersion ?? 8)
    .string(MODEL.producerName, spec.producerName ?? 'v2serve');
  model.message(MODEL.graph, (graph) => writeGraph(graph, spec.graph));
  for (const [domain, version] of Object.entries(spec.opsets ?? { '': 13 })) {
    model.message(MODEL.opsetImport, (opset) => opset.string(OPSET.domain, domain).varint(OPSET.version, version));
  }
  return model.finish();
}

function writeGraph(writer: ProtoWriter, graph: OnnxGraph): void {
  for (const node of graph.nodes) writer.message(GRAPH.node, (w) => writeNode(w, node));
  writer.string(GRAPH.name, graph.name);
  for (const initializer of graph.initializers ?? []) writer.message(GRAPH.initializer, (w) => writeTensor(w, initializer));
  for (const input of graph.inputs) writer.message(GRAPH.input, (w) => writeValueInfo(w, input));
  for (const output of graph.outputs) writer.message(GRAPH.output, (w) => writeValueInfo(w, output));
}

function writeNode(writer: ProtoWriter, node: OnnxNode): void {
  for (const input of node.inputs) writer.string(NODE.input, input);
  for (const output of node.outputs) writer.string(NODE.output, output);
  if (node.name !== undefined) writer.string(NODE.name, node.name);
  writer.string(NODE.opType, node.opType);
  for (const [name, value] of Object.entries(node.attributes ?? {})) {
    writer.message(NODE.attribute, (w) => writeAttribute(w, name, value));
  }
  if (node.domain) writer.string(NODE.domain, node.domain);
}

function writeAttribute(writer: ProtoWriter, name: string, value: OnnxAttributeValue): void {
  writer.string(ATTRIBUTE.name, name);
  if ('int' in value) writer.varint(ATTRIBUTE.i, value.int).varint(ATTRIBUTE.type, ATTRIBUTE_TYPE.INT);
  else if ('float' in value) writer.float(ATTRIBUTE.f, value.float).varint(ATTRIBUTE.type, ATTRIBUTE_TYPE.FLOAT);
  else if ('string' in value) writer.string(ATTRIBUTE.s, value.string).varint(ATTRIBUTE.type, ATTRIBUTE_TYPE.STRING);
  else if ('tensor' in value) {
    writer.message(ATTRIBUTE.t, (w) => writeTensor(w, value.tensor)).varint(ATTRIBUTE.type, ATTRIBUTE_TYPE.TENSOR);
  } else if ('ints' in value) writer.packedVarints(ATTRIBUTE.ints, value.ints).varint(ATTRIBUTE.type, ATTRIBUTE_TYPE.INTS);
  else writer.packedFloats(ATTRIBUTE.floats, value.floats).varint(ATTRIBUTE.type, ATTRIBUTE_TYPE.FLOATS);
}

function writeTensor(writer: ProtoWriter, tensor: OnnxTensorValue): void {
  const count = tensor.dims.reduce((product, dim) => product * dim, 1);
  if (count !== tensor.data.length) {
    throw new RangeError(`tensor '${tensor.name ?? ''}': dims [${tensor.dims.join(',')}] imply ${count} values, got ${tensor.data.length}`);
  }
  if (tensor.dims.length > 0) writer.packedVarints(TENSOR.dims, tensor.dims);
  writer.varint(TENSOR.dataType, ONNX_ELEM_TYPE[tensor.elemType]);
  if (tensor.name !== undefined) writer.string(TENSOR.name, tensor.name);
  // raw_data is little-endian; typed arrays use the host's order, which main.ts checks is LE.
  writer.bytes(TENSOR.rawData, new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
}

function writeValueInfo(writer: ProtoWriter, info: OnnxValueInfo): void {
  writer.string(VALUE_INFO.name, info.name);
  writer.message(VALUE_INFO.type, (type) =>
    type.message(TYPE.tensorType, (tensorType) => {
      tensorType.varint(TENSOR_TYPE.elemType, ONNX_ELEM_TYPE[info.elemType]);
      tensorType.message(TENSOR_TYPE.shape, (shape) => {
        for (const dim of info.shape) {
          shape.message(SHAPE.dim, (d) =>
            typeof dim === 'number' ? d.varint(DIMENSION.dimValue, dim) : d.string(DIMENSION.dimParam, dim),
          );
        }
      });
    }),
  );
}
