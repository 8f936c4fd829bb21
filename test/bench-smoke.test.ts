// `npm run bench -- --quick` end to end, once: it must finish and write valid JSON.
// No timing is asserted: figures from a shared CI machine mean nothing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

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

describe('bench', () => {
  test('bench - --quick exits 0 and writes bench/results/latest.json with every section', { timeout: 120_000 }, async () => {
    const { code, output } = await runQuickBench(110_000);
    assert.equal(code, 0, `bench --quick failed:\n${output.slice(-4000)}`);

    const result = JSON.parse(readFileSync(join(ROOT, 'bench', 'results', 'latest.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(result['mode'], 'quick');
    assert.equal(typeof result['date'], 'string');
    const environment = result['environment'] as { node: string; cpus: { count: number; model: string } };
    assert.equal(environment.node, process.version);
    assert.ok(environment.cpus.count > 0);

    interface Run {
      variant: string;
      concurrency: number;
      throughput: number;
      latencyMs: Record<string, number>;
    }
    const scenarios = result['scenarios'] as {
      name: string;
      skipped?: string;
      runs: Run[];
      ratios: { label: string; concurrency: number; throughputRatio: number }[];
    }[];
    const names = scenarios.map((s) => s.name);
    for (const name of ['simple-raw', 'simple-typed', 'identity-fp32-4mib', 'simple-string']) {
      const scenario = scenarios.find((s) => s.name === name);
      assert.ok(scenario, `scenario ${name} missing from ${names.join(', ')}`);
      assert.equal(scenario.skipped, undefined);
      for (const variant of ['baseline-a', 'baseline-b', 'v2serve']) {
        for (const concurrency of [1, 16]) {
          const run: Run | undefined = scenario.runs.find((r) => r.variant === variant && r.concurrency === concurrency);
          assert.ok(run, `${name}: no run of ${variant} at concurrency ${concurrency}`);
          assert.ok(run.throughput > 0);
          for (const p of ['p50', 'p90', 'p99']) assert.equal(typeof run.latencyMs[p], 'number');
        }
      }
      for (const label of ['v2serve/baseline-a', 'v2serve/baseline-b']) {
        assert.ok(scenario.ratios.some((r) => r.label === label), `${name}: ratio ${label} missing`);
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
