// The load generator: its own process, so the client never shares a CPU budget or an
// event loop with the server it measures. It sends one pre-encoded ModelInferRequest
// (identity serializer: no protobuf work per call) from `concurrency` loops, warms up,
// then measures until `maxRequests` are done or `maxSeconds` have passed, whichever
// comes first, and stops by itself.
//
// Forked with IPC (bench/run.ts): takes `{ type: 'run', job }` messages, answers
// `{ type: 'result' }` (and `{ type: 'progress' }` at the requested counts); exits when
// the parent disconnects. Run directly, it does one job from flags and prints JSON:
//   node --import tsx bench/load-generator.ts --address=127.0.0.1:8001 --request=req.bin \
//     --concurrency=16 --requests=10000 --seconds=5
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Client, ServiceError } from '@grpc/grpc-js';
import { identity, MODEL_INFER_PATH, rawClient } from './grpc-raw.js';
import { percentile, round } from './stats.js';

export interface LoadJob {
  readonly id: number;
  /** host:port */
  readonly address: string;
  /** A file holding the serialized ModelInferRequest. */
  readonly requestFile: string;
  readonly concurrency: number;
  readonly warmupSeconds: number;
  readonly maxSeconds: number;
  readonly maxRequests: number;
  /** Responses of another length count as mismatched (a wrong or error-shaped answer). */
  readonly expectResponseBytes?: number;
  /** Completed-request counts at which a progress message is sent (the soak reads RSS then). */
  readonly progressAt?: readonly number[];
}

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly mean: number;
  readonly max: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly mismatched: number;
  readonly warmupRequests: number;
  readonly seconds: number;
  readonly throughput: number;
  readonly latencyMs: LatencySummary;
  /** The load generator's own CPU use (user + system) over the measured phase, % of one core. */
  readonly clientCpuPct: number;
  readonly stoppedBy: 'count' | 'time' | 'hard-timeout';
}

export type ToLoadGenerator = { type: 'run'; job: LoadJob };
export type FromLoadGenerator =
  | { type: 'ready' }
  | { type: 'measuring'; id: number }
  | { type: 'progress'; id: number; completed: number }
  | { type: 'result'; id: number; result: LoadResult }
  | { type: 'failed'; id: number; error: string };

interface Phase {
  completed: number;
  errors: number;
  firstError: string | undefined;
  mismatched: number;
  seconds: number;
  stoppedBy: LoadResult['stoppedBy'];
}

/** Past the time bound, calls in flight get this long to finish before the job gives up on them. */
const HARD_TIMEOUT_GRACE_MS = 60_000;

function runPhase(
  client: Client,
  request: Buffer,
  job: LoadJob,
  seconds: number,
  maxRequests: number,
  latencies: Float64Array | undefined,
  onCompleted?: (completed: number) => void,
): Promise<Phase> {
  return new Promise((resolve) => {
    const start = performance.now();
    const deadline = start + seconds * 1000;
    const phase: Phase = { completed: 0, errors: 0, firstError: undefined, mismatched: 0, seconds: 0, stoppedBy: 'count' };
    let issued = 0;
    let active = 0;
    let done = false;
    const finish = (stoppedBy: Phase['stoppedBy']): void => {
      if (done) return;
      done = true;
      clearTimeout(hardTimer);
      phase.seconds = (performance.now() - start) / 1000;
      phase.stoppedBy = stoppedBy;
      resolve(phase);
    };
    const hardTimer = setTimeout(() => finish('hard-timeout'), seconds * 1000 + HARD_TIMEOUT_GRACE_MS);
    const send = (): void => {
      issued++;
      active++;
      const sent = performance.now();
      client.makeUnaryRequest(MODEL_INFER_PATH, identity, identity, request, (err: ServiceError | null, response?: Buffer) => {
        const now = performance.now();
        active--;
        if (done) return;
        if (err) {
          phase.errors++;
          phase.firstError ??= `${err.code} ${err.details}`;
        } else if (job.expectResponseBytes !== undefined && response?.length !== job.expectResponseBytes) {
          phase.mismatched++;
        }
        if (latencies) latencies[phase.completed] = now - sent;
        phase.completed++;
        onCompleted?.(phase.completed);
        if (issued < maxRequests && now < deadline) send();
        else if (active === 0) finish(issued >= maxRequests ? 'count' : 'time');
      });
    };
    const loops = Math.min(job.concurrency, maxRequests);
    if (loops <= 0) finish('count');
    for (let i = 0; i < loops; i++) send();
  });
}

export interface JobHooks {
  /** The warm-up is over and the measured phase starts (the orchestrator reads server CPU time). */
  readonly onMeasuring?: () => void;
  readonly onProgress?: (completed: number) => void;
}

export async function runJob(job: LoadJob, hooks: JobHooks = {}): Promise<LoadResult> {
  const request = readFileSync(job.requestFile);
  const client = rawClient(job.address);
  try {
    // Warm-up: connect, and let both sides' JIT settle, at the measured concurrency.
    const warmup = await runPhase(client, request, job, job.warmupSeconds, Number.MAX_SAFE_INTEGER, undefined);
    const latencies = new Float64Array(job.maxRequests);
    const marks = [...(job.progressAt ?? [])].sort((a, b) => a - b);
    hooks.onMeasuring?.();
    const cpuBefore = process.cpuUsage();
    const phase = await runPhase(client, request, job, job.maxSeconds, job.maxRequests, latencies, (completed) => {
      if (completed === marks[0]) {
        marks.shift();
        hooks.onProgress?.(completed);
      }
    });
    const cpu = process.cpuUsage(cpuBefore);
    const measured = latencies.subarray(0, Math.min(phase.completed, latencies.length)).sort();
    let sum = 0;
    for (const value of measured) sum += value;
    return {
      requests: phase.completed,
      errors: phase.errors + warmup.errors,
      ...(phase.firstError ?? warmup.firstError ? { firstError: phase.firstError ?? warmup.firstError } : {}),
      mismatched: phase.mismatched + warmup.mismatched,
      warmupRequests: warmup.completed,
      seconds: round(phase.seconds, 4),
      throughput: round(phase.completed / phase.seconds, 1),
      latencyMs: {
        p50: round(percentile(measured, 50), 4),
        p90: round(percentile(measured, 90), 4),
        p99: round(percentile(measured, 99), 4),
        mean: round(sum / measured.length, 4),
        max: round(measured[measured.length - 1] ?? NaN, 4),
      },
      clientCpuPct: round(((cpu.user + cpu.system) / 1e6 / phase.seconds) * 100, 1),
      stoppedBy: phase.stoppedBy,
    };
  } finally {
    client.close();
  }
}

function serveParent(): void {
  const send = (message: FromLoadGenerator): void => {
    process.send?.(message);
  };
  process.on('message', (message: ToLoadGenerator) => {
    if (message.type !== 'run') return;
    const { job } = message;
    runJob(job, {
      onMeasuring: () => send({ type: 'measuring', id: job.id }),
      onProgress: (completed) => send({ type: 'progress', id: job.id, completed }),
    }).then(
      (result) => send({ type: 'result', id: job.id, result }),
      (err: unknown) => send({ type: 'failed', id: job.id, error: err instanceof Error ? err.message : String(err) }),
    );
  });
  // The orchestrator gone (finished or crashed) means there is nothing left to do.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready' });
}

async function runFromFlags(): Promise<void> {
  const { values } = parseArgs({
    options: {
      address: { type: 'string' },
      request: { type: 'string' },
      concurrency: { type: 'string', default: '1' },
      requests: { type: 'string', default: '10000' },
      seconds: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '0.5' },
    },
  });
  if (!values.address || !values.request) throw new Error('--address and --request are required');
  const result = await runJob({
    id: 0,
    address: values.address,
    requestFile: values.request,
    concurrency: Number(values.concurrency),
    maxRequests: Number(values.requests),
    maxSeconds: Number(values.seconds),
    warmupSeconds: Number(values.warmup),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.send) serveParent();
  else await runFromFlags();
}
