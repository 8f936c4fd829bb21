// `npm run bench -- --quick` end to end, once: it must finish and write valid JSON.
// No timing is asserted: figures from a shared CI machine mean nothing.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { SCENARIOS } from '../bench/scenarios.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

interface Result {
  readonly code: number | null;
  readonly output: string;
}

/** The same command as `npm run bench -- --quick`, without npm in between. */
function runQuickBench(timeoutMs: number): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

type Figures = Record<'throughput' | 'p50' | 'p99' | 'cpuUsPerRequest' | 'rssKb', number>;

interface Run {
  variant: string;
  concurrency: number;
  requests: number;
  throughput: number;
  latencyMs: Record<string, number>;
  serverCpuUsPerRequest: number;
  problems: string[];
}

interface ScenarioJson {
  name: string;
  skipped?: string;
  failed?: string;
  runs: Run[];
  summary: { variant: string; concurrency: number; median: Figures }[];
  ratios: { label: string; concurrency: number; median: Figures; rounds: Record<keyof Figures, number[]> }[];
}

/** Scenarios whose every variant must have run at 16 in flight, and the ratios they must report. */
const MEASURED: readonly { readonly names: readonly string[]; readonly variants: readonly string[]; readonly ratios: readonly string[] }[] = [
  { names: ['simple-raw', 'simple-raw-4-connections', 'simple-typed', 'identity-fp32-4mib', 'simple-string'], variants: ['bare', 'generated', 'v2serve'], ratios: ['v2serve/bare', 'v2serve/generated'] },
  {
    names: ['rest-simple-json', 'rest-simple-binary', 'rest-identity-fp32-1mib-binary', 'rest-identity-fp32-1mib-json'],
    variants: ['floor', 'v2serve'],
    ratios: ['v2serve/floor'],
  },
  { names: ['onnx-iris'], variants: ['direct', 'v2serve', 'worker'], ratios: ['v2serve/direct', 'worker/direct'] },
];

describe('bench', () => {
  // Every scenario starts its servers even in a quick run. The bound only tells a hung bench
  // from a slow one: about 75 s on an idle machine before the REST and ONNX scenarios, 160 s
  // with them at a load average of 12 to 17 on 2 cores.
  test('bench - --quick exits 0 and writes bench/results/latest.json with every section', { timeout: 500_000 }, async () => {
    // The bench's unary load generator; the bench cannot run without it.
    const h2load = spawnSync('h2load', ['--version'], { encoding: 'utf8' });
    assert.ok(!h2load.error && h2load.status === 0, 'h2load not found on PATH: install it with `apt-get install nghttp2-client`');

    const { code, output } = await runQuickBench(480_000);
    assert.equal(code, 0, `bench --quick failed:\n${output.slice(-4000)}`);

    const result = JSON.parse(readFileSync(join(ROOT, 'bench', 'results', 'latest.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(result['mode'], 'quick');
    assert.equal(typeof result['date'], 'string');
    const environment = result['environment'] as { node: string; h2load: string; cpus: { count: number }; pinning: { description: string } };
    assert.equal(environment.node, process.version);
    assert.ok(environment.cpus.count > 0);
    assert.match(environment.h2load, /nghttp2/);
    assert.equal(typeof environment.pinning.description, 'string');

    const scenarios = result['scenarios'] as ScenarioJson[];
    assert.deepEqual(
      scenarios.map((s) => s.name),
      SCENARIOS.map((s) => s.name),
    );
    for (const scenario of scenarios) assert.equal(scenario.failed, undefined, `${scenario.name}: ${scenario.failed}`);
    for (const { name, variants, ratios } of MEASURED.flatMap((m) => m.names.map((name) => ({ ...m, name })))) {
      const scenario = scenarios.find((s) => s.name === name) as ScenarioJson;
      assert.equal(scenario.skipped, undefined);
      for (const variant of variants) {
        const run = scenario.runs.find((r) => r.variant === variant && r.concurrency === 16);
        assert.ok(run, `${name}: no run of ${variant} at 16 in flight`);
        assert.ok(run.requests >= 16, `${name}/${variant}: ${run.requests} requests`);
        assert.ok(run.throughput > 0);
        for (const p of ['p50', 'p90', 'p99']) assert.equal(typeof run.latencyMs[p], 'number');
        assert.equal(typeof run.serverCpuUsPerRequest, 'number');
        assert.deepEqual(run.problems, []);
        assert.ok(scenario.summary.some((c) => c.variant === variant && c.concurrency === 16));
      }
      for (const label of ratios) {
        const ratio = scenario.ratios.find((r) => r.label === label && r.concurrency === 16);
        assert.ok(ratio, `${name}: ratio ${label} at 16 missing`);
        for (const metric of ['throughput', 'p50', 'p99', 'cpuUsPerRequest', 'rssKb'] as const) {
          // null: a quick run may take the server less than /proc's 10 ms CPU tick, and a
          // ratio to 0 is not a number JSON can hold.
          const value = ratio.median[metric] as number | null;
          assert.ok(value === null || typeof value === 'number', `${name}: ${label} ${metric} is ${value}`);
          assert.equal(ratio.rounds[metric].length, 1);
        }
      }
    }

    const soak = result['soak'] as { requests: number; rssGrowthPct: number; memory: { end: { rssKb: number } } };
    assert.ok(soak.requests > 0);
    assert.equal(typeof soak.rssGrowthPct, 'number');
    assert.ok(soak.memory.end.rssKb > 0);
    assert.ok('codec' in result, 'the codec micro-benchmark section is missing');
    assert.ok(Array.isArray(result['targets']));
    assert.deepEqual(result['problems'], []);
  });
});
