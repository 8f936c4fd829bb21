// The ONNX Runtime backend's public surface: `import { OnnxModel } from 'v2serve/onnx'`.
// Kept out of the main entry point so that models without ONNX never load the native binding.
export { OnnxModel } from './onnx-model.js';
export { DEFAULT_ONNX_MODEL_FILENAME, findOnnxModelFile } from './model-file.js';
export { OnnxSession, readOnnxSignature } from './session.js';
export { sessionOptionsFromConfig, type OrtSessionOptions } from './session-options.js';
export { autoCompleteConfig, checkConfigAgainstModel, DEFAULT_MAX_BATCH_SIZE, type AutoCompleteOptions } from './auto-complete.js';
export { ONNX_TYPES, onnxTypeOfDatatype, onnxTypeOfOrt, type OnnxTypeEntry, type OrtTensorType } from './datatypes.js';
export { formatOnnxShape, type OnnxSignature, type OnnxTensorInfo } from './signature.js';
export {
  encodeOnnxModel,
  onnxElemTypeName,
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
