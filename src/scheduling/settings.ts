// What config.pbtxt says about scheduling a version, read once when the config is: a bad
// value fails the model's load naming the setting, before any version starts.
import type { ModelConfig } from '../../generated/model_config.js';
import { InferenceError } from '../errors.js';
import { batchingSettings, type BatchingSettings } from './dynamic-batcher.js';
import { EXECUTION_TIMEOUT_PARAMETER } from './execution-timeout.js';

/** Server-wide defaults for what config.pbtxt can set per model. */
export interface SchedulingDefaults {
  /** Requests waiting beyond those executing; 0 = no bound (config: dynamic_batching.default_queue_policy.max_queue_size). */
  readonly maxQueueSize?: number;
  /** How long a hook may take before the request fails DEADLINE_EXCEEDED; 0 = no limit (config parameter execution_timeout_ms). */
  readonly executionTimeoutMs?: number;
}

export interface SchedulingSettings {
  /** Instances executing at once: the sum of the instance groups' counts. */
  readonly executors: number;
  /** 0 = no bound. */
  readonly maxQueueSize: number;
  /** 0 = no limit. */
  readonly executionTimeoutMs: number;
  /** Set when the version batches dynamically; its queue policies bound its queues then. */
  readonly batching: BatchingSettings | undefined;
}

export function schedulingSettings(config: ModelConfig, defaults: SchedulingDefaults = {}): SchedulingSettings {
  const executors = config.instanceGroup.reduce((sum, group) => sum + Math.max(1, group.count), 0) || 1;
  // proto3 cannot tell max_queue_size 0 from unset: 0 in config.pbtxt means the server default.
  const configured = Number(config.dynamicBatching?.defaultQueuePolicy?.maxQueueSize ?? 0);
  const maxQueueSize = configured > 0 ? configured : (defaults.maxQueueSize ?? 0);
  return {
    executors,
    maxQueueSize,
    executionTimeoutMs: executionTimeout(config, defaults.executionTimeoutMs ?? 0),
    batching: batchingSettings(config, defaults.maxQueueSize ?? 0),
  };
}

function executionTimeout(config: ModelConfig, fallback: number): number {
  const raw = config.parameters.get(EXECUTION_TIMEOUT_PARAMETER)?.stringValue;
  if (raw === undefined || raw === '') return fallback;
  const ms = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(ms) || ms > 2 ** 31 - 1) {
    throw InferenceError.invalidArgument(
      `${config.name}: parameters.${EXECUTION_TIMEOUT_PARAMETER}`,
      `must be an integer number of milliseconds (0 = no limit), got '${raw}'`,
    );
  }
  return ms;
}
