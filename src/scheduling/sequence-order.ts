// Sequence ordering: the requests of one sequence reach the model one at a time, in arrival
// order. v2serve has no sequence batcher; a stateful model keeps its own state per
// `sequence_id` (SequenceStates, models/simple_sequence).
import type { ModelConfig } from '../../generated/model_config.js';
import type { RequestSignal } from '../cancellation.js';
import { InferenceError, abortError } from '../errors.js';
import { sequenceOf, type ExecutionJob, type Parameters, type SequencePosition } from '../model/index.js';
import type { Scheduled, Scheduler } from './scheduler.js';

/** A model with `sequence_batching` in its config only takes requests that name their sequence, as in Triton. */
export function checkSequenceRequest(config: ModelConfig, parameters: Parameters, model: string): void {
  if (config.sequenceBatching === undefined || sequenceOf(parameters) !== undefined) return;
  throw new InferenceError(
    'INVALID_ARGUMENT',
    `inference request to model '${model}' must specify a non-zero or non-empty correlation ID (parameter 'sequence_id')`,
  );
}

/**
 * Runs the requests of one sequence one at a time, in arrival order, as Triton's sequence
 * batcher does, so that a model's per-sequence state sees them in order even when its
 * predict() is asynchronous and requests arrive on a stream at once. Requests of different
 * sequences, and requests in no sequence, do not wait for each other.
 */
export class SequenceQueue {
  /** Settles when the last request that arrived for the sequence has finished. */
  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Waits for the earlier requests of the same sequence; returns the function that lets the
   * next one go. If `signal` fires while waiting, the request leaves the queue with its reason.
   */
  async enter(position: SequencePosition, signal: RequestSignal): Promise<() => void> {
    const key = `${typeof position.id}:${position.id}`;
    const previous = this.tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous ? previous.then(() => mine) : mine;
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    if (previous) {
      try {
        await untilAborted(previous, signal);
      } catch (err) {
        release();
        throw err;
      }
    }
    return release;
  }

  /** Sequences with a request waiting or running. */
  get size(): number {
    return this.tails.size;
  }
}

function untilAborted(promise: Promise<void>, signal: RequestSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

/** Wraps a scheduler so that the jobs of one sequence reach it one at a time, in arrival order. */
export class SequenceOrdering implements Scheduler {
  private readonly sequences = new SequenceQueue();

  constructor(private readonly inner: Scheduler) {}

  admit(parameters: Parameters): () => void {
    return this.inner.admit(parameters);
  }

  pending(): number {
    return this.inner.pending();
  }

  idle(): Promise<void> {
    return this.inner.idle();
  }

  schedule(job: ExecutionJob, signal: RequestSignal): Promise<Scheduled> {
    const position = sequenceOf(job.parameters);
    return position ? this.inSequence(position, job, signal) : this.inner.schedule(job, signal);
  }

  private async inSequence(position: SequencePosition, job: ExecutionJob, signal: RequestSignal): Promise<Scheduled> {
    const next = await this.sequences.enter(position, signal);
    try {
      return await this.inner.schedule(job, signal);
    } finally {
      next();
    }
  }
}
