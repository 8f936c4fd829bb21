// Domain types of the tensor codec. The wire shapes below match the generated
// protobuf types structurally, so this folder never imports generated/ or grpc-js.

export const DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BF16',
  'BYTES',
] as const;
export type Datatype = (typeof DATATYPES)[number];

export type NumericData =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigUint64Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

/** BYTES tensors: one element per entry, each a view on the received bytes. */
export type BytesData = readonly Uint8Array[];

export type TensorData = NumericData | BytesData;

/**
 * A decoded tensor. `data` is row-major with `shape`:
 * BOOL → Uint8Array of 0/1, FP16/BF16 → Uint16Array of the raw bits (see toFloat32),
 * INT64/UINT64 → BigInt64Array/BigUint64Array (exact), BYTES → one Uint8Array per element.
 */
export interface Tensor {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

/** A nested JS list shaped by a tensor's dims (the `inputs` form models receive). */
export type ListValue = number | bigint | boolean | Uint8Array;
export type NestedList = ListValue | readonly NestedList[];

/** What a model declares about one tensor (ModelConfig input/output). */
export interface TensorSpec {
  readonly name: string;
  readonly datatype: Datatype;
  /** Without the batch dimension; -1 matches any size. */
  readonly dims: readonly number[];
  readonly optional?: boolean;
}

/** What a model declares about its inputs and outputs. */
export interface IOSpec {
  /** Used only in error messages (Triton's wording names the model). */
  readonly modelName?: string;
  /** 0: no implicit batch dimension; N > 0: shapes carry a leading batch dim ≤ N. */
  readonly maxBatchSize: number;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

/** InferTensorContents, as the generated protobuf type has it. */
export interface WireContents {
  boolContents: boolean[];
  intContents: number[];
  int64Contents: bigint[];
  uintContents: number[];
  uint64Contents: bigint[];
  fp32Contents: number[];
  fp64Contents: number[];
  bytesContents: Uint8Array[];
}

/** ModelInferRequest.InferInputTensor, as the generated protobuf type has it. */
export interface WireInputTensor {
  name: string;
  datatype: string;
  shape: bigint[];
  contents?: WireContents | undefined;
}

/** ModelInferResponse.InferOutputTensor without contents (v2serve always answers raw). */
export interface WireOutputTensor {
  name: string;
  datatype: string;
  shape: bigint[];
}

/** Outputs ready for the wire: one raw buffer per output, same order. */
export interface EncodedOutputs {
  outputs: WireOutputTensor[];
  raw: Uint8Array[];
}

/** A tensor given by its parts; missing parts come from the declared output or are inferred. */
export interface TensorLike {
  readonly data: TensorData | NestedList | readonly string[];
  readonly shape?: readonly number[];
  readonly datatype?: Datatype;
}

/** One output value a model may return. */
export type OutputValue = TensorData | TensorLike | NestedList | readonly string[] | string;

/**
 * What predict() may return: list form (one entry per declared output, in declared order)
 * or named outputs.
 */
export type PredictOutputs = readonly OutputValue[] | Readonly<Record<string, OutputValue>>;
