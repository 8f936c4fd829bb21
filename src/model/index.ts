// The model-author contract: the class a model extends, what its hooks see, the hook runner
// and where an instance of it runs. Knows nothing of transports, repositories or scheduling.
export { ModelServer, customOperationMethod, type ModelContext, type ModelFiles } from './model-server.js';
export type {
  ChainedCallOptions,
  ModelCaller,
  ModelCallInputs,
  ModelCallOptions,
  ModelCallResult,
  StreamedCallResult,
} from './model-calls.js';
export { callInputs } from './model-calls.js';
export { DECOUPLED_FIELD, isPredictStream, runHooks } from './hooks.js';
export { buildRequest } from './hook-request.js';
export {
  createModelServer,
  findModelModule,
  InProcessInstance,
  isDecoupled,
  type AvailabilityListener,
  type ModelInstance,
} from './instance.js';
export { warmUp, type WarmupSample } from './warmup.js';
export { SequenceStates, sequenceOf, type SequencePosition, type SequenceStep } from './sequence-states.js';
export type {
  ExecutionJob,
  ExecutionOutput,
  InferRequest,
  InferResponse,
  LoggedResults,
  Operation,
  ParamValue,
  Parameters,
  PredictOutputs,
  PredictStream,
  RequestedOutput,
  ResponseSink,
  StreamedOutput,
} from './types.js';
