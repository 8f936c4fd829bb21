// Admission: how many requests a version takes in at once. Triton bounds the requests
// waiting in a scheduler's queue (default_queue_policy.max_queue_size); those executing
// have left the queue.
import { InferenceError } from '../errors.js';

export interface AdmissionState {
  /** Requests admitted and not finished, this one included. */
  readonly admitted: number;
  /** Of those, the ones an instance is executing now. */
  readonly executing: number;
  /** 0 = no bound. */
  readonly maxQueueSize: number;
}

/** Whether the request that made `admitted` what it is may stay. */
export function admits({ admitted, executing, maxQueueSize }: AdmissionState): boolean {
  return maxQueueSize === 0 || admitted <= maxQueueSize + executing;
}

/** Triton's message for a full queue, naming the model and the limit. */
export function queueFullError(describe: string, { executing, maxQueueSize }: AdmissionState): InferenceError {
  return new InferenceError(
    'RESOURCE_EXHAUSTED',
    `Exceeds maximum queue size: ${describe} already has ${executing} executing and ${maxQueueSize} queued (max_queue_size ${maxQueueSize})`,
  );
}

/** Counts admitted requests against a bound, and tells when none is left. */
export class AdmissionCounter {
  private admitted = 0;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly describe: string,
    private readonly maxQueueSize: number,
    private readonly executing: () => number,
  ) {}

  admit(): () => void {
    this.admitted++;
    // Without a bound (max_queue_size 0, the usual case) there is nothing to count against.
    if (this.maxQueueSize !== 0) {
      const state = { admitted: this.admitted, executing: this.executing(), maxQueueSize: this.maxQueueSize };
      if (!admits(state)) {
        this.release();
        throw queueFullError(this.describe, state);
      }
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release();
    };
  }

  /** Admitted requests not executing: waiting for readiness, decoding or queued (Triton's pending count). */
  pending(): number {
    return Math.max(0, this.admitted - this.executing());
  }

  idle(): Promise<void> {
    if (this.admitted === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(): void {
    this.admitted--;
    if (this.admitted > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
