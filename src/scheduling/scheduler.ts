// The request path's seam between a model version and its instances, as Triton's Scheduler:
// a version hands every decoded job to its scheduler, which owns admission (the queue bound),
// ordering and batching, and runs the job on an instance.
import type { ExecutionJob, ExecutionOutput, Parameters } from '../model/index.js';
import type { RequestSignal } from '../cancellation.js';

/** A job's outcome, as the scheduler ran it. */
export interface Scheduled {
  readonly output: ExecutionOutput;
  /** How long the instance took with the job (its batch's execution when batched), ns. */
  readonly inferNs: number;
  /** The job ran in a dynamic batch, whose execution the scheduler has recorded itself (onExecution). */
  readonly batched: boolean;
}

/** Told of every successful execution, once per execution (a batch of N requests is one). */
export interface ExecutionTimings {
  readonly batchSize: number;
  readonly inputNs: number;
  readonly inferNs: number;
  readonly outputNs: number;
}

export interface Scheduler {
  /**
   * Takes a request in, or refuses it at once with RESOURCE_EXHAUSTED when the queue is
   * full: before anything is decoded, so memory stays bounded. `parameters` are the request's
   * (a dynamic batcher with priority levels bounds each level's queue: `priority` says which).
   * Call the returned function when the request has finished, whatever its outcome.
   */
  admit(parameters: Parameters): () => void;
  /** Runs a job admitted before. If `signal` fires while it waits, it is dropped unrun. */
  schedule(job: ExecutionJob, signal: RequestSignal): Promise<Scheduled>;
  /** Admitted requests not executing now (Triton's nv_inference_pending_request_count). */
  pending(): number;
  /** Resolves once no admitted request is left (at once when none is). */
  idle(): Promise<void>;
}
