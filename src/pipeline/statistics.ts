// Per model-version counters behind the ModelStatistics RPC (Triton's statistics
// extension). Durations are cumulative nanoseconds from a monotonic clock, exact whatever
// the uptime.

/** Above this the recent part moves into the bigint: two such numbers still add exactly. */
const FOLD_NS = Number.MAX_SAFE_INTEGER / 2;

/**
 * A count and its cumulative nanoseconds. Requests add whole numbers of ns to a plain
 * number, which allocates nothing; it moves into a bigint long before a double would stop
 * holding the sum exactly. One duration must stay below FOLD_NS (52 days).
 */
export class Duration {
  count = 0;
  private folded = 0n;
  private recent = 0;

  get ns(): bigint {
    return this.folded + BigInt(this.recent);
  }

  add(ns: number): void {
    this.count += 1;
    this.recent += ns;
    if (this.recent > FOLD_NS) {
      this.folded += BigInt(this.recent);
      this.recent = 0;
    }
  }
}

export interface BatchStatistics {
  readonly batchSize: number;
  readonly computeInput: Duration;
  readonly computeInfer: Duration;
  readonly computeOutput: Duration;
}

/** Durations of one request's phases, whole nanoseconds. */
export interface RequestTimings {
  /** Arrival → the instance starts it (waiting for load, queueing). */
  readonly queueNs: number;
  /** Decoding and validating the inputs. */
  readonly inputNs: number;
  /** The model's hooks. */
  readonly inferNs: number;
  /** Selecting and encoding the outputs. */
  readonly outputNs: number;
}

export class VersionStatistics {
  lastInferenceMs = 0;
  inferenceCount = 0;
  executionCount = 0;
  readonly success = new Duration();
  readonly fail = new Duration();
  readonly queue = new Duration();
  readonly computeInput = new Duration();
  readonly computeInfer = new Duration();
  readonly computeOutput = new Duration();
  /** Requests answered from the response cache, with the time their lookups took. */
  readonly cacheHit = new Duration();
  /** Requests the response cache missed, with the time their lookups and insertions took. */
  readonly cacheMiss = new Duration();
  /** Responses of decoupled models' requests. */
  responseCount = 0;
  /** Arrival → first response, per decoupled request that answered at all. */
  readonly firstResponse = new Duration();
  /** Between one response of a decoupled request and the next. */
  readonly betweenResponses = new Duration();
  private readonly batches = new Map<number, BatchStatistics>();

  /** A response of a decoupled model: `ns` since arrival (the first) or since the previous response. */
  recordResponse(ns: number, first: boolean): void {
    this.responseCount += 1;
    (first ? this.firstResponse : this.betweenResponses).add(ns);
  }

  /**
   * A request of `rows` rows that succeeded. Its execution is recorded apart
   * (recordExecution): a dynamic batch runs many requests in one.
   */
  recordSuccess(totalNs: number, timings: RequestTimings, rows: number): void {
    this.lastInferenceMs = Date.now();
    this.inferenceCount += rows;
    this.success.add(totalNs);
    this.queue.add(timings.queueNs);
    this.computeInput.add(timings.inputNs);
    this.computeInfer.add(timings.inferNs);
    this.computeOutput.add(timings.outputNs);
  }

  /** One execution of the model, of `batchSize` rows (batch_stats are keyed by it). */
  recordExecution(batchSize: number, timings: Omit<RequestTimings, 'queueNs'>): void {
    this.executionCount += 1;
    let batch = this.batches.get(batchSize);
    if (!batch) {
      batch = { batchSize, computeInput: new Duration(), computeInfer: new Duration(), computeOutput: new Duration() };
      this.batches.set(batchSize, batch);
    }
    batch.computeInput.add(timings.inputNs);
    batch.computeInfer.add(timings.inferNs);
    batch.computeOutput.add(timings.outputNs);
  }

  /**
   * A request answered from the response cache, as Triton counts it: a success with its
   * queue time, no inference, execution or compute phase.
   */
  recordCacheHit(totalNs: number, queueNs: number, lookupNs: number): void {
    this.success.add(totalNs);
    this.queue.add(queueNs);
    this.cacheHit.add(lookupNs);
  }

  recordFailure(totalNs: number): void {
    this.lastInferenceMs = Date.now();
    this.fail.add(totalNs);
  }

  batchStatistics(): BatchStatistics[] {
    return [...this.batches.values()].sort((a, b) => a.batchSize - b.batchSize);
  }
}
