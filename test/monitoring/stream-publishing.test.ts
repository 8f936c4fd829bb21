// Monitoring to a JetStream stream, against a fake transport: acknowledgements, retries
// with the same Nats-Msg-Id, the bound on messages awaiting an ack, and close().
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import {
  type Monitoring,
  type MonitoringOptionsInput,
  type MonitoringStreamInput,
  createMonitoring,
  resolveMonitoringOptions,
} from '../../src/monitoring/index.js';
import { batchMessageId } from '../../src/monitoring/stream-publisher.js';
import { type FakeReply, FakeTransport, failed, inference, settleSent } from './fake-transport.js';

const silent = pino({ level: 'silent' });
/**
 * The ack timeout unless a test sets one: far above how long the fake stream (or a held
 * answer, below) takes to reply, so only the tests about timeouts see one.
 */
const SLOW_ACK_MS = 60_000;

function setup(
  stream: Partial<MonitoringStreamInput> = {},
  over: Partial<MonitoringOptionsInput> = {},
): { mon: Monitoring; transport: FakeTransport } {
  const options = resolveMonitoringOptions(
    { natsUrl: 'nats://unused:4222', flushIntervalMs: 60_000, ...over, stream: { name: 'EVENTS', ackTimeoutMs: SLOW_ACK_MS, ...stream } },
    { serverId: 'srv-1', host: 'host-1' },
  );
  const transport = new FakeTransport();
  return { mon: createMonitoring(options, silent, { transport }), transport };
}

/** Answers that wait until released, as acknowledgements of a stalled stream. */
function heldAnswers(transport: FakeTransport): { release(answer?: FakeReply): void; readonly waiting: number } {
  const pending: ((answer: FakeReply) => void)[] = [];
  transport.answer = () => new Promise<FakeReply>((resolve) => pending.push(resolve));
  return {
    release(answer = 'stored') {
      pending.shift()?.(answer);
    },
    get waiting() {
      return pending.length;
    },
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function requestId(msg: Record<string, unknown>): string {
  return (msg['request'] as { id: string }).id;
}

describe('monitoring to a stream', () => {
  test('stream - each event is stored once, with a Nats-Msg-Id of its own', async () => {
    const { mon, transport } = setup();
    for (let i = 1; i <= 5; i++) mon.emit(inference(i));
    await until('5 acknowledgements', () => mon.stats().published === 5);
    assert.deepEqual(transport.attempts.map((a) => requestId(a.msg)), ['r1', 'r2', 'r3', 'r4', 'r5']);
    assert.equal(new Set(transport.attempts.map((a) => a.msgId)).size, 5);
    assert.equal(transport.sent.length, 0, 'nothing goes to core NATS');
    assert.deepEqual(mon.stats(), { published: 5, dropped: 0, failed: 0, pending: 0, messages: 5, retried: 0, awaitingAck: 0 });
    await mon.close();
  });

  test('stream - two monitors (a restarted server) never give an event the same id', async () => {
    const first = setup();
    const second = setup();
    first.mon.emit(inference(1));
    second.mon.emit(inference(1));
    await until('both stored', () => first.mon.stats().published === 1 && second.mon.stats().published === 1);
    assert.notEqual(first.transport.attempts[0]!.msgId, second.transport.attempts[0]!.msgId);
    await Promise.all([first.mon.close(), second.mon.close()]);
  });

  test('stream - an attempt not acknowledged in time is retried with the same Nats-Msg-Id', async () => {
    const { mon, transport } = setup({ ackTimeoutMs: 50, maxRetries: 3 });
    const seen = new Set<string>();
    transport.answer = ({ msgId }) => (seen.has(msgId) ? 'stored' : (seen.add(msgId), 'lost'));
    for (let i = 1; i <= 3; i++) mon.emit(inference(i));
    await until('3 acknowledgements', () => mon.stats().published === 3);
    const ids = transport.attempts.map((a) => a.msgId);
    assert.equal(ids.length, 6);
    for (const id of new Set(ids)) assert.equal(ids.filter((x) => x === id).length, 2, `attempts of ${id}`);
    assert.equal(mon.stats().retried, 3);
    await mon.close();
  });

  test('stream - a retry waits out the ack timeout even when the stream had no responders at once', async () => {
    const { mon, transport } = setup({ ackTimeoutMs: 60, maxRetries: 1 });
    transport.answer = () => 'no-responders';
    const started = Date.now();
    mon.emit(inference(1));
    await until('the events dropped', () => mon.stats().dropped === 1);
    assert.equal(transport.attempts.length, 2);
    assert.ok(Date.now() - started >= 55, `retried after ${Date.now() - started} ms`);
    await mon.close();
  });

  test('stream - still unacknowledged after maxRetries retries: the events are dropped', async () => {
    const { mon, transport } = setup({ ackTimeoutMs: 1, maxRetries: 2 }, { batch: 2 });
    transport.answer = () => 'lost';
    mon.emit(inference(1));
    mon.emit(inference(2));
    await until('the events dropped', () => mon.stats().dropped === 2);
    assert.equal(transport.attempts.length, 3);
    assert.deepEqual(mon.stats(), { published: 0, dropped: 2, failed: 0, pending: 0, messages: 0, retried: 4, awaitingAck: 0 });
    await mon.close();
  });

  test('stream - a message the stream refuses counts as failed and is not retried', async () => {
    const { mon, transport } = setup();
    transport.answer = () => ({ error: { code: 400, err_code: 10054, description: 'message size exceeds maximum allowed' } });
    mon.emit(failed(1));
    await until('the failure', () => mon.stats().failed === 1);
    assert.equal(transport.attempts.length, 1);
    assert.equal(mon.stats().retried, 0);
    await mon.close();
  });

  test('stream - a message the client cannot send (above max_payload) counts as failed', async () => {
    const { mon, transport } = setup();
    transport.sendError = new Error('maximum payload exceeded');
    mon.emit(inference(1));
    await until('the failure', () => mon.stats().failed === 1);
    assert.deepEqual(mon.stats(), { published: 0, dropped: 0, failed: 1, pending: 0, messages: 0, retried: 0, awaitingAck: 0 });
    await mon.close();
  });

  test('stream - a batch message id is derived from its rows, the same on a retry', async () => {
    const { mon, transport } = setup({ ackTimeoutMs: 50, maxRetries: 1 }, { batch: 2 });
    let attempt = 0;
    transport.answer = () => (++attempt === 1 ? 'lost' : 'stored');
    for (let i = 1; i <= 4; i++) mon.emit(inference(i));
    await until('2 batches stored', () => mon.stats().published === 4);
    const rowsOf = (a: { msg: Record<string, unknown> }) => (a.msg['values'] as [{ id: string }][]).map((row) => row[0].id);
    const attempts = transport.attempts.map((a) => ({ msgId: a.msgId, rows: rowsOf(a) }));
    assert.equal(attempts.length, 3);
    const first = attempts.filter((a) => a.rows[0] === 'r1');
    const second = attempts.filter((a) => a.rows[0] === 'r3');
    assert.deepEqual(first.map((a) => a.rows), [['r1', 'r2'], ['r1', 'r2']]);
    assert.equal(first[1]!.msgId, first[0]!.msgId, 'the retry carries the first attempt\'s id');
    assert.equal(second.length, 1);
    assert.notEqual(second[0]!.msgId, first[0]!.msgId);
    assert.equal(mon.stats().messages, 2);
    await mon.close();
  });

  test('batchMessageId - the same rows give the same id, other rows another', () => {
    assert.equal(batchMessageId(['a.1', 'a.2']), batchMessageId(['a.1', 'a.2']));
    assert.notEqual(batchMessageId(['a.1', 'a.2']), batchMessageId(['a.1', 'a.3']));
    assert.notEqual(batchMessageId(['a.1', 'a.2']), batchMessageId(['a.1.a', '2']));
  });
});

describe('monitoring to a stream stays bounded', () => {
  test('bound - at most maxAwaitingAck messages await acknowledgement; the rest wait in the queue', async () => {
    const { mon, transport } = setup({ maxAwaitingAck: 3 });
    const acks = heldAnswers(transport);
    for (let i = 1; i <= 10; i++) mon.emit(inference(i));
    await settleSent();
    assert.equal(transport.attempts.length, 3);
    assert.equal(mon.stats().awaitingAck, 3);
    assert.equal(mon.stats().pending, 7);
    acks.release();
    await until('a fourth attempt', () => transport.attempts.length === 4);
    await settleSent();
    assert.equal(transport.attempts.length, 4, 'one slot freed, one message sent');
    while (mon.stats().published < 10) {
      acks.release();
      await settleSent();
    }
    assert.deepEqual(transport.attempts.map((a) => requestId(a.msg)), Array.from({ length: 10 }, (_, i) => `r${i + 1}`));
    await mon.close();
  });

  test('bound - with acknowledgements stalled, a full queue drops its oldest events', async () => {
    const { mon, transport } = setup({ maxAwaitingAck: 2 }, { maxPending: 3 });
    const acks = heldAnswers(transport);
    for (let i = 1; i <= 2; i++) mon.emit(inference(i));
    await settleSent();
    for (let i = 3; i <= 7; i++) mon.emit(inference(i));
    assert.equal(mon.stats().dropped, 2);
    while (acks.waiting > 0) {
      acks.release();
      await settleSent();
    }
    assert.deepEqual(transport.attempts.map((a) => requestId(a.msg)), ['r1', 'r2', 'r5', 'r6', 'r7']);
    assert.equal(mon.stats().published + mon.stats().dropped, 7);
    await mon.close();
  });

  test('bound - a partial batch due while the stream is full waits for room', async () => {
    const { mon, transport } = setup({ maxAwaitingAck: 1 }, { batch: 4, flushIntervalMs: 20 });
    const acks = heldAnswers(transport);
    mon.emit(inference(1));
    mon.emit(failed(2)); // errors go out at once and take the only slot
    await settleSent();
    assert.equal(transport.attempts.length, 1);
    await sleep(80); // several flush intervals
    assert.equal(transport.attempts.length, 1, 'the batch did not go out while the stream was full');
    acks.release();
    await until('the partial batch', () => transport.attempts.length === 2);
    assert.equal((transport.attempts[1]!.msg['values'] as unknown[]).length, 1);
    acks.release();
    await mon.close();
  });
});

describe('monitoring to a stream at close', () => {
  test('close - waits for outstanding acknowledgements', async () => {
    const { mon, transport } = setup();
    const acks = heldAnswers(transport);
    for (let i = 1; i <= 3; i++) mon.emit(inference(i));
    let closed = false;
    const closing = mon.close(10_000).then(() => (closed = true));
    await until('3 attempts', () => acks.waiting === 3);
    assert.equal(closed, false);
    for (let i = 0; i < 3; i++) acks.release();
    await closing;
    assert.equal(mon.stats().published, 3);
    assert.equal(transport.closed, 1);
  });

  test('close - sends the queue and partial batches as acknowledgements free room', async () => {
    const { mon, transport } = setup({ maxAwaitingAck: 1 }, { batch: 3 });
    transport.answer = async (): Promise<FakeReply> => {
      await sleep(1);
      return 'stored';
    };
    for (let i = 1; i <= 10; i++) mon.emit(inference(i));
    await mon.close(10_000);
    assert.deepEqual(transport.attempts.map((a) => (a.msg['values'] as unknown[]).length), [3, 3, 3, 1]);
    assert.deepEqual(mon.stats(), { published: 10, dropped: 0, failed: 0, pending: 0, messages: 4, retried: 0, awaitingAck: 0 });
  });

  test('close - what is unacknowledged or unsent at the deadline is counted as dropped', async () => {
    const { mon, transport } = setup({ maxAwaitingAck: 2 }, { batch: 2 });
    const acks = heldAnswers(transport);
    for (let i = 1; i <= 7; i++) mon.emit(inference(i));
    const started = Date.now();
    await mon.close(100);
    assert.ok(Date.now() - started < 2000, `close took ${Date.now() - started} ms`);
    assert.equal(acks.waiting, 2);
    assert.deepEqual(mon.stats(), { published: 0, dropped: 7, failed: 0, pending: 0, messages: 0, retried: 0, awaitingAck: 0 });
    acks.release();
    await settleSent();
    assert.equal(mon.stats().published, 0, 'an acknowledgement after close() is not counted twice');
  });
});
