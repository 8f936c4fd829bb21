// The Metrics side path fed through its contracts, without a server: what a scrape shows.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import type { VersionFigures } from '../../src/events.js';
import { DEFAULT_METRICS_SETTINGS, Metrics } from '../../src/metrics/index.js';

const duration = (count: number, ns: bigint) => ({ count, ns });

function figures(success: number): VersionFigures {
  return {
    inferenceCount: success * 2,
    executionCount: success,
    success: duration(success, 3_000_000n),
    fail: duration(0, 0n),
    queue: duration(success, 1_000_000n),
    computeInput: duration(success, 500_000n),
    computeInfer: duration(success, 1_000_000n),
    computeOutput: duration(success, 500_000n),
    cacheHit: duration(0, 0n),
    cacheMiss: duration(0, 0n),
    responseCount: success * 3,
  };
}

const metrics = (settings = DEFAULT_METRICS_SETTINGS) => new Metrics({ settings, intervalMs: 60_000, log: pino({ level: 'silent' }) });
const line = (text: string, start: string) => text.split('\n').find((l) => l.startsWith(start));
const TIMINGS = { queueNs: 1_000_000, inputNs: 500_000, inferNs: 1_000_000, outputNs: 500_000 };

describe('Metrics', () => {
  test("cumulative counters are read from the version's figures at scrape time, in Triton's microseconds", async () => {
    const m = metrics();
    m.observe('m', '1', { figures: figures(3), pending: () => 2 });
    const text = await m.exposition();
    assert.equal(line(text, 'nv_inference_request_success{'), 'nv_inference_request_success{model="m",version="1"} 3');
    assert.equal(line(text, 'nv_inference_count{'), 'nv_inference_count{model="m",version="1"} 6');
    assert.equal(line(text, 'nv_inference_request_duration_us{'), 'nv_inference_request_duration_us{model="m",version="1"} 3000');
    assert.equal(line(text, 'nv_inference_pending_request_count{'), 'nv_inference_pending_request_count{model="m",version="1"} 2');
  });

  test('all four failure reasons are reported from the start, at 0', async () => {
    const m = metrics();
    m.observe('m', '1', { figures: figures(0), pending: () => 0 });
    const text = await m.exposition();
    for (const reason of ['REJECTED', 'CANCELED', 'BACKEND', 'OTHER']) {
      assert.equal(line(text, `nv_inference_request_failure{model="m",version="1",reason="${reason}"}`), `nv_inference_request_failure{model="m",version="1",reason="${reason}"} 0`);
    }
  });

  for (const [code, reason] of [
    ['RESOURCE_EXHAUSTED', 'REJECTED'],
    ['CANCELLED', 'CANCELED'],
    ['DEADLINE_EXCEEDED', 'CANCELED'],
    ['INTERNAL', 'BACKEND'],
    ['UNKNOWN', 'BACKEND'],
    ['INVALID_ARGUMENT', 'OTHER'],
    ['UNAVAILABLE', 'OTHER'],
  ] as const) {
    test(`a failure with ${code} counts as reason ${reason}`, async () => {
      const m = metrics();
      m.observe('m', '1', { figures: figures(0), pending: () => 0 }).failed(code);
      const text = await m.exposition();
      assert.equal(line(text, `nv_inference_request_failure{model="m",version="1",reason="${reason}"}`)?.split(' ')[1], '1');
      assert.equal(text.split('\n').filter((l) => l.startsWith('nv_inference_request_failure{') && l.endsWith(' 1')).length, 1);
    });
  }

  test('histograms put each observation in its bucket (le inclusive), cumulative with +Inf, and sum it', async () => {
    const m = metrics({ ...DEFAULT_METRICS_SETTINGS, buckets: [0.001, 0.002, 0.003] });
    const v = m.observe('m', '1', { figures: figures(2), pending: () => 0 });
    v.succeeded(TIMINGS); // 3 ms in all, 1 ms queued, 2 ms computing
    v.succeeded({ ...TIMINGS, queueNs: 5_000_000 });
    const text = await m.exposition();
    const bucket = (name: string, le: string) => line(text, `${name}_bucket{model="m",version="1",le="${le}"}`)?.split(' ')[1];
    assert.deepEqual(
      ['0.001', '0.002', '0.003', '+Inf'].map((le) => bucket('v2serve_inference_request_duration_seconds', le)),
      ['0', '0', '1', '2'],
    );
    assert.deepEqual(
      ['0.001', '0.002', '0.003', '+Inf'].map((le) => bucket('v2serve_inference_queue_duration_seconds', le)),
      ['1', '1', '1', '2'],
    );
    assert.equal(line(text, 'v2serve_inference_compute_duration_seconds_count{'), 'v2serve_inference_compute_duration_seconds_count{model="m",version="1"} 2');
    assert.equal(line(text, 'v2serve_inference_compute_duration_seconds_sum{'), 'v2serve_inference_compute_duration_seconds_sum{model="m",version="1"} 0.004');
  });

  test('decoupled responses: the response counter from the figures, the first response in Triton\'s ms buckets, the intervals in seconds', async () => {
    const m = metrics({ ...DEFAULT_METRICS_SETTINGS, buckets: [0.001, 0.002, 0.003] });
    const v = m.observe('m', '1', { figures: figures(2), pending: () => 0 });
    v.responded?.(300_000_000, true); // 300 ms to the first response
    v.responded?.(1_500_000, false);
    v.responded?.(2_500_000, false);
    const text = await m.exposition();
    assert.equal(line(text, 'v2serve_inference_responses_total{'), 'v2serve_inference_responses_total{model="m",version="1"} 6');
    const bucket = (name: string, le: string) => line(text, `${name}_bucket{model="m",version="1",le="${le}"}`)?.split(' ')[1];
    assert.deepEqual(
      ['100', '500', '2000', '5000', '+Inf'].map((le) => bucket('nv_inference_first_response_histogram_ms', le)),
      ['0', '1', '1', '1', '1'],
    );
    assert.deepEqual(
      ['0.001', '0.002', '0.003', '+Inf'].map((le) => bucket('v2serve_inference_response_interval_seconds', le)),
      ['0', '1', '2', '2'],
    );
  });

  test('histogram_latencies=false and counter_latencies=false leave those families out', async () => {
    const m = metrics({ ...DEFAULT_METRICS_SETTINGS, histograms: false, counterLatencies: false });
    m.observe('m', '1', { figures: figures(1), pending: () => 0 }).succeeded(TIMINGS);
    const text = await m.exposition();
    assert.doesNotMatch(text, /v2serve_inference_request_duration_seconds|nv_inference_request_duration_us/);
    assert.match(text, /nv_inference_request_success\{/);
  });

  test('two versions of the same number (a reload in progress) are summed into one series; a closed one leaves', async () => {
    const m = metrics();
    const old = m.observe('m', '1', { figures: figures(3), pending: () => 1 });
    m.observe('m', '1', { figures: figures(4), pending: () => 1 });
    let text = await m.exposition();
    assert.equal(line(text, 'nv_inference_request_success{'), 'nv_inference_request_success{model="m",version="1"} 7');
    assert.equal(line(text, 'nv_inference_pending_request_count{'), 'nv_inference_pending_request_count{model="m",version="1"} 2');
    old.closed();
    text = await m.exposition();
    assert.equal(line(text, 'nv_inference_request_success{'), 'nv_inference_request_success{model="m",version="1"} 4');
  });

  test('requests are counted by transport, operation and status', async () => {
    const m = metrics();
    const record = { requestId: 'r', model: '', version: '', durationNs: 1n, bytesIn: undefined, bytesOut: undefined };
    m.requests.finished({ ...record, transport: 'grpc', operation: 'ModelInfer', status: 'OK' });
    m.requests.finished({ ...record, transport: 'grpc', operation: 'ModelInfer', status: 'OK' });
    m.requests.finished({ ...record, transport: 'http', operation: 'ModelInfer', status: '400' });
    const text = await m.exposition();
    assert.equal(line(text, 'v2serve_requests_total{transport="grpc"'), 'v2serve_requests_total{transport="grpc",operation="ModelInfer",status="OK"} 2');
    assert.equal(line(text, 'v2serve_requests_total{transport="http"'), 'v2serve_requests_total{transport="http",operation="ModelInfer",status="400"} 1');
  });

  test('model state: 1 for the current state of each version, 0 for the others', async () => {
    const m = metrics();
    const event = { kind: 'model-state', modelClass: '', model: 'm', version: '1', reason: '', labels: {}, parameters: {}, path: '' } as const;
    m.events.emit({ ...event, state: 'LOADING' });
    m.events.emit({ ...event, state: 'READY' });
    const text = await m.exposition();
    const state = (s: string) => line(text, `v2serve_model_state{model="m",version="1",state="${s}"}`)?.split(' ')[1];
    assert.deepEqual(['UNAVAILABLE', 'LOADING', 'READY', 'UNLOADING'].map(state), ['0', '0', '1', '0']);
  });

  test('the NATS publisher counts appear only when monitoring is on', async () => {
    assert.doesNotMatch(await metrics().exposition(), /v2serve_monitoring_events/);
    const m = new Metrics({
      settings: DEFAULT_METRICS_SETTINGS,
      intervalMs: 60_000,
      log: pino({ level: 'silent' }),
      publisher: () => ({ published: 5, dropped: 1, failed: 2, pending: 3 }),
    });
    const text = await m.exposition();
    assert.match(text, /^v2serve_monitoring_events_published_total 5$/m);
    assert.match(text, /^v2serve_monitoring_events_dropped_total 1$/m);
    assert.match(text, /^v2serve_monitoring_events_failed_total 2$/m);
    assert.match(text, /^v2serve_monitoring_events_pending 3$/m);
  });

  test("Triton's per-model cache families, only for versions using the cache; the cache's own gauges only with a cache", async () => {
    const m = new Metrics({
      settings: DEFAULT_METRICS_SETTINGS,
      intervalMs: 60_000,
      log: pino({ level: 'silent' }),
      responseCache: () => ({ entries: 2, bytes: 250, capacity: 1000, lookups: 7, hits: 4, misses: 3, evictions: 1, lookupNs: 9_999, insertNs: 3_000 }),
    });
    m.observe('cached', '1', { figures: { ...figures(3), cacheHit: duration(2, 4_000n), cacheMiss: duration(1, 6_000n) }, responseCache: true, pending: () => 0 });
    m.observe('plain', '1', { figures: figures(1), pending: () => 0 });
    const text = await m.exposition();
    assert.match(text, /^nv_cache_num_hits_per_model\{model="cached",version="1"\} 2$/m);
    assert.match(text, /^nv_cache_hit_duration_per_model\{model="cached",version="1"\} 4$/m);
    assert.match(text, /^nv_cache_num_misses_per_model\{model="cached",version="1"\} 1$/m);
    assert.match(text, /^nv_cache_miss_duration_per_model\{model="cached",version="1"\} 6$/m);
    assert.doesNotMatch(text, /_per_model\{model="plain"/);
    assert.match(text, /^nv_cache_util 0.25$/m);
    assert.match(text, /^nv_cache_num_entries 2$/m);
    assert.match(text, /^nv_cache_num_lookups 7$/m);
    assert.match(text, /^nv_cache_num_hits 4$/m);
    assert.match(text, /^nv_cache_num_misses 3$/m);
    assert.match(text, /^nv_cache_num_evictions 1$/m);
    assert.match(text, /^nv_cache_lookup_duration 9$/m);
    assert.match(text, /^nv_cache_insertion_duration 3$/m);
    assert.doesNotMatch(await metrics().exposition(), /^nv_cache_num_entries/m);
  });
});
