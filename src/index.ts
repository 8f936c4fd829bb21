// What model authors and embedders import from 'v2serve': the model contract, its types,
// the error type, tensor helpers, and the server as a library. Nothing else is public.
export {
  ModelServer,
  SequenceStates,
  type InferRequest,
  type InferResponse,
  type LoggedResults,
  type ModelCallInputs,
  type ModelCallOptions,
  type ModelCallResult,
  type StreamedCallResult,
  type ModelContext,
  type ModelFiles,
  type Operation,
  type ParamValue,
  type Parameters,
  type PredictOutputs,
  type PredictStream,
  type RequestedOutput,
  type SequencePosition,
  type SequenceStep,
} from './model/index.js';
export type { ModelConfig } from '../generated/model_config.js';
export type { MetricValue } from './events.js';
export { InferenceError, type ErrorCode } from './errors.js';
export type { Datatype, IOSpec, NestedList, OutputValue, Tensor, TensorData, TensorLike, TensorSpec } from './tensor/index.js';
export { toFloat32, toList } from './tensor/index.js';
export { parseConfig, type Config } from './cli/config.js';
export { startServer, type RunningV2serve } from './server.js';
