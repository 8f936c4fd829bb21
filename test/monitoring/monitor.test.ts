import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import {
  type Monitoring,
  type MonitoringOptions,
  BATCH_HEADERS,
  createMonitoring,
  endpointId,
  resolveMonitoringOptions,
} from '../../src/monitoring/index.js';
import { BASE_TIME, FakeTransport, failed, inference, settle, state } from './fake-transport.js';

const silent = pino({ level: 'silent' });

function setup(over: Partial<MonitoringOptions> = {}): { mon: Monitoring; transport: FakeTransport } {
  const options = resolveMonitoringOptions(
    { natsUrl: 'nats://unused:4222', flushIntervalMs: 60_000, ...over },
    { serverId: 'srv-1', host: 'host-1' },
  );
  const transport = new FakeTransport();
  return { mon: createMonitoring(options, silent, { transport }), transport };
}

function rowsOf(msg: Record<string, unknown>): unknown[][] {
  return msg['values'] as unknown[][];
}

function requestIds(msgs: readonly { msg: Record<string, unknown> }[]): string[] {
  return msgs.flatMap(({ msg }) => {
    const requests = msg['values'] ? rowsOf(msg).map((r) => r[0]) : [msg['request']];
    return requests.map((r) => (r as { id: string }).id);
  });
}

describe('monitoring counters follow the seed (_sample_iter, _batch_iter)', () => {
  // Rows per message, before close() and after it. Batch 1 messages are single events.
  const table = [
    { sample: 1, batch: 1, n: 5, before: [1, 1, 1, 1, 1], after: [1, 1, 1, 1, 1] },
    { sample: 3, batch: 4, n: 24, before: [4, 4], after: [4, 4] },
    { sample: 2, batch: 1, n: 7, before: [1, 1, 1], after: [1, 1, 1] },
    { sample: 1, batch: 3, n: 7, before: [3, 3], after: [3, 3, 1] },
    { sample: 3, batch: 1, n: 2, before: [], after: [] },
    { sample: 5, batch: 1, n: 5, before: [1], after: [1] },
    { sample: 3, batch: 2, n: 9, before: [2], after: [2, 1] },
    { sample: 2, batch: 3, n: 6, before: [3], after: [3] },
  ];
  for (const { sample, batch, n, before, after } of table) {
    test(`sample ${sample}, batch ${batch}, ${n} events → ${before.length} messages, ${after.length} after close`, async () => {
      const { mon, transport } = setup({ sample, batch });
      for (let i = 1; i <= n; i++) mon.emit(inference(i));
      await settle();
      const rows = (): number[] => transport.sent.map(({ msg }) => (batch > 1 ? rowsOf(msg).length : 1));
      assert.deepEqual(rows(), before);
      await mon.close();
      assert.deepEqual(rows(), after);
      // The seed publishes events sample, 2·sample, 3·sample, … (1-based).
      const expected = Array.from({ length: Math.floor(n / sample) }, (_, k) => `r${(k + 1) * sample}`);
      assert.deepEqual(requestIds(transport.sent), expected);
      assert.equal(mon.stats().published, expected.length);
      assert.equal(mon.stats().pending, 0);
    });
  }

  test('counters - are kept per model and version', async () => {
    const { mon, transport } = setup({ sample: 2 });
    for (let i = 1; i <= 3; i++) {
      mon.emit(inference(i, { model: 'a' }));
      mon.emit(inference(i, { model: 'b' }));
      mon.emit(inference(i, { model: 'a', version: '2' }));
    }
    await settle();
    const got = transport.sent.map(({ msg }) => `${String(msg['model'])}:${String(msg['version'])}`).sort();
    assert.deepEqual(got, ['a:1', 'a:2', 'b:1']);
    await mon.close();
  });
});

describe('monitoring message shape', () => {
  test('single - has the seed fields, total latency in microseconds and the sample rate', async () => {
    const { mon, transport } = setup({ sample: 1 });
    mon.emit(inference(7));
    await settle();
    assert.equal(transport.sent.length, 1);
    const { subject, msg } = transport.sent[0]!;
    assert.equal(subject, 'v2serve.inference.m');
    assert.deepEqual(msg, {
      class: 'EchoModel',
      worker: 'main',
      model: 'm',
      version: '1',
      host: 'host-1',
      labels: { team: 'a' },
      endpoint_id: endpointId('srv-1', 'm', '1'),
      sample_rate: 1,
      request: { id: 'r7', inputs: [[[7, 0.5]]] },
      op: 'infer',
      resp: { outputs: [[7, 14]] },
      when: new Date(BASE_TIME + 7).toISOString(),
      latency_us: 1_500_000, // the seed's timedelta.microseconds would say 500000
      metrics: { calls: 7 },
    });
    await mon.close();
  });

  test('batch - has headers and one row per event, in header order', async () => {
    const { mon, transport } = setup({ batch: 2, sample: 3 });
    for (let i = 1; i <= 6; i++) mon.emit(inference(i));
    await settle();
    const { msg } = transport.sent[0]!;
    assert.deepEqual(msg['headers'], [...BATCH_HEADERS]);
    assert.deepEqual(msg['headers'], ['request', 'op', 'resp', 'when', 'latency_us', 'metrics']);
    assert.equal(msg['sample_rate'], 3);
    assert.equal(msg['request'], undefined);
    assert.deepEqual(rowsOf(msg)[1], [
      { id: 'r6', inputs: [[[6, 0.5]]] },
      'infer',
      { outputs: [[6, 12]] },
      new Date(BASE_TIME + 6).toISOString(),
      1_500_000,
      { calls: 6 },
    ]);
    await mon.close();
  });

  test('batch - worker lists the distinct instances of its rows', async () => {
    const { mon, transport } = setup({ batch: 3 });
    mon.emit(inference(1, { instance: '0' }));
    mon.emit(inference(2, { instance: '1' }));
    mon.emit(inference(3, { instance: '0' }));
    await settle();
    assert.equal(transport.sent[0]!.msg['worker'], '0,1');
    await mon.close();
  });

  test('logged results - replace the tensors in request and resp', async () => {
    const { mon, transport } = setup();
    mon.emit(inference(1, { logged: { inputs: [[1, 2n]], outputs: undefined } }));
    await settle();
    const { msg } = transport.sent[0]!;
    assert.deepEqual(msg['request'], { id: 'r1', inputs: [[1, '2']] });
    assert.deepEqual(msg['resp'], { outputs: [] });
    await mon.close();
  });

  test('a decoupled model\'s request - one event, its response count in resp instead of the outputs', async () => {
    const { mon, transport } = setup();
    mon.emit(inference(1, { outputs: [], responses: 12 }));
    await settle();
    assert.equal(transport.sent.length, 1);
    assert.deepEqual(transport.sent[0]!.msg['resp'], { outputs: [], responses: 12 });
    await mon.close();
  });

  test('subject - model and version become single literal tokens', async () => {
    const { mon, transport } = setup({ subject: 'inf.{model}.{version}' });
    mon.emit(inference(1, { model: 'a.b *>', version: '' }));
    await settle();
    assert.equal(transport.sent[0]!.subject, 'inf.a_b___._');
    await mon.close();
  });

  test('maxElements - a tensor above the cap is summarised', async () => {
    const { mon, transport } = setup({ maxElements: 3 });
    const data = new Float32Array([4, -1, 2, 7]);
    mon.emit(inference(1, { inputs: [{ name: 'big', datatype: 'FP32', shape: [2, 2], data }] }));
    await settle();
    const req = transport.sent[0]!.msg['request'] as { inputs: unknown[] };
    assert.deepEqual(req.inputs, [
      { name: 'big', datatype: 'FP32', shape: [2, 2], truncated: true, min: -1, max: 7, mean: 3 },
    ]);
    await mon.close();
  });
});

describe('monitoring errors', () => {
  test('errors - are published at once, never sampled, and do not advance the sample counter', async () => {
    const { mon, transport } = setup({ sample: 3, batch: 2 });
    mon.emit(inference(1));
    mon.emit(failed(2));
    mon.emit(failed(3));
    mon.emit(inference(4));
    mon.emit(inference(5)); // third success: sampled, waits in the batch
    await settle();
    assert.equal(transport.sent.length, 2);
    for (const { msg } of transport.sent) {
      assert.equal(msg['error'], 'predict exploded');
      assert.equal(msg['error_code'], 'INTERNAL');
      assert.equal(msg['resp'], undefined);
      assert.equal(msg['headers'], undefined);
    }
    assert.deepEqual(requestIds(transport.sent), ['r2', 'r3']);
    await mon.close();
    assert.deepEqual(requestIds(transport.sent.slice(2)), ['r5']);
  });

  test('errors - carry the stack only when verbose', async () => {
    const quiet = setup();
    const verbose = setup({ verbose: true });
    quiet.mon.emit(failed(1));
    verbose.mon.emit(failed(1));
    await settle();
    assert.equal(quiet.transport.sent[0]!.msg['error'], 'predict exploded');
    assert.match(String(verbose.transport.sent[0]!.msg['error']), /^predict exploded\nError: predict exploded\n {4}at predict/);
    await Promise.all([quiet.mon.close(), verbose.mon.close()]);
  });
});

describe('monitoring never in the way', () => {
  test('emit - only queues; nothing is encoded before the drain runs', async () => {
    const { mon, transport } = setup();
    mon.emit(inference(1));
    assert.equal(transport.sent.length, 0);
    assert.equal(mon.stats().pending, 1);
    await settle();
    assert.equal(transport.sent.length, 1);
    await mon.close();
  });

  test('queue - when full drops the oldest events and counts them', async () => {
    const { mon, transport } = setup({ maxPending: 3 });
    for (let i = 1; i <= 5; i++) mon.emit(inference(i));
    assert.deepEqual(mon.stats(), { published: 0, dropped: 2, failed: 0, pending: 3, messages: 0, retried: 0, awaitingAck: 0 });
    await settle();
    assert.deepEqual(requestIds(transport.sent), ['r3', 'r4', 'r5']);
    assert.deepEqual(mon.stats(), { published: 3, dropped: 2, failed: 0, pending: 0, messages: 3, retried: 0, awaitingAck: 0 });
    await mon.close();
  });

  test('disconnected - events are dropped and counted, then flow again after reconnect', async () => {
    const { mon, transport } = setup({ batch: 2 });
    transport.connected = false;
    for (let i = 1; i <= 4; i++) mon.emit(inference(i));
    await settle();
    assert.equal(transport.sent.length, 0);
    assert.equal(mon.stats().dropped, 4);
    transport.reconnect();
    for (let i = 5; i <= 6; i++) mon.emit(inference(i));
    await settle();
    assert.deepEqual(requestIds(transport.sent), ['r5', 'r6']);
    await mon.close();
  });

  test('publish - a throw counts the events as failed and emit keeps working', async () => {
    const { mon, transport } = setup({ batch: 2 });
    transport.failPublish = true;
    for (let i = 1; i <= 2; i++) mon.emit(inference(i));
    await settle();
    assert.equal(mon.stats().failed, 2);
    transport.failPublish = false;
    mon.emit(inference(3));
    mon.emit(inference(4));
    await settle();
    assert.equal(mon.stats().published, 2);
    await mon.close();
  });

  test('encoding - an unserialisable logged value counts as failed, not thrown', async () => {
    const { mon } = setup();
    const hostile = { get boom(): never { throw new Error('getter'); } };
    assert.doesNotThrow(() => mon.emit(inference(1, { logged: { inputs: [hostile], outputs: [] } })));
    await settle();
    assert.equal(mon.stats().failed, 1);
    await mon.close();
  });

  test('partial batch - is published after flushIntervalMs', async () => {
    const { mon, transport } = setup({ batch: 4, flushIntervalMs: 20 });
    mon.emit(inference(1));
    mon.emit(inference(2));
    await settle();
    assert.equal(transport.sent.length, 0);
    assert.equal(mon.stats().pending, 2);
    await sleep(80);
    assert.equal(transport.sent.length, 1);
    assert.equal(rowsOf(transport.sent[0]!.msg).length, 2);
    assert.equal(mon.stats().pending, 0);
    await mon.close();
  });

  test('close - publishes queued events and partial batches, closes the transport once', async () => {
    const { mon, transport } = setup({ batch: 10 });
    for (let i = 1; i <= 3; i++) mon.emit(inference(i));
    await Promise.all([mon.close(), mon.close()]);
    assert.equal(transport.sent.length, 1);
    assert.equal(rowsOf(transport.sent[0]!.msg).length, 3);
    assert.equal(transport.closed, 1);
    mon.emit(inference(4));
    assert.equal(mon.stats().dropped, 1);
  });
});

describe('monitoring per-model overrides', () => {
  test('overrides - replace sample and batch for one model only', async () => {
    const { mon, transport } = setup({ sample: 1, batch: 1 });
    mon.setModelOverrides('m', { sample: 2, batch: 2 });
    for (let i = 1; i <= 4; i++) {
      mon.emit(inference(i));
      mon.emit(inference(i, { model: 'other' }));
    }
    await settle();
    const forM = transport.sent.filter(({ msg }) => msg['model'] === 'm');
    assert.equal(forM.length, 1);
    assert.equal(forM[0]!.msg['sample_rate'], 2);
    assert.deepEqual(requestIds(forM), ['r2', 'r4']);
    assert.equal(transport.sent.length - forM.length, 4);
    await mon.close();
  });

  test('overrides - reject invalid values naming the field', () => {
    const { mon } = setup();
    assert.throws(() => mon.setModelOverrides('m', { sample: 0 }), { name: 'RangeError', message: /'sample'/ });
    void mon.close();
  });
});

describe('monitoring endpoint records', () => {
  test('records - READY creates the record, UNAVAILABLE updates its state', async () => {
    const { mon, transport } = setup();
    mon.emit(state('READY'));
    await settle(6);
    const id = endpointId('srv-1', 'm', '1');
    assert.equal(id.length, 16);
    assert.match(id, /^[0-9a-f]{16}$/);
    const rec = transport.records.get(id);
    assert.ok(rec);
    assert.equal(rec['state'], 'READY');
    assert.equal(rec['endpoint_id'], id);
    assert.equal(rec['server_id'], 'srv-1');
    assert.equal(rec['model_class'], 'EchoModel');
    assert.equal(rec['path'], '/models/m/1');
    assert.equal(rec['subject'], 'v2serve.inference.m');
    assert.deepEqual(rec['labels'], { team: 'a' });
    mon.emit(state('UNAVAILABLE'));
    await mon.close();
    assert.equal(transport.records.get(id)?.['state'], 'UNAVAILABLE');
  });

  test('records - a state other than READY creates no record', async () => {
    const { mon, transport } = setup();
    mon.emit(state('UNAVAILABLE'));
    mon.emit(state('LOADING'));
    await mon.close();
    assert.equal(transport.records.size, 0);
  });

  test('records - a store failure is not thrown and the record is written after reconnect', async () => {
    const { mon, transport } = setup();
    transport.failPut = true;
    mon.emit(state('READY'));
    await settle(6);
    assert.equal(transport.records.size, 0);
    transport.failPut = false;
    transport.reconnect();
    await mon.close();
    assert.equal(transport.records.size, 1);
  });
});

describe('monitoring counts in the log', () => {
  test('stats - logged at info each interval only when they changed, and at close', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    const options = resolveMonitoringOptions({ natsUrl: 'nats://unused' }, { serverId: 's', host: 'h' });
    const mon = createMonitoring(options, log, { transport: new FakeTransport(), statsIntervalMs: 25 });
    mon.emit(inference(1));
    await sleep(130); // several intervals, one change
    const counts = lines.filter((l) => l['msg'] === 'monitoring counts');
    assert.equal(counts.length, 1);
    assert.equal(counts[0]!['published'], 1);
    await mon.close();
    const closed = lines.filter((l) => l['msg'] === 'monitoring closed');
    assert.equal(closed.length, 1);
    assert.equal(closed[0]!['published'], 1);
  });
});
