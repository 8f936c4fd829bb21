// One table for the three names a tensor type has here: the v2 datatype clients send, the
// type onnxruntime-node reports and expects (with its JS array), and the ONNX element type
// the model file stores.
import type { Tensor as OrtTensor } from 'onnxruntime-node';
import { InferenceError } from '../errors.js';
import type { Datatype } from '../tensor/index.js';
import type { OnnxElemType } from './onnx-writer.js';

export type OrtTensorType = OrtTensor.Type;

/** The JS array onnxruntime-node reads and writes for a type. */
export type OrtArrayConstructor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Int8ArrayConstructor
  | Int16ArrayConstructor
  | Int32ArrayConstructor
  | BigInt64ArrayConstructor
  | Uint8ArrayConstructor
  | Uint16ArrayConstructor
  | Uint32ArrayConstructor
  | BigUint64ArrayConstructor
  | ArrayConstructor;

export interface OnnxTypeEntry {
  readonly datatype: Datatype;
  readonly ort: OrtTensorType;
  readonly onnx: OnnxElemType;
  /** string[] for STRING; BOOL is one byte of 0/1; FLOAT16 is the raw bits (Node 20 has no Float16Array). */
  readonly array: OrtArrayConstructor;
}

/** Every type onnxruntime-node 1.30 can feed and read, and nothing else. */
export const ONNX_TYPES: readonly OnnxTypeEntry[] = Object.freeze([
  { datatype: 'BOOL', ort: 'bool', onnx: 'BOOL', array: Uint8Array },
  { datatype: 'UINT8', ort: 'uint8', onnx: 'UINT8', array: Uint8Array },
  { datatype: 'UINT16', ort: 'uint16', onnx: 'UINT16', array: Uint16Array },
  { datatype: 'UINT32', ort: 'uint32', onnx: 'UINT32', array: Uint32Array },
  { datatype: 'UINT64', ort: 'uint64', onnx: 'UINT64', array: BigUint64Array },
  { datatype: 'INT8', ort: 'int8', onnx: 'INT8', array: Int8Array },
  { datatype: 'INT16', ort: 'int16', onnx: 'INT16', array: Int16Array },
  { datatype: 'INT32', ort: 'int32', onnx: 'INT32', array: Int32Array },
  { datatype: 'INT64', ort: 'int64', onnx: 'INT64', array: BigInt64Array },
  { datatype: 'FP16', ort: 'float16', onnx: 'FLOAT16', array: Uint16Array },
  { datatype: 'FP32', ort: 'float32', onnx: 'FLOAT', array: Float32Array },
  { datatype: 'FP64', ort: 'float64', onnx: 'DOUBLE', array: Float64Array },
  { datatype: 'BYTES', ort: 'string', onnx: 'STRING', array: Array },
] satisfies OnnxTypeEntry[]);

const BY_DATATYPE: ReadonlyMap<Datatype, OnnxTypeEntry> = new Map(ONNX_TYPES.map((entry) => [entry.datatype, entry]));
const BY_ORT: ReadonlyMap<string, OnnxTypeEntry> = new Map(ONNX_TYPES.map((entry) => [entry.ort, entry]));

function supportedList(): string {
  return ONNX_TYPES.map((entry) => entry.datatype).join(', ');
}

/**
 * The entry for a v2 datatype. BF16, which the Node binding refuses, fails INVALID_ARGUMENT;
 * `tensor` says which tensor it is in the message ("input 'x'").
 */
export function onnxTypeOfDatatype(datatype: Datatype, tensor: string): OnnxTypeEntry {
  const entry = BY_DATATYPE.get(datatype);
  if (entry === undefined) {
    throw new InferenceError(
      'INVALID_ARGUMENT',
      `${tensor} has datatype ${datatype}, which onnxruntime-node cannot feed or read (it can: ${supportedList()})`,
    );
  }
  return entry;
}

/** The entry for a type onnxruntime-node reports; one without a v2 datatype (int4, uint4) fails naming `tensor`. */
export function onnxTypeOfOrt(ortType: string, tensor: string): OnnxTypeEntry {
  const entry = BY_ORT.get(ortType);
  if (entry === undefined) {
    throw new InferenceError(
      'INVALID_ARGUMENT',
      `${tensor} has ONNX type ${ortType}, which v2serve cannot serve through onnxruntime-node (it can: ${supportedList()})`,
    );
  }
  return entry;
}
