// Spawns a real nats-server (JetStream on, store in a temp dir) on a free loopback port
// and waits until it accepts clients. A missing binary fails the test: never skipped.
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** Kills the server (SIGKILL, like a crash) and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
  /** Starts it again on the same port and store dir, and waits until it accepts clients. */
  restart(): Promise<void>;
  /** stop() and remove the store dir; for t.after(). */
  cleanup(): Promise<void>;
}

export interface NatsServerOptions {
  /** Enable JetStream (-js); default true. */
  readonly jetstream?: boolean;
  readonly readyTimeoutMs?: number;
  /** The server's max_payload in bytes (its default is 1 MiB). */
  readonly maxPayload?: number;
}

const INSTALL_HINT = 'install it with `apt-get install nats-server` (or put nats-server on PATH)';

export function findNatsServer(): string {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/usr/local/bin'];
  for (const dir of dirs) {
    const candidate = join(dir, 'nats-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(`nats-server not found on PATH or in /usr/sbin: ${INSTALL_HINT}`);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves when a client connection on the port receives the server's INFO line. */
function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.on('error', () => done(false));
    sock.on('data', (d) => done(d.toString('utf8').startsWith('INFO ')));
  });
}

export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const bin = findNatsServer();
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'v2serve-nats-'));
  const args = ['-a', '127.0.0.1', '-p', String(port), ...(opts.jetstream === false ? [] : ['-js', '-sd', storeDir])];
  if (opts.maxPayload !== undefined) {
    const config = join(storeDir, 'nats.conf');
    writeFileSync(config, `max_payload: ${opts.maxPayload}\n`);
    args.push('-c', config);
  }
  const readyTimeoutMs = opts.readyTimeoutMs ?? 10_000;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  // A test that dies before t.after() runs must not leave a server behind.
  const killOnExit = (): void => {
    child?.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  async function launch(): Promise<void> {
    let output = '';
    const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout?.setEncoding('utf8').on('data', (s: string) => (output = (output + s).slice(-4000)));
    proc.stderr?.setEncoding('utf8').on('data', (s: string) => (output = (output + s).slice(-4000)));
    let hasExited = false;
    exited = new Promise((resolve) => {
      proc.once('exit', () => {
        hasExited = true;
        resolve();
      });
    });
    const spawnError = new Promise<Error>((resolve) => proc.once('error', resolve));
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      const failed = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(() => r(undefined), 20))]);
      if (failed) throw new Error(`cannot run ${bin}: ${failed.message}; ${INSTALL_HINT}`);
      if (hasExited) throw new Error(`nats-server exited before accepting clients on port ${port}:\n${output}`);
      if (await probe(port)) return;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`nats-server not ready on port ${port} after ${readyTimeoutMs} ms:\n${output}`);
      }
    }
  }

  async function stop(): Promise<void> {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGKILL');
    await exited;
  }

  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    stop,
    async restart() {
      await stop();
      await launch();
    },
    async cleanup() {
      await stop();
      process.removeListener('exit', killOnExit);
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
