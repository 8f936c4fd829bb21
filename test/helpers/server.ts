// Starts the real CLI on a free loopback port and gives a client built from our stubs.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, Metadata, type CallOptions, type Client, type ServiceError } from '@grpc/grpc-js';
import { GRPCInferenceServiceClient } from '../../generated/grpc_service.js';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(PROJECT_ROOT, 'bin', 'v2serve.js');

export interface RunningCli {
  readonly port: number;
  readonly address: string;
  /** `http://127.0.0.1:<port>` of the HTTP transport; undefined with --allow-http=false. */
  readonly http: string | undefined;
  /** `http://127.0.0.1:<port>/metrics`; undefined with --allow-metrics=false. */
  readonly metrics: string | undefined;
  readonly process: ChildProcess;
  readonly client: GRPCInferenceServiceClient;
  /** Every log line so far, parsed. */
  readonly logs: Record<string, unknown>[];
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<number | null>;
}

/** Every port of v2serve on loopback and any free port number. */
export const LOOPBACK_ANY_PORT = [
  '--grpc-address=127.0.0.1',
  '--grpc-port=0',
  '--http-address=127.0.0.1',
  '--http-port=0',
  '--metrics-address=127.0.0.1',
  '--metrics-port=0',
] as const;

/**
 * The suites watch loading and readiness as they happen, so their servers open the ports
 * before the models load unless a test chooses the order; start-order.test.ts covers the
 * default one.
 */
const START_ORDER = /^--(serve-while-loading|exit-on-error)(=|$)/;

/** `nodeArgs` go to node itself, before the script (V8 flags such as --trace-gc, whose lines land in `logs` as `msg`). */
export async function startCli(args: readonly string[] = [], timeoutMs = 20_000, nodeArgs: readonly string[] = []): Promise<RunningCli> {
  const order = args.some((arg) => START_ORDER.test(arg)) ? [] : ['--serve-while-loading=true'];
  // HTTP and metrics are on by default: on fixed ports, test servers running at once would collide.
  const child = spawn(process.execPath, [...nodeArgs, CLI, ...LOOPBACK_ANY_PORT, ...order, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: { predicate: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let stderr = '';
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { msg: text };
      }
      logs.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.predicate(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  const waitForLog = (predicate: (l: Record<string, unknown>) => boolean, ms = timeoutMs) => {
    const found = logs.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`log line not seen within ${ms} ms; stderr: ${stderr}`)), ms);
      waiters.push({
        predicate,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      void exited.then((code) => reject(new Error(`v2serve exited (${code}) before the log line; stderr: ${stderr}`)));
    });
  };

  const listening = await waitForLog((l) => l['msg'] === 'listening' && l['transport'] === undefined);
  const port = listening['port'] as number;
  const httpOff = args.some((arg) => /^--allow-http=(false|0|off|no)$/i.test(arg));
  const httpListening = httpOff ? undefined : await waitForLog((l) => l['msg'] === 'listening' && l['transport'] === 'http');
  const http = httpListening ? `http://127.0.0.1:${httpListening['port'] as number}` : undefined;
  const metricsOff = args.some((arg) => /^--allow-metrics=(false|0|off|no)$/i.test(arg));
  const metricsListening = metricsOff ? undefined : await waitForLog((l) => l['msg'] === 'listening' && l['transport'] === 'metrics');
  const metrics = metricsListening ? `http://127.0.0.1:${metricsListening['port'] as number}/metrics` : undefined;
  const address = `127.0.0.1:${port}`;
  const client = new GRPCInferenceServiceClient(address, credentials.createInsecure(), {
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
  });
  return {
    port,
    address,
    http,
    metrics,
    process: child,
    client,
    logs,
    exited,
    waitForLog,
    async stop() {
      client.close();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

type Unary<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (err: ServiceError | null, response: Res) => void,
) => unknown;

/** Calls a unary method of a generated client as a promise. */
export function call<Req, Res>(
  client: Client,
  method: Unary<Req, Res>,
  request: Req,
  options: Partial<CallOptions> = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, request, new Metadata(), options, (err, response) =>
      err ? reject(err) : resolve(response),
    );
  });
}

/**
 * A temporary repository whose models can `import { ModelServer } from 'v2serve'`,
 * as they would with v2serve installed: node_modules/v2serve links to this project.
 */
export function tempRepository(models: Record<string, { config: string; versions?: Record<string, string> }>): {
  root: string;
  dir: string;
  write(path: string, content: string | Uint8Array): void;
  remove(): void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'v2serve-test-'));
  mkdirSync(join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  symlinkSync(PROJECT_ROOT, join(dir, 'node_modules', 'v2serve'), 'dir');
  const root = join(dir, 'repository');
  const write = (path: string, content: string | Uint8Array) => {
    const file = join(root, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  };
  mkdirSync(root);
  for (const [name, model] of Object.entries(models)) {
    write(`${name}/config.pbtxt`, model.config);
    for (const [version, source] of Object.entries(model.versions ?? {})) write(`${name}/${version}/model.ts`, source);
  }
  return { root, dir, write, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
