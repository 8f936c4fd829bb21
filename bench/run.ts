// `npm run bench`: v2serve against two grpc-js ceilings measured in the same run on the
// same machine, then a memory soak and the bench/*.bench.ts micro-benchmarks.
//
//   npm run bench                       full figures (≈ 5–8 min)
//   npm run bench -- --quick            CI smoke: a few seconds, 1 round, concurrency 1 and 16
//   npm run bench -- --only=simple-raw --concurrency=64 --cpu-prof
//                                       one scenario, with a CPU profile of each v2serve
//
// Every server and the load generator is its own process: v2serve (bin/v2serve.js),
// baseline (a) and (b) (bench/baseline-server.ts), the load generator
// (bench/load-generator.ts), nats-server when a variant needs it. Variants of a
// scenario are measured in turn, round after round (A/B/A/B), so drift on a shared
// machine shows up as differing rounds instead of a skewed ratio.
// Writes bench/results/latest.json (and latest-<mode>.json, which a --quick run does
// not overwrite with quick figures when the last full run is what you want to keep).
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { credentials } from '@grpc/grpc-js';
import { GRPCInferenceServiceClient, ModelInferRequest, ModelInferResponse } from '../generated/grpc_service.js';
import { rawClient, rawModelInfer } from './grpc-raw.js';
import type { FromLoadGenerator, LoadJob, LoadResult, ToLoadGenerator } from './load-generator.js';
import {
  CLI,
  procCpuSeconds,
  procMemory,
  PROJECT_ROOT,
  spawnServer,
  v2serveHelp,
  type ProcMemory,
  type ServerProcess,
} from './processes.js';
import { findNatsServer, startNatsServer, type NatsServer } from '../test/helpers/nats-server.js';
import { formatProfile, summarizeProfile, type ProfileSummary } from './profile-summary.js';
import { SCENARIOS, SOAK, type Scenario, type ServerVariant } from './scenarios.js';
import { fmtFixed, fmtInt, mean, round, table } from './stats.js';

const BENCH_DIR = join(PROJECT_ROOT, 'bench');
const RESULTS_DIR = join(BENCH_DIR, 'results');

interface Settings {
  readonly rounds: number;
  readonly concurrency: readonly number[];
  readonly warmupSeconds: number;
  readonly measureSeconds: number;
  /** Per measured run; the time bound usually ends a run first. */
  readonly maxRequests: number;
  readonly soakRequests: number;
  /** The soak is bounded by count; this only stops a soak that hangs. */
  readonly soakMaxSeconds: number;
  readonly subBenchTimeoutSeconds: number;
}

const MODES: Record<'quick' | 'full', Settings> = {
  quick: {
    rounds: 1,
    concurrency: [1, 16],
    warmupSeconds: 0.05,
    measureSeconds: 0.2,
    maxRequests: 2_000,
    soakRequests: 5_000,
    soakMaxSeconds: 60,
    subBenchTimeoutSeconds: 30,
  },
  full: {
    // Three short rounds rather than two long ones: more alternation, so drift on a
    // shared machine spreads over every variant instead of landing on one.
    rounds: 3,
    concurrency: [1, 16, 64],
    warmupSeconds: 0.3,
    measureSeconds: 1.5,
    maxRequests: 500_000,
    soakRequests: 200_000,
    soakMaxSeconds: 240,
    subBenchTimeoutSeconds: 180,
  },
};

const USAGE = `usage: npm run bench -- [--quick] [--only=NAME,...] [--concurrency=1,16,64] [--rounds=N]
                        [--seconds=S] [--soak-requests=N] [--cpu-prof]
  --quick        CI smoke: tiny counts, 1 round, concurrency 1 and 16
  --only         scenarios to run (${SCENARIOS.map((s) => s.name).join(', ')}),
                 'soak', and sub-benchmark subjects (e.g. 'codec'); default all
  --cpu-prof     profile every server process (node --cpu-prof) and print its top self-time functions
                 (bench/results/profiles/<scenario>/<variant>/)
`;

/** The nats-server the tests start is the one the monitoring scenarios use: same helper. */
function natsServerInstalled(): boolean {
  try {
    findNatsServer();
    return true;
  } catch {
    return false;
  }
}

/* ----------------------------------------------------------------------------------------- */
/* The load generator process                                                                 */

interface JobHooks {
  onMeasuring?: () => void;
  onProgress?: (completed: number) => void;
}

class LoadGenerator {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (r: LoadResult) => void; reject: (e: Error) => void; hooks: JobHooks }
  >();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: FromLoadGenerator) => {
      if (message.type === 'ready') return;
      const job = this.pending.get(message.id);
      if (!job) return;
      if (message.type === 'measuring') job.hooks.onMeasuring?.();
      else if (message.type === 'progress') job.hooks.onProgress?.(message.completed);
      else {
        this.pending.delete(message.id);
        if (message.type === 'result') job.resolve(message.result);
        else job.reject(new Error(`load generator: ${message.error}`));
      }
    });
    child.on('exit', (code, signal) => {
      for (const job of this.pending.values()) job.reject(new Error(`load generator exited (${signal ?? code})`));
      this.pending.clear();
    });
  }

  static start(): Promise<LoadGenerator> {
    const child = fork(join(BENCH_DIR, 'load-generator.ts'), [], {
      cwd: PROJECT_ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      child.once('message', (message: FromLoadGenerator) => {
        if (message.type === 'ready') resolve(new LoadGenerator(child));
      });
      child.once('exit', (code) => reject(new Error(`load generator exited (${code}) before it was ready`)));
    });
  }

  run(job: Omit<LoadJob, 'id'>, hooks: JobHooks = {}): Promise<LoadResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, hooks });
      this.child.send({ type: 'run', job: { ...job, id } } satisfies ToLoadGenerator);
    });
  }

  close(): void {
    if (this.child.connected) this.child.disconnect();
  }
}

/* ----------------------------------------------------------------------------------------- */
/* Servers                                                                                    */

interface RunningVariant {
  readonly variant: ServerVariant;
  readonly server: ServerProcess;
  readonly profileDir: string | undefined;
}

async function waitReady(address: string, timeoutMs = 30_000): Promise<void> {
  const client = new GRPCInferenceServiceClient(address, credentials.createInsecure());
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const ready = await new Promise<boolean>((resolve) => client.serverReady({}, (err, res) => resolve(!err && res.ready)));
      if (ready) return;
      if (Date.now() > deadline) throw new Error(`v2serve at ${address} not ready after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    client.close();
  }
}

async function startV2serve(
  variant: ServerVariant,
  nats: NatsServer | undefined,
  tmp: string,
  profileDir: string | undefined,
): Promise<RunningVariant> {
  const args = ['--grpc-address=127.0.0.1', '--grpc-port=0', ...(variant.args ?? []).map((a) => a.replaceAll('{nats}', nats?.url ?? ''))];
  if (variant.repository) {
    const dir = mkdtempSync(join(tmp, `${variant.id}-repo-`));
    args.push(`--model-repository=${variant.repository(dir)}`);
  }
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const server = await spawnServer(nodeArgs, CLI, args);
  try {
    await waitReady(server.address);
  } catch (err) {
    await server.stop(1000);
    throw new Error(`${(err as Error).message}\n${server.output()}`);
  }
  return { variant, server, profileDir };
}

async function startBaseline(variant: ServerVariant, responseFile: string, tmp: string, profileDir: string | undefined): Promise<RunningVariant> {
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const nodeArgs = ['--import', 'tsx', ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
  if (variant.kind === 'onnx-direct') {
    // Computes its own answers, from the same model files the v2serve variants serve.
    if (!variant.repository) throw new Error(`${variant.id}: an onnx-direct variant needs a repository`);
    const repository = variant.repository(mkdtempSync(join(tmp, `${variant.id}-repo-`)));
    const server = await spawnServer(nodeArgs, join(BENCH_DIR, 'onnx-direct-server.ts'), [`--model-repository=${repository}`]);
    return { variant, server, profileDir };
  }
  const kind = variant.kind === 'baseline-a' ? 'generated' : 'raw';
  const server = await spawnServer(nodeArgs, join(BENCH_DIR, 'baseline-server.ts'), [`--kind=${kind}`, `--response=${responseFile}`]);
  return { variant, server, profileDir };
}

/** Starts servers side by side; every one that started lands in `running`, so it is stopped even if another failed. */
async function startAll(
  running: RunningVariant[],
  variants: readonly ServerVariant[],
  start: (v: ServerVariant) => Promise<RunningVariant>,
): Promise<void> {
  const settled = await Promise.allSettled(variants.map(start));
  for (const s of settled) if (s.status === 'fulfilled') running.push(s.value);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
}

/** One call through the identity client, as the load generator makes it. */
async function probe(address: string, request: Buffer): Promise<Buffer> {
  const client = rawClient(address);
  try {
    return await rawModelInfer(client, request);
  } finally {
    client.close();
  }
}

/**
 * The profiles a process left: one per thread (CPU.<date>.<time>.<pid>.<thread>.<seq>):
 * the main thread, tsx's module-hooks thread, model worker threads if any. Threads that
 * were busy less than a quarter of the busiest one (tsx's: start-up only) are left out.
 */
function threadProfiles(dir: string): ProfileSummary[] {
  if (!existsSync(dir)) return [];
  const summaries = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => summarizeProfile(join(dir, f)))
    .sort((a, b) => b.totalMs - b.idleMs - (a.totalMs - a.idleMs));
  const busiest = summaries[0] ? summaries[0].totalMs - summaries[0].idleMs : 0;
  return summaries.filter((p) => p.totalMs - p.idleMs >= busiest / 4);
}

/* ----------------------------------------------------------------------------------------- */
/* Results                                                                                    */

interface RunRecord {
  readonly round: number;
  readonly concurrency: number;
  readonly variant: string;
  readonly requests: number;
  readonly errors: number;
  readonly mismatched: number;
  readonly firstError?: string;
  readonly seconds: number;
  readonly throughput: number;
  readonly latencyMs: LoadResult['latencyMs'];
  /** Server CPU (user + system, all threads) per measured request. */
  readonly serverCpuUsPerRequest: number;
  /** Server CPU use over the measured phase, % of one core. */
  readonly serverCpuPct: number;
  readonly clientCpuPct: number;
  readonly stoppedBy: LoadResult['stoppedBy'];
}

interface CellSummary {
  readonly concurrency: number;
  readonly variant: string;
  readonly throughputMean: number;
  readonly throughputRounds: readonly number[];
  readonly latencyMsMean: { readonly p50: number; readonly p90: number; readonly p99: number };
  readonly serverCpuUsPerRequestMean: number;
  readonly clientCpuPctMean: number;
}

interface RatioSummary {
  readonly label: string;
  readonly concurrency: number;
  /** mean(numerator req/s) / mean(denominator req/s) */
  readonly throughputRatio: number;
  /** Per round: numerator / denominator of that round. */
  readonly throughputRatioRounds: readonly number[];
  /** Denominator CPU µs/request ÷ numerator CPU µs/request: > 1 means the numerator is cheaper. */
  readonly cpuEfficiencyRatio: number;
  readonly target?: number;
  readonly met?: boolean;
}

interface VariantRecord {
  readonly id: string;
  readonly kind: string;
  readonly description: string;
  readonly args?: readonly string[];
  readonly skipped?: string;
  readonly pid?: number;
  readonly responseBytes?: number;
  readonly memoryBefore?: ProcMemory;
  readonly memoryAfter?: ProcMemory;
  /** --cpu-prof: one summary per busy thread, the busiest first. */
  readonly profiles?: readonly ProfileSummary[];
}

interface ScenarioRecord {
  readonly name: string;
  readonly description: string;
  readonly skipped?: string;
  /** Wall time of the scenario: server start-up, every run, shutdown. */
  readonly seconds?: number;
  /** 1-minute load average when the scenario started and ended: above the CPU count, others competed for the CPUs. */
  readonly loadavg?: readonly [number, number];
  readonly requestBytes?: number;
  readonly responseBytes?: number;
  readonly variants: readonly VariantRecord[];
  readonly runs: readonly RunRecord[];
  readonly summary: readonly CellSummary[];
  readonly ratios: readonly RatioSummary[];
}

interface SoakRecord {
  readonly scenario: string;
  readonly concurrency: number;
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  readonly throughput: number;
  readonly memory: { readonly start: ProcMemory; readonly checkpoint: ProcMemory; readonly end: ProcMemory };
  readonly checkpointFraction: number;
  /**
   * RSS readings every 2% of the requests: one reading is at the mercy of where the GC
   * happens to be, a trend is not.
   */
  readonly samples: readonly { readonly fraction: number; readonly rssKb: number }[];
  readonly rssGrowthPct: number;
  readonly targetMaxGrowthPct: number;
  readonly met: boolean;
}

interface SubBenchRecord {
  readonly subject: string;
  readonly file: string;
  readonly status: 'ok' | 'failed' | 'timed-out' | 'absent';
  readonly exitCode?: number | null;
  readonly seconds?: number;
  readonly note?: string;
  /** bench/results/<subject>.json when the bench wrote it, else the JSON lines it printed. */
  readonly results?: unknown;
}

/* ----------------------------------------------------------------------------------------- */

function summarize(runs: readonly RunRecord[], concurrency: readonly number[], variants: readonly string[]): CellSummary[] {
  const cells: CellSummary[] = [];
  for (const c of concurrency) {
    for (const variant of variants) {
      const rs = runs.filter((r) => r.concurrency === c && r.variant === variant);
      if (rs.length === 0) continue;
      cells.push({
        concurrency: c,
        variant,
        throughputMean: round(mean(rs.map((r) => r.throughput)), 1),
        throughputRounds: rs.map((r) => r.throughput),
        latencyMsMean: {
          p50: round(mean(rs.map((r) => r.latencyMs.p50)), 4),
          p90: round(mean(rs.map((r) => r.latencyMs.p90)), 4),
          p99: round(mean(rs.map((r) => r.latencyMs.p99)), 4),
        },
        serverCpuUsPerRequestMean: round(mean(rs.map((r) => r.serverCpuUsPerRequest)), 1),
        clientCpuPctMean: round(mean(rs.map((r) => r.clientCpuPct)), 1),
      });
    }
  }
  return cells;
}

function ratios(scenario: Scenario, runs: readonly RunRecord[], cells: readonly CellSummary[], concurrency: readonly number[]): RatioSummary[] {
  const out: RatioSummary[] = [];
  for (const ratio of scenario.ratios) {
    for (const c of concurrency) {
      const num = cells.find((s) => s.concurrency === c && s.variant === ratio.numerator);
      const den = cells.find((s) => s.concurrency === c && s.variant === ratio.denominator);
      if (!num || !den) continue;
      const perRound = [...new Set(runs.map((r) => r.round))].map((round_) => {
        const n = runs.find((r) => r.round === round_ && r.concurrency === c && r.variant === ratio.numerator);
        const d = runs.find((r) => r.round === round_ && r.concurrency === c && r.variant === ratio.denominator);
        return n && d ? round(n.throughput / d.throughput, 3) : NaN;
      });
      const throughputRatio = round(num.throughputMean / den.throughputMean, 3);
      const checked = ratio.target !== undefined && ratio.targetConcurrency === c;
      out.push({
        label: ratio.label,
        concurrency: c,
        throughputRatio,
        throughputRatioRounds: perRound,
        cpuEfficiencyRatio: round(den.serverCpuUsPerRequestMean / num.serverCpuUsPerRequestMean, 3),
        ...(checked ? { target: ratio.target, met: throughputRatio >= (ratio.target as number) } : {}),
      });
    }
  }
  return out;
}

const mb = (m: ProcMemory | undefined): string => (m ? (m.rssKb / 1024).toFixed(1) : '-');

function printScenario(record: ScenarioRecord): void {
  const rows = [['conc', 'variant', 'req/s', 'per round', 'p50 ms', 'p90 ms', 'p99 ms', 'srv µs/req', 'srv RSS MB', 'client cpu %']];
  for (const cell of record.summary) {
    const v = record.variants.find((x) => x.id === cell.variant);
    rows.push([
      String(cell.concurrency),
      cell.variant,
      fmtInt(cell.throughputMean),
      cell.throughputRounds.map(fmtInt).join(' / '),
      fmtFixed(cell.latencyMsMean.p50, 3),
      fmtFixed(cell.latencyMsMean.p90, 3),
      fmtFixed(cell.latencyMsMean.p99, 3),
      fmtFixed(cell.serverCpuUsPerRequestMean, 0),
      `${mb(v?.memoryBefore)}→${mb(v?.memoryAfter)}`,
      fmtFixed(cell.clientCpuPctMean, 0),
    ]);
  }
  console.log(`\n${table(rows)}`);
  const ratioRows = [['ratio', 'conc', 'req/s ratio', 'per round', 'cpu/req ratio', 'target']];
  for (const r of record.ratios) {
    ratioRows.push([
      r.label,
      String(r.concurrency),
      fmtFixed(r.throughputRatio, 3),
      r.throughputRatioRounds.map((x) => fmtFixed(x, 3)).join(' / '),
      fmtFixed(r.cpuEfficiencyRatio, 3),
      r.target === undefined ? '' : `≥ ${r.target} ${r.met ? 'met' : 'MISSED'}`,
    ]);
  }
  console.log(`\n${table(ratioRows)}`);
}

/* ----------------------------------------------------------------------------------------- */

interface Context {
  readonly settings: Settings;
  readonly load: LoadGenerator;
  readonly tmp: string;
  readonly help: string;
  /** Whether nats-server is installed (the monitoring variants need it). */
  readonly natsInstalled: boolean;
  readonly cpuProf: boolean;
  readonly problems: string[];
  readonly notes: string[];
}

function whySkipped(variant: ServerVariant, ctx: Context): string | undefined {
  const missing = (variant.requiresFlags ?? []).filter((flag) => !ctx.help.includes(flag));
  if (missing.length > 0) return `v2serve --help does not list ${missing.join(', ')} yet`;
  if (variant.needsNats && !ctx.natsInstalled) return 'nats-server not found on PATH or in /usr/sbin (apt-get install nats-server)';
  return undefined;
}

async function runScenario(scenario: Scenario, ctx: Context): Promise<ScenarioRecord> {
  const { settings } = ctx;
  const skipped = new Map(scenario.variants.map((v) => [v.id, whySkipped(v, ctx)]));
  const active = scenario.variants.filter((v) => !skipped.get(v.id));
  const variantRecords = (extra: Map<string, Partial<VariantRecord>>): VariantRecord[] =>
    scenario.variants.map((v) => {
      const why = skipped.get(v.id);
      return {
        id: v.id,
        kind: v.kind,
        description: v.description,
        ...(v.args ? { args: v.args } : {}),
        ...(why ? { skipped: why } : {}),
        ...extra.get(v.id),
      };
    });
  const reference = active.find((v) => v.kind === 'v2serve');
  if (active.length < 2 || !reference) {
    const why = [...skipped].filter(([, w]) => w).map(([id, w]) => `${id}: ${w}`).join('; ');
    console.log(`\n== ${scenario.name}: skipped (${why})`);
    ctx.notes.push(`scenario ${scenario.name} skipped: ${why}`);
    return { name: scenario.name, description: scenario.description, skipped: why, variants: variantRecords(new Map()), runs: [], summary: [], ratios: [] };
  }
  for (const v of scenario.variants) {
    const why = skipped.get(v.id);
    if (why) ctx.notes.push(`${scenario.name}/${v.id} skipped: ${why}`);
  }

  const started = Date.now();
  const loadStart = round(loadavg()[0] as number, 2);
  const requestBytes = Buffer.from(ModelInferRequest.encode(scenario.request()).finish());
  const requestFile = join(ctx.tmp, `${scenario.name}.request.bin`);
  writeFileSync(requestFile, requestBytes);

  const nats = active.some((v) => v.needsNats) ? await startNatsServer() : undefined;
  const running: RunningVariant[] = [];
  const extra = new Map<string, Partial<VariantRecord>>();
  const runs: RunRecord[] = [];
  let responseBytes = 0;
  try {
    // v2serve first: its answer to the request is what the baselines return.
    const profileRoot = join(RESULTS_DIR, 'profiles', scenario.name);
    if (ctx.cpuProf) rmSync(profileRoot, { recursive: true, force: true });
    await startAll(running, active.filter((x) => x.kind === 'v2serve'), (v) =>
      startV2serve(v, nats, ctx.tmp, ctx.cpuProf ? join(profileRoot, v.id) : undefined),
    );
    const responses = new Map<string, Buffer>();
    for (const r of running) responses.set(r.variant.id, await probe(r.server.address, requestBytes));
    const response = responses.get(reference.id) as Buffer;
    const decoded = ModelInferResponse.decode(response);
    if (decoded.outputs.length === 0 || decoded.rawOutputContents.length !== decoded.outputs.length) {
      throw new Error(`${scenario.name}: v2serve answered without raw outputs: ${JSON.stringify(ModelInferResponse.toJSON(decoded)).slice(0, 300)}`);
    }
    responseBytes = response.length;
    const responseFile = join(ctx.tmp, `${scenario.name}.response.bin`);
    writeFileSync(responseFile, response);
    await startAll(running, active.filter((x) => x.kind !== 'v2serve'), (v) =>
      startBaseline(v, responseFile, ctx.tmp, ctx.cpuProf ? join(profileRoot, v.id) : undefined),
    );
    for (const r of running) {
      if (r.variant.kind !== 'v2serve') responses.set(r.variant.id, await probe(r.server.address, requestBytes));
      const got = (responses.get(r.variant.id) as Buffer).length;
      if (got !== responseBytes) throw new Error(`${scenario.name}/${r.variant.id}: response is ${got} bytes, ${reference.id}'s ${responseBytes}`);
      extra.set(r.variant.id, { pid: r.server.pid, responseBytes: got, memoryBefore: procMemory(r.server.pid) });
    }

    console.log(`\n== ${scenario.name}: ${scenario.description}; request ${requestBytes.length} B, response ${responseBytes} B`);
    // Measured in the table's order, round after round: A/B/A/B.
    const byId = new Map(running.map((r) => [r.variant.id, r]));
    for (let round_ = 1; round_ <= settings.rounds; round_++) {
      for (const concurrency of settings.concurrency) {
        for (const v of active) {
          const r = byId.get(v.id) as RunningVariant;
          const pid = r.server.pid;
          let cpuStart = procCpuSeconds(pid);
          const result = await ctx.load.run(
            {
              address: r.server.address,
              requestFile,
              concurrency,
              warmupSeconds: settings.warmupSeconds,
              maxSeconds: settings.measureSeconds * (scenario.timeScale ?? 1),
              maxRequests: settings.maxRequests,
              expectResponseBytes: responseBytes,
            },
            { onMeasuring: () => (cpuStart = procCpuSeconds(pid)) },
          );
          const cpuSeconds = procCpuSeconds(pid) - cpuStart;
          const record: RunRecord = {
            round: round_,
            concurrency,
            variant: v.id,
            requests: result.requests,
            errors: result.errors,
            mismatched: result.mismatched,
            ...(result.firstError ? { firstError: result.firstError } : {}),
            seconds: result.seconds,
            throughput: result.throughput,
            latencyMs: result.latencyMs,
            serverCpuUsPerRequest: round((cpuSeconds * 1e6) / Math.max(1, result.requests), 1),
            serverCpuPct: round((cpuSeconds / result.seconds) * 100, 1),
            clientCpuPct: result.clientCpuPct,
            stoppedBy: result.stoppedBy,
          };
          runs.push(record);
          const bad = record.errors + record.mismatched > 0 || record.stoppedBy === 'hard-timeout';
          if (bad) {
            ctx.problems.push(
              `${scenario.name} r${round_} c${concurrency} ${v.id}: ${record.errors} errors, ${record.mismatched} mismatched, stopped by ${record.stoppedBy}${record.firstError ? ` (${record.firstError})` : ''}`,
            );
          }
          console.log(
            `  r${round_} c${String(concurrency).padEnd(3)} ${v.id.padEnd(16)} ${fmtInt(record.throughput).padStart(8)} req/s` +
              `  p50 ${fmtFixed(record.latencyMs.p50, 3)} p90 ${fmtFixed(record.latencyMs.p90, 3)} p99 ${fmtFixed(record.latencyMs.p99, 3)} ms` +
              `  srv ${fmtFixed(record.serverCpuUsPerRequest, 0)} µs/req (${fmtFixed(record.serverCpuPct, 0)}%)  client ${fmtFixed(record.clientCpuPct, 0)}%` +
              `  n=${record.requests}${bad ? '  ERRORS' : ''}`,
          );
        }
      }
    }
    for (const r of running) extra.set(r.variant.id, { ...extra.get(r.variant.id), memoryAfter: procMemory(r.server.pid) });
  } finally {
    for (const r of running) {
      const how = await r.server.stop();
      if (how !== '0' && r.variant.kind === 'v2serve') ctx.problems.push(`${scenario.name}/${r.variant.id}: v2serve exited with ${how}`);
    }
    await nats?.cleanup();
  }
  for (const r of running) {
    const profiles = r.profileDir ? threadProfiles(r.profileDir) : [];
    if (profiles.length === 0) continue;
    extra.set(r.variant.id, { ...extra.get(r.variant.id), profiles });
    for (const profile of profiles) console.log(`\n${scenario.name}/${r.variant.id} ${formatProfile(profile)}`);
  }

  const ids = active.map((v) => v.id);
  const summary = summarize(runs, settings.concurrency, ids);
  const record: ScenarioRecord = {
    name: scenario.name,
    description: scenario.description,
    seconds: round((Date.now() - started) / 1000, 1),
    loadavg: [loadStart, round(loadavg()[0] as number, 2)],
    requestBytes: requestBytes.length,
    responseBytes,
    variants: variantRecords(extra),
    runs,
    summary,
    ratios: ratios(scenario, runs, summary, settings.concurrency),
  };
  printScenario(record);
  return record;
}

/** RSS readings taken during the soak, evenly spaced by request count. */
const SOAK_SAMPLES = 50;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * RSS growth as a trend: one reading lands anywhere on the GC's saw-tooth (±15% here), so
 * the median of the readings in the last fifth of the soak is compared with the median of
 * the fifth that follows the checkpoint (the warm-up before it is not growth).
 */
function rssTrendPct(samples: readonly { fraction: number; rssKb: number }[], checkpoint: number): number {
  const window = (from: number, to: number) => samples.filter((x) => x.fraction > from && x.fraction <= to).map((x) => x.rssKb);
  const early = window(checkpoint, checkpoint + 0.2);
  const late = window(0.8, 1);
  if (early.length === 0 || late.length === 0) return 0;
  return round(((median(late) - median(early)) / median(early)) * 100, 2);
}

async function runSoak(ctx: Context): Promise<SoakRecord> {
  const scenario = SCENARIOS.find((s) => s.name === SOAK.scenario) as Scenario;
  const requestFile = join(ctx.tmp, 'soak.request.bin');
  const requestBytes = Buffer.from(ModelInferRequest.encode(scenario.request()).finish());
  writeFileSync(requestFile, requestBytes);
  const requests = ctx.settings.soakRequests;
  const checkpointAt = Math.max(1, Math.round(requests * SOAK.checkpoint));
  console.log(`\n== soak: ${fmtInt(requests)} × ${scenario.name} at concurrency ${SOAK.concurrency} against a fresh v2serve`);
  const v2 = await startV2serve({ id: 'v2serve', kind: 'v2serve', description: 'soak' }, undefined, ctx.tmp, undefined);
  try {
    const expect = (await probe(v2.server.address, requestBytes)).length;
    const start = procMemory(v2.server.pid);
    let checkpoint: ProcMemory | undefined;
    const marks = Array.from({ length: SOAK_SAMPLES }, (_, i) => Math.max(1, Math.round((requests * (i + 1)) / SOAK_SAMPLES)));
    const samples: { fraction: number; rssKb: number }[] = [];
    const result = await ctx.load.run(
      {
        address: v2.server.address,
        requestFile,
        concurrency: SOAK.concurrency,
        warmupSeconds: 0,
        maxSeconds: ctx.settings.soakMaxSeconds,
        maxRequests: requests,
        expectResponseBytes: expect,
        progressAt: [...new Set([checkpointAt, ...marks])],
      },
      {
        onProgress: (completed) => {
          const memory = procMemory(v2.server.pid);
          if (completed === checkpointAt) checkpoint = memory;
          samples.push({ fraction: round(completed / requests, 3), rssKb: memory.rssKb });
        },
      },
    );
    const end = procMemory(v2.server.pid);
    const at = checkpoint ?? start;
    const growth = rssTrendPct(samples, SOAK.checkpoint);
    if (result.errors + result.mismatched > 0 || result.requests < requests) {
      ctx.problems.push(`soak: ${result.requests}/${requests} requests, ${result.errors} errors, ${result.mismatched} mismatched`);
    }
    const record: SoakRecord = {
      scenario: scenario.name,
      concurrency: SOAK.concurrency,
      requests: result.requests,
      errors: result.errors,
      seconds: result.seconds,
      throughput: result.throughput,
      memory: { start, checkpoint: at, end },
      checkpointFraction: SOAK.checkpoint,
      samples,
      rssGrowthPct: growth,
      targetMaxGrowthPct: SOAK.maxGrowthPct,
      met: growth < SOAK.maxGrowthPct,
    };
    console.log(
      `  ${fmtInt(result.requests)} requests in ${result.seconds.toFixed(1)} s (${fmtInt(result.throughput)} req/s); ` +
        `RSS MB start ${mb(start)}, at ${SOAK.checkpoint * 100}% ${mb(at)}, end ${mb(end)} (peak ${(end.hwmKb / 1024).toFixed(1)}); ` +
        `growth ${growth}% (median RSS of the last fifth vs of the fifth after the ${SOAK.checkpoint * 100}% mark; target < ${SOAK.maxGrowthPct}%: ${record.met ? 'met' : 'MISSED'})\n` +
        `  RSS MB every ${100 / SOAK_SAMPLES}%: ${samples.map((x) => (x.rssKb / 1024).toFixed(0)).join(' ')}`,
    );
    return record;
  } finally {
    await v2.server.stop();
  }
}

/** Runs bench/<subject>.bench.ts (the style guide's micro-benchmarks) as children. */
async function runSubBenches(ctx: Context, only: ReadonlySet<string> | undefined, quick: boolean): Promise<Record<string, SubBenchRecord>> {
  const out: Record<string, SubBenchRecord> = {};
  const files = readdirSync(BENCH_DIR).filter((f) => f.endsWith('.bench.ts'));
  const subjects = new Set([...files.map((f) => f.replace(/\.bench\.ts$/, '')), 'codec']);
  for (const subject of [...subjects].sort()) {
    if (only && !only.has(subject)) continue;
    const file = join(BENCH_DIR, `${subject}.bench.ts`);
    if (!existsSync(file)) {
      const note = `bench/${subject}.bench.ts does not exist (yet): skipped`;
      console.log(`\n== ${subject}: ${note}`);
      ctx.notes.push(note);
      out[subject] = { subject, file: `bench/${subject}.bench.ts`, status: 'absent', note };
      continue;
    }
    console.log(`\n== ${subject}: node --import tsx bench/${subject}.bench.ts${quick ? ' --quick' : ''}`);
    const resultsFile = join(RESULTS_DIR, `${subject}.json`);
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...(quick ? ['--quick'] : [])], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      process.stdout.write(text.replace(/^(?=.)/gm, '  '));
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, ctx.settings.subBenchTimeoutSeconds * 1000);
    const exitCode = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    clearTimeout(timer);
    const seconds = round((Date.now() - started) / 1000, 1);
    let results: unknown;
    if (existsSync(resultsFile) && statSync(resultsFile).mtimeMs >= started) {
      results = JSON.parse(readFileSync(resultsFile, 'utf8')) as unknown;
    } else {
      const lines = stdout.split('\n').filter((l) => l.trim().startsWith('{'));
      results = lines.flatMap((l) => {
        try {
          return [JSON.parse(l) as unknown];
        } catch {
          return [];
        }
      });
    }
    const status = timedOut ? 'timed-out' : exitCode === 0 ? 'ok' : 'failed';
    if (status !== 'ok') ctx.problems.push(`bench/${subject}.bench.ts ${status} (exit ${exitCode}, ${seconds} s)`);
    out[subject] = { subject, file: `bench/${subject}.bench.ts`, status, exitCode, seconds, results };
  }
  return out;
}

function printFinal(scenarios: readonly ScenarioRecord[], soak: SoakRecord | undefined): void {
  const rows = [['scenario', 'conc', 'ratio', 'req/s', 'req/s ratio', 'per round', 'cpu/req ratio', 'target']];
  for (const s of scenarios) {
    for (const r of s.ratios) {
      const numerator = SCENARIOS.find((x) => x.name === s.name)?.ratios.find((x) => x.label === r.label)?.numerator;
      const num = s.summary.find((c) => c.concurrency === r.concurrency && c.variant === numerator);
      rows.push([
        s.name,
        String(r.concurrency),
        r.label,
        fmtInt(num?.throughputMean ?? NaN),
        fmtFixed(r.throughputRatio, 3),
        r.throughputRatioRounds.map((x) => fmtFixed(x, 3)).join(' / '),
        fmtFixed(r.cpuEfficiencyRatio, 3),
        r.target === undefined ? '' : `≥ ${r.target} ${r.met ? 'met' : 'MISSED'}`,
      ]);
    }
  }
  console.log(`\n== summary (req/s of the ratio's numerator; cpu/req ratio = denominator's server CPU per request ÷ numerator's)\n${table(rows)}`);
  if (soak) {
    console.log(
      `soak: ${fmtInt(soak.requests)} requests, RSS ${mb(soak.memory.checkpoint)} MB at ${soak.checkpointFraction * 100}% → ${mb(soak.memory.end)} MB at the end: ` +
        `${soak.rssGrowthPct}% (target < ${soak.targetMaxGrowthPct}%: ${soak.met ? 'met' : 'MISSED'})`,
    );
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      concurrency: { type: 'string' },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      'soak-requests': { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const mode = values.quick ? 'quick' : 'full';
  const positive = (flag: string, raw: string): number => {
    const n = Number(raw);
    if (!(n > 0)) throw new Error(`--${flag} must be a positive number, got '${raw}'`);
    return n;
  };
  const soakRequests = values['soak-requests'] ? positive('soak-requests', values['soak-requests']) : MODES[mode].soakRequests;
  const settings: Settings = {
    ...MODES[mode],
    soakRequests,
    // A longer soak may take longer: the bound only stops one that hangs (under 500 req/s).
    soakMaxSeconds: Math.max(MODES[mode].soakMaxSeconds, Math.ceil(soakRequests / 500)),
    ...(values.concurrency ? { concurrency: values.concurrency.split(',').map((c) => positive('concurrency', c)) } : {}),
    ...(values.rounds ? { rounds: positive('rounds', values.rounds) } : {}),
    ...(values.seconds ? { measureSeconds: positive('seconds', values.seconds) } : {}),
  };
  const only = values.only ? new Set(values.only.split(',')) : undefined;
  const cpuList = cpus();
  const started = Date.now();
  const environment = {
    node: process.version,
    v8: process.versions.v8,
    platform: process.platform,
    arch: process.arch,
    kernel: release(),
    cpus: { count: cpuList.length, model: cpuList[0]?.model ?? 'unknown' },
    loadavgAtStart: loadavg().map((x) => round(x, 2)),
  };
  console.log(
    `v2serve bench, ${mode} mode: ${environment.cpus.count} × ${environment.cpus.model}, Node ${environment.node}, ` +
      `load average ${environment.loadavgAtStart.join(' ')}\n` +
      `rounds ${settings.rounds}, concurrency ${settings.concurrency.join('/')}, ${settings.warmupSeconds} s warm-up + ` +
      `≤ ${settings.measureSeconds} s / ≤ ${fmtInt(settings.maxRequests)} requests per run${values['cpu-prof'] ? ', v2serve under --cpu-prof (slower)' : ''}`,
  );

  mkdirSync(RESULTS_DIR, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'v2serve-bench-'));
  const load = await LoadGenerator.start();
  const ctx: Context = {
    settings,
    load,
    tmp,
    help: v2serveHelp(),
    natsInstalled: natsServerInstalled(),
    cpuProf: values['cpu-prof'],
    problems: [],
    notes: [
      'heap is not measured: every server is a child process; memory is VmRSS/VmHWM from /proc/<pid>/status',
      'server CPU is utime+stime of the server process (all threads) over the measured phase, from /proc/<pid>/stat',
    ],
  };
  const scenarios: ScenarioRecord[] = [];
  let soak: SoakRecord | undefined;
  let subBenches: Record<string, SubBenchRecord> = {};
  try {
    for (const scenario of SCENARIOS) {
      if (only && !only.has(scenario.name)) continue;
      scenarios.push(await runScenario(scenario, ctx));
    }
    if (!only || only.has('soak')) soak = await runSoak(ctx);
    subBenches = await runSubBenches(ctx, only, mode === 'quick');
  } finally {
    load.close();
    rmSync(tmp, { recursive: true, force: true });
  }

  const busiest = Math.max(environment.loadavgAtStart[0] ?? 0, ...scenarios.flatMap((s) => s.loadavg ?? []), loadavg()[0] ?? 0);
  if (busiest > environment.cpus.count) {
    ctx.notes.push(
      `the machine was busy (1-min load average up to ${busiest.toFixed(1)} on ${environment.cpus.count} CPUs): ` +
        'throughput ratios are noisy; look at the rounds and at the cpu/req ratios',
    );
  }
  printFinal(scenarios, soak);
  const targets = [
    ...scenarios.flatMap((s) =>
      s.ratios.filter((r) => r.target !== undefined).map((r) => ({ scenario: s.name, ratio: r.label, concurrency: r.concurrency, value: r.throughputRatio, target: r.target, met: r.met })),
    ),
    ...(soak ? [{ scenario: 'soak', ratio: 'rss growth %', concurrency: soak.concurrency, value: soak.rssGrowthPct, target: soak.targetMaxGrowthPct, met: soak.met }] : []),
  ];
  const output = {
    schema: 1,
    date: new Date(started).toISOString(),
    mode,
    durationSeconds: round((Date.now() - started) / 1000, 1),
    environment: { ...environment, loadavgAtEnd: loadavg().map((x) => round(x, 2)) },
    settings: { ...settings, cpuProf: ctx.cpuProf, only: only ? [...only] : null },
    scenarios,
    soak: soak ?? null,
    codec: subBenches['codec'] ?? null,
    subBenches,
    targets,
    problems: ctx.problems,
    notes: ctx.notes,
  };
  const json = `${JSON.stringify(output, null, 2)}\n`;
  writeFileSync(join(RESULTS_DIR, 'latest.json'), json);
  writeFileSync(join(RESULTS_DIR, `latest-${mode}.json`), json);
  for (const note of ctx.notes) console.log(`note: ${note}`);
  for (const problem of ctx.problems) console.log(`PROBLEM: ${problem}`);
  console.log(`\nwrote bench/results/latest.json (${output.durationSeconds} s)`);
  return ctx.problems.length > 0 ? 1 : 0;
}

// Ctrl-C: exit through process.exit so that the children are killed on the way out.
process.once('SIGINT', () => process.exit(130));
process.exitCode = await main();
