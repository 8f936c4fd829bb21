// NATS side of monitoring: core publish or a JetStream stream for events, a JetStream KV
// bucket for endpoint records. Connection trouble is logged and reported through
// isConnected(); it is never thrown to the caller after start.
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import {
  type ConnectionOptions,
  type KV,
  type NatsConnection,
  type StreamInfo,
  ErrorCode,
  Events,
  NatsError,
  connect,
  createInbox,
  credsAuthenticator,
} from 'nats';
import type { MonitoringTransport } from './monitor.js';
import type { MonitoringOptions, MonitoringStreamOptions } from './options.js';
import type { StoredRecord } from './record-store.js';
import { streamConfig, streamDifferences } from './stream-config.js';
import { type StreamSend, framedSend, publicSend } from './stream-sender.js';

/** Pause between connection attempts, before the first success and after it (reconnects). */
const RETRY_MS = 1000;
/** Bounds one connection attempt, a KV or stream management call, and drain() at close. */
const OP_TIMEOUT_MS = 5000;
/** JetStream's "stream not found" error code. */
const STREAM_NOT_FOUND = 10059;
/** JetStream's error code when a key moved past the revision a write expected. */
const WRONG_LAST_SEQUENCE = 10071;
/**
 * Publish errors of a connection going away: the message was not sent, and a retry may
 * be. Any other error (max_payload exceeded) means it can never be sent.
 */
const NOT_SENT: ReadonlySet<string> = new Set([
  ErrorCode.Disconnect,
  ErrorCode.ConnectionClosed,
  ErrorCode.ConnectionDraining,
]);

/** The stream events are stored in, and the subject filter it captures them with. */
export interface EventStream {
  readonly options: MonitoringStreamOptions;
  readonly subject: string;
}

/** A stream publish held until the stream is checked. */
interface HeldPublish {
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly msgId: string;
}

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
    // Async traces make every request (a stream publish is one) capture two stacks that
    // only a failure would show: a cost per event, for errors this module only counts.
    noAsyncTraces: true,
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
  private send: StreamSend | undefined;
  private connected = false;
  private closed = false;
  private kv: Promise<KV> | undefined;
  /** The latest connection's stream check while it runs: stream publishes are held meanwhile. */
  private streamCheck: Promise<void> | undefined;
  /** By reply token: a retry of a held message replaces its first attempt. */
  private readonly held = new Map<number, HeldPublish>();
  /** Reply subjects are `<inbox>.<token>`; one subscription to `<inbox>.*` gets them all. */
  private readonly inbox: string;
  private replyListener: ((token: number, data: Uint8Array, status: number) => void) | undefined;
  private streamCheckWarned = false;
  private streamDifferenceWarned = false;
  private wake: (() => void) | undefined;
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly bucket: string,
    private readonly log: Logger,
    private readonly stream?: EventStream,
  ) {
    this.inbox = createInbox(opts.inboxPrefix);
  }

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

  sendToStream(subject: string, payload: Uint8Array, msgId: string, token: number): boolean {
    const send = this.send;
    if (!send || !this.connected) return false;
    // Before the stream exists a publish finds no responder and waits out an ack timeout.
    if (this.streamCheck) {
      this.held.set(token, { subject, payload, msgId });
      return true;
    }
    return this.publishToStream(send, subject, payload, msgId, token);
  }

  onStreamReply(listener: (token: number, data: Uint8Array, status: number) => void): void {
    this.replyListener = listener;
  }

  getRecord(key: string): Promise<StoredRecord | undefined> {
    return this.withBucket(async (kv) => {
      const e = await kv.get(key);
      return e?.operation === 'PUT' ? { value: e.value, revision: e.revision } : undefined;
    });
  }

  writeRecord(key: string, value: Uint8Array, revision: number): Promise<boolean> {
    return this.withBucket(async (kv) => {
      try {
        // create() also takes a key whose last entry is a delete marker.
        await (revision === 0 ? kv.create(key, value) : kv.update(key, value, revision));
        return true;
      } catch (err) {
        if (err instanceof NatsError && err.api_error?.err_code === WRONG_LAST_SEQUENCE) return false;
        throw err;
      }
    });
  }

  /** Runs op on the bucket; after a failure the bucket is looked up again. */
  private async withBucket<T>(op: (kv: KV) => Promise<T>): Promise<T> {
    const nc = this.nc;
    if (!nc || !this.connected) throw new Error('not connected to NATS');
    // views.kv() creates the bucket when missing.
    this.kv ??= nc.jetstream({ timeout: OP_TIMEOUT_MS }).views.kv(this.bucket, { history: 1 });
    try {
      return await op(await this.kv);
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
    if (this.stream) {
      this.send = framedSend(nc);
      if (!this.send) {
        this.log.warn("nats.js's protocol handler not found (a new nats.js?); stream publishes take its publish(), at more CPU per event");
        this.send = publicSend(nc);
      }
      this.subscribeReplies(nc);
    }
    this.log.info({ server: nc.getServer() }, 'monitoring connected to NATS');
    this.checkStream(nc);
    this.notifyConnected();
    void this.watch(nc);
    void nc.closed().then(() => {
      this.connected = false;
    });
  }

  /** One subscription for every stream reply; nats.js sends it again after a reconnection. */
  private subscribeReplies(nc: NatsConnection): void {
    const tokenAt = this.inbox.length + 1;
    nc.subscribe(`${this.inbox}.*`, {
      callback: (err, msg) => {
        if (err) {
          // A permissions error on the inbox: every publish then times out, is retried and dropped.
          this.log.warn({ err }, 'monitoring stream replies not received');
          return;
        }
        this.replyListener?.(Number(msg.subject.slice(tokenAt)), msg.data, msg.headers?.code ?? 0);
      },
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
          this.checkStream(nc);
          this.notifyConnected();
        }
      }
    } catch (err) {
      this.log.warn({ err }, 'NATS status stream ended');
    }
  }

  /**
   * After each (re)connection: the server may have lost its store, so create the stream
   * when missing. An existing stream is left as it is; how it differs is logged once.
   */
  private checkStream(nc: NatsConnection): void {
    const stream = this.stream;
    if (!stream) return;
    const check = this.ensureStream(nc, stream).catch((err: unknown) => {
      if (this.streamCheckWarned) return;
      this.streamCheckWarned = true;
      this.log.warn(
        { err, stream: stream.options.name },
        'monitoring stream not checked (is JetStream enabled?); events not acknowledged are retried, then dropped',
      );
    });
    this.streamCheck = check;
    void check.then(() => {
      // After a newer (re)connection, its own check releases the held messages.
      if (this.streamCheck !== check) return;
      this.streamCheck = undefined;
      this.releaseHeld();
    });
  }

  /** Sends what waited for the stream check; while disconnected they wait for their retry. */
  private releaseHeld(): void {
    const send = this.send;
    for (const [token, m] of this.held) {
      if (!this.connected || !send) break;
      try {
        this.publishToStream(send, m.subject, m.payload, m.msgId, token);
      } catch {
        // Too large to send: no reply comes, and its retry, no longer held, is refused.
      }
    }
    this.held.clear();
  }

  private publishToStream(send: StreamSend, subject: string, payload: Uint8Array, msgId: string, token: number): boolean {
    try {
      send(subject, `${this.inbox}.${token}`, msgId, payload);
      return true;
    } catch (err) {
      if (err instanceof NatsError && NOT_SENT.has(err.code)) return false;
      throw err;
    }
  }

  private async ensureStream(nc: NatsConnection, stream: EventStream): Promise<void> {
    const { options, subject } = stream;
    const jsm = await nc.jetstreamManager({ timeout: OP_TIMEOUT_MS });
    let info: StreamInfo;
    try {
      info = await jsm.streams.info(options.name);
    } catch (err) {
      if (!(err instanceof NatsError && err.api_error?.err_code === STREAM_NOT_FOUND)) throw err;
      info = await jsm.streams.add(streamConfig(options, subject));
      this.log.info({ stream: options.name, subject }, 'monitoring stream created');
    }
    const differences = streamDifferences(info.config, options, subject);
    if (Object.keys(differences).length === 0 || this.streamDifferenceWarned) return;
    this.streamDifferenceWarned = true;
    this.log.warn(
      { stream: options.name, differences },
      'monitoring stream exists with other settings; it is used as it is',
    );
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
