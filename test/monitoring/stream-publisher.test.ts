// The pipelined StreamPublisher against a fake wire, on mocked timers: replies matched to
// messages by token, ack timeouts found by one sweep, refusals, "no responders".
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  type DeliveryLimits,
  type StreamWire,
  SEND_BATCH,
  SEND_DELAY_MS,
  StreamPublisher,
} from '../../src/monitoring/stream-publisher.js';
import { type FakeReply, replyBytes } from './fake-transport.js';

interface WireCall {
  readonly subject: string;
  readonly msgId: string;
  readonly token: number;
  /** Date.now() when it was sent. */
  readonly at: number;
}

class FakeWire implements StreamWire {
  connected = true;
  sendError: Error | undefined;
  readonly calls: WireCall[] = [];
  private listener: ((token: number, data: Uint8Array, status: number) => void) | undefined;

  sendToStream(subject: string, _payload: Uint8Array, msgId: string, token: number): boolean {
    if (this.sendError) throw this.sendError;
    if (!this.connected) return false;
    this.calls.push({ subject, msgId, token, at: Date.now() });
    return true;
  }
  onStreamReply(listener: (token: number, data: Uint8Array, status: number) => void): void {
    this.listener = listener;
  }
  reply(token: number, reply: Exclude<FakeReply, 'lost'>): void {
    const { data, status } = replyBytes(reply);
    this.listener?.(token, data, status);
  }
  /** The token of the first attempt of the message with this id. */
  tokenOf(msgId: string): number {
    const call = this.calls.find((c) => c.msgId === msgId);
    assert.ok(call, `no attempt of ${msgId}`);
    return call.token;
  }
}

const LIMITS: DeliveryLimits = { maxAwaitingAck: 16, ackTimeoutMs: 100, maxRetries: 2 };

/**
 * A publisher whose report is a log of outcomes, on timers the test moves. It sends each
 * message as it is published unless `windowed`.
 */
function setup(
  t: TestContext,
  limits: Partial<DeliveryLimits> = {},
  windowed = false,
): { publisher: StreamPublisher; wire: FakeWire; outcomes: string[] } {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const wire = new FakeWire();
  const outcomes: string[] = [];
  const publisher = new StreamPublisher(
    wire,
    { ...LIMITS, ...limits },
    {
      stored: (events) => outcomes.push(`stored ${events}`),
      retried: (events) => outcomes.push(`retried ${events}`),
      unacknowledged: (events) => outcomes.push(`unacknowledged ${events}`),
      refused: (events, err) => outcomes.push(`refused ${events}: ${err instanceof Error ? err.message : String(err)}`),
      settled: () => undefined,
    },
    // Mocked timers move Date, not performance.now().
    () => Date.now(),
  );
  if (!windowed) publisher.sendPromptly();
  return { publisher, wire, outcomes };
}

const payload = new Uint8Array([123, 125]);

describe('stream publisher: replies matched by token', () => {
  test('ack matching - replies in another order settle the messages they name', (t) => {
    const { publisher, wire, outcomes } = setup(t);
    publisher.publish('s', payload, 'a', 1);
    publisher.publish('s', payload, 'b', 2);
    publisher.publish('s', payload, 'c', 4);
    assert.equal(new Set(wire.calls.map((c) => c.token)).size, 3, 'a token per message');
    wire.reply(wire.tokenOf('c'), 'stored');
    wire.reply(wire.tokenOf('a'), 'stored');
    assert.deepEqual(outcomes, ['stored 4', 'stored 1']);
    assert.equal(publisher.awaitingAck, 2);
  });

  test('ack matching - an unknown token and a second reply to a settled message change nothing', (t) => {
    const { publisher, wire, outcomes } = setup(t);
    publisher.publish('s', payload, 'a', 1);
    wire.reply(Number.NaN, 'stored');
    wire.reply(1e9, 'stored');
    assert.deepEqual(outcomes, []);
    wire.reply(wire.tokenOf('a'), 'stored');
    wire.reply(wire.tokenOf('a'), 'duplicate');
    assert.deepEqual(outcomes, ['stored 1']);
    assert.equal(publisher.awaitingAck, 0);
  });

  test('ack matching - a duplicate PubAck (an earlier attempt was stored) counts as stored', (t) => {
    const { publisher, wire, outcomes } = setup(t);
    publisher.publish('s', payload, 'a', 1);
    t.mock.timers.tick(100);
    assert.equal(wire.calls.length, 2);
    wire.reply(wire.tokenOf('a'), 'duplicate');
    assert.deepEqual(outcomes, ['retried 1', 'stored 1']);
  });

  test('ack matching - a retry keeps the token and the Nats-Msg-Id, so the first attempt\'s late ack settles it', (t) => {
    const { publisher, wire, outcomes } = setup(t);
    publisher.publish('s', payload, 'a', 1);
    t.mock.timers.tick(100);
    assert.deepEqual(wire.calls.map((c) => [c.msgId, c.token]), [['a', 1], ['a', 1]]);
    wire.reply(1, 'stored');
    t.mock.timers.tick(1000);
    assert.deepEqual(outcomes, ['retried 1', 'stored 1']);
    assert.equal(wire.calls.length, 2, 'no attempt after the ack');
  });
});

describe('stream publisher: send window', () => {
  test('window - messages wait SEND_DELAY_MS for others, then go out together in order', (t) => {
    const { publisher, wire } = setup(t, {}, true);
    publisher.publish('s', payload, 'a', 1);
    t.mock.timers.tick(SEND_DELAY_MS - 1);
    publisher.publish('s', payload, 'b', 1);
    assert.equal(wire.calls.length, 0);
    t.mock.timers.tick(1);
    assert.deepEqual(wire.calls.map((c) => [c.msgId, c.at]), [['a', SEND_DELAY_MS], ['b', SEND_DELAY_MS]]);
  });

  test('window - SEND_BATCH waiting messages go out at once', (t) => {
    const { publisher, wire } = setup(t, { maxAwaitingAck: SEND_BATCH * 2 }, true);
    for (let i = 1; i < SEND_BATCH; i++) publisher.publish('s', payload, `m${i}`, 1);
    assert.equal(wire.calls.length, 0);
    publisher.publish('s', payload, 'last', 1);
    assert.equal(wire.calls.length, SEND_BATCH);
  });

  test('window - messages waiting to go out count against maxAwaitingAck', (t) => {
    const { publisher } = setup(t, { maxAwaitingAck: 2 }, true);
    publisher.publish('s', payload, 'a', 1);
    publisher.publish('s', payload, 'b', 2);
    assert.equal(publisher.hasRoom(), false);
    assert.equal(publisher.awaitingAck, 3);
  });

  test('window - the ack timeout runs from the message\'s send, not its publish', (t) => {
    const { publisher, wire } = setup(t, {}, true);
    publisher.publish('s', payload, 'a', 1);
    t.mock.timers.tick(SEND_DELAY_MS);
    t.mock.timers.tick(100);
    assert.deepEqual(wire.calls.map((c) => c.at), [SEND_DELAY_MS, SEND_DELAY_MS + 100]);
  });

  test('window - sendPromptly sends what waits, and each later message as it comes', (t) => {
    const { publisher, wire } = setup(t, {}, true);
    publisher.publish('s', payload, 'a', 1);
    publisher.sendPromptly();
    assert.deepEqual(wire.calls.map((c) => c.msgId), ['a']);
    publisher.publish('s', payload, 'b', 1);
    assert.deepEqual(wire.calls.map((c) => c.msgId), ['a', 'b']);
  });
});

describe('stream publisher: ack timeouts found by one sweep', () => {
  test('sweep - each message is sent again at its own deadline, in the order sent', (t) => {
    const { publisher, wire } = setup(t);
    publisher.publish('s', payload, 'a', 1);
    t.mock.timers.tick(30);
    publisher.publish('s', payload, 'b', 1);
    t.mock.timers.tick(69);
    assert.equal(wire.calls.length, 2, 'nothing is due before 100 ms');
    t.mock.timers.tick(1);
    assert.deepEqual(wire.calls.map((c) => [c.msgId, c.at]), [['a', 0], ['b', 30], ['a', 100]]);
    t.mock.timers.tick(30);
    assert.deepEqual(wire.calls.slice(3).map((c) => [c.msgId, c.at]), [['b', 130]]);
  });

  test('sweep - messages acknowledged in time are never sent again', (t) => {
    const { publisher, wire, outcomes } = setup(t);
    for (let i = 0; i < 10; i++) publisher.publish('s', payload, `m${i}`, 1);
    for (const c of wire.calls) wire.reply(c.token, 'stored');
    t.mock.timers.tick(1000);
    assert.equal(wire.calls.length, 10);
    assert.equal(outcomes.filter((o) => o === 'stored 1').length, 10);
  });

  test('sweep - one timer serves every message in flight, not one timer each', (t) => {
    const { publisher } = setup(t);
    const armed = t.mock.method(globalThis, 'setTimeout');
    for (let i = 0; i < 100; i++) publisher.publish('s', payload, `m${i}`, 1);
    assert.equal(armed.mock.callCount(), 1);
  });

  test('sweep - still unacknowledged after maxRetries retries: dropped as unacknowledged', (t) => {
    const { publisher, wire, outcomes } = setup(t, { maxRetries: 2 });
    publisher.publish('s', payload, 'a', 3);
    // One tick per deadline: a mocked tick shows callbacks the time at its end.
    for (let i = 0; i < 3; i++) t.mock.timers.tick(100);
    assert.deepEqual(wire.calls.map((c) => c.at), [0, 100, 200]);
    assert.deepEqual(outcomes, ['retried 3', 'retried 3', 'unacknowledged 3']);
    assert.equal(publisher.awaitingAck, 0);
    assert.ok(publisher.hasRoom());
  });

  test('sweep - while disconnected an attempt is not sent and is retried at its deadline', (t) => {
    const { publisher, wire, outcomes } = setup(t);
    wire.connected = false;
    publisher.publish('s', payload, 'a', 1);
    wire.connected = true;
    t.mock.timers.tick(100);
    assert.deepEqual(wire.calls.map((c) => [c.msgId, c.at]), [['a', 100]]);
    wire.reply(wire.tokenOf('a'), 'stored');
    assert.deepEqual(outcomes, ['retried 1', 'stored 1']);
  });
});

describe('stream publisher: refusals and no responders', () => {
  test('refusal - a PubAck with an error is refused at once and not retried', (t) => {
    const { publisher, wire, outcomes } = setup(t);
    publisher.publish('s', payload, 'a', 2);
    wire.reply(wire.tokenOf('a'), { error: { code: 400, err_code: 10054, description: 'message size exceeds maximum allowed' } });
    t.mock.timers.tick(1000);
    assert.equal(wire.calls.length, 1);
    assert.equal(outcomes.length, 1);
    assert.match(outcomes[0]!, /^refused 2: .*message size exceeds maximum allowed/);
  });

  test('refusal - a message the wire cannot send (above max_payload) is refused', (t) => {
    const { publisher, wire, outcomes } = setup(t);
    wire.sendError = new Error('maximum payload exceeded');
    publisher.publish('s', payload, 'a', 1);
    assert.deepEqual(outcomes, ['refused 1: maximum payload exceeded']);
    assert.equal(publisher.awaitingAck, 0);
  });

  test('no responders - the retry still waits for the attempt\'s deadline', (t) => {
    const { publisher, wire, outcomes } = setup(t);
    publisher.publish('s', payload, 'a', 1);
    wire.reply(wire.tokenOf('a'), 'no-responders');
    t.mock.timers.tick(99);
    assert.equal(wire.calls.length, 1);
    t.mock.timers.tick(1);
    assert.deepEqual(wire.calls.map((c) => c.at), [0, 100]);
    wire.reply(wire.tokenOf('a'), 'stored');
    assert.deepEqual(outcomes, ['retried 1', 'stored 1']);
  });

  test('no responders - on the last attempt the message is dropped at once', (t) => {
    const { publisher, wire, outcomes } = setup(t, { maxRetries: 1 });
    publisher.publish('s', payload, 'a', 1);
    t.mock.timers.tick(100);
    wire.reply(wire.tokenOf('a'), 'no-responders');
    assert.deepEqual(outcomes, ['retried 1', 'unacknowledged 1']);
    assert.ok(publisher.hasRoom());
  });
});

describe('stream publisher: bound and abandon', () => {
  test('bound - no room once maxAwaitingAck messages are in flight, room again when one settles', (t) => {
    const { publisher, wire } = setup(t, { maxAwaitingAck: 2 });
    publisher.publish('s', payload, 'a', 1);
    assert.ok(publisher.hasRoom());
    publisher.publish('s', payload, 'b', 1);
    assert.equal(publisher.hasRoom(), false);
    wire.reply(wire.tokenOf('b'), 'stored');
    assert.ok(publisher.hasRoom());
  });

  test('abandon - what is in flight at the deadline is returned; later replies and timeouts report nothing', async (t) => {
    const { publisher, wire, outcomes } = setup(t);
    publisher.publish('s', payload, 'a', 2);
    publisher.publish('s', payload, 'b', 3);
    wire.reply(wire.tokenOf('a'), 'stored');
    const abandoned = publisher.abandonAt(Date.now());
    assert.equal(await abandoned, 3);
    wire.reply(wire.tokenOf('b'), 'stored');
    t.mock.timers.tick(1000);
    assert.deepEqual(outcomes, ['stored 2']);
    assert.equal(wire.calls.length, 2);
  });
});
