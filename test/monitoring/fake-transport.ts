// An in-memory MonitoringTransport: records what would go to NATS.
import type { MonitoringTransport } from '../../src/monitoring/index.js';
import type { StoreAttempt } from '../../src/monitoring/stream-publisher.js';
import type { InferenceEvent, ModelStateEvent } from '../../src/events.js';

export interface Sent {
  readonly subject: string;
  readonly msg: Record<string, unknown>;
}

/** One storeInStream() call. */
export interface StoreCall extends Sent {
  readonly msgId: string;
  readonly timeoutMs: number;
}

const decoder = new TextDecoder();

export class FakeTransport implements MonitoringTransport {
  connected = true;
  failPublish = false;
  failPut = false;
  closed = 0;
  readonly sent: Sent[] = [];
  readonly records = new Map<string, Record<string, unknown>>();
  /** Every storeInStream() attempt, retries included. */
  readonly attempts: StoreCall[] = [];
  /** How storeInStream() answers an attempt; by default the stream stores it. */
  answer: (call: StoreCall) => StoreAttempt | Promise<StoreAttempt> = () => 'stored';
  private readonly listeners: (() => void)[] = [];

  isConnected(): boolean {
    return this.connected;
  }
  publish(subject: string, payload: Uint8Array): void {
    if (this.failPublish) throw new Error('publish failed');
    this.sent.push({ subject, msg: JSON.parse(decoder.decode(payload)) as Record<string, unknown> });
  }
  async storeInStream(subject: string, payload: Uint8Array, msgId: string, timeoutMs: number): Promise<StoreAttempt> {
    const call = { subject, msgId, timeoutMs, msg: JSON.parse(decoder.decode(payload)) as Record<string, unknown> };
    this.attempts.push(call);
    return this.answer(call);
  }
  async putRecord(key: string, value: Uint8Array): Promise<void> {
    await Promise.resolve();
    if (this.failPut) throw new Error('JetStream not enabled');
    this.records.set(key, JSON.parse(decoder.decode(value)) as Record<string, unknown>);
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
