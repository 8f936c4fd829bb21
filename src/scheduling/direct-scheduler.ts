// No batching: each job goes to the instance on its own. Up to one request per instance
// executes; the rest wait (in the instance's own queue for worker pools).
import { abortError } from '../errors.js';
import type { RequestSignal } from '../cancellation.js';
import type { ExecutionJob } from '../model/index.js';
import { AdmissionCounter } from './admission.js';
import { nowNs } from './clock.js';
import type { RunJob } from './execution-timeout.js';
import type { Scheduled, Scheduler } from './scheduler.js';

export class DirectScheduler implements Scheduler {
  private readonly admission: AdmissionCounter;

  constructor(
    private readonly run: RunJob,
    options: { readonly describe: string; readonly executors: number; readonly maxQueueSize: number },
  ) {
    this.admission = new AdmissionCounter(options.describe, options.maxQueueSize, () => options.executors);
  }

  /** Without a dynamic batcher, Triton ignores a request's priority: so does this. */
  admit(): () => void {
    return this.admission.admit();
  }

  schedule(job: ExecutionJob, signal: RequestSignal): Promise<Scheduled> {
    // An expired or cancelled request still waiting is never computed (Triton: timeout in the queue).
    if (signal.aborted) return Promise.reject(abortError(signal));
    const start = nowNs();
    return this.run(job, signal).then((output) => ({ output, inferNs: Math.round(nowNs() - start), batched: false }));
  }

  pending(): number {
    return this.admission.pending();
  }

  idle(): Promise<void> {
    return this.admission.idle();
  }
}
