// Public surface of the tensor codec: pure functions, no I/O. Import only through here.
export { decodeInputs, checkTensors, batchSize } from './decode.js';
export { encodeOutputs } from './encode.js';
export { toOutputTensors } from './outputs.js';
export { toList, fromList } from './list.js';
export { concatBatch, splitBatch } from './batch.js';
export { Reshapes, checkReshape, modelView, reshapeDims } from './reshape.js';
export {
  toFloat32,
  float32ToFp16Bits,
  float32ToBf16Bits,
  fp16BitsToFloat,
  bf16BitsToFloat,
} from './float16.js';
export {
  elementCount,
  ELEMENT_SIZE,
  TYPED_ARRAY,
  isDatatype,
  DATATYPE_TO_CONFIG,
  CONFIG_TO_DATATYPE,
} from './datatypes.js';
export { DATATYPES } from './types.js';
export type {
  Datatype,
  NumericData,
  BytesData,
  TensorData,
  Tensor,
  ListValue,
  NestedList,
  TensorSpec,
  IOSpec,
  TypedContents,
  ReceivedInput,
  EncodedOutput,
  EncodedOutputs,
  TensorLike,
  OutputValue,
  PredictOutputs,
} from './types.js';
