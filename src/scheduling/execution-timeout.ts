// The per-model execution timeout (config parameter execution_timeout_ms): past it the
// request fails DEADLINE_EXCEEDED and the hook's AbortSignal fires; a hook that ignores the
// signal is abandoned, not awaited.
import type { Logger } from 'pino';
import { Cancellation, type RequestSignal } from '../cancellation.js';
import { InferenceError } from '../errors.js';
import type { ExecutionJob, ExecutionOutput } from '../model/index.js';

/** config.pbtxt parameter: the per-model execution timeout, ms. */
export const EXECUTION_TIMEOUT_PARAMETER = 'execution_timeout_ms';

export type RunJob = (job: ExecutionJob, signal: RequestSignal) => Promise<ExecutionOutput>;

/** `run` bounded by `ms` (0: unbounded, `run` itself). */
export function withExecutionTimeout(run: RunJob, ms: number, describe: string, log: Logger | undefined): RunJob {
  if (ms === 0) return run;
  return (job, signal) => {
    // The request's own cancellation, or the timeout, whichever comes first.
    const limit = new Cancellation();
    const forward = (): void => limit.abort(signal.reason);
    if (signal.aborted) forward();
    else signal.addEventListener('abort', forward, { once: true });
    return new Promise<ExecutionOutput>((resolve, reject) => {
      const timer = setTimeout(() => {
        const err = new InferenceError(
          'DEADLINE_EXCEEDED',
          `${describe} did not answer within its execution timeout of ${ms} ms (${EXECUTION_TIMEOUT_PARAMETER})`,
        );
        log?.warn({ requestId: job.id, operation: job.operation, timeoutMs: ms }, 'model did not answer within its execution timeout; request abandoned');
        limit.abort(err);
        reject(err);
      }, ms);
      const settled = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', forward);
      };
      run(job, limit).then(
        (output) => {
          settled();
          resolve(output);
        },
        (err: unknown) => {
          settled();
          reject(err);
        },
      );
    });
  };
}
