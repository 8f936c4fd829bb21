// The model layer's public surface: what the gRPC boundary, the CLI and model authors use.
export { ModelServer, type ModelContext, type ModelFiles } from './model-server.js';
export {
  ModelRepository,
  type ControlMode,
  type IndexEntry,
  type InstanceFactory,
  type ModelMetadata,
  type RepositoryOptions,
  type TensorMetadata,
  type VersionStatisticsEntry,
} from './model-repository.js';
export { EXECUTION_TIMEOUT_PARAMETER, type VersionLimits } from './model-version.js';
export { RepositoryPoller, type PollChanges, type PolledRepository } from './repository-poller.js';
export { parseConfigJson, parseConfigText } from './model-config.js';
export { runHooks, buildRequest, type ExecutionJob, type ExecutionOutput } from './hooks.js';
export { createModelServer, type ModelInstance } from './model-instance.js';
export { SequenceStates, type SequenceStep } from './sequence-states.js';
export type { SequencePosition } from './sequence.js';
export type { BatchStatistics, Duration, VersionStatistics } from './statistics.js';
export type {
  InferCall,
  InferRequest,
  InferResponse,
  InferResult,
  LoggedResults,
  Operation,
  ParamValue,
  Parameters,
  PredictOutputs,
  RequestedOutput,
} from './types.js';
