// What model authors import: `import { ModelServer } from 'v2serve'`.
export { ModelServer, SequenceStates, type ModelContext, type ModelFiles, type SequencePosition, type SequenceStep } from './model/index.js';
export type {
  InferRequest,
  InferResponse,
  LoggedResults,
  Operation,
  ParamValue,
  Parameters,
  PredictOutputs,
  RequestedOutput,
} from './model/index.js';
export { InferenceError, type ErrorCode } from './errors.js';
export type { Datatype, NestedList, Tensor, TensorData, TensorLike, OutputValue } from './tensor/index.js';
export { toFloat32, toList } from './tensor/index.js';
