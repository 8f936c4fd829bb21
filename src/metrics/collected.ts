// A metric whose series are computed when the registry is read (a scrape), from state kept
// as plain numbers. prom-client's Registry reads a metric only through `name` and `get()`
// (getMetricsAsString, getMetricsAsJSON), the shape its own classes return; its types list
// only those classes, hence the one cast in register().
import type { Metric, Registry } from 'prom-client';

export type Labels = Readonly<Record<string, string>>;

/** The text format's TYPE, as prom-client's classes set it (its typings declare a numeric enum instead). */
export type SampleType = 'counter' | 'gauge' | 'histogram';

export interface Sample {
  readonly labels: Labels;
  readonly value: number;
  /** For a histogram's _bucket, _sum and _count lines. */
  readonly metricName?: string;
}

export function register(registry: Registry, name: string, help: string, type: SampleType, samples: () => Sample[]): void {
  const metric = {
    name,
    help,
    type,
    // Summed across registries (prom-client's AggregatorRegistry), as counters and histograms add up.
    aggregator: 'sum' as const,
    get: () => Promise.resolve({ name, help, type, aggregator: 'sum' as const, values: samples() }),
  };
  registry.registerMetric(metric as unknown as Metric);
}
