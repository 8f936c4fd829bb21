// Scheduling: how a version's decoded jobs reach its instances. One Scheduler interface;
// direct and dynamic batching behind it, sequence ordering as a wrapper, admission and the
// queue bound owned by the scheduler, the execution timeout around every run.
import type { Logger } from 'pino';
import { DirectScheduler } from './direct-scheduler.js';
import { DynamicBatcher, type Execution } from './dynamic-batcher.js';
import { withExecutionTimeout, type RunJob } from './execution-timeout.js';
import type { Scheduler } from './scheduler.js';
import { SequenceOrdering } from './sequence-order.js';
import type { SchedulingSettings } from './settings.js';

export type { ExecutionTimings, Scheduled, Scheduler } from './scheduler.js';
export { EXECUTION_TIMEOUT_PARAMETER, type RunJob } from './execution-timeout.js';
export { checkSequenceRequest } from './sequence-order.js';
export { schedulingSettings, type SchedulingDefaults, type SchedulingSettings } from './settings.js';
export { admits, type AdmissionState } from './admission.js';
export { nowNs } from './clock.js';

export interface SchedulerContext {
  /** "model 'x' version 1", for messages. */
  readonly describe: string;
  /** Runs one job on an instance of the version. */
  readonly run: RunJob;
  /** Told of every successful execution of a batching scheduler, once per batch. */
  readonly onExecution: (execution: Execution) => void;
  readonly log?: Logger;
}

/** The version's scheduler, as its settings say: batching or direct, ordered by sequence, every run timed out. */
export function createScheduler(settings: SchedulingSettings, context: SchedulerContext): Scheduler {
  const run = withExecutionTimeout(context.run, settings.executionTimeoutMs, context.describe, context.log);
  const inner: Scheduler = settings.batching
    ? new DynamicBatcher({
        ...settings.batching,
        describe: context.describe,
        executors: settings.executors,
        maxQueueSize: settings.maxQueueSize,
        run,
        onExecution: context.onExecution,
      })
    : new DirectScheduler(run, { describe: context.describe, executors: settings.executors, maxQueueSize: settings.maxQueueSize });
  return new SequenceOrdering(inner);
}
