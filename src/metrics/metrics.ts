// The metrics side path: Triton's families (nv_*), v2serve's histograms, request counts by
// transport and status, the NATS publisher's counters, model states and the host's CPU and
// memory, exposed by prom-client's Registry. Everything the request path touches is a plain
// number prepared per version at load; series and labels are built only at scrape time.
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { CacheCounts, EventSink, ModelEvent, ModelState, RequestRecord, RequestSink, VersionObservers, VersionWatch } from '../events.js';
import { register, type Labels, type Sample } from './collected.js';
import { BucketCounts } from './histogram.js';
import type { MetricsSettings } from './metrics-config.js';
import { HostSampler } from './proc.js';
import { FAILURE_REASONS, histograms, VersionSeries, type Histograms } from './version-series.js';

/** The NATS monitoring publisher's counts (src/monitoring's stats()), read at scrape time. */
export interface PublisherCounts {
  readonly published: number;
  readonly dropped: number;
  readonly failed: number;
  readonly pending: number;
}

export interface MetricsOptions {
  readonly settings: MetricsSettings;
  /** How often the nv_cpu_* gauges are refreshed. */
  readonly intervalMs: number;
  readonly log: Logger;
  /** Present when monitoring to NATS is on. */
  readonly publisher?: () => PublisherCounts;
  /** Present when the server has a response cache (--cache-config). */
  readonly responseCache?: () => CacheCounts;
}

const STATES: readonly ModelState[] = ['UNAVAILABLE', 'LOADING', 'READY', 'UNLOADING'];

/** Every version of the same model and version number summed: during a reload two serve at once. */
interface Totals {
  readonly labels: Labels;
  success: number;
  failures: number[];
  inferences: number;
  executions: number;
  responses: number;
  requestNs: bigint;
  queueNs: bigint;
  inputNs: bigint;
  inferNs: bigint;
  outputNs: bigint;
  /** Some version of it uses the response cache: Triton reports the per-model cache families then. */
  cached: boolean;
  cacheHits: number;
  cacheHitNs: bigint;
  cacheMisses: number;
  cacheMissNs: bigint;
  pending: number;
  loadSeconds: number;
  histograms: Histograms | undefined;
}

const us = (ns: bigint): number => Number(ns / 1000n);

export class Metrics implements VersionObservers {
  readonly registry = new Registry();
  /** Where transports report finished requests. */
  readonly requests: RequestSink;
  /** Model state changes (the state gauge). */
  readonly events: EventSink;
  private readonly versions = new Set<VersionSeries>();
  private readonly states = new Map<string, { readonly labels: Labels; state: ModelState }>();
  /** transport → operation → status → count: three lookups per request, no key built. */
  private readonly requestCounts = new Map<string, Map<string, Map<string, { count: number }>>>();
  private readonly host: HostSampler;
  private scrapeTotals: Totals[] | undefined;

  constructor(private readonly options: MetricsOptions) {
    this.requests = { finished: (record) => this.countRequest(record) };
    this.events = {
      wantsInferenceEvents: () => false,
      emit: (event: ModelEvent) => {
        if (event.kind !== 'model-state') return;
        const key = `${event.model}\0${event.version}`;
        const known = this.states.get(key);
        if (known) known.state = event.state;
        else this.states.set(key, { labels: { model: event.model, version: event.version }, state: event.state });
      },
    };
    this.host = new HostSampler((err) => options.log.warn({ err }, 'cannot read /proc: the nv_cpu_* gauges stay 0'));
    this.registerFamilies();
  }

  observe(model: string, version: string, watch: VersionWatch): VersionSeries {
    const { settings } = this.options;
    const series = new VersionSeries(model, version, watch, settings.histograms ? histograms(settings.buckets) : undefined, (closed) =>
      this.versions.delete(closed),
    );
    this.versions.add(series);
    return series;
  }

  /** Starts sampling /proc; resolves after the first reading. */
  start(): Promise<void> {
    return this.host.start(this.options.intervalMs);
  }

  stop(): void {
    this.host.stop();
  }

  /** The exposition, in the Prometheus text format. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private countRequest(record: RequestRecord): void {
    let operations = this.requestCounts.get(record.transport);
    if (!operations) this.requestCounts.set(record.transport, (operations = new Map()));
    let statuses = operations.get(record.operation);
    if (!statuses) operations.set(record.operation, (statuses = new Map()));
    const counter = statuses.get(record.status);
    if (counter) counter.count += 1;
    else statuses.set(record.status, { count: 1 });
  }

  /**
   * The registry reads every family in one synchronous pass (Registry.metrics() calls each
   * metric's get() before awaiting any): the totals are summed once per scrape.
   */
  private totals(): Totals[] {
    if (!this.scrapeTotals) {
      this.scrapeTotals = this.sumVersions();
      queueMicrotask(() => (this.scrapeTotals = undefined));
    }
    return this.scrapeTotals;
  }

  private sumVersions(): Totals[] {
    const byKey = new Map<string, Totals>();
    for (const series of this.versions) {
      const key = `${series.model}\0${series.version}`;
      let t = byKey.get(key);
      if (!t) {
        t = {
          labels: { model: series.model, version: series.version },
          success: 0,
          failures: FAILURE_REASONS.map(() => 0),
          inferences: 0,
          executions: 0,
          responses: 0,
          requestNs: 0n,
          queueNs: 0n,
          inputNs: 0n,
          inferNs: 0n,
          outputNs: 0n,
          cached: false,
          cacheHits: 0,
          cacheHitNs: 0n,
          cacheMisses: 0,
          cacheMissNs: 0n,
          pending: 0,
          loadSeconds: 0,
          histograms: series.histograms ? histograms(this.options.settings.buckets) : undefined,
        };
        byKey.set(key, t);
      }
      const f = series.watch.figures;
      t.success += f.success.count;
      series.failures.forEach((n, i) => (t.failures[i]! += n));
      t.inferences += f.inferenceCount;
      t.executions += f.executionCount;
      t.responses += f.responseCount;
      t.requestNs += f.success.ns;
      t.queueNs += f.queue.ns;
      t.inputNs += f.computeInput.ns;
      t.inferNs += f.computeInfer.ns;
      t.outputNs += f.computeOutput.ns;
      t.cached ||= series.watch.responseCache === true;
      t.cacheHits += f.cacheHit.count;
      t.cacheHitNs += f.cacheHit.ns;
      t.cacheMisses += f.cacheMiss.count;
      t.cacheMissNs += f.cacheMiss.ns;
      t.pending += series.watch.pending();
      t.loadSeconds = Math.max(t.loadSeconds, series.loadSeconds);
      if (series.histograms && t.histograms) {
        series.histograms.request.addTo(t.histograms.request);
        series.histograms.queue.addTo(t.histograms.queue);
        series.histograms.compute.addTo(t.histograms.compute);
        series.histograms.firstResponseMs.addTo(t.histograms.firstResponseMs);
        series.histograms.responseInterval.addTo(t.histograms.responseInterval);
      }
    }
    return [...byKey.values()];
  }

  private registerFamilies(): void {
    const { registry } = this;
    const { settings } = this.options;
    const perVersion = (name: string, help: string, type: 'counter' | 'gauge', value: (t: Totals) => number): void =>
      register(registry, name, help, type, () => this.totals().map((t) => ({ labels: t.labels, value: value(t) })));

    // Triton's families, names and labels as Triton has them, so its dashboards work.
    perVersion('nv_inference_request_success', 'Number of successful inference requests, all batch sizes', 'counter', (t) => t.success);
    register(registry, 'nv_inference_request_failure', 'Number of failed inference requests, all batch sizes', 'counter', () =>
      this.totals().flatMap((t) => FAILURE_REASONS.map((reason, i) => ({ labels: { ...t.labels, reason }, value: t.failures[i]! }))),
    );
    perVersion('nv_inference_count', 'Number of inferences performed (does not include cached requests)', 'counter', (t) => t.inferences);
    perVersion('nv_inference_exec_count', 'Number of model executions performed (does not include cached requests)', 'counter', (t) => t.executions);
    if (settings.counterLatencies) {
      perVersion('nv_inference_request_duration_us', 'Cumulative inference request duration in microseconds (includes cached requests)', 'counter', (t) =>
        us(t.requestNs),
      );
      perVersion('nv_inference_queue_duration_us', 'Cumulative inference queuing duration in microseconds (includes cached requests)', 'counter', (t) =>
        us(t.queueNs),
      );
      perVersion('nv_inference_compute_input_duration_us', 'Cumulative compute input duration in microseconds (does not include cached requests)', 'counter', (t) =>
        us(t.inputNs),
      );
      perVersion('nv_inference_compute_infer_duration_us', 'Cumulative compute inference duration in microseconds (does not include cached requests)', 'counter', (t) =>
        us(t.inferNs),
      );
      perVersion('nv_inference_compute_output_duration_us', 'Cumulative inference compute output duration in microseconds (does not include cached requests)', 'counter', (t) =>
        us(t.outputNs),
      );
    }
    perVersion('v2serve_inference_responses_total', 'Responses sent by decoupled models (each request may have zero, one or many)', 'counter', (t) => t.responses);
    perVersion('nv_inference_pending_request_count', 'Instantaneous number of pending requests awaiting execution per-model.', 'gauge', (t) => t.pending);
    perVersion('nv_model_load_duration_secs', 'Model load time in seconds', 'gauge', (t) => t.loadSeconds);
    register(registry, 'nv_cpu_utilization', 'CPU utilization rate [0.0 - 1.0]', 'gauge', () => [{ labels: {}, value: this.host.utilization }]);
    register(registry, 'nv_cpu_memory_total_bytes', 'CPU total memory (RAM), in bytes', 'gauge', () => [{ labels: {}, value: this.host.memory.totalBytes }]);
    register(registry, 'nv_cpu_memory_used_bytes', 'CPU used memory (RAM), in bytes', 'gauge', () => [{ labels: {}, value: this.host.memory.usedBytes }]);

    // Beyond Triton: histograms aggregate across replicas, percentiles come from histogram_quantile().
    if (settings.histograms) {
      const histogram = (name: string, help: string, pick: (h: Histograms) => BucketCounts): void =>
        register(registry, name, help, 'histogram', () => this.totals().flatMap((t) => (t.histograms ? bucketSamples(name, t.labels, pick(t.histograms)) : [])));
      histogram('v2serve_inference_request_duration_seconds', 'Successful inference requests: arrival to answer, seconds', (h) => h.request);
      histogram('v2serve_inference_queue_duration_seconds', 'Successful inference requests: time waiting (load, queue, batch), seconds', (h) => h.queue);
      histogram('v2serve_inference_compute_duration_seconds', 'Successful inference requests: decode, model and encode, seconds', (h) => h.compute);
      histogram('nv_inference_first_response_histogram_ms', 'Duration from request to first response in milliseconds', (h) => h.firstResponseMs);
      histogram('v2serve_inference_response_interval_seconds', 'Decoupled models: time from one response of a request to its next, seconds', (h) => h.responseInterval);
    }
    register(registry, 'v2serve_requests_total', 'Requests answered, by transport, operation (RPC) and status (gRPC status name or HTTP code)', 'counter', () =>
      [...this.requestCounts].flatMap(([transport, operations]) =>
        [...operations].flatMap(([operation, statuses]) => [...statuses].map(([status, { count }]) => ({ labels: { transport, operation, status }, value: count }))),
      ),
    );
    register(registry, 'v2serve_model_state', 'Model version state: 1 for its current state, 0 for the others', 'gauge', () =>
      [...this.states.values()].flatMap(({ labels, state }) => STATES.map((s) => ({ labels: { ...labels, state: s }, value: s === state ? 1 : 0 }))),
    );
    this.registerCacheFamilies();
    const { publisher } = this.options;
    if (publisher) {
      const counts = (name: string, help: string, type: 'counter' | 'gauge', pick: (c: PublisherCounts) => number): void =>
        register(registry, name, help, type, () => [{ labels: {}, value: pick(publisher()) }]);
      counts('v2serve_monitoring_events_published_total', 'Inference events published to NATS (acknowledged, with a stream)', 'counter', (c) => c.published);
      counts('v2serve_monitoring_events_dropped_total', 'Inference events lost: queue full, not connected, unacknowledged', 'counter', (c) => c.dropped);
      counts('v2serve_monitoring_events_failed_total', 'Inference events whose encoding or publish failed', 'counter', (c) => c.failed);
      counts('v2serve_monitoring_events_pending', 'Inference events queued for NATS now', 'gauge', (c) => c.pending);
    }
  }

  /**
   * Triton's response cache metrics: per model (only those using the cache) the hit and
   * miss counts and durations; server-wide the local cache's own gauges.
   */
  private registerCacheFamilies(): void {
    const { registry } = this;
    const perCachedVersion = (name: string, help: string, value: (t: Totals) => number): void =>
      register(registry, name, help, 'counter', () => this.totals().flatMap((t) => (t.cached ? [{ labels: t.labels, value: value(t) }] : [])));
    perCachedVersion('nv_cache_num_hits_per_model', 'Number of cache hits per model', (t) => t.cacheHits);
    perCachedVersion('nv_cache_hit_duration_per_model', 'Total cache hit duration per model, in microseconds', (t) => us(t.cacheHitNs));
    perCachedVersion('nv_cache_num_misses_per_model', 'Number of cache misses per model', (t) => t.cacheMisses);
    perCachedVersion('nv_cache_miss_duration_per_model', 'Total cache miss (insert+lookup) duration per model, in microseconds', (t) => us(t.cacheMissNs));
    const { responseCache } = this.options;
    if (!responseCache) return;
    const gauge = (name: string, help: string, pick: (c: CacheCounts) => number): void =>
      register(registry, name, help, 'gauge', () => [{ labels: {}, value: pick(responseCache()) }]);
    gauge('nv_cache_util', 'Cache utilization [0.0 - 1.0]', (c) => c.bytes / c.capacity);
    gauge('nv_cache_num_entries', 'Number of responses stored in response cache', (c) => c.entries);
    gauge('nv_cache_num_lookups', 'Number of cache lookups in response cache', (c) => c.lookups);
    gauge('nv_cache_num_hits', 'Number of cache hits in response cache', (c) => c.hits);
    gauge('nv_cache_num_misses', 'Number of cache misses in response cache', (c) => c.misses);
    gauge('nv_cache_num_evictions', 'Number of cache evictions in response cache', (c) => c.evictions);
    gauge('nv_cache_lookup_duration', 'Total cache lookup duration (hit and miss), in microseconds', (c) => Math.floor(c.lookupNs / 1000));
    gauge('nv_cache_insertion_duration', 'Total cache insertion duration, in microseconds', (c) => Math.floor(c.insertNs / 1000));
  }
}

/** A histogram's _bucket (cumulative, with +Inf), _sum and _count lines. */
function bucketSamples(name: string, labels: Labels, h: BucketCounts): Sample[] {
  const samples: Sample[] = [];
  let cumulative = 0;
  for (let i = 0; i < h.counts.length; i++) {
    cumulative += h.counts[i]!;
    const le = i < h.bounds.length ? String(h.bounds[i]) : '+Inf';
    samples.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
  }
  samples.push({ metricName: `${name}_sum`, labels, value: h.sum }, { metricName: `${name}_count`, labels, value: h.count });
  return samples;
}
