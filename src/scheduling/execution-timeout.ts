// The per-model execution timeout (config parameter execution_timeout_ms): past it the
// request fails DEADLINE_EXCEEDED and the hook's AbortSignal fires; a hook that ignores the
// signal is abandoned, not awaited.
import type { Logger } from 'pino';
import { InferenceError } from '../errors.js';
import type { ExecutionJob, ExecutionOutput } from '../model/index.js';

/** config.pbtxt parameter: the per-model execution timeout, ms. */
export const EXECUTION_TIMEOUT_PARAMETER = 'execution_timeout_ms';

export type RunJob = (job: ExecutionJob, signal: AbortSignal) => Promise<ExecutionOutput>;

/** `run` bounded by `ms` (0: unbounded, `run` itself). */
export function withExecutionTimeout(run: RunJob, ms: number, describe: string, log: Logger | undefined): RunJob {
  if (ms === 0) return run;
  return (job, signal) => {
    const timeout = new AbortController();
    return new Promise<ExecutionOutput>((resolve, reject) => {
      const timer = setTimeout(() => {
        const err = new InferenceError(
          'DEADLINE_EXCEEDED',
          `${describe} did not answer within its execution timeout of ${ms} ms (${EXECUTION_TIMEOUT_PARAMETER})`,
        );
        log?.warn({ requestId: job.id, operation: job.operation, timeoutMs: ms }, 'model did not answer within its execution timeout; request abandoned');
        timeout.abort(err);
        reject(err);
      }, ms);
      run(job, AbortSignal.any([signal, timeout.signal])).then(
        (output) => {
          clearTimeout(timer);
          resolve(output);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  };
}
