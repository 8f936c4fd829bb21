// `npm run bench`: v2serve against floors measured in the same run on the same machine (two
// grpc-js floors, onnxruntime behind grpc-js, a node:http floor for REST), then a memory soak
// and the bench/*.bench.ts micro-benchmarks.
//
//   npm run bench                       full figures (≈ 45 min: 4 rounds × 5 s per server and concurrency)
//   npm run bench -- --quick            CI smoke (≈ 1.5–3 min): tiny runs, 1 round, 16 in flight
//   npm run bench -- --only=simple-raw --concurrency=64 --cpu-prof
//                                       one scenario, with a CPU profile of each server
//
// Unary load comes from h2load (bench/h2load.ts), a C client that a server on one core
// cannot outrun: HTTP/2 for gRPC, HTTP/1.1 (--h1) for REST. With two CPUs or more, h2load
// (and this process, and nats-server) run on the first and every server on the next, so that
// neither side takes the other's CPU. Every server is its own process: v2serve
// (bin/v2serve.js), the gRPC floors (bench/baseline-server.ts), the REST floor
// (bench/rest-floor-server.ts), nats-server when a variant needs it. Variants of a
// scenario are measured in turn, round after round (A/B/A/B), so drift on a shared
// machine shows up as differing rounds instead of a skewed ratio; the medians are reported.
// Writes bench/results/latest.json (and latest-<mode>.json, which a --quick run does
// not overwrite with quick figures when the last full run is what you want to keep).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { credentials, type ChannelOptions } from '@grpc/grpc-js';
import { GRPCInferenceServiceClient, ModelInferRequest, ModelInferResponse } from '../generated/grpc_service.js';
import { parseConfig } from '../src/cli/config.js';
import { serverGcFlags } from '../src/cli/gc-flags.js';
import { serverChannelOptions } from '../src/grpc/channel-options.js';
import { findNatsServer, startNatsServer, type NatsServer } from '../test/helpers/nats-server.js';
import { answerProblems, grpcAnswer, settleExpected, type Answer } from './answers.js';
import { rawClient, rawModelInfer } from './grpc-raw.js';
import { checkRun, connectionsOf, grpcFrame, grpcTarget, h2loadVersion, runH2load, type H2loadTarget } from './h2load.js';
import {
  allowedCpus,
  CLI,
  pinProcess,
  procMemory,
  PROJECT_ROOT,
  spawnServer,
  v2serveHelp,
  V2SERVE_HTTP_PORTS,
  V2SERVE_PORTS,
  waitIdle,
  type ProcMemory,
  type ServerProcess,
} from './processes.js';
import { formatProfile, summarizeProfile, type ProfileSummary } from './profile-summary.js';
import { mb, printFinal, printScenario, ratios, summarize, type CellSummary, type RatioSummary, type RunRecord } from './report.js';
import { getStatus, httpAnswer, postOnce } from './rest-wire.js';
import { ECHOING_KINDS, SCENARIOS, SOAK, type GrpcScenario, type Scenario, type ServerVariant } from './scenarios.js';
import { fmtFixed, fmtInt, median, round } from './stats.js';

const BENCH_DIR = join(PROJECT_ROOT, 'bench');
const RESULTS_DIR = join(BENCH_DIR, 'results');

interface Settings {
  readonly rounds: number;
  /** Overrides every scenario's own list when set. */
  readonly concurrency: readonly number[] | undefined;
  readonly warmupSeconds: number;
  readonly measureSeconds: number;
  readonly soakRequests: number;
  /** h2load runs the soak is sent in; RSS is read after each. */
  readonly soakChunks: number;
  /** The soak is bounded by count; this only stops a soak that hangs. */
  readonly soakMaxSeconds: number;
  readonly subBenchTimeoutSeconds: number;
  /** Given to every v2serve variant, and to the baselines for their transport settings. */
  readonly v2serveFlags: readonly string[];
}

const MODES: Record<'quick' | 'full', Omit<Settings, 'v2serveFlags'>> = {
  quick: {
    rounds: 1,
    // One concurrency: most of a quick run is starting servers, and every scenario has one.
    concurrency: [16],
    warmupSeconds: 0.05,
    measureSeconds: 0.15,
    soakRequests: 5_000,
    soakChunks: 10,
    soakMaxSeconds: 60,
    subBenchTimeoutSeconds: 30,
  },
  full: {
    // The issue's method: 4 alternating rounds of 5 s per server, the median reported.
    rounds: 4,
    concurrency: undefined,
    warmupSeconds: 1,
    measureSeconds: 5,
    soakRequests: 1_000_000,
    // RSS every 2% of the requests: enough readings for the two medians of the trend.
    soakChunks: 50,
    soakMaxSeconds: 600,
    subBenchTimeoutSeconds: 180,
  },
};

/** Beyond its expected duration, how long an h2load run may take before it is killed and fails. */
const H2LOAD_GRACE_MS = 30_000;

const USAGE = `usage: npm run bench -- [--quick] [--only=NAME,...] [--concurrency=1,16,64] [--rounds=N] [--seconds=S]
                        [--warmup=S] [--soak-requests=N] [--v2serve-flag=FLAG ...] [--cpu-prof]
  --quick          CI smoke: tiny runs, 1 round, 16 in flight
  --only           scenarios to run (${SCENARIOS.map((s) => s.name).join(', ')}),
                   'soak', and sub-benchmark subjects (e.g. 'codec'); default all
  --concurrency    requests in flight (gRPC: N streams on one connection, or shared by the scenario's
                   connections; REST: N HTTP/1.1 connections);
                   default each scenario's own
  --rounds, --seconds, --warmup
                   alternating rounds, and the measured and warm-up seconds of each run (default 4, 5, 1)
  --v2serve-flag   a v2serve flag for every v2serve variant, repeatable (--v2serve-flag=--grpc-max-concurrent-streams=0);
                   the baselines build their channel options from the same flags
  --cpu-prof       profile every server process (node --cpu-prof) and print its top self-time functions
                   (bench/results/profiles/<scenario>/<variant>/)
needs h2load: apt-get install nghttp2-client
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
/* CPUs                                                                                       */

interface CpuPlan {
  /** taskset CPU list for h2load; undefined when there is a single CPU (nothing is pinned). */
  readonly client: string | undefined;
  /** Every CPU: servers start on all of them, side by side, and are pinned once up. */
  readonly all: string;
  /** The CPUs a server that needs `count` of them gets, and whether they include the client's. */
  server(count: number): { readonly cpus: string | undefined; readonly shared: boolean };
  readonly description: string;
}

function planCpus(allowed: readonly number[]): CpuPlan {
  const [client, ...rest] = allowed;
  if (client === undefined || rest.length === 0) {
    return {
      client: undefined,
      all: allowed.join(','),
      server: () => ({ cpus: undefined, shared: true }),
      description: 'one CPU: h2load and the servers share it, nothing pinned (ratios only indicative)',
    };
  }
  return {
    client: String(client),
    all: allowed.join(','),
    server: (count) =>
      rest.length >= count ? { cpus: rest.slice(0, count).join(','), shared: false } : { cpus: allowed.join(','), shared: true },
    description: `h2load, this process and nats-server on CPU ${client}; each server on CPU ${rest[0]} (taskset)`,
  };
}

/* ----------------------------------------------------------------------------------------- */
/* Servers                                                                                    */

interface RunningVariant {
  readonly variant: ServerVariant;
  readonly server: ServerProcess;
  readonly profileDir: string | undefined;
}

/** Resolves once `isReady` does, asked every 50 ms; throws past `timeoutMs`. */
async function waitUntil(isReady: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await isReady())) {
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** v2serve's readiness on the port it is measured on: ServerReady over gRPC, /v2/health/ready over REST. */
async function waitReady(server: ServerProcess, transport: Scenario['transport']): Promise<void> {
  if (transport === 'http') {
    await waitUntil(async () => (await getStatus(server.port, '/v2/health/ready')) === 200, `v2serve's HTTP port ${server.port}`);
    return;
  }
  const client = new GRPCInferenceServiceClient(server.address, credentials.createInsecure());
  try {
    await waitUntil(
      () => new Promise<boolean>((resolve) => client.serverReady({}, (err, res) => resolve(!err && res.ready))),
      `v2serve at ${server.address}`,
    );
  } finally {
    client.close();
  }
}

/**
 * Pinned once it is up: servers start side by side on every CPU (on the one a server gets,
 * they would start one after the other).
 */
async function startPinned(start: () => Promise<RunningVariant>, cpus: string | undefined): Promise<RunningVariant> {
  const running = await start();
  if (cpus) {
    try {
      pinProcess(running.server.pid, cpus);
    } catch (err) {
      await running.server.stop(1000);
      throw err;
    }
  }
  return running;
}

async function startV2serve(
  variant: ServerVariant,
  transport: Scenario['transport'],
  ctx: Context,
  nats: NatsServer | undefined,
  profileDir: string | undefined,
): Promise<RunningVariant> {
  const args = [
    ...(transport === 'http' ? V2SERVE_HTTP_PORTS : V2SERVE_PORTS),
    ...[...(variant.args ?? []), ...ctx.settings.v2serveFlags].map((a) => a.replaceAll('{nats}', nats?.url ?? '')),
  ];
  if (variant.repository) {
    const dir = mkdtempSync(join(ctx.tmp, `${variant.id}-repo-`));
    args.push(`--model-repository=${variant.repository(dir)}`);
  }
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const server = await spawnServer(nodeArgs, CLI, args, { cpus: ctx.cpus.all, ...(transport === 'http' ? { transport } : {}) });
  try {
    await waitReady(server, transport);
  } catch (err) {
    await server.stop(1000);
    throw new Error(`${(err as Error).message}\n${server.output()}`);
  }
  return { variant, server, profileDir };
}

/** The grpc-js server options v2serve would run with, given the variant's and the run's flags. */
function v2serveChannelOptions(variant: ServerVariant, ctx: Context): ChannelOptions {
  const config = parseConfig([...(variant.args ?? []), ...ctx.settings.v2serveFlags]);
  return serverChannelOptions(config.grpcMaxMessageBytes, config.grpcConnection);
}

/**
 * A floor: bench/rest-floor-server.ts for REST, bench/baseline-server.ts for gRPC. An echoing
 * one (bare, generated) gets `response`, v2serve's answer, on stdin; an onnx one serves the
 * models of the repository its variant writes.
 */
async function startFloor(variant: ServerVariant, ctx: Context, response: Promise<Buffer>, profileDir: string | undefined): Promise<RunningVariant> {
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  // The garbage-collector settings v2serve gives itself: a floor measures code, not V8's tuning.
  const nodeArgs = ['--import', 'tsx', ...serverGcFlags([]), ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
  if (variant.kind === 'rest') {
    if (!variant.model) throw new Error(`${variant.id}: a rest floor needs a model`);
    const server = await spawnServer(nodeArgs, join(BENCH_DIR, 'rest-floor-server.ts'), [`--model=${variant.model}`], { cpus: ctx.cpus.all });
    return { variant, server, profileDir };
  }
  const args = [`--kind=${variant.kind}`, `--channel-options=${JSON.stringify(v2serveChannelOptions(variant, ctx))}`];
  if (variant.kind === 'onnx') {
    if (!variant.repository) throw new Error(`${variant.id}: an onnx floor needs a repository`);
    args.push(`--model-repository=${variant.repository(mkdtempSync(join(ctx.tmp, `${variant.id}-repo-`)))}`);
  }
  const stdin = ECHOING_KINDS.has(variant.kind) ? { stdin: response } : {};
  const server = await spawnServer(nodeArgs, join(BENCH_DIR, 'baseline-server.ts'), args, { cpus: ctx.cpus.all, ...stdin });
  return { variant, server, profileDir };
}

const runningOf = (running: readonly RunningVariant[], v: ServerVariant): RunningVariant => running.find((r) => r.variant === v) as RunningVariant;

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

/** One call through a grpc-js client: the answer h2load cannot read, checked before measuring. */
async function probe(address: string, request: Buffer): Promise<Buffer> {
  const client = rawClient(address);
  try {
    return await rawModelInfer(client, request);
  } finally {
    client.close();
  }
}

/** A server's answer to the scenario's request, asked once before measuring. */
interface Reply {
  readonly answer: Answer;
  /** The response message (gRPC) or body (REST). */
  readonly message: Buffer;
  /** What h2load counts as data for one response: the message's gRPC frame, or the body. */
  readonly countedBytes: number;
}

/** The scenario's request as h2load sends it, and the one call that reads a server's answer to it. */
interface Exchange {
  readonly target: H2loadTarget;
  readonly requestBytes: number;
  ask(server: ServerProcess): Promise<Reply>;
}

function exchangeOf(scenario: Scenario, bodyFile: string): Exchange {
  if (scenario.transport === 'http') {
    const request = scenario.request();
    writeFileSync(bodyFile, request.body);
    return {
      target: { protocol: 'h1', path: request.path, headers: request.headers, bodyFile },
      requestBytes: request.body.length,
      async ask(server) {
        const reply = await postOnce(server.port, request);
        return { answer: httpAnswer(reply), message: reply.body, countedBytes: reply.body.length };
      },
    };
  }
  const request = Buffer.from(ModelInferRequest.encode(scenario.request()).finish());
  writeFileSync(bodyFile, grpcFrame(request));
  return {
    target: grpcTarget(bodyFile, scenario.connections),
    requestBytes: request.length,
    async ask(server) {
      const message = await probe(server.address, request);
      return { answer: grpcAnswer(ModelInferResponse.decode(message)), message, countedBytes: message.length + 5 };
    },
  };
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

interface VariantRecord {
  readonly id: string;
  readonly kind: string;
  readonly description: string;
  readonly args?: readonly string[];
  readonly skipped?: string;
  readonly pid?: number;
  /** taskset CPU list the server ran on. */
  readonly cpus?: string;
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
  /** Why the scenario stopped before its figures were complete. */
  readonly failed?: string;
  /** Wall time of the scenario: server start-up, every run, shutdown. */
  readonly seconds?: number;
  /** 1-minute load average when the scenario started and ended: above the CPU count, others competed for the CPUs. */
  readonly loadavg?: readonly [number, number];
  readonly requestBytes?: number;
  readonly responseBytes?: number;
  readonly concurrency: readonly number[];
  readonly variants: readonly VariantRecord[];
  readonly runs: readonly RunRecord[];
  readonly summary: readonly CellSummary[];
  readonly ratios: readonly RatioSummary[];
}

interface SoakRecord {
  readonly scenario: string;
  readonly concurrency: number;
  readonly requests: number;
  readonly problems: readonly string[];
  readonly seconds: number;
  readonly throughput: number;
  readonly memory: { readonly start: ProcMemory; readonly checkpoint: ProcMemory; readonly end: ProcMemory };
  readonly checkpointFraction: number;
  /**
   * RSS after each chunk of the requests: one reading is at the mercy of where the GC
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

interface Context {
  readonly settings: Settings;
  readonly tmp: string;
  readonly help: string;
  /** Whether nats-server is installed (the monitoring variants need it). */
  readonly natsInstalled: boolean;
  readonly cpuProf: boolean;
  readonly cpus: CpuPlan;
  readonly problems: string[];
  readonly notes: string[];
}

function whySkipped(variant: ServerVariant, ctx: Context): string | undefined {
  const missing = (variant.requiresFlags ?? []).filter((flag) => !ctx.help.includes(flag));
  if (missing.length > 0) return `v2serve --help does not list ${missing.join(', ')} yet`;
  if (variant.needsNats && !ctx.natsInstalled) return 'nats-server not found on PATH or in /usr/sbin (apt-get install nats-server)';
  return undefined;
}

/** What h2load sends, and how many bytes of data each server's every response must bring. */
interface Wire {
  readonly target: H2loadTarget;
  /** By variant id: a Reply's countedBytes. */
  readonly countedBytes: ReadonlyMap<string, number>;
}

/** A measured run that has not ended after this many times its expected duration (plus the grace) fails. */
const H2LOAD_TIME_BOUND = 5;

/** GETs the server's /metrics every second until stopped, reading each answer whole, as Prometheus does. */
function scrapeEverySecond(server: RunningVariant['server']): () => Promise<void> {
  const port = server.metricsPort();
  if (port === undefined) throw new Error('a scraped variant needs the metrics port: its server logged none');
  let last: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    last = fetch(`http://127.0.0.1:${port}/metrics`).then((response) => response.text());
  }, 1000);
  return async () => {
    clearInterval(timer);
    await last;
  };
}

async function measure(ctx: Context, wire: Wire, r: RunningVariant, concurrency: number, round_: number): Promise<RunRecord> {
  const stopScraping = r.variant.scraped ? scrapeEverySecond(r.server) : undefined;
  try {
    return await measureRun(ctx, wire, r, concurrency, round_);
  } finally {
    await stopScraping?.();
  }
}

/**
 * One warm-up and one measured h2load run against one server. The warm-up is timed; its
 * rate sizes the measured run, a count of requests expected to last `measureSeconds`, so
 * that both variants of a ratio are measured for about as long. Every stream (or
 * connection) completes at least one request, whatever the warm-up managed.
 */
async function measureRun(ctx: Context, wire: Wire, r: RunningVariant, concurrency: number, round_: number): Promise<RunRecord> {
  const { settings } = ctx;
  const frameBytes = wire.countedBytes.get(r.variant.id) as number;
  const base = { port: r.server.port, target: wire.target, inFlight: concurrency, cpus: ctx.cpus.client };
  // Connects, and lets both sides' JIT and the server's allocations settle at this concurrency.
  const warmup = await runH2load({ ...base, seconds: settings.warmupSeconds, timeoutMs: settings.warmupSeconds * 1000 + H2LOAD_GRACE_MS });
  const requests = Math.max(concurrency, Math.round((warmup.requests.done / settings.warmupSeconds) * settings.measureSeconds));
  // The warm-up's last requests, cut off in flight, may still be running in the server:
  // their CPU time is not the measured run's.
  await waitIdle(r.server.pid);
  const latencyLog = join(ctx.tmp, 'latency.tsv');
  rmSync(latencyLog, { force: true });
  const result = await runH2load({
    ...base,
    requests,
    latencyLog,
    serverPid: r.server.pid,
    timeoutMs: settings.measureSeconds * H2LOAD_TIME_BOUND * 1000 + H2LOAD_GRACE_MS,
  });
  const done = result.requests.done;
  // Both were asked for: a latency log and the server's pid.
  const latencyMs = result.latencyMs as RunRecord['latencyMs'];
  const serverCpu = result.serverCpuSeconds as number;
  return {
    round: round_,
    concurrency,
    ...connectionsOf(wire.target, concurrency),
    variant: r.variant.id,
    requests: done,
    seconds: result.seconds,
    throughput: result.throughput,
    latencyMs,
    serverCpuUsPerRequest: round((serverCpu * 1e6) / Math.max(1, done), 2),
    serverCpuPct: round((serverCpu / result.wallSeconds) * 100, 1),
    clientCpuPct: result.clientCpuSeconds === undefined ? null : round((result.clientCpuSeconds / result.wallSeconds) * 100, 1),
    rssKb: procMemory(r.server.pid).rssKb,
    dataBytes: result.dataBytes,
    problems: [...checkRun(warmup, frameBytes).map((p) => `warm-up: ${p}`), ...checkRun(result, frameBytes, requests)],
  };
}

async function runScenario(scenario: Scenario, ctx: Context): Promise<ScenarioRecord> {
  const { settings } = ctx;
  const concurrency = settings.concurrency ?? scenario.concurrency;
  const skipped = new Map(scenario.variants.map((v) => [v.id, whySkipped(v, ctx)]));
  const active = scenario.variants.filter((v) => !skipped.get(v.id));
  const extra = new Map<string, Partial<VariantRecord>>();
  const variantRecords = (): VariantRecord[] =>
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
  const empty = { concurrency, runs: [], summary: [], ratios: [] };
  const reference = active.find((v) => v.kind === 'v2serve');
  if (active.length < 2 || !reference) {
    const why = [...skipped].filter(([, w]) => w).map(([id, w]) => `${id}: ${w}`).join('; ');
    console.log(`\n== ${scenario.name}: skipped (${why})`);
    ctx.notes.push(`scenario ${scenario.name} skipped: ${why}`);
    return { name: scenario.name, description: scenario.description, skipped: why, variants: variantRecords(), ...empty };
  }
  for (const v of scenario.variants) {
    const why = skipped.get(v.id);
    if (why) ctx.notes.push(`${scenario.name}/${v.id} skipped: ${why}`);
  }

  const started = Date.now();
  const loadStart = round(loadavg()[0] as number, 2);
  const exchange = exchangeOf(scenario, join(ctx.tmp, `${scenario.name}.body`));
  const pinned = ctx.cpus.server(scenario.serverCpus ?? 1);
  if (pinned.shared && ctx.cpus.client) {
    ctx.notes.push(`${scenario.name}: its servers need ${scenario.serverCpus} CPUs, so they share h2load's (CPUs ${pinned.cpus})`);
  }

  const nats = active.some((v) => v.needsNats) ? await startNatsServer() : undefined;
  const running: RunningVariant[] = [];
  const runs: RunRecord[] = [];
  let referenceReply: Reply | undefined;
  let failed: string | undefined;
  try {
    const profileRoot = join(RESULTS_DIR, 'profiles', scenario.name);
    if (ctx.cpuProf) rmSync(profileRoot, { recursive: true, force: true });
    const profileDir = (v: ServerVariant): string | undefined => (ctx.cpuProf ? join(profileRoot, v.id) : undefined);
    // The echoing floors answer with v2serve's response to the request: they start alongside
    // v2serve and get it on stdin once v2serve has answered. The others compute their answers.
    let deliver: (response: Buffer) => void = () => undefined;
    let withhold: (err: unknown) => void = () => undefined;
    const answered = new Promise<Buffer>((resolve, reject) => {
      deliver = resolve;
      withhold = reject;
    });
    const servers = active.filter((x) => x.kind === 'v2serve');
    const floors = active.filter((x) => x.kind !== 'v2serve');
    const serversUp = startAll(running, servers, (v) => startPinned(() => startV2serve(v, scenario.transport, ctx, nats, profileDir(v)), pinned.cpus));
    const floorsUp = startAll(running, floors, (v) => startPinned(() => startFloor(v, ctx, answered, profileDir(v)), pinned.cpus));
    const replies = new Map<string, Reply>();
    try {
      await serversUp;
      const expected = scenario.expected();
      for (const v of servers) {
        const reply = await exchange.ask(runningOf(running, v).server);
        const wrong = answerProblems(reply.answer, expected);
        if (wrong.length > 0) throw new Error(`${v.id} answered the request wrongly: ${wrong.join('; ')}`);
        referenceReply ??= reply;
        if (reply.message.length !== referenceReply.message.length) throw new Error(`${v.id} answered ${reply.message.length} B, ${reference.id} ${referenceReply.message.length} B`);
        replies.set(v.id, reply);
      }
      deliver((referenceReply as Reply).message);
    } catch (err) {
      withhold(err);
      await floorsUp.catch(() => undefined);
      throw err;
    }
    await floorsUp;
    const settled = settleExpected(scenario.expected(), (referenceReply as Reply).answer);
    for (const v of floors) {
      const reply = await exchange.ask(runningOf(running, v).server);
      if (ECHOING_KINDS.has(v.kind)) {
        if (!reply.message.equals((referenceReply as Reply).message)) throw new Error(`${v.id} does not answer ${reference.id}'s response bytes`);
      } else {
        const wrong = answerProblems(reply.answer, settled);
        if (wrong.length > 0) throw new Error(`${v.id} answered the request wrongly: ${wrong.join('; ')}`);
      }
      replies.set(v.id, reply);
    }
    for (const r of running) {
      extra.set(r.variant.id, {
        pid: r.server.pid,
        ...(pinned.cpus ? { cpus: pinned.cpus } : {}),
        responseBytes: replies.get(r.variant.id)?.message.length as number,
        memoryBefore: procMemory(r.server.pid),
      });
    }

    const sizes = [...new Set([...replies.values()].map((r) => r.message.length))].join('/');
    console.log(`\n== ${scenario.name}: ${scenario.description}; request ${exchange.requestBytes} B, response ${sizes} B`);
    const wire: Wire = { target: exchange.target, countedBytes: new Map([...replies].map(([id, r]) => [id, r.countedBytes])) };
    // Measured in the table's order, round after round: A/B/A/B.
    for (let round_ = 1; round_ <= settings.rounds; round_++) {
      for (const c of concurrency) {
        for (const v of active) {
          const record = await measure(ctx, wire, runningOf(running, v), c, round_);
          runs.push(record);
          for (const p of record.problems) ctx.problems.push(`${scenario.name} r${round_} c${c} ${v.id}: ${p}`);
          console.log(
            `  r${round_} c${String(c).padEnd(3)} ${v.id.padEnd(16)} ${fmtInt(record.throughput).padStart(8)} req/s` +
              `  p50 ${fmtFixed(record.latencyMs.p50, 3)} p99 ${fmtFixed(record.latencyMs.p99, 3)} ms` +
              `  srv ${fmtFixed(record.serverCpuUsPerRequest, 1)} µs/req (${fmtFixed(record.serverCpuPct, 0)}%)` +
              `  h2load ${fmtFixed(record.clientCpuPct ?? NaN, 0)}%  n=${record.requests}${record.problems.length > 0 ? '  PROBLEMS' : ''}`,
          );
        }
      }
    }
    for (const r of running) extra.set(r.variant.id, { ...extra.get(r.variant.id), memoryAfter: procMemory(r.server.pid) });
  } catch (err) {
    failed = err instanceof Error ? err.message : String(err);
    console.log(`\n== ${scenario.name}: FAILED: ${failed}`);
    ctx.problems.push(`${scenario.name}: ${failed}`);
  } finally {
    const stopped = await Promise.all(running.map((r) => r.server.stop()));
    running.forEach((r, i) => {
      if (stopped[i] !== '0' && r.variant.kind === 'v2serve') ctx.problems.push(`${scenario.name}/${r.variant.id}: v2serve exited with ${stopped[i]}`);
    });
    await nats?.cleanup();
  }
  for (const r of running) {
    const profiles = r.profileDir ? threadProfiles(r.profileDir) : [];
    if (profiles.length === 0) continue;
    extra.set(r.variant.id, { ...extra.get(r.variant.id), profiles });
    for (const profile of profiles) console.log(`\n${scenario.name}/${r.variant.id} ${formatProfile(profile)}`);
  }

  const summary = summarize(runs, concurrency, active.map((v) => v.id));
  const ratioSummaries = ratios(scenario, runs, summary, concurrency);
  if (runs.length > 0) printScenario(summary, ratioSummaries, new Map(running.map((r) => [r.variant.id, extra.get(r.variant.id)?.memoryBefore?.rssKb ?? NaN])));
  return {
    name: scenario.name,
    description: scenario.description,
    ...(failed ? { failed } : {}),
    seconds: round((Date.now() - started) / 1000, 1),
    loadavg: [loadStart, round(loadavg()[0] as number, 2)],
    requestBytes: exchange.requestBytes,
    ...(referenceReply ? { responseBytes: referenceReply.message.length } : {}),
    concurrency,
    variants: variantRecords(),
    runs,
    summary,
    ratios: ratioSummaries,
  };
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

/**
 * The soak: count-bounded h2load runs back to back against one fresh v2serve, RSS read
 * after each. Each run ends with nothing in flight, so its byte count is checked exactly;
 * each starts a new connection, so connection set-up and teardown are soaked as well.
 */
async function runSoak(ctx: Context): Promise<SoakRecord> {
  const scenario = SCENARIOS.find((s) => s.name === SOAK.scenario) as GrpcScenario;
  const request = Buffer.from(ModelInferRequest.encode(scenario.request()).finish());
  const bodyFile = join(ctx.tmp, 'soak.body');
  writeFileSync(bodyFile, grpcFrame(request));
  const total = ctx.settings.soakRequests;
  const chunks = ctx.settings.soakChunks;
  const chunk = Math.ceil(total / chunks);
  console.log(`\n== soak: ${fmtInt(total)} × ${scenario.name} at concurrency ${SOAK.concurrency} against a fresh v2serve, in ${chunks} h2load runs`);
  const variant: ServerVariant = { id: 'v2serve', kind: 'v2serve', description: 'soak' };
  const v2 = await startPinned(() => startV2serve(variant, 'grpc', ctx, undefined, undefined), ctx.cpus.server(1).cpus);
  try {
    const reply = await probe(v2.server.address, request);
    const wrong = answerProblems(grpcAnswer(ModelInferResponse.decode(reply)), scenario.expected());
    if (wrong.length > 0) throw new Error(`soak: v2serve answered the request wrongly: ${wrong.join('; ')}`);
    const start = procMemory(v2.server.pid);
    const samples: { fraction: number; rssKb: number }[] = [];
    const problems: string[] = [];
    let checkpoint: ProcMemory | undefined;
    let completed = 0;
    const began = performance.now();
    const deadline = began + ctx.settings.soakMaxSeconds * 1000;
    while (completed < total && problems.length === 0) {
      const left = deadline - performance.now();
      if (left <= 0) {
        problems.push(`stopped by the ${ctx.settings.soakMaxSeconds} s bound after ${completed} requests`);
        break;
      }
      const n = Math.min(chunk, total - completed);
      try {
        const result = await runH2load({ port: v2.server.port, target: grpcTarget(bodyFile), inFlight: SOAK.concurrency, requests: n, cpus: ctx.cpus.client, timeoutMs: left });
        problems.push(...checkRun(result, reply.length + 5, n));
        completed += result.requests.done;
      } catch (err) {
        problems.push(err instanceof Error ? err.message : String(err));
      }
      const memory = procMemory(v2.server.pid);
      const fraction = round(completed / total, 3);
      if (!checkpoint && fraction >= SOAK.checkpoint) checkpoint = memory;
      samples.push({ fraction, rssKb: memory.rssKb });
    }
    const seconds = round((performance.now() - began) / 1000, 2);
    const end = procMemory(v2.server.pid);
    const at = checkpoint ?? start;
    const growth = rssTrendPct(samples, SOAK.checkpoint);
    for (const p of problems) ctx.problems.push(`soak: ${p}`);
    const record: SoakRecord = {
      scenario: scenario.name,
      concurrency: SOAK.concurrency,
      requests: completed,
      problems,
      seconds,
      throughput: round(completed / seconds, 1),
      memory: { start, checkpoint: at, end },
      checkpointFraction: SOAK.checkpoint,
      samples,
      rssGrowthPct: growth,
      targetMaxGrowthPct: SOAK.maxGrowthPct,
      met: growth < SOAK.maxGrowthPct,
    };
    console.log(
      `  ${fmtInt(completed)} requests in ${seconds.toFixed(1)} s (${fmtInt(record.throughput)} req/s); ` +
        `RSS MB start ${mb(start.rssKb)}, at ${SOAK.checkpoint * 100}% ${mb(at.rssKb)}, end ${mb(end.rssKb)} (peak ${mb(end.hwmKb)}); ` +
        `growth ${growth}% (median RSS of the last fifth vs of the fifth after the ${SOAK.checkpoint * 100}% mark; target < ${SOAK.maxGrowthPct}%: ${record.met ? 'met' : 'MISSED'})\n` +
        `  RSS MB every ${100 / chunks}%: ${samples.map((x) => (x.rssKb / 1024).toFixed(0)).join(' ')}`,
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


async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      concurrency: { type: 'string' },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      'soak-requests': { type: 'string' },
      'v2serve-flag': { type: 'string', multiple: true, default: [] },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const h2load = h2loadVersion();
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
    ...(values.concurrency ? { concurrency: values.concurrency.split(',').map((c) => Math.round(positive('concurrency', c))) } : {}),
    ...(values.rounds ? { rounds: Math.round(positive('rounds', values.rounds)) } : {}),
    ...(values.seconds ? { measureSeconds: positive('seconds', values.seconds) } : {}),
    ...(values.warmup ? { warmupSeconds: positive('warmup', values.warmup) } : {}),
    v2serveFlags: values['v2serve-flag'],
  };
  const only = values.only ? new Set(values.only.split(',')) : undefined;
  const cpuPlan = planCpus(allowedCpus());
  // Everything this process starts from here on, nats-server included, inherits the client's CPU.
  if (cpuPlan.client) pinProcess(process.pid, cpuPlan.client);
  const cpuList = cpus();
  const started = Date.now();
  const environment = {
    node: process.version,
    v8: process.versions.v8,
    platform: process.platform,
    arch: process.arch,
    kernel: release(),
    cpus: { count: cpuList.length, model: cpuList[0]?.model ?? 'unknown' },
    h2load,
    pinning: { client: cpuPlan.client ?? null, server: cpuPlan.server(1).cpus ?? null, description: cpuPlan.description },
    loadavgAtStart: loadavg().map((x) => round(x, 2)),
  };
  console.log(
    `v2serve bench, ${mode} mode: ${environment.cpus.count} × ${environment.cpus.model}, Node ${environment.node}, ${h2load}, ` +
      `load average ${environment.loadavgAtStart.join(' ')}\n` +
      `${cpuPlan.description}\n` +
      `rounds ${settings.rounds}, concurrency ${settings.concurrency?.join('/') ?? "each scenario's"} ` +
      "(gRPC: N streams on 1 connection, or on the scenario's connections; REST: N HTTP/1.1 connections), " +
      `${settings.warmupSeconds} s warm-up + ${settings.measureSeconds} s measured per run` +
      `${settings.v2serveFlags.length > 0 ? `, v2serve flags ${settings.v2serveFlags.join(' ')}` : ''}` +
      `${values['cpu-prof'] ? ', servers under --cpu-prof (slower)' : ''}`,
  );

  mkdirSync(RESULTS_DIR, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'v2serve-bench-'));
  const ctx: Context = {
    settings,
    tmp,
    help: v2serveHelp(),
    natsInstalled: natsServerInstalled(),
    cpuProf: values['cpu-prof'],
    cpus: cpuPlan,
    problems: [],
    notes: [
      'unary load: h2load; gRPC: N concurrent streams on 1 connection (simple-raw-4-connections: shared by 4), the same pre-encoded ModelInferRequest on every stream; ' +
        'REST (rest-* scenarios): h2load --h1, N HTTP/1.1 connections with one request at a time, the same body on every request',
      'a measured run is a count of requests sized from its warm-up to last about the measured seconds; it ends with none in flight',
      "each answer was checked once (grpc-js, node:http) before measuring; in every run h2load's count of response bytes must equal requests × that server's response (gRPC: its frame)",
      "server CPU is utime+stime of the server process (all threads) from h2load's start to its exit, from /proc/<pid>/stat, per request",
      'memory is VmRSS/VmHWM from /proc/<pid>/status; every server is a child process',
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
    rmSync(tmp, { recursive: true, force: true });
  }

  const busiest = Math.max(environment.loadavgAtStart[0] ?? 0, ...scenarios.flatMap((s) => s.loadavg ?? []), loadavg()[0] ?? 0);
  if (busiest > environment.cpus.count) {
    ctx.notes.push(
      `the machine was busy (1-min load average up to ${busiest.toFixed(1)} on ${environment.cpus.count} CPUs): ` +
        'throughput ratios are noisy; look at the rounds and at the cpu/req ratios',
    );
  }
  printFinal(scenarios);
  if (soak) {
    console.log(
      `soak: ${fmtInt(soak.requests)} requests, RSS ${mb(soak.memory.checkpoint.rssKb)} MB at ${soak.checkpointFraction * 100}% → ${mb(soak.memory.end.rssKb)} MB at the end: ` +
        `${soak.rssGrowthPct}% (target < ${soak.targetMaxGrowthPct}%: ${soak.met ? 'met' : 'MISSED'})`,
    );
  }
  const targets = [
    ...scenarios.flatMap((s) =>
      s.ratios.flatMap((r) =>
        r.targets.map(({ metric, min, max, value, met }) => ({ scenario: s.name, ratio: r.label, concurrency: r.concurrency, metric, min, max, value, met })),
      ),
    ),
    ...(soak ? [{ scenario: 'soak', ratio: 'rss growth %', concurrency: soak.concurrency, metric: 'rssGrowthPct', max: soak.targetMaxGrowthPct, value: soak.rssGrowthPct, met: soak.met }] : []),
  ];
  const output = {
    schema: 2,
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
