// Monitoring against a real nats-server: exact message counts, batching, flushes, errors,
// endpoint records in JetStream KV, and a server that dies and comes back.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { type NatsConnection, type Subscription, connect } from 'nats';
import type { InferenceEvent, ModelStateEvent } from '../../src/events.js';
import {
  type Monitoring,
  type MonitoringOptionsInput,
  endpointId,
  startMonitoring,
} from '../../src/monitoring/index.js';
import { type NatsServer, startNatsServer } from '../helpers/nats-server.js';

const decoder = new TextDecoder();

function inference(i: number, over: Partial<InferenceEvent> = {}): InferenceEvent {
  return {
    kind: 'inference',
    modelClass: 'EchoModel',
    model: 'echo',
    version: '1',
    instance: 'main',
    labels: { team: 'it' },
    op: 'infer',
    requestId: `r${i}`,
    arrivedAtMs: Date.now(),
    durationNs: 2_500_000n,
    inputs: [{ name: 'x', datatype: 'INT64', shape: [1, 2], data: new BigInt64Array([BigInt(i), 2n ** 60n]) }],
    outputs: [{ name: 'y', datatype: 'BYTES', shape: [1], data: [new TextEncoder().encode(`out-${i}`)] }],
    parameters: {},
    metrics: {},
    ...over,
  };
}

function state(s: ModelStateEvent['state']): ModelStateEvent {
  return {
    kind: 'model-state',
    modelClass: 'EchoModel',
    model: 'echo',
    version: '1',
    parameters: {},
    state: s,
    reason: s,
    labels: { team: 'it' },
    path: '/models/echo/1',
  };
}

// t.after() hooks run in registration order; cleanups here must run in reverse
// (monitoring closes before the server it drains to is killed).
const cleanups = new WeakMap<TestContext, (() => Promise<void> | void)[]>();
function defer(t: TestContext, fn: () => Promise<void> | void): void {
  let stack = cleanups.get(t);
  if (!stack) {
    const fns: (() => Promise<void> | void)[] = [];
    stack = fns;
    cleanups.set(t, fns);
    t.after(async () => {
      for (const f of fns.reverse()) await f();
    });
  }
  stack.push(fn);
}

async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

interface Collector {
  readonly nc: NatsConnection;
  readonly msgs: Record<string, unknown>[];
  readonly subjects: string[];
}

async function collect(t: TestContext, url: string, subject = 'v2serve.inference.>'): Promise<Collector> {
  const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const msgs: Record<string, unknown>[] = [];
  const subjects: string[] = [];
  const sub: Subscription = nc.subscribe(subject, {
    callback: (_err, m) => {
      msgs.push(JSON.parse(decoder.decode(m.data)) as Record<string, unknown>);
      subjects.push(m.subject);
    },
  });
  await nc.flush(); // the subscription is registered before anything is published
  defer(t, async () => {
    sub.unsubscribe();
    await nc.close();
  });
  return { nc, msgs, subjects };
}

interface Setup {
  readonly server: NatsServer;
  readonly mon: Monitoring;
  readonly sink: Collector;
  readonly logs: Record<string, unknown>[];
}

async function setup(t: TestContext, over: Partial<MonitoringOptionsInput> = {}, jetstream = true): Promise<Setup> {
  const server = await startNatsServer({ jetstream });
  defer(t, () => server.cleanup());
  const sink = await collect(t, server.url);
  const logs: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
        cb();
      },
    }),
  );
  const mon = await startMonitoring({ natsUrl: server.url, serverId: 'it-server', host: 'it-host', ...over }, log);
  defer(t, () => mon.close());
  return { server, mon, sink, logs };
}

/** Waits for the expected count, then a little longer to catch any extra message. */
async function exactly(sink: Collector, n: number): Promise<void> {
  await waitFor(`${n} messages (have ${sink.msgs.length})`, () => sink.msgs.length >= n);
  await sink.nc.flush();
  await sleep(150);
  assert.equal(sink.msgs.length, n);
}

describe('monitoring-nats', () => {
  test('monitoring - N events give exactly N messages with the seed fields', async (t) => {
    const { mon, sink } = await setup(t);
    for (let i = 1; i <= 5; i++) mon.emit(inference(i));
    await exactly(sink, 5);
    assert.deepEqual(
      sink.msgs.map((m) => (m['request'] as { id: string }).id),
      ['r1', 'r2', 'r3', 'r4', 'r5'],
    );
    assert.ok(sink.subjects.every((s) => s === 'v2serve.inference.echo'));
    const m = sink.msgs[0]!;
    assert.equal(m['class'], 'EchoModel');
    assert.equal(m['worker'], 'main');
    assert.equal(m['model'], 'echo');
    assert.equal(m['version'], '1');
    assert.equal(m['host'], 'it-host');
    assert.deepEqual(m['labels'], { team: 'it' });
    assert.equal(m['op'], 'infer');
    assert.equal(m['latency_us'], 2500);
    assert.equal(m['sample_rate'], 1);
    assert.equal(m['endpoint_id'], endpointId('it-server', 'echo', '1'));
    assert.match(String(m['when']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(m['request'], { id: 'r1', inputs: [[['1', '1152921504606846976']]] });
    assert.deepEqual(m['resp'], { outputs: [['out-1']] });
    assert.deepEqual(mon.stats(), { published: 5, dropped: 0, failed: 0, pending: 0, messages: 5, retried: 0, awaitingAck: 0 });
  });

  test('monitoring - sample 3 batch 4: 24 events give exactly 2 batch messages of 4 rows', async (t) => {
    const { mon, sink } = await setup(t, { sample: 3, batch: 4 });
    for (let i = 1; i <= 24; i++) mon.emit(inference(i));
    await exactly(sink, 2);
    for (const m of sink.msgs) {
      assert.deepEqual(m['headers'], ['request', 'op', 'resp', 'when', 'latency_us', 'metrics']);
      assert.equal((m['values'] as unknown[]).length, 4);
      assert.equal(m['sample_rate'], 3);
    }
    const ids = sink.msgs.flatMap((m) => (m['values'] as [{ id: string }][]).map((row) => row[0].id));
    assert.deepEqual(ids, ['r3', 'r6', 'r9', 'r12', 'r15', 'r18', 'r21', 'r24']);
  });

  test('monitoring - a partial batch is published within flushIntervalMs', async (t) => {
    const { mon, sink } = await setup(t, { batch: 10, flushIntervalMs: 200 });
    const started = Date.now();
    for (let i = 1; i <= 3; i++) mon.emit(inference(i));
    await waitFor('the partial batch', () => sink.msgs.length === 1, 2000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 150, `flushed after ${elapsed} ms, before the interval`);
    assert.equal((sink.msgs[0]!['values'] as unknown[]).length, 3);
  });

  test('monitoring - close() publishes the rest and drains the connection', async (t) => {
    const { mon, sink } = await setup(t, { batch: 10, flushIntervalMs: 60_000 });
    for (let i = 1; i <= 13; i++) mon.emit(inference(i));
    await waitFor('the full batch', () => sink.msgs.length === 1);
    await mon.close();
    await exactly(sink, 2);
    assert.equal((sink.msgs[1]!['values'] as unknown[]).length, 3);
    assert.deepEqual(mon.stats(), { published: 13, dropped: 0, failed: 0, pending: 0, messages: 2, retried: 0, awaitingAck: 0 });
  });

  test('monitoring - a failed inference is published even when sampling skips it', async (t) => {
    const { mon, sink } = await setup(t, { sample: 100, batch: 5 });
    mon.emit(inference(1, { error: { message: 'boom', code: 'INTERNAL', stack: 'Error: boom\n  at x' } }));
    await exactly(sink, 1);
    assert.equal(sink.msgs[0]!['error'], 'boom');
    assert.equal(sink.msgs[0]!['headers'], undefined);
  });

  test('monitoring - endpoint record in KV after READY, updated after UNAVAILABLE', async (t) => {
    const { server, mon } = await setup(t, { kvBucket: 'it_endpoints' });
    const nc = await connect({ servers: server.url });
    defer(t, () => nc.close());
    const kv = await nc.jetstream().views.kv('it_endpoints');
    const id = endpointId('it-server', 'echo', '1');
    const read = async (): Promise<Record<string, unknown> | undefined> => {
      const e = await kv.get(id);
      return e && e.value.length > 0 ? (e.json() as Record<string, unknown>) : undefined;
    };
    mon.emit(state('READY'));
    const rec = await waitFor('the READY record', async () => {
      const r = await read();
      return r?.['state'] === 'READY' && r;
    });
    assert.equal(rec['endpoint_id'], id);
    assert.equal(rec['model'], 'echo');
    assert.equal(rec['server_id'], 'it-server');
    assert.equal(rec['model_class'], 'EchoModel');
    assert.equal(rec['path'], '/models/echo/1');
    assert.equal(rec['subject'], 'v2serve.inference.echo');
    mon.emit(state('UNAVAILABLE'));
    await waitFor('the UNAVAILABLE record', async () => (await read())?.['state'] === 'UNAVAILABLE');
  });

  test('monitoring - without JetStream one warning is logged and events still flow', async (t) => {
    const { mon, sink, logs } = await setup(t, {}, false);
    mon.emit(state('READY'));
    mon.emit(state('UNAVAILABLE'));
    mon.emit(state('READY'));
    mon.emit(inference(1));
    await exactly(sink, 1);
    await waitFor('the JetStream warning', () => logs.some((l) => /endpoint records not stored/.test(String(l['msg']))));
    await mon.close();
    assert.equal(logs.filter((l) => /endpoint records not stored/.test(String(l['msg']))).length, 1);
  });

  test('monitoring - nats-server killed: emit never throws or blocks, drops are counted; restarted: events flow again', async (t) => {
    const { server, mon, sink } = await setup(t);
    mon.emit(inference(1));
    await waitFor('the first message', () => sink.msgs.length === 1);

    await server.stop();
    // The client sees the socket close; from then on events are dropped and counted.
    let i = 2;
    await waitFor('drops while the server is down', () => {
      mon.emit(inference(i++));
      return mon.stats().dropped > 0;
    });
    const before = mon.stats().dropped;
    const started = process.hrtime.bigint();
    assert.doesNotThrow(() => {
      for (let k = 0; k < 1000; k++) mon.emit(inference(i++));
    });
    const emitMs = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(emitMs < 250, `1000 emits took ${emitMs} ms`);
    await waitFor('the drops to be counted', () => mon.stats().dropped >= before + 1000);

    await server.restart();
    const seen = sink.msgs.length;
    await waitFor(
      'events after the restart',
      () => {
        mon.emit(inference(i++));
        return sink.msgs.length > seen;
      },
      10_000,
    );
    assert.ok(mon.stats().published >= 2);
  });

  test('monitoring - NATS down at start: startMonitoring returns, drops, then connects', async (t) => {
    const server = await startNatsServer();
    defer(t, () => server.cleanup());
    await server.stop();
    const started = Date.now();
    const mon = await startMonitoring({ natsUrl: server.url, serverId: 'late' }, pino({ level: 'silent' }));
    defer(t, () => mon.close());
    assert.ok(Date.now() - started < 3000);
    mon.emit(inference(1));
    await waitFor('a drop', () => mon.stats().dropped === 1);
    await server.restart();
    const sink = await collect(t, server.url);
    let i = 2;
    await waitFor(
      'events once connected',
      () => {
        mon.emit(inference(i++));
        return sink.msgs.length > 0;
      },
      10_000,
    );
  });
});
