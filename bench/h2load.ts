// The unary load generator: h2load, nghttp2's HTTP/2 benchmark client, written in C. A
// grpc-js client saturates near 4,000 req/s on a 2-core machine, below what a bare
// grpc-js server answers, so every server measured with it looked alike.
//
// h2load knows nothing of gRPC: it POSTs the same body on every stream and counts HTTP
// statuses. For gRPC the body is therefore the gRPC frame of a pre-encoded
// ModelInferRequest, and a gRPC error, which comes back as HTTP 200 with grpc-status in the
// trailers, is caught by the byte count instead (checkRun). For REST it is an inference
// body sent over HTTP/1.1 (--h1), one request at a time on each of N connections.
//
// Measured runs are bounded by a count of requests, not by a duration: they end with
// nothing in flight, so every response is counted whole and the server's CPU time
// between h2load's start and exit belongs to exactly the requests counted.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { MODEL_INFER_PATH } from './grpc-raw.js';
import { procCpuSeconds } from './processes.js';
import { percentile, round } from './stats.js';

const H2LOAD_INSTALL = 'apt-get install nghttp2-client';

/** `h2load --version`, or an error that names the package to install. */
export function h2loadVersion(): string {
  const result = spawnSync('h2load', ['--version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new Error(`h2load not found on PATH; the bench needs it for unary load: \`${H2LOAD_INSTALL}\``);
  }
  return result.stdout.trim();
}

/** A message as gRPC sends it: a 0 flag (not compressed), its length big-endian, the bytes. */
export function grpcFrame(message: Uint8Array): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** What h2load sends, and how. */
export interface H2loadTarget {
  /**
   * h2: the requests in flight are concurrent streams, shared evenly by `connections` (gRPC);
   * h1: they are that many HTTP/1.1 connections, one request at a time on each (REST).
   */
  readonly protocol: 'h2' | 'h1';
  /** h2 only: the connections the streams are spread over (default 1). */
  readonly connections?: number;
  readonly path: string;
  /** `name: value` lines (-H). */
  readonly headers: readonly string[];
  /** The request body (-d): grpcFrame(ModelInferRequest) for gRPC. */
  readonly bodyFile: string;
}

/** ModelInfer over gRPC, with the framed request in `bodyFile`, on `connections` connections. */
export function grpcTarget(bodyFile: string, connections = 1): H2loadTarget {
  return { protocol: 'h2', connections, path: MODEL_INFER_PATH, headers: ['content-type: application/grpc', 'te: trailers'], bodyFile };
}

/** Connections and streams on each that make `inFlight` requests in flight. */
export function connectionsOf(target: H2loadTarget, inFlight: number): { readonly connections: number; readonly streams: number } {
  if (target.protocol === 'h1') return { connections: inFlight, streams: 1 };
  // Fewer requests in flight than connections: one stream on each of as many as there are.
  const connections = Math.min(target.connections ?? 1, inFlight);
  if (inFlight % connections !== 0) throw new Error(`${inFlight} requests in flight cannot be shared evenly by ${connections} connections`);
  return { connections, streams: inFlight / connections };
}

export interface H2loadJob {
  readonly port: number;
  readonly target: H2loadTarget;
  /** Requests in flight (see H2loadTarget.protocol). */
  readonly inFlight: number;
  /**
   * Exactly one of: a number of requests (-n), which ends with none in flight, or a
   * duration (-D), which cuts the streams open at its end (a warm-up).
   */
  readonly requests?: number;
  readonly seconds?: number;
  /** taskset CPU list for h2load; undefined runs it unpinned. */
  readonly cpus?: string | undefined;
  /** Per-request latencies go here (--log-file) and become percentiles. */
  readonly latencyLog?: string;
  /** The server, whose CPU time is read before h2load starts and after it ends. */
  readonly serverPid?: number;
  /** h2load is killed past this, and the run fails. */
  readonly timeoutMs: number;
}

export interface H2loadResult {
  /** From h2load's start (connecting included) to its last response. */
  readonly seconds: number;
  readonly throughput: number;
  readonly requests: {
    readonly total: number;
    readonly started: number;
    readonly done: number;
    readonly succeeded: number;
    readonly failed: number;
    readonly errored: number;
    readonly timeout: number;
  };
  readonly status: { readonly '2xx': number; readonly '3xx': number; readonly '4xx': number; readonly '5xx': number };
  /** Response bodies received (HTTP/2: DATA frame payload, the gRPC frames of the responses). */
  readonly dataBytes: number;
  readonly latencyMs?: { readonly p50: number; readonly p90: number; readonly p99: number; readonly mean: number; readonly max: number };
  /** Rows of the latency log whose status is not 200 (-1: the stream failed). */
  readonly latencyLogNon200?: number;
  /** Wall time from spawning h2load to its exit: the window of the CPU figures. */
  readonly wallSeconds: number;
  /** The server's CPU seconds (user + system, all threads) over that window. */
  readonly serverCpuSeconds?: number;
  /** h2load's, read as it prints its summary; absent when it exited before it could be read. */
  readonly clientCpuSeconds?: number;
}

/** h2load prints durations as 1.5s, 300.2ms or 912us. */
function seconds(value: string, unit: string): number {
  return Number(value) / ({ s: 1, ms: 1e3, us: 1e6 } as const)[unit as 's' | 'ms' | 'us'];
}

function parseSummary(output: string): Omit<H2loadResult, 'latencyMs' | 'latencyLogNon200' | 'wallSeconds' | 'serverCpuSeconds' | 'clientCpuSeconds'> {
  const finished = /^finished in ([\d.]+)(s|ms|us), ([\d.]+) req\/s/m.exec(output);
  const requests = /^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m.exec(output);
  const status = /^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/m.exec(output);
  const traffic = /^traffic: .*\((\d+)\) total, .*\((\d+)\) headers .*\((\d+)\) data/m.exec(output);
  if (!finished || !requests || !status || !traffic) throw new Error(`h2load printed no summary this parser knows:\n${output.slice(-2000)}`);
  const n = (m: RegExpExecArray, i: number): number => Number(m[i]);
  return {
    seconds: seconds(finished[1] as string, finished[2] as string),
    throughput: Number(finished[3]),
    requests: {
      total: n(requests, 1),
      started: n(requests, 2),
      done: n(requests, 3),
      succeeded: n(requests, 4),
      failed: n(requests, 5),
      errored: n(requests, 6),
      timeout: n(requests, 7),
    },
    status: { '2xx': n(status, 1), '3xx': n(status, 2), '4xx': n(status, 3), '5xx': n(status, 4) },
    dataBytes: n(traffic, 3),
  };
}

/** --log-file rows: start (µs since the epoch), HTTP status, µs until the end of the response. */
function readLatencyLog(file: string): { latencyMs: NonNullable<H2loadResult['latencyMs']>; non200: number } {
  const rows = readFileSync(file, 'utf8').split('\n');
  const ms = new Float64Array(rows.length);
  let count = 0;
  let non200 = 0;
  let sum = 0;
  for (const row of rows) {
    if (!row) continue;
    const [, status, micros] = row.split('\t');
    if (status !== '200') non200++;
    const value = Number(micros) / 1000;
    ms[count++] = value;
    sum += value;
  }
  const sorted = ms.subarray(0, count).sort();
  return {
    latencyMs: {
      p50: round(percentile(sorted, 50), 4),
      p90: round(percentile(sorted, 90), 4),
      p99: round(percentile(sorted, 99), 4),
      mean: round(sum / count, 4),
      max: round(sorted[count - 1] ?? NaN, 4),
    },
    non200,
  };
}

export function runH2load(job: H2loadJob): Promise<H2loadResult> {
  const { target } = job;
  const { connections, streams } = connectionsOf(target, job.inFlight);
  const args = [
    ...(job.requests !== undefined ? ['-n', String(job.requests)] : ['-D', `${Math.max(1, Math.round((job.seconds ?? 0) * 1000))}ms`]),
    ...(target.protocol === 'h1' ? ['--h1'] : []),
    '-c', String(connections),
    '-m', String(streams),
    '-d', target.bodyFile,
    ...target.headers.flatMap((header) => ['-H', header]),
    ...(job.latencyLog ? [`--log-file=${job.latencyLog}`] : []),
    `http://127.0.0.1:${job.port}${target.path}`,
  ];
  const serverCpuBefore = job.serverPid === undefined ? undefined : procCpuSeconds(job.serverPid);
  const started = performance.now();
  // taskset execs h2load: the pid is h2load's.
  const [command, argv] = job.cpus ? ['taskset', ['--cpu-list', job.cpus, 'h2load', ...args]] : ['h2load', args];
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let clientCpu: number | undefined;
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    output += text;
    if (clientCpu === undefined && output.includes('\nfinished in ')) {
      try {
        clientCpu = procCpuSeconds(child.pid as number);
      } catch {
        // Already exited and reaped: its CPU time is gone with it.
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), job.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${command}: ${err.message}`));
    });
    // 'close', not 'exit': the summary must have been read in full.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const wallSeconds = round((performance.now() - started) / 1000, 4);
      const serverCpu = job.serverPid === undefined ? undefined : procCpuSeconds(job.serverPid) - (serverCpuBefore as number);
      if (code !== 0) {
        const why = signal === 'SIGKILL' ? `killed after ${job.timeoutMs} ms` : `exited with ${signal ?? code}`;
        reject(new Error(`h2load ${why}: ${args.join(' ')}\n${output.slice(-2000)}`));
        return;
      }
      try {
        const summary = parseSummary(output);
        const log = job.latencyLog ? readLatencyLog(job.latencyLog) : undefined;
        resolve({
          ...summary,
          ...(log ? { latencyMs: log.latencyMs, latencyLogNon200: log.non200 } : {}),
          wallSeconds,
          ...(serverCpu !== undefined ? { serverCpuSeconds: round(serverCpu, 2) } : {}),
          ...(clientCpu !== undefined ? { clientCpuSeconds: round(clientCpu, 2) } : {}),
        });
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

/**
 * What h2load cannot tell: whether the answers were the expected ones. Every successful
 * response here is the same body of `responseBodyBytes` (for gRPC, the response's frame),
 * while a gRPC error has no DATA at all and a REST error another body, so the data received
 * must cover every completed request. A stream cut at the end of a timed run may add part
 * of a body, never more than the streams left open. A count-bounded run (`requests`) ends
 * with none open, so there the count is exact.
 */
export function checkRun(result: H2loadResult, responseBodyBytes: number, requests?: number): string[] {
  const problems: string[] = [];
  const r = result.requests;
  if (r.failed + r.errored + r.timeout > 0) problems.push(`h2load: ${r.failed} failed, ${r.errored} errored, ${r.timeout} timed out`);
  // Streams cut at the end of a timed run may have had their headers, not their end.
  const status = result.status;
  if (status['3xx'] + status['4xx'] + status['5xx'] > 0 || status['2xx'] < r.done) {
    problems.push(`HTTP statuses of ${r.done} completed requests: ${JSON.stringify(status)}`);
  }
  if (result.latencyLogNon200) problems.push(`${result.latencyLogNon200} rows of the latency log are not HTTP 200`);
  const least = r.done * responseBodyBytes;
  const most = (requests === undefined ? r.started : r.done) * responseBodyBytes;
  if (result.dataBytes < least || result.dataBytes > most) {
    problems.push(
      `received ${result.dataBytes} B of response data for ${r.done} completed requests of ${responseBodyBytes} B each ` +
        `(${(result.dataBytes / responseBodyBytes).toFixed(2)} responses' worth): some were not the expected response`,
    );
  }
  if (requests !== undefined && r.done !== requests) problems.push(`${r.done} of ${requests} requests completed`);
  return problems;
}
