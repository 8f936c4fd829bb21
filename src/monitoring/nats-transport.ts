// NATS side of monitoring: core publish for events, a JetStream KV bucket for endpoint
// records. Connection trouble is logged and reported through isConnected(); it is never
// thrown to the caller after start.
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { type ConnectionOptions, type KV, type NatsConnection, Events, connect, credsAuthenticator } from 'nats';
import type { MonitoringTransport } from './monitor.js';
import type { MonitoringOptions } from './options.js';

/** Pause between connection attempts, before the first success and after it (reconnects). */
const RETRY_MS = 1000;
/** Bounds one connection attempt, a KV call, and drain() at close. */
const OP_TIMEOUT_MS = 5000;

/** Client options from MonitoringOptions; reads the creds file, so a missing one fails start. */
export async function natsConnectionOptions(o: MonitoringOptions): Promise<ConnectionOptions> {
  const c = o.credentials ?? {};
  const opts: ConnectionOptions = {
    servers: o.natsUrl,
    name: `v2serve-monitoring ${o.serverId}`,
    // Reconnect forever once connected. waitOnFirstConnect is not used: nats.js gives no
    // handle to stop its first-connect loop, so close() could not end it while the server
    // is down. NatsTransport.start() runs the same loop, stoppable.
    maxReconnectAttempts: -1,
    reconnectTimeWait: RETRY_MS,
    timeout: OP_TIMEOUT_MS,
  };
  if (c.credsFile) opts.authenticator = credsAuthenticator(new Uint8Array(await readFile(c.credsFile)));
  if (c.user !== undefined) opts.user = c.user;
  if (c.pass !== undefined) opts.pass = c.pass;
  if (c.token !== undefined) opts.token = c.token;
  const t = o.tls;
  if (t && (t.caFile || t.certFile || t.keyFile)) {
    opts.tls = {
      ...(t.caFile ? { caFile: t.caFile } : {}),
      ...(t.certFile ? { certFile: t.certFile } : {}),
      ...(t.keyFile ? { keyFile: t.keyFile } : {}),
    };
  }
  return opts;
}

export class NatsTransport implements MonitoringTransport {
  private nc: NatsConnection | undefined;
  private connected = false;
  private closed = false;
  private kv: Promise<KV> | undefined;
  private wake: (() => void) | undefined;
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly bucket: string,
    private readonly log: Logger,
  ) {}

  /** Resolves after the first connection attempt, connected or not; retries in the background. */
  start(): Promise<void> {
    return new Promise((firstAttempt) => {
      void this.connectLoop(firstAttempt);
    });
  }

  isConnected(): boolean {
    return this.connected;
  }

  publish(subject: string, payload: Uint8Array): void {
    if (!this.nc) throw new Error('not connected to NATS');
    this.nc.publish(subject, payload);
  }

  async putRecord(key: string, value: Uint8Array): Promise<void> {
    const nc = this.nc;
    if (!nc || !this.connected) throw new Error('not connected to NATS');
    // views.kv() creates the bucket when missing.
    this.kv ??= nc.jetstream({ timeout: OP_TIMEOUT_MS }).views.kv(this.bucket, { history: 1 });
    try {
      const kv = await this.kv;
      await kv.put(key, value);
    } catch (err) {
      this.kv = undefined;
      throw err;
    }
  }

  onConnected(listener: () => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    const nc = this.nc;
    if (!nc) return;
    // drain() flushes what was published; when disconnected there is nothing to flush
    // and it would wait for a reconnection, so close at once.
    if (this.connected && !nc.isClosed()) {
      await withTimeout(nc.drain(), OP_TIMEOUT_MS).catch((err: unknown) => {
        this.log.warn({ err }, 'NATS drain failed');
      });
    }
    if (!nc.isClosed()) await nc.close().catch(() => undefined);
    this.connected = false;
  }

  private async connectLoop(firstAttempt: () => void): Promise<void> {
    let warned = false;
    while (!this.closed) {
      try {
        const nc = await connect(this.opts);
        if (this.closed) {
          await nc.close();
          break;
        }
        this.attach(nc);
        break;
      } catch (err) {
        if (!warned && !this.closed) {
          warned = true;
          this.log.warn({ err, url: this.opts.servers }, 'NATS unreachable; monitoring events are dropped until it connects');
        }
      }
      firstAttempt();
      await this.sleep(RETRY_MS);
    }
    firstAttempt();
  }

  private attach(nc: NatsConnection): void {
    this.nc = nc;
    this.connected = true;
    this.log.info({ server: nc.getServer() }, 'monitoring connected to NATS');
    this.notifyConnected();
    void this.watch(nc);
    void nc.closed().then(() => {
      this.connected = false;
    });
  }

  private async watch(nc: NatsConnection): Promise<void> {
    try {
      for await (const s of nc.status()) {
        if (s.type === Events.Disconnect) {
          this.connected = false;
          if (!this.closed) this.log.warn({ server: s.data }, 'monitoring disconnected from NATS; dropping events');
        } else if (s.type === Events.Reconnect) {
          this.connected = true;
          this.log.info({ server: s.data }, 'monitoring reconnected to NATS');
          this.notifyConnected();
        }
      }
    } catch (err) {
      this.log.warn({ err }, 'NATS status stream ended');
    }
  }

  private notifyConnected(): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch (err) {
        this.log.warn({ err }, 'monitoring connection listener failed');
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
