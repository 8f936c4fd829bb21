// Child processes of the benchmark: servers that announce their port on stdout, which
// CPUs they may run on, and what /proc says about them (RSS, CPU time).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));
export const CLI = join(PROJECT_ROOT, 'bin', 'v2serve.js');

const LOOPBACK_PORTS = ['--grpc-address=127.0.0.1', '--grpc-port=0', '--metrics-address=127.0.0.1', '--metrics-port=0'] as const;

/**
 * v2serve's ports for a benchmark of the gRPC path: gRPC and metrics on loopback, any free
 * port (two runs at once must not collide on 8002), no HTTP port.
 */
export const V2SERVE_PORTS = [...LOOPBACK_PORTS, '--allow-http=false'] as const;

/** For a benchmark of the REST path: the HTTP port on loopback too, any free one. */
export const V2SERVE_HTTP_PORTS = [...LOOPBACK_PORTS, '--http-address=127.0.0.1', '--http-port=0'] as const;

export interface ServerProcess {
  readonly pid: number;
  readonly port: number;
  readonly address: string;
  /** v2serve's metrics port, once its 'listening' line told it (absent with --allow-metrics=false and for baselines). */
  metricsPort(): number | undefined;
  /** Last lines of stderr and non-JSON stdout, for error messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code or signal. */
  stop(graceMs?: number): Promise<string>;
}

const children = new Set<ChildProcess>();
// A benchmark that dies half-way must not leave servers behind.
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export interface SpawnOptions {
  /** taskset CPU list to start on, instead of this process's CPUs. */
  readonly cpus?: string;
  /** Written to the server's stdin once it resolves; a rejection closes stdin empty. */
  readonly stdin?: Promise<Buffer>;
  /**
   * The port to measure is the one of v2serve's `{"msg":"listening","transport":"http"}` line,
   * not of the first line without a transport (its gRPC port; the only line of a baseline).
   */
  readonly transport?: 'http';
}

/**
 * Spawns `node <nodeArgs> <script> <args>` and resolves once it logs a JSON line
 * `{"msg":"listening","port":N}` on stdout (v2serve's pino line; the baselines copy it),
 * or the same line with `options.transport`.
 */
export function spawnServer(nodeArgs: readonly string[], script: string, args: readonly string[], options: SpawnOptions = {}): Promise<ServerProcess> {
  const timeoutMs = 30_000;
  const argv = [...nodeArgs, script, ...args];
  // taskset execs node: the child's pid is the server's.
  const [command, commandArgs] = options.cpus ? ['taskset', ['--cpu-list', options.cpus, process.execPath, ...argv]] : [process.execPath, argv];
  const child = spawn(command, commandArgs, { cwd: PROJECT_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  // A server that died first has closed the pipe: its exit is reported, not the write.
  child.stdin.on('error', () => undefined);
  (options.stdin ?? Promise.resolve(Buffer.alloc(0))).then(
    (bytes) => child.stdin.end(bytes),
    () => child.stdin.end(),
  );
  children.add(child);
  let tail = '';
  const keep = (text: string): void => {
    tail = (tail + text).slice(-4000);
  };
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(signal ?? String(code));
    }),
  );
  const stop = async (graceMs = 10_000): Promise<string> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const how = await exited;
    clearTimeout(timer);
    return how;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop(0);
      reject(new Error(`${script} did not log "listening" within ${timeoutMs} ms:\n${tail}`));
    }, timeoutMs);
    let buffered = '';
    let listening = false;
    let metricsPort: number | undefined;
    child.stderr.setEncoding('utf8').on('data', keep);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (listening && metricsPort !== undefined) continue;
        let parsed: { msg?: unknown; port?: unknown; transport?: unknown } | undefined;
        try {
          parsed = JSON.parse(line) as { msg?: unknown; port?: unknown; transport?: unknown };
        } catch {
          keep(`${line}\n`);
        }
        if (parsed?.msg === 'listening' && parsed.transport === 'metrics' && typeof parsed.port === 'number') {
          metricsPort = parsed.port;
        } else if (!listening && parsed?.msg === 'listening' && parsed.transport === options.transport && typeof parsed.port === 'number') {
          listening = true;
          clearTimeout(timer);
          const port = parsed.port;
          resolve({ pid: child.pid as number, port, address: `127.0.0.1:${port}`, metricsPort: () => metricsPort, output: () => tail, stop });
        }
      }
    });
    void exited.then((how) => {
      clearTimeout(timer);
      if (!listening) reject(new Error(`${script} exited (${how}) before listening:\n${tail}`));
    });
  });
}

export interface ProcMemory {
  readonly rssKb: number;
  /** Peak RSS so far. */
  readonly hwmKb: number;
}

/** VmRSS and VmHWM of a process, from /proc/<pid>/status (Linux). */
export function procMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ; 100 on every Linux we run on

/** User + system CPU seconds of a process, all threads (/proc/<pid>/stat fields 14 and 15). */
export function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** The CPUs this process may run on, from Cpus_allowed_list in /proc/self/status ("0-3,6"). */
export function allowedCpus(): number[] {
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '';
  return list.split(',').flatMap((range) => {
    const [from, to = from] = range.split('-').map(Number) as [number, number?];
    return Array.from({ length: (to as number) - from + 1 }, (_, i) => from + i);
  });
}

/**
 * Restricts every thread of `pid` to `cpus` (a taskset list, "1" or "1-2"). Threads the
 * process starts later inherit it from the thread that starts them.
 */
export function pinProcess(pid: number, cpus: string): void {
  const result = spawnSync('taskset', ['--all-tasks', '--pid', '--cpu-list', cpus, String(pid)], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new Error(`taskset could not pin pid ${pid} to CPU ${cpus}: ${result.error?.message ?? result.stderr.trim()} (taskset is in util-linux)`);
  }
}

/**
 * Resolves once `pid` has used no CPU for `quietMs`, or after `maxMs` whatever it does.
 * /proc counts CPU time in 10 ms ticks, so a quiet window is a few ticks long.
 */
export async function waitIdle(pid: number, quietMs = 30, maxMs = 2000): Promise<void> {
  const deadline = performance.now() + maxMs;
  let last = procCpuSeconds(pid);
  while (performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, quietMs));
    const now = procCpuSeconds(pid);
    if (now === last) return;
    last = now;
  }
}

/** `v2serve --help`, to tell which optional flags this checkout has. */
export function v2serveHelp(): string {
  const result = spawnSync(process.execPath, [CLI, '--help'], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 30_000 });
  return `${result.stdout}\n${result.stderr}`;
}

