// An in-memory MonitoringTransport: records what would go to NATS, and answers stream
// publishes as a stream would, with PubAck replies on the publish's token.
import { setTimeout as sleep } from 'node:timers/promises';
import type { MonitoringTransport, StoredRecord } from '../../src/monitoring/index.js';
import { SEND_DELAY_MS } from '../../src/monitoring/stream-publisher.js';
import type { InferenceEvent, ModelStateEvent } from '../../src/events.js';

export interface Sent {
  readonly subject: string;
  readonly msg: Record<string, unknown>;
}

/** One sendToStream() call. */
export interface StreamAttempt extends Sent {
  readonly msgId: string;
  readonly token: number;
}

/**
 * How the fake stream answers an attempt: a PubAck ('stored', 'duplicate'), no reply
 * ('lost'), a 503 status ('no-responders'), or a PubAck with an error.
 */
export type FakeReply =
  | 'stored'
  | 'duplicate'
  | 'lost'
  | 'no-responders'
  | { readonly error: { readonly code: number; readonly err_code: number; readonly description: string } };

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The reply a nats-server sends for `reply`, as payload and status code. */
export function replyBytes(reply: Exclude<FakeReply, 'lost'>, seq = 1): { data: Uint8Array; status: number } {
  if (reply === 'no-responders') return { data: new Uint8Array(0), status: 503 };
  const json =
    reply === 'stored' ? { stream: 'EVENTS', seq } : reply === 'duplicate' ? { stream: 'EVENTS', seq, duplicate: true } : reply;
  return { data: encoder.encode(JSON.stringify(json)), status: 0 };
}

export class FakeTransport implements MonitoringTransport {
  connected = true;
  failPublish = false;
  failPut = false;
  closed = 0;
  readonly sent: Sent[] = [];
  readonly records = new Map<string, Record<string, unknown>>();
  /** The revision each record was written at; revisions count up over all keys, as a KV bucket's. */
  readonly revisions = new Map<string, number>();
  private revision = 0;
  /** Every sendToStream() attempt, retries included. */
  readonly attempts: StreamAttempt[] = [];
  /** How the stream answers an attempt, after a turn of the event loop; by default it stores it. */
  answer: (call: StreamAttempt) => FakeReply | Promise<FakeReply> = () => 'stored';
  /** Thrown by sendToStream(), as nats.js throws a message above max_payload. */
  sendError: Error | undefined;
  private readonly listeners: (() => void)[] = [];
  private replyListener: ((token: number, data: Uint8Array, status: number) => void) | undefined;
  private seq = 0;

  isConnected(): boolean {
    return this.connected;
  }
  publish(subject: string, payload: Uint8Array): void {
    if (this.failPublish) throw new Error('publish failed');
    this.sent.push({ subject, msg: JSON.parse(decoder.decode(payload)) as Record<string, unknown> });
  }
  sendToStream(subject: string, payload: Uint8Array, msgId: string, token: number): boolean {
    if (this.sendError) throw this.sendError;
    if (!this.connected) return false;
    const call = { subject, msgId, token, msg: JSON.parse(decoder.decode(payload)) as Record<string, unknown> };
    this.attempts.push(call);
    void (async () => {
      await new Promise<void>((r) => setImmediate(r));
      const reply = await this.answer(call);
      if (reply !== 'lost') this.reply(token, reply);
    })();
    return true;
  }
  onStreamReply(listener: (token: number, data: Uint8Array, status: number) => void): void {
    this.replyListener = listener;
  }
  /** Delivers a reply on `token`, as the inbox subscription would. */
  reply(token: number, reply: Exclude<FakeReply, 'lost'>): void {
    const { data, status } = replyBytes(reply, ++this.seq);
    this.replyListener?.(token, data, status);
  }
  async getRecord(key: string): Promise<StoredRecord | undefined> {
    await Promise.resolve();
    if (this.failPut) throw new Error('JetStream not enabled');
    const value = this.records.get(key);
    return value && { value: encoder.encode(JSON.stringify(value)), revision: this.revisions.get(key) ?? 0 };
  }
  async writeRecord(key: string, value: Uint8Array, revision: number): Promise<boolean> {
    await Promise.resolve();
    if (this.failPut) throw new Error('JetStream not enabled');
    if ((this.revisions.get(key) ?? 0) !== revision) return false;
    this.revisions.set(key, ++this.revision);
    this.records.set(key, JSON.parse(decoder.decode(value)) as Record<string, unknown>);
    return true;
  }
  onConnected(listener: () => void): void {
    this.listeners.push(listener);
  }
  async close(): Promise<void> {
    this.closed++;
  }
  reconnect(): void {
    this.connected = true;
    for (const l of this.listeners) l();
  }
}

export const BASE_TIME = Date.UTC(2024, 0, 1, 12, 0, 0);

/** Request `r<i>` of model m version 1, 1.5 s long. */
export function inference(i: number, over: Partial<InferenceEvent> = {}): InferenceEvent {
  return {
    kind: 'inference',
    modelClass: 'EchoModel',
    model: 'm',
    version: '1',
    instance: 'main',
    labels: { team: 'a' },
    op: 'infer',
    requestId: `r${i}`,
    arrivedAtMs: BASE_TIME + i,
    durationNs: 1_500_000_000n,
    inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: new Float32Array([i, 0.5]) }],
    outputs: [{ name: 'y', datatype: 'INT32', shape: [2], data: new Int32Array([i, 2 * i]) }],
    parameters: {},
    metrics: { calls: i },
    ...over,
  };
}

export function failed(i: number, over: Partial<InferenceEvent> = {}): InferenceEvent {
  return inference(i, {
    outputs: [],
    error: { message: 'predict exploded', code: 'INTERNAL', stack: 'Error: predict exploded\n    at predict (model.ts:1:1)' },
    ...over,
  });
}

export function state(s: ModelStateEvent['state'], over: Partial<ModelStateEvent> = {}): ModelStateEvent {
  return {
    kind: 'model-state',
    modelClass: 'EchoModel',
    model: 'm',
    parameters: {},
    version: '1',
    state: s,
    reason: s === 'READY' ? 'loaded' : 'unloaded',
    labels: { team: 'a' },
    path: '/models/m/1',
    ...over,
  };
}

/** Lets the setImmediate drain run. */
export async function settle(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}

/**
 * With a stream: lets the drain run, then the publisher's send window (its timer, armed in
 * the drain, fires before one armed after it with the same delay), then the fake replies.
 */
export async function settleSent(turns = 3): Promise<void> {
  await settle(turns);
  await sleep(SEND_DELAY_MS);
  await settle(turns);
}
