// One model version's metrics state, made once when the version is created: the request
// path adds to plain numbers; cumulative counters are read from the version's statistics
// only when /metrics is scraped.
import type { PhaseTimings, VersionObserver, VersionWatch } from '../events.js';
import { BucketCounts } from './histogram.js';

/** Triton's nv_inference_request_failure reasons, all four reported from load on. */
export const FAILURE_REASONS = ['REJECTED', 'CANCELED', 'BACKEND', 'OTHER'] as const;
const OTHER = 3;

/**
 * A failure's reason from its ErrorCode: refused by admission (queue full) is REJECTED, a
 * cancel or an expired deadline CANCELED, an error the model raised or an unexpected throw
 * BACKEND, the rest (bad input, unknown or unready version) OTHER.
 */
const REASON_OF: ReadonlyMap<string, number> = new Map([
  ['RESOURCE_EXHAUSTED', 0],
  ['CANCELLED', 1],
  ['DEADLINE_EXCEEDED', 1],
  ['INTERNAL', 2],
  ['UNKNOWN', 2],
]);

export interface Histograms {
  readonly request: BucketCounts;
  readonly queue: BucketCounts;
  readonly compute: BucketCounts;
  /** Decoupled models: arrival to first response, ms, Triton's buckets. */
  readonly firstResponseMs: BucketCounts;
  /** Decoupled models: one response to the next, seconds. */
  readonly responseInterval: BucketCounts;
}

/** Triton's nv_inference_first_response_histogram_ms buckets. */
export const FIRST_RESPONSE_BUCKETS_MS = [100, 500, 2000, 5000] as const;

export function histograms(buckets: readonly number[]): Histograms {
  return {
    request: new BucketCounts(buckets),
    queue: new BucketCounts(buckets),
    compute: new BucketCounts(buckets),
    firstResponseMs: new BucketCounts(FIRST_RESPONSE_BUCKETS_MS),
    responseInterval: new BucketCounts(buckets),
  };
}

export class VersionSeries implements VersionObserver {
  readonly failures = new Float64Array(FAILURE_REASONS.length);
  loadSeconds = 0;

  constructor(
    readonly model: string,
    readonly version: string,
    readonly watch: VersionWatch,
    /** Absent with histogram_latencies=false. */
    readonly histograms: Histograms | undefined,
    private readonly onClosed: (series: VersionSeries) => void,
  ) {}

  succeeded(timings: PhaseTimings): void {
    const h = this.histograms;
    if (!h) return;
    const queue = timings.queueNs / 1e9;
    const compute = (timings.inputNs + timings.inferNs + timings.outputNs) / 1e9;
    h.request.observe(queue + compute);
    h.queue.observe(queue);
    h.compute.observe(compute);
  }

  responded(ns: number, first: boolean): void {
    const h = this.histograms;
    if (!h) return;
    if (first) h.firstResponseMs.observe(ns / 1e6);
    else h.responseInterval.observe(ns / 1e9);
  }

  failed(code: string): void {
    this.failures[REASON_OF.get(code) ?? OTHER]! += 1;
  }

  loaded(seconds: number): void {
    this.loadSeconds = seconds;
  }

  closed(): void {
    this.onClosed(this);
  }
}
