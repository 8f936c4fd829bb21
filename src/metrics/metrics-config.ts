// --metrics-config, as tritonserver spells it (`--metrics-config=histogram_latencies=true`),
// plus `buckets=` for v2serve's histograms. Pure: the CLI turns a throw into a usage error.
import { InferenceError } from '../errors.js';

export interface MetricsSettings {
  /** v2serve's request, queue and compute histograms (Triton's histogram_latencies; on by default here). */
  readonly histograms: boolean;
  /** Triton's cumulative nv_inference_*_duration_us counters (counter_latencies). */
  readonly counterLatencies: boolean;
  /** Upper bounds of the histograms' buckets, seconds, increasing; +Inf is implied. */
  readonly buckets: readonly number[];
}

/** From 0.5 ms to 10 s: a model server's requests span that, and 14 buckets keep series few. */
export const DEFAULT_BUCKETS = Object.freeze([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

export const DEFAULT_METRICS_SETTINGS: MetricsSettings = Object.freeze({ histograms: true, counterLatencies: true, buckets: DEFAULT_BUCKETS });

/** The keys, for the help and for messages about an unknown one. */
export const METRICS_CONFIG_KEYS = ['histogram_latencies', 'counter_latencies', 'summary_latencies', 'buckets'] as const;

function boolean(spec: string, raw: string): boolean {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw InferenceError.invalidArgument(spec, 'must be true or false');
}

function buckets(spec: string, raw: string): number[] {
  const bounds = raw.split(',').map((text) => (text.trim() === '' ? NaN : Number(text)));
  if (bounds.some((b) => !Number.isFinite(b) || b <= 0)) {
    throw InferenceError.invalidArgument(spec, 'must be a comma-separated list of positive numbers of seconds, e.g. buckets=0.005,0.05,0.5');
  }
  if (bounds.some((b, i) => i > 0 && b <= bounds[i - 1]!)) throw InferenceError.invalidArgument(spec, 'must list bucket bounds in increasing order');
  return bounds;
}

/** Later settings of a key override earlier ones, as repeated flags do. */
export function parseMetricsConfig(specs: readonly string[]): MetricsSettings {
  let { histograms, counterLatencies, buckets: bounds } = DEFAULT_METRICS_SETTINGS;
  for (const spec of specs) {
    const equals = spec.indexOf('=');
    const key = equals < 0 ? spec : spec.slice(0, equals);
    const raw = equals < 0 ? '' : spec.slice(equals + 1);
    if (equals <= 0 || raw === '') throw InferenceError.invalidArgument(spec, `must be <setting>=<value>; settings: ${METRICS_CONFIG_KEYS.join(', ')}`);
    switch (key) {
      case 'histogram_latencies':
        histograms = boolean(spec, raw);
        break;
      case 'counter_latencies':
        counterLatencies = boolean(spec, raw);
        break;
      case 'summary_latencies':
        // Summaries cannot be aggregated across replicas and cost the request path; the histograms answer the same questions.
        if (boolean(spec, raw)) throw InferenceError.invalidArgument(spec, 'is not supported by v2serve: use the histograms (histogram_latencies=true, the default)');
        break;
      case 'buckets':
        bounds = buckets(spec, raw);
        break;
      default:
        throw InferenceError.invalidArgument(spec, `names no setting; settings: ${METRICS_CONFIG_KEYS.join(', ')}`);
    }
  }
  return Object.freeze({ histograms, counterLatencies, buckets: Object.freeze(bounds) });
}
