// The module the repository loads for an ONNX version that has no model module of its own
// (a zero-code model): a model module's contract is a default-exported ModelServer class.
export { OnnxModel as default } from './onnx-model.js';
