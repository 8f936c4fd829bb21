// A histogram as plain numbers: observing is a scan of a few bounds and two additions, no
// label lookup. prom-client's children hash their labels on every observe(); these arrays are
// turned into Prometheus series only when /metrics is scraped.
export class BucketCounts {
  /** Observations per bucket, not cumulative; the last is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    // A bucket counts the observations <= its bound (Prometheus' `le`).
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]! += 1;
    this.sum += value;
    this.count += 1;
  }

  /** Adds another's counts (versions of the same labels during a reload). */
  addTo(target: BucketCounts): void {
    for (let i = 0; i < this.counts.length; i++) target.counts[i]! += this.counts[i]!;
    target.sum += this.sum;
    target.count += this.count;
  }
}
