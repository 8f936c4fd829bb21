// Which instances a version runs on, from config.pbtxt's instance_group: the main thread
// (no group, or KIND_MODEL), or one worker thread per KIND_CPU instance.
import { ModelInstanceGroup_Kind, type ModelConfig } from '../../generated/model_config.js';
import { InferenceError } from '../errors.js';
import { createModelServer, InProcessInstance, type ModelContext, type ModelInstance, type WarmupSample } from '../model/index.js';
import { WorkerPool } from '../workers/index.js';

/** Worker threads the config's instance groups ask for: the sum of the KIND_CPU counts (0: main thread). */
export function workerCount(config: ModelConfig): number {
  let count = 0;
  for (const group of config.instanceGroup) {
    if (group.kind === ModelInstanceGroup_Kind.KIND_CPU) count += group.count;
  }
  return count;
}

/** config.pbtxt parameter: the old-generation heap limit of each worker, in MB. */
export const WORKER_MEMORY_PARAMETER = 'worker_max_old_generation_mb';

function workerMemoryLimit(context: ModelContext): number | undefined {
  const raw = context.parameters[WORKER_MEMORY_PARAMETER];
  if (raw === undefined || raw === '') return undefined;
  const mb = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(mb) || mb < 1) {
    throw InferenceError.invalidArgument(`${context.name}: parameters.${WORKER_MEMORY_PARAMETER}`, `must be a positive integer (MB), got '${raw}'`);
  }
  return mb;
}

/**
 * The repository's default instance factory. No instance group (normalized to one KIND_MODEL
 * group): the model runs on the main thread, at no extra cost. KIND_CPU groups: one worker
 * thread per instance, limited by `worker_max_old_generation_mb` when set. Every instance runs
 * the `warmup` samples after its load, before it serves.
 */
export async function createInstance(
  modulePath: string,
  generation: number,
  context: ModelContext,
  warmup: readonly WarmupSample[] = [],
): Promise<ModelInstance> {
  const count = workerCount(context.config);
  if (count === 0) return new InProcessInstance(await createModelServer(modulePath, generation, context, warmup));
  const memoryMb = workerMemoryLimit(context);
  return WorkerPool.start({
    modulePath,
    generation,
    context,
    count,
    warmup,
    ...(memoryMb === undefined ? {} : { resourceLimits: { maxOldGenerationSizeMb: memoryMb } }),
  });
}
