// Monitoring events in a JetStream stream, against a real nats-server -js: the stream
// v2serve creates, events read back by a durable consumer created after they were
// published, a nats-server restart in the middle of the load, an existing stream left as
// it is, and retries that never store an event twice.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { AckPolicy, connect, nanos, type JsMsg, type NatsConnection } from 'nats';
import type { ModelInferRequest } from '../../generated/grpc_service.js';
import type { InferenceEvent } from '../../src/events.js';
import {
  type MonitoringTransport,
  createMonitoring,
  resolveMonitoringOptions,
  startMonitoring,
} from '../../src/monitoring/index.js';
import { NatsTransport, natsConnectionOptions } from '../../src/monitoring/nats-transport.js';
import { streamSubject } from '../../src/monitoring/stream-config.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { call, startCli, type RunningCli } from '../helpers/server.js';

type Json = Record<string, unknown>;

function simpleRequest(id: string): ModelInferRequest {
  const ints = (f: (i: number) => number) => Buffer.from(new Int32Array(Array.from({ length: 16 }, (_, i) => f(i))).buffer);
  return {
    modelName: 'simple',
    modelVersion: '',
    id,
    parameters: new Map(),
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n], parameters: new Map(), contents: undefined },
      { name: 'INPUT1', datatype: 'INT32', shape: [1n, 16n], parameters: new Map(), contents: undefined },
    ],
    outputs: [],
    rawInputContents: [ints((i) => i), ints(() => 1)],
  };
}

async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

interface Nats {
  readonly server: NatsServer;
  readonly nc: NatsConnection;
}

/** A nats-server of the test's own and a client of the test's own; both go at the end. */
async function startNats(t: TestContext): Promise<Nats> {
  const server = await startNatsServer();
  const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  t.after(async () => {
    await nc.close();
    await server.cleanup();
  });
  return { server, nc };
}

async function startServing(t: TestContext, nats: NatsServer, args: string[]): Promise<RunningCli> {
  const cli = await startCli([`--monitoring-nats=${nats.url}`, ...args]);
  t.after(() => cli.stop());
  await cli.waitForLog((l) => l['model'] === 'simple' && l['msg'] === 'model loaded');
  return cli;
}

async function storedCount(nc: NatsConnection, stream: string): Promise<number> {
  const jsm = await nc.jetstreamManager();
  return (await jsm.streams.info(stream)).state.messages;
}

/** Reads the whole stream through a new durable consumer, acknowledging each message. */
async function readWithDurable(nc: NatsConnection, stream: string, durable: string): Promise<JsMsg[]> {
  const jsm = await nc.jetstreamManager();
  await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit });
  const consumer = await nc.jetstream().consumers.get(stream, durable);
  const read: JsMsg[] = [];
  await until('the consumer to reach the end of the stream', async () => {
    for await (const m of await consumer.fetch({ max_messages: 200, expires: 1000 })) {
      read.push(m);
      m.ack();
    }
    const info = await consumer.info();
    return info.num_pending === 0 && info.num_ack_pending === 0;
  });
  return read;
}

function requestIdOf(m: JsMsg): string {
  return (m.json<Json>()['request'] as { id: string }).id;
}

/** The stats line v2serve logs at shutdown, after a SIGTERM. */
async function stopAndReadStats(cli: RunningCli): Promise<Record<string, number>> {
  cli.process.kill('SIGTERM');
  assert.equal(await cli.exited, 0);
  const flushed = cli.logs.find((l) => l['msg'] === 'monitoring flushed');
  assert.ok(flushed, 'no monitoring stats at shutdown');
  return flushed['events'] as Record<string, number>;
}

describe('monitoring to a JetStream stream through the server', () => {
  test('stream - 100 inferences give exactly 100 events, read back by a durable consumer created afterwards', async (t) => {
    const { server, nc } = await startNats(t);
    const cli = await startServing(t, server, [
      '--monitoring-stream=V2SERVE_EVENTS',
      '--monitoring-stream-max-age=3600',
      '--monitoring-stream-max-bytes=10000000',
    ]);
    await cli.waitForLog((l) => l['msg'] === 'monitoring stream created');
    const ids = Array.from({ length: 100 }, (_, i) => `s-${i}`);
    for (let first = 0; first < ids.length; first += 10) {
      await Promise.all(ids.slice(first, first + 10).map((id) => call(cli.client, cli.client.modelInfer, simpleRequest(id))));
    }
    await until('100 events in the stream', async () => (await storedCount(nc, 'V2SERVE_EVENTS')) >= 100);
    const stats = await stopAndReadStats(cli);
    assert.equal(stats['published'], 100);
    assert.equal(stats['dropped'], 0);

    const info = await (await nc.jetstreamManager()).streams.info('V2SERVE_EVENTS');
    assert.deepEqual(info.config.subjects, ['v2serve.inference.*']);
    assert.equal(info.config.max_age, nanos(3_600_000));
    assert.equal(info.config.max_bytes, 10_000_000);
    assert.equal(info.config.num_replicas, 1);
    assert.equal(info.state.messages, 100);

    const read = await readWithDurable(nc, 'V2SERVE_EVENTS', 'reader');
    assert.equal(read.length, 100);
    assert.deepEqual(read.map(requestIdOf).sort(), [...ids].sort());
    const msgIds = read.map((m) => m.headers?.get('Nats-Msg-Id') ?? '');
    assert.ok(msgIds.every((id) => id !== ''), 'every message carries a Nats-Msg-Id');
    assert.equal(new Set(msgIds).size, 100);
    assert.equal(read[0]!.json<Json>()['model'], 'simple');
  });

  test('stream - nats-server restarted mid-load: inferences succeed, later events are stored, the rest counted as dropped', async (t) => {
    const { server, nc } = await startNats(t);
    const cli = await startServing(t, server, ['--monitoring-stream=V2SERVE_EVENTS']);
    await cli.waitForLog((l) => l['msg'] === 'monitoring stream created');

    let sent = 0;
    let answered = 0;
    let restarted = false;
    let answeredAfterRestart = 0;
    const restart = until('100 answered inferences', () => answered >= 100).then(() => server.restart()).then(() => {
      restarted = true;
    });
    // Four clients in a row each; the load goes on until 100 calls were answered after the
    // restart, bounded by a call count and the deadline of `until`.
    const worker = async (): Promise<void> => {
      while (!(restarted && answeredAfterRestart >= 100) && sent < 20_000) {
        const id = `load-${sent++}`;
        const response = await call(cli.client, cli.client.modelInfer, simpleRequest(id));
        assert.equal(response.id, id);
        answered++;
        if (restarted) answeredAfterRestart++;
      }
    };
    await Promise.all([restart, worker(), worker(), worker(), worker()]);
    assert.equal(answered, sent, 'every inference answered');

    await cli.waitForLog((l) => l['msg'] === 'monitoring reconnected to NATS');
    const after = Array.from({ length: 20 }, (_, i) => `after-${i}`);
    for (const id of after) await call(cli.client, cli.client.modelInfer, simpleRequest(id));
    const stats = await stopAndReadStats(cli);
    const sampled = sent + after.length;
    assert.equal(stats['failed'], 0);
    assert.equal(stats['published']! + stats['dropped']!, sampled, `published + dropped = sampled: ${JSON.stringify(stats)}`);

    const read = await readWithDurable(nc, 'V2SERVE_EVENTS', 'after-restart');
    const stored = read.map(requestIdOf);
    assert.equal(new Set(stored).size, stored.length, 'no event is stored twice');
    for (const id of after) assert.ok(stored.includes(id), `${id}, published after the restart, is in the stream`);
    assert.ok(stored.length >= stats['published']!, `${stored.length} stored, ${stats['published']} acknowledged`);
    assert.ok(stored.length + stats['dropped']! >= sampled, 'every event is in the stream or counted as dropped');
  });

  test('stream - an existing stream with other limits is used as it is, with a warning', async (t) => {
    const { server, nc } = await startNats(t);
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'EXISTING', subjects: ['v2serve.inference.>'], max_age: nanos(600_000), max_bytes: 5_000_000 });
    const cli = await startServing(t, server, ['--monitoring-stream=EXISTING']);
    const warning = await cli.waitForLog((l) => l['msg'] === 'monitoring stream exists with other settings; it is used as it is');
    assert.deepEqual(warning['differences'], {
      maxAgeMs: { stream: 600_000, configured: 86_400_000 },
      maxBytes: { stream: 5_000_000, configured: 1024 ** 3 },
    });
    for (let i = 0; i < 10; i++) await call(cli.client, cli.client.modelInfer, simpleRequest(`e-${i}`));
    await until('10 events in the stream', async () => (await storedCount(nc, 'EXISTING')) === 10);

    const info = await jsm.streams.info('EXISTING');
    assert.deepEqual(info.config.subjects, ['v2serve.inference.>']);
    assert.equal(info.config.max_age, nanos(600_000));
    assert.equal(info.config.max_bytes, 5_000_000);
    assert.ok(!cli.logs.some((l) => l['msg'] === 'monitoring stream created'));
  });
});

function inference(i: number): InferenceEvent {
  return {
    kind: 'inference',
    modelClass: 'EchoModel',
    model: 'echo',
    version: '1',
    instance: 'main',
    labels: {},
    op: 'infer',
    requestId: `r${i}`,
    arrivedAtMs: Date.now(),
    durationNs: 1000n,
    inputs: [{ name: 'x', datatype: 'INT32', shape: [1], data: new Int32Array([i]) }],
    outputs: [],
    parameters: {},
    metrics: {},
  };
}

/**
 * The real transport, except that the first acknowledgement of each message is lost. A
 * message keeps its reply token across retries, so the token names the message.
 */
function losingFirstAcks(inner: NatsTransport): MonitoringTransport {
  const acknowledged = new Set<number>();
  return {
    isConnected: () => inner.isConnected(),
    publish: (subject, payload) => inner.publish(subject, payload),
    getRecord: (key) => inner.getRecord(key),
    writeRecord: (key, value, revision) => inner.writeRecord(key, value, revision),
    onConnected: (listener) => inner.onConnected(listener),
    close: () => inner.close(),
    sendToStream: (subject, payload, msgId, token) => inner.sendToStream(subject, payload, msgId, token),
    onStreamReply(listener) {
      inner.onStreamReply((token, data, status) => {
        if (acknowledged.has(token)) listener(token, data, status);
        else acknowledged.add(token);
      });
    },
  };
}

describe('monitoring to a JetStream stream: retries', () => {
  test('retry - without JetStream, publishes are retried, then dropped and counted, with one warning', async (t) => {
    const server = await startNatsServer({ jetstream: false });
    t.after(() => server.cleanup());
    const logs: Json[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void logs.push(JSON.parse(line) as Json) });
    const mon = await startMonitoring(
      { natsUrl: server.url, stream: { name: 'NOWHERE', ackTimeoutMs: 50, maxRetries: 2 } },
      log,
    );
    for (let i = 1; i <= 5; i++) mon.emit(inference(i));
    await until('the events dropped', () => mon.stats().dropped === 5);
    await mon.close(1000);
    assert.deepEqual(mon.stats(), { published: 0, dropped: 5, failed: 0, pending: 0, messages: 0, retried: 10, awaitingAck: 0 });
    assert.equal(logs.filter((l) => String(l['msg']).startsWith('monitoring stream not checked')).length, 1);
  });

  test('retry - a message whose acknowledgement was lost is sent again and stored once', async (t) => {
    const { server, nc } = await startNats(t);
    const log = pino({ level: 'silent' });
    const options = resolveMonitoringOptions(
      { natsUrl: server.url, batch: 4, flushIntervalMs: 60_000, stream: { name: 'RETRIED', ackTimeoutMs: 200 } },
      { serverId: 'it', host: 'it' },
    );
    const inner = new NatsTransport(await natsConnectionOptions(options), options.kvBucket, log, {
      options: options.stream!,
      subject: streamSubject(options.subject),
    });
    const mon = createMonitoring(options, log, { transport: losingFirstAcks(inner) });
    await inner.start();
    t.after(() => mon.close(0));

    for (let i = 1; i <= 10; i++) mon.emit(inference(i));
    await mon.close(10_000);
    assert.deepEqual(mon.stats(), { published: 10, dropped: 0, failed: 0, pending: 0, messages: 3, retried: 10, awaitingAck: 0 });
    assert.equal(await storedCount(nc, 'RETRIED'), 3, 'two full batches and the partial one, each once');
  });
});

describe('monitoring to a JetStream stream: reconnection', () => {
  test('reconnect - after a nats-server restart, acknowledgements still reach the reply subscription', async (t) => {
    const { server } = await startNats(t);
    const logs: Json[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Json) });
    const mon = await startMonitoring({ natsUrl: server.url, stream: { name: 'RECONNECTED' } }, log);
    t.after(() => mon.close(0));
    await until('the stream created', () => logs.some((l) => l['msg'] === 'monitoring stream created'));
    for (let i = 1; i <= 10; i++) mon.emit(inference(i));
    await until('10 acknowledgements', () => mon.stats().published === 10);

    await server.restart();
    await until('the reconnection', () => logs.some((l) => l['msg'] === 'monitoring reconnected to NATS'));
    for (let i = 11; i <= 20; i++) mon.emit(inference(i));
    // Stored but unacknowledged events would be retried, then dropped: only acks count here.
    await until('10 more acknowledgements', () => mon.stats().published === 20);
    await mon.close(1000);
    assert.equal(mon.stats().dropped, 0);
  });
});
