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
  /** config.pbtxt `reshape.shape`: the shape the model sees (without the batch dimension) while clients use `dims`. */
  readonly reshape?: readonly number[];
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

/** Values sent typed rather than as raw bytes (gRPC's InferTensorContents): one field per kind of value. */
export interface TypedContents {
  readonly boolContents: readonly boolean[];
  readonly intContents: readonly number[];
  readonly int64Contents: readonly bigint[];
  readonly uintContents: readonly number[];
  readonly uint64Contents: readonly bigint[];
  readonly fp32Contents: readonly number[];
  readonly fp64Contents: readonly number[];
  readonly bytesContents: readonly Uint8Array[];
}

/**
 * One input as a transport received it, whichever the transport: dims as numbers, and its
 * data either as raw little-endian bytes (a binary body, raw_input_contents, shared memory,
 * JSON values written once) or as typed contents. Absent data is a request error.
 */
export interface ReceivedInput {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly raw?: Uint8Array | undefined;
  readonly contents?: TypedContents | undefined;
}

/** An output ready for the wire: its raw bytes are the matching entry of EncodedOutputs.raw. */
export interface EncodedOutput {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
}

/** Outputs ready for the wire: one raw buffer per output, same order. */
export interface EncodedOutputs {
  outputs: EncodedOutput[];
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
