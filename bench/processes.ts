// Child processes of the benchmark: servers that announce their port on stdout,
// nats-server, and what /proc says about them (RSS, CPU time).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));
export const CLI = join(PROJECT_ROOT, 'bin', 'v2serve.js');

export interface ServerProcess {
  readonly pid: number;
  readonly port: number;
  readonly address: string;
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

/**
 * Spawns `node <nodeArgs> <script> <args>` and resolves once it logs a JSON line
 * `{"msg":"listening","port":N}` on stdout (v2serve's pino line; the baselines copy it).
 */
export function spawnServer(nodeArgs: readonly string[], script: string, args: readonly string[], timeoutMs = 30_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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
    child.stderr.setEncoding('utf8').on('data', keep);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (listening) continue;
        let parsed: { msg?: unknown; port?: unknown } | undefined;
        try {
          parsed = JSON.parse(line) as { msg?: unknown; port?: unknown };
        } catch {
          keep(`${line}\n`);
        }
        if (parsed?.msg === 'listening' && typeof parsed.port === 'number') {
          listening = true;
          clearTimeout(timer);
          const port = parsed.port;
          resolve({ pid: child.pid as number, port, address: `127.0.0.1:${port}`, output: () => tail, stop });
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

/** `v2serve --help`, to tell which optional flags this checkout has. */
export function v2serveHelp(): string {
  const result = spawnSync(process.execPath, [CLI, '--help'], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 30_000 });
  return `${result.stdout}\n${result.stderr}`;
}

