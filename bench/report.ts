// What a scenario's runs add up to: medians per variant, ratios between variants with
// the issues' targets, and the tables printed for them.
import type { Metric, Scenario, Target } from './scenarios.js';
import { fmtFixed, fmtInt, median, round, table } from './stats.js';

export interface RunRecord {
  readonly round: number;
  /** Requests in flight: `streams` concurrent streams on each of `connections`. */
  readonly concurrency: number;
  readonly connections: number;
  readonly streams: number;
  readonly variant: string;
  /** Completed: the measured run is this many requests, all of which must complete. */
  readonly requests: number;
  readonly seconds: number;
  readonly throughput: number;
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly mean: number; readonly max: number };
  /** Server CPU (user + system, all threads) from h2load's start to its exit, per request. */
  readonly serverCpuUsPerRequest: number;
  /** Over the same window, % of one core. */
  readonly serverCpuPct: number;
  /** h2load's own; near 100 means the client, not the server, set the pace. Null when h2load exited before it could be read. */
  readonly clientCpuPct: number | null;
  /** Server RSS right after the run. */
  readonly rssKb: number;
  readonly dataBytes: number;
  readonly problems: readonly string[];
}

type Figures = Readonly<Record<Metric, number>>;
type RoundFigures = Readonly<Record<Metric, readonly number[]>>;

export interface CellSummary {
  readonly concurrency: number;
  readonly variant: string;
  /** Medians over the rounds. */
  readonly median: Figures & { readonly p90: number; readonly clientCpuPct: number };
  readonly rounds: RoundFigures;
}

export interface TargetResult extends Target {
  readonly value: number;
  readonly met: boolean;
}

export interface RatioSummary {
  readonly label: string;
  readonly numerator: string;
  readonly denominator: string;
  readonly concurrency: number;
  /** numerator ÷ denominator of the medians. */
  readonly median: Figures;
  /** numerator ÷ denominator of each round. */
  readonly rounds: RoundFigures;
  /** The targets checked at this concurrency. */
  readonly targets: readonly TargetResult[];
}

function figure(run: RunRecord, metric: Metric): number {
  switch (metric) {
    case 'throughput':
      return run.throughput;
    case 'p50':
      return run.latencyMs.p50;
    case 'p99':
      return run.latencyMs.p99;
    case 'cpuUsPerRequest':
      return run.serverCpuUsPerRequest;
    case 'rssKb':
      return run.rssKb;
  }
}

function byMetric<T>(fn: (metric: Metric) => T): Readonly<Record<Metric, T>> {
  return { throughput: fn('throughput'), p50: fn('p50'), p99: fn('p99'), cpuUsPerRequest: fn('cpuUsPerRequest'), rssKb: fn('rssKb') };
}

export function summarize(runs: readonly RunRecord[], concurrency: readonly number[], variants: readonly string[]): CellSummary[] {
  const cells: CellSummary[] = [];
  for (const c of concurrency) {
    for (const variant of variants) {
      const rs = runs.filter((r) => r.concurrency === c && r.variant === variant);
      if (rs.length === 0) continue;
      cells.push({
        concurrency: c,
        variant,
        median: {
          ...byMetric((m) => round(median(rs.map((r) => figure(r, m))), 4)),
          p90: round(median(rs.map((r) => r.latencyMs.p90)), 4),
          clientCpuPct: round(median(rs.flatMap((r) => (r.clientCpuPct === null ? [] : [r.clientCpuPct]))), 1),
        },
        rounds: byMetric((m) => rs.map((r) => figure(r, m))),
      });
    }
  }
  return cells;
}

function checkTarget(target: Target, value: number): TargetResult {
  const met = (target.min === undefined || value >= target.min) && (target.max === undefined || value <= target.max);
  return { ...target, value, met };
}

export function ratios(scenario: Scenario, runs: readonly RunRecord[], cells: readonly CellSummary[], concurrency: readonly number[]): RatioSummary[] {
  const out: RatioSummary[] = [];
  const roundsRun = [...new Set(runs.map((r) => r.round))];
  for (const ratio of scenario.ratios) {
    for (const c of concurrency) {
      const num = cells.find((s) => s.concurrency === c && s.variant === ratio.numerator);
      const den = cells.find((s) => s.concurrency === c && s.variant === ratio.denominator);
      if (!num || !den) continue;
      const medians = byMetric((m) => round(num.median[m] / den.median[m], 3));
      out.push({
        label: ratio.label,
        numerator: ratio.numerator,
        denominator: ratio.denominator,
        concurrency: c,
        median: medians,
        rounds: byMetric((m) =>
          roundsRun.map((n) => {
            const a = runs.find((r) => r.round === n && r.concurrency === c && r.variant === ratio.numerator);
            const b = runs.find((r) => r.round === n && r.concurrency === c && r.variant === ratio.denominator);
            return a && b ? round(figure(a, m) / figure(b, m), 3) : NaN;
          }),
        ),
        targets: (ratio.targets ?? []).filter((t) => t.concurrency.includes(c)).map((t) => checkTarget(t, medians[t.metric])),
      });
    }
  }
  return out;
}

export const mb = (kb: number | undefined): string => (kb === undefined ? '-' : (kb / 1024).toFixed(1));

const METRIC_LABEL: Readonly<Record<Metric, string>> = { throughput: 'req/s', p50: 'p50', p99: 'p99', cpuUsPerRequest: 'cpu/req', rssKb: 'rss' };

function formatTargets(targets: readonly TargetResult[]): string {
  return targets
    .map((t) => `${METRIC_LABEL[t.metric]} ${t.min !== undefined ? `≥ ${t.min}` : `≤ ${t.max}`} ${t.met ? 'met' : 'MISSED'}`)
    .join('; ');
}

const perRound = (values: readonly number[], format: (x: number) => string): string => values.map(format).join(' / ');
const ratioFmt = (x: number): string => fmtFixed(x, 3);

export function printScenario(summary: readonly CellSummary[], ratioSummaries: readonly RatioSummary[], rssBefore: ReadonlyMap<string, number>): void {
  const rows = [['conc', 'variant', 'req/s', 'per round', 'p50 ms', 'p90 ms', 'p99 ms', 'srv µs/req', 'per round', 'srv RSS MB', 'h2load cpu %']];
  for (const cell of summary) {
    rows.push([
      String(cell.concurrency),
      cell.variant,
      fmtInt(cell.median.throughput),
      perRound(cell.rounds.throughput, fmtInt),
      fmtFixed(cell.median.p50, 3),
      fmtFixed(cell.median.p90, 3),
      fmtFixed(cell.median.p99, 3),
      fmtFixed(cell.median.cpuUsPerRequest, 1),
      perRound(cell.rounds.cpuUsPerRequest, (x) => fmtFixed(x, 0)),
      `${mb(rssBefore.get(cell.variant))}→${mb(cell.median.rssKb)}`,
      fmtFixed(cell.median.clientCpuPct, 0),
    ]);
  }
  console.log(`\nmedians of the rounds:\n${table(rows)}`);
  const ratioRows = [['ratio', 'conc', 'req/s ×', 'per round', 'p50 ×', 'p99 ×', 'per round', 'cpu/req ×', 'per round', 'rss ×', 'targets']];
  for (const r of ratioSummaries) {
    ratioRows.push([
      r.label,
      String(r.concurrency),
      ratioFmt(r.median.throughput),
      perRound(r.rounds.throughput, ratioFmt),
      ratioFmt(r.median.p50),
      ratioFmt(r.median.p99),
      perRound(r.rounds.p99, ratioFmt),
      ratioFmt(r.median.cpuUsPerRequest),
      perRound(r.rounds.cpuUsPerRequest, ratioFmt),
      ratioFmt(r.median.rssKb),
      formatTargets(r.targets),
    ]);
  }
  console.log(`\nratios (numerator ÷ denominator; req/s above 1 and the others below 1 favour the numerator):\n${table(ratioRows)}`);
}

export interface ScenarioFigures {
  readonly name: string;
  readonly summary: readonly CellSummary[];
  readonly ratios: readonly RatioSummary[];
}

export function printFinal(scenarios: readonly ScenarioFigures[]): void {
  const rows = [['scenario', 'conc', 'ratio', 'req/s', 'req/s ×', 'per round', 'p99 ×', 'cpu/req ×', 'targets']];
  for (const s of scenarios) {
    for (const r of s.ratios) {
      const num = s.summary.find((c) => c.concurrency === r.concurrency && c.variant === r.numerator);
      rows.push([
        s.name,
        String(r.concurrency),
        r.label,
        fmtInt(num?.median.throughput ?? NaN),
        ratioFmt(r.median.throughput),
        perRound(r.rounds.throughput, ratioFmt),
        ratioFmt(r.median.p99),
        ratioFmt(r.median.cpuUsPerRequest),
        formatTargets(r.targets),
      ]);
    }
  }
  console.log(`\n== summary (req/s: the numerator's median; ×: numerator ÷ denominator of the medians)\n${table(rows)}`);
}
