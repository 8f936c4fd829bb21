// A version's request path, transport-free: the call as a transport hands it in, the
// pipeline from decoded inputs to encoded outputs, and the telemetry (statistics and events).
export type { CallBase, CallInput, InferCall, InferResult, Streamed, StreamedResult, TensorCall, TensorResult } from './types.js';
export { VersionPipeline, type Answered, type Completed, type PipelineSpec, type StreamCompleted } from './version-pipeline.js';
export { VersionTelemetry, type InstanceIdentity, type VersionIdentity } from './telemetry.js';
export { requestDeadline, type Deadline } from './request-deadline.js';
export { VersionStatistics, type BatchStatistics, type Duration, type RequestTimings } from './statistics.js';
export { failedStream, ResponseChannel } from './response-channel.js';
