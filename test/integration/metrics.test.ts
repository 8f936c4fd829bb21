// Metrics and the request log through the real CLI: a real Prometheus scrapes the metrics
// port, promtool checks the exposition, worker instances' counts are exact, and the request
// log has one line per request with its id.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { status, Metadata, type ServiceError } from '@grpc/grpc-js';
import type { InferParameter, ModelInferRequest } from '../../generated/grpc_service.js';
import { findBinary, promtoolCheckMetrics, startPrometheus } from '../helpers/prometheus.js';
import { parseConfig, startServer } from '../../src/index.js';
import { createRootLogger } from '../../src/logging/index.js';
import { call, LOOPBACK_ANY_PORT, PROJECT_ROOT, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { collect, simpleRequest, waitReady } from './streaming-fixtures.js';

const FIXTURES = join(PROJECT_ROOT, 'test', 'fixtures', 'worker-models');

function fixture(dir: string): { config: string; versions: Record<string, string> } {
  return {
    config: readFileSync(join(dir, 'config.pbtxt'), 'utf8'),
    versions: { '1': readFileSync(join(dir, '1', 'model.ts'), 'utf8') },
  };
}

/** worker_busy (two worker instances) holding its thread `busyMs`. */
function busyRequest(id: string, parameters: Record<string, InferParameter>): ModelInferRequest {
  const data = new Float32Array([1, 2, 3]);
  return {
    modelName: 'worker_busy',
    modelVersion: '',
    id,
    parameters: new Map(Object.entries(parameters)),
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [3n], parameters: new Map(), contents: undefined }],
    outputs: [],
    rawInputContents: [Buffer.from(data.buffer)],
  };
}

/** The value of the sample `name{labels…}` in an exposition (labels: a subset that must match). */
function sample(exposition: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of exposition.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return undefined;
}

/** Triton's families whose names promtool's lint rejects (no `_total`, `_count` on a counter, `_us`, `histogram` in the name): kept for its dashboards. */
const TRITON_NAMES = new Set([
  'nv_inference_request_success',
  'nv_inference_request_failure',
  'nv_inference_count',
  'nv_inference_exec_count',
  'nv_inference_request_duration_us',
  'nv_inference_queue_duration_us',
  'nv_inference_compute_input_duration_us',
  'nv_inference_compute_infer_duration_us',
  'nv_inference_compute_output_duration_us',
  'nv_inference_pending_request_count',
  'nv_inference_first_response_histogram_ms',
]);

describe('metrics', () => {
  let cli: RunningCli;
  let repo: ReturnType<typeof tempRepository>;
  before(async () => {
    // Fails here, naming the install command, when the binaries are missing.
    findBinary('prometheus');
    findBinary('promtool');
    repo = tempRepository({ simple: fixture(join(PROJECT_ROOT, 'models', 'simple')), worker_busy: fixture(join(FIXTURES, 'worker_busy')) });
    cli = await startCli([`--model-repository=${repo.root}`, '--log-requests=true', '--metrics-interval-ms=100', '--exit-timeout-secs=2']);
    await waitReady(cli, 'simple', 30_000);
    await waitReady(cli, 'worker_busy', 30_000);
  });
  after(async () => {
    await cli?.stop();
    repo?.remove();
  });

  const scrape = async (): Promise<{ contentType: string | null; text: string }> => {
    const response = await fetch(cli.metrics as string);
    assert.equal(response.status, 200);
    return { contentType: response.headers.get('content-type'), text: await response.text() };
  };
  const infer = (request: ModelInferRequest) => call(cli.client, cli.client.modelInfer, request);

  test('metrics - Prometheus scrapes the counts of N inferences and M failures and a histogram_quantile of the request histogram', async () => {
    const target = new URL(cli.metrics as string).host;
    const prometheus = await startPrometheus([target]);
    try {
      const N = 7;
      const M = 3;
      for (let i = 0; i < N; i++) await infer(simpleRequest(`ok-${i}`, i));
      for (let i = 0; i < M; i++) {
        // One element short: INVALID_ARGUMENT from the version's checks, a failure of the version (reason OTHER).
        const bad = simpleRequest(`bad-${i}`);
        await assert.rejects(infer({ ...bad, rawInputContents: [bad.rawInputContents[0]!.subarray(4), bad.rawInputContents[1]!] }), (err: ServiceError) => {
          assert.equal(err.code, status.INVALID_ARGUMENT);
          return true;
        });
      }
      const one = (value: number) => (samples: { value: number }[]) => samples.length === 1 && samples[0]!.value === value;
      await prometheus.until('nv_inference_request_success{model="simple",version="1"}', one(N));
      await prometheus.until('nv_inference_request_failure{model="simple",version="1",reason="OTHER"}', one(M));
      await prometheus.until('sum(nv_inference_request_failure{model="simple",reason!="OTHER"})', one(0));
      await prometheus.until('nv_inference_count{model="simple",version="1"}', one(N));
      await prometheus.until('v2serve_requests_total{transport="grpc",operation="ModelInfer",status="OK"}', one(N));
      await prometheus.until('v2serve_requests_total{transport="grpc",operation="ModelInfer",status="INVALID_ARGUMENT"}', one(M));
      await prometheus.until('v2serve_inference_request_duration_seconds_count{model="simple",version="1"}', one(N));
      await prometheus.until('v2serve_model_state{model="simple",version="1",state="READY"}', one(1));
      const [median] = await prometheus.until(
        'histogram_quantile(0.5, sum by (le) (v2serve_inference_request_duration_seconds_bucket{model="simple",version="1"}))',
        (samples) => samples.length === 1,
      );
      assert.ok(Number.isFinite(median!.value) && median!.value > 0, `median ${median!.value}`);
    } finally {
      await prometheus.stop();
    }
  });

  test('metrics - /metrics answers in the Prometheus text format with Triton\'s families created at load', async () => {
    const { contentType, text } = await scrape();
    assert.equal(contentType, 'text/plain; version=0.0.4; charset=utf-8');
    for (const reason of ['REJECTED', 'CANCELED', 'BACKEND', 'OTHER']) {
      assert.notEqual(sample(text, 'nv_inference_request_failure', { model: 'worker_busy', version: '1', reason }), undefined, reason);
    }
    for (const name of [...TRITON_NAMES, 'nv_model_load_duration_secs']) {
      // A histogram family's samples are its _bucket, _sum and _count series.
      const series = name.endsWith('_histogram_ms') ? `${name}_count` : name;
      assert.notEqual(sample(text, series, { model: 'worker_busy', version: '1' }), undefined, name);
    }
    assert.ok((sample(text, 'nv_model_load_duration_secs', { model: 'worker_busy' }) ?? 0) > 0);
    assert.ok((sample(text, 'nv_cpu_memory_total_bytes') ?? 0) > 0);
    assert.ok((sample(text, 'nv_cpu_memory_used_bytes') ?? 0) > 0);
    const utilization = sample(text, 'nv_cpu_utilization');
    assert.ok(utilization !== undefined && utilization >= 0 && utilization <= 1);
  });

  test('promtool - check metrics parses the exposition; its lint problems name only Triton\'s compatibility families', async () => {
    const { text } = await scrape();
    const full = promtoolCheckMetrics(text);
    // promtool 2.42: exit 1 on a parse error, 3 on lint problems only.
    assert.equal(full.status, 3, full.output);
    const problems = full.output.trim().split('\n');
    for (const problem of problems) assert.ok(TRITON_NAMES.has(problem.split(' ', 1)[0]!), `not a Triton name: ${problem}`);
    // Everything else lints clean.
    const ours = text
      .split('\n\n')
      .filter((family) => !TRITON_NAMES.has(/^# HELP (\S+)/.exec(family)?.[1] ?? ''))
      .join('\n\n');
    const clean = promtoolCheckMetrics(ours);
    assert.equal(clean.status, 0, clean.output);
    assert.equal(clean.output.trim(), '');
  });

  test('metrics - worker-instance models count exactly: successes, backend failures, inferences, executions, histogram observations', async () => {
    const before = (await scrape()).text;
    const at = (text: string, name: string, labels: Record<string, string> = {}) => sample(text, name, { model: 'worker_busy', version: '1', ...labels }) ?? 0;
    const K = 24;
    const F = 5;
    await Promise.all([
      ...Array.from({ length: K }, (_, i) => infer(busyRequest(`busy-${i}`, { busy_ms: { int64Param: 1n } }))),
      ...Array.from({ length: F }, (_, i) =>
        assert.rejects(infer(busyRequest(`fail-${i}`, { busy_ms: { int64Param: 1n }, fail: { stringParam: 'throw' } }))),
      ),
    ]);
    const text = (await scrape()).text;
    assert.equal(at(text, 'nv_inference_request_success') - at(before, 'nv_inference_request_success'), K);
    assert.equal(at(text, 'nv_inference_request_failure', { reason: 'BACKEND' }) - at(before, 'nv_inference_request_failure', { reason: 'BACKEND' }), F);
    assert.equal(at(text, 'nv_inference_count') - at(before, 'nv_inference_count'), K);
    assert.equal(at(text, 'nv_inference_exec_count') - at(before, 'nv_inference_exec_count'), K);
    const histogram = 'v2serve_inference_compute_duration_seconds_count';
    assert.equal(at(text, histogram) - at(before, histogram), K);
    assert.equal(at(text, 'nv_inference_pending_request_count'), 0);
  });

  test('request log - one line each for a success, a client error, a cancelled call and each stream request, with the request id', async () => {
    await infer(simpleRequest('log-ok'));
    const ok = await cli.waitForLog((l) => l['msg'] === 'request' && l['requestId'] === 'log-ok');
    assert.equal(ok['transport'], 'grpc');
    assert.equal(ok['operation'], 'ModelInfer');
    assert.equal(ok['model'], 'simple');
    assert.equal(ok['version'], '1', 'the version that served it');
    assert.equal(ok['status'], 'OK');
    assert.equal(typeof ok['durationMs'], 'number');
    assert.ok((ok['bytesIn'] as number) > 128 && (ok['bytesOut'] as number) > 128, JSON.stringify(ok));

    const bad = await fetch(`${cli.http}/v2/models/simple/infer`, { method: 'POST', body: JSON.stringify({ id: 'log-bad', inputs: [] }) });
    assert.equal(bad.status, 400);
    const client = await cli.waitForLog((l) => l['msg'] === 'request' && l['requestId'] === 'log-bad');
    assert.deepEqual(
      { transport: client['transport'], operation: client['operation'], model: client['model'], status: client['status'] },
      { transport: 'http', operation: 'ModelInfer', model: 'simple', status: '400' },
    );
    assert.ok((client['bytesIn'] as number) > 0 && (client['bytesOut'] as number) > 0);

    // operation `wait` ends only when the request is aborted: the cancel is what ends it.
    const cancelled = new Promise<ServiceError>((resolve) => {
      const pending = cli.client.modelInfer(busyRequest('log-cancel', { operation: { stringParam: 'wait' } }), new Metadata(), (err) => resolve(err as ServiceError));
      setTimeout(() => pending.cancel(), 200);
    });
    assert.equal((await cancelled).code, status.CANCELLED);
    const line = await cli.waitForLog((l) => l['msg'] === 'request' && l['requestId'] === 'log-cancel');
    assert.deepEqual({ operation: line['operation'], model: line['model'], status: line['status'] }, { operation: 'ModelInfer', model: 'worker_busy', status: 'CANCELLED' });

    // The error line about a failed request names it too.
    await assert.rejects(infer(busyRequest('log-fail', { busy_ms: { int64Param: 1n }, fail: { stringParam: 'throw' } })));
    const failure = await cli.waitForLog((l) => l['msg'] === 'request' && l['requestId'] === 'log-fail');
    assert.equal(failure['status'], 'INTERNAL');
    assert.ok(
      cli.logs.some((l) => l['level'] === 50 && l['requestId'] === 'log-fail' && /predict exploded/.test(JSON.stringify(l))),
      'the error line carries the request id',
    );

    // Each stream request is a line of its own.
    const stream = cli.client.modelStreamInfer();
    const streamed = collect(stream);
    stream.write(simpleRequest('log-stream-1'));
    stream.write(simpleRequest('log-stream-2'));
    stream.end();
    assert.equal((await streamed).responses.length, 2);
    for (const id of ['log-stream-1', 'log-stream-2']) {
      const line = await cli.waitForLog((l) => l['msg'] === 'request' && l['requestId'] === id);
      assert.deepEqual({ operation: line['operation'], version: line['version'], status: line['status'] }, { operation: 'ModelStreamInfer', version: '1', status: 'OK' });
    }

    // A request without an id gets one, in its log line.
    await infer(simpleRequest(''));
    const made = await cli.waitForLog((l) => l['msg'] === 'request' && l['operation'] === 'ModelInfer' && /^[0-9a-f]{8}-[0-9a-z]+$/.test(String(l['requestId'])));
    assert.equal(made['status'], 'OK');
  });
});

describe('metrics port', () => {
  const silent = () => createRootLogger({ verboseLevel: 0, format: 'default' }, { write: () => undefined });

  test('metrics port - --allow-metrics=false opens none', async () => {
    const server = await startServer(parseConfig([...LOOPBACK_ANY_PORT, '--allow-metrics=false']), silent());
    try {
      assert.equal(server.ports.metrics, undefined);
    } finally {
      await server.stop();
    }
  });

  test('metrics port - a taken one fails the start with EADDRINUSE', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      await assert.rejects(startServer(parseConfig([...LOOPBACK_ANY_PORT, `--metrics-port=${port}`]), silent()), { code: 'EADDRINUSE' });
    } finally {
      taken.close();
    }
  });
});
