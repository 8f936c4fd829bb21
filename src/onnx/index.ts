// The ONNX Runtime backend's public surface: `import { OnnxModel } from 'v2serve/onnx'`.
// Kept out of the main entry point so that models without ONNX never load the native binding.
export { OnnxModel } from './onnx-model.js';
export { OnnxSession, readOnnxSignature, checkFeeds, runError, toOrtTensor, fromOrtTensor } from './session.js';
export { sessionOptionsFromConfig, graphOptimizationLevel, type OrtSessionOptions, type GraphOptimizationLevel } from './session-options.js';
export { autoCompleteConfig, checkConfigAgainstModel, DEFAULT_MAX_BATCH_SIZE, type AutoCompleteOptions } from './auto-complete.js';
export { ONNX_TYPES, onnxTypeOfDatatype, onnxTypeOfOrt, type OnnxTypeEntry, type OrtTensorType } from './datatypes.js';
export { formatOnnxShape, isOpenDim, type OnnxSignature, type OnnxTensorInfo } from './signature.js';
export { readOnnxGraphIo, type OnnxGraphIo, type OnnxGraphValue } from './onnx-reader.js';
export {
  encodeOnnxModel,
  encodeVarint,
  onnxElemTypeName,
  ProtoWriter,
  ONNX_ELEM_TYPE,
  type OnnxAttributeValue,
  type OnnxDim,
  type OnnxElemType,
  type OnnxGraph,
  type OnnxModelSpec,
  type OnnxNode,
  type OnnxTensorValue,
  type OnnxValueInfo,
} from './onnx-writer.js';
