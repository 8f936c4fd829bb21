// Per model-version counters behind the ModelStatistics RPC (Triton's statistics
// extension). Durations are cumulative nanoseconds from a monotonic clock, kept as
// bigint so that long uptimes never lose precision.

export interface Duration {
  count: number;
  ns: bigint;
}

export interface BatchStatistics {
  readonly batchSize: number;
  readonly computeInput: Duration;
  readonly computeInfer: Duration;
  readonly computeOutput: Duration;
}

/** Durations of one request's phases, nanoseconds. */
export interface RequestTimings {
  /** Arrival → the instance starts it (waiting for load, queueing). */
  readonly queueNs: bigint;
  /** Decoding and validating the inputs. */
  readonly inputNs: bigint;
  /** The model's hooks. */
  readonly inferNs: bigint;
  /** Selecting and encoding the outputs. */
  readonly outputNs: bigint;
}

const zero = (): Duration => ({ count: 0, ns: 0n });

function add(duration: Duration, ns: bigint, count = 1): void {
  duration.count += count;
  duration.ns += ns;
}

export class VersionStatistics {
  lastInferenceMs = 0;
  inferenceCount = 0;
  executionCount = 0;
  readonly success = zero();
  readonly fail = zero();
  readonly queue = zero();
  readonly computeInput = zero();
  readonly computeInfer = zero();
  readonly computeOutput = zero();
  private readonly batches = new Map<number, BatchStatistics>();

  /**
   * A request of `rows` rows that succeeded. Its execution is recorded apart
   * (recordExecution): a dynamic batch runs many requests in one.
   */
  recordSuccess(totalNs: bigint, timings: RequestTimings, rows: number): void {
    this.lastInferenceMs = Date.now();
    this.inferenceCount += rows;
    add(this.success, totalNs);
    add(this.queue, timings.queueNs);
    add(this.computeInput, timings.inputNs);
    add(this.computeInfer, timings.inferNs);
    add(this.computeOutput, timings.outputNs);
  }

  /** One execution of the model, of `batchSize` rows (batch_stats are keyed by it). */
  recordExecution(batchSize: number, timings: Omit<RequestTimings, 'queueNs'>): void {
    this.executionCount += 1;
    let batch = this.batches.get(batchSize);
    if (!batch) {
      batch = { batchSize, computeInput: zero(), computeInfer: zero(), computeOutput: zero() };
      this.batches.set(batchSize, batch);
    }
    add(batch.computeInput, timings.inputNs);
    add(batch.computeInfer, timings.inferNs);
    add(batch.computeOutput, timings.outputNs);
  }

  recordFailure(totalNs: bigint): void {
    this.lastInferenceMs = Date.now();
    add(this.fail, totalNs);
  }

  batchStatistics(): BatchStatistics[] {
    return [...this.batches.values()].sort((a, b) => a.batchSize - b.batchSize);
  }
}
