// The model repository: the layout on disk, config.pbtxt, the registry of models and
// versions with their lifecycle (loads, the reload swap, unloads), and poll mode.
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
export { completeBackendConfig, selectBackend, type BackendOptions, type ModelBackend } from './backends.js';
export { RepositoryPoller, type PollChanges, type PolledRepository } from './repository-poller.js';
export { configToJson, parseConfigJson, parseConfigText } from './model-config.js';
