// Triton's priority levels and queue policies of the dynamic batcher (config.pbtxt
// `dynamic_batching { priority_levels, default_priority_level, default_queue_policy,
// priority_queue_policy }`): which queue a request joins, how long it may wait there and
// what happens when it has waited too long. Pure decisions, read once at load.
import type { ModelConfig, ModelQueuePolicy } from '../../generated/model_config.js';
import { ModelQueuePolicy_TimeoutAction } from '../../generated/model_config.js';
import { InferenceError } from '../errors.js';
import type { ParamValue } from '../model/index.js';

export interface QueuePolicy {
  /** REJECT: a request that waited too long fails; DELAY: it waits behind its level's requests still in time. */
  readonly timeoutAction: 'REJECT' | 'DELAY';
  /** How long a request may wait in the queue, µs; 0 = for ever. */
  readonly defaultTimeoutUs: bigint;
  /** The request's `timeout` parameter may shorten the default timeout (never lengthen it). */
  readonly allowTimeoutOverride: boolean;
  /** Requests the level holds beyond those executing; 0 = no bound (0 in config.pbtxt: the server's default). */
  readonly maxQueueSize: number;
}

export interface PriorityQueues {
  /** priority_levels: 0 = one queue, whatever the requests' priorities. */
  readonly levels: number;
  /** The level of a request whose priority is 0 or above `levels`. */
  readonly defaultLevel: number;
  /** Each level's policy; levels missing here have `defaultPolicy`. With no levels, `defaultPolicy` is the one queue's. */
  readonly policies: ReadonlyMap<number, QueuePolicy>;
  readonly defaultPolicy: QueuePolicy;
  /** Some policy has a timeout: the request's `timeout` parameter is then read by the queue policies only. */
  readonly timeouts: boolean;
}

/** Triton's answer to a request that waited past its queue timeout under REJECT (dynamic_batch_scheduler.cc). */
export const QUEUE_TIMEOUT_MESSAGE = 'Request timeout expired';

export function queueTimeoutError(): InferenceError {
  return new InferenceError('UNAVAILABLE', QUEUE_TIMEOUT_MESSAGE);
}

/**
 * The priority queues a version's dynamic batcher keeps, or throws INVALID_ARGUMENT naming the
 * field, as Triton's config validation does: default_priority_level and every
 * priority_queue_policy key must lie in [1, priority_levels]. Without priority levels Triton
 * loads such fields and never reads them; v2serve refuses them rather than ignore them silently.
 */
export function priorityQueues(config: ModelConfig, serverMaxQueueSize: number): PriorityQueues {
  const batching = config.dynamicBatching;
  const name = config.name;
  const levels = batching?.priorityLevels ?? 0n;
  // Beyond 2^53 levels no request can tell them apart from the lowest: all the same to a number.
  const levelCount = levels > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(levels);
  const defaultLevel = batching?.defaultPriorityLevel ?? 0n;
  if (levels === 0n) {
    if (defaultLevel !== 0n) {
      throw InferenceError.invalidArgument(`${name}: dynamic_batching.default_priority_level`, `is ${defaultLevel} but priority_levels is not set`);
    }
  } else if (defaultLevel < 1n || defaultLevel > levels) {
    throw InferenceError.invalidArgument(
      `${name}: dynamic_batching.default_priority_level`,
      `must be in range [1, ${levels}] (priority_levels), got ${defaultLevel}`,
    );
  }
  const defaultPolicy = queuePolicy(batching?.defaultQueuePolicy, serverMaxQueueSize);
  const policies = new Map<number, QueuePolicy>();
  let timeouts = defaultPolicy.defaultTimeoutUs > 0n;
  for (const [level, policy] of batching?.priorityQueuePolicy ?? []) {
    if (level < 1n || level > levels) {
      throw InferenceError.invalidArgument(
        `${name}: dynamic_batching.priority_queue_policy`,
        `has key ${level}, which must be a priority level in range [1, ${levels}] (priority_levels)`,
      );
    }
    const resolved = queuePolicy(policy, serverMaxQueueSize);
    policies.set(Number(level), resolved);
    timeouts ||= resolved.defaultTimeoutUs > 0n;
  }
  return { levels: levelCount, defaultLevel: Number(defaultLevel), policies, defaultPolicy, timeouts };
}

function queuePolicy(policy: ModelQueuePolicy | undefined, serverMaxQueueSize: number): QueuePolicy {
  return {
    timeoutAction: policy?.timeoutAction === ModelQueuePolicy_TimeoutAction.DELAY ? 'DELAY' : 'REJECT',
    defaultTimeoutUs: policy?.defaultTimeoutMicroseconds ?? 0n,
    allowTimeoutOverride: policy?.allowTimeoutOverride ?? false,
    // proto3 cannot tell max_queue_size 0 from unset: 0 in config.pbtxt means the server default.
    maxQueueSize: policy !== undefined && policy.maxQueueSize > 0 ? policy.maxQueueSize : serverMaxQueueSize,
  };
}

/**
 * The level a request with this `priority` parameter joins (Triton's InferenceRequest::SetPriority):
 * absent, 0 or beyond the levels, the default level; 1 is the most urgent. 0 when the
 * batcher has no levels.
 */
export function priorityLevel(queues: PriorityQueues, priority: ParamValue | undefined): number {
  if (queues.levels === 0) return 0;
  if ((typeof priority === 'number' || typeof priority === 'bigint') && priority >= 1 && priority <= queues.levels) return Number(priority);
  return queues.defaultLevel;
}

/**
 * How long a request may wait in the queue, µs, 0 = for ever (Triton's PolicyQueue::Enqueue):
 * the policy's default timeout, or the request's own `timeout` when the policy allows an
 * override and it is shorter; never longer, so a policy without a timeout keeps none.
 */
export function queueTimeoutUs(policy: QueuePolicy, timeout: ParamValue | undefined): bigint {
  const fallback = policy.defaultTimeoutUs;
  if (!policy.allowTimeoutOverride || (typeof timeout !== 'number' && typeof timeout !== 'bigint')) return fallback;
  const requested = BigInt(timeout);
  return requested !== 0n && requested < fallback ? requested : fallback;
}
