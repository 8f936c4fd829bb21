// The two ways a stream publish leaves, against a real nats-server: frames written by hand
// (framedSend) reach a subscriber exactly as nats.js's publish() sends them (publicSend),
// in order, and both refuse what the server would refuse.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { type Msg, type NatsConnection, ErrorCode, NatsError, connect } from 'nats';
import { type StreamSend, framedSend, publicSend } from '../../src/monitoring/stream-sender.js';
import { startNatsServer } from '../helpers/nats-server.js';

interface Received {
  readonly subject: string;
  readonly reply: string;
  readonly msgId: string | undefined;
  readonly headerKeys: string[];
  readonly data: string;
}

async function connected(t: TestContext, maxPayload?: number): Promise<NatsConnection> {
  const server = await startNatsServer({ jetstream: false, ...(maxPayload === undefined ? {} : { maxPayload }) });
  t.after(() => server.cleanup());
  const nc = await connect({ servers: server.url });
  t.after(() => nc.close());
  return nc;
}

function framed(nc: NatsConnection): StreamSend {
  const send = framedSend(nc);
  assert.ok(send, "nats.js's protocol handler is where framedSend looks for it");
  return send;
}

/** Collects `count` messages on `subject`, then resolves with them. */
function collect(nc: NatsConnection, subject: string, count: number): Promise<Received[]> {
  const received: Received[] = [];
  return new Promise((resolve) => {
    nc.subscribe(subject, {
      max: count,
      callback: (_err, m: Msg) => {
        received.push({
          subject: m.subject,
          reply: m.reply ?? '',
          msgId: m.headers?.get('Nats-Msg-Id'),
          headerKeys: m.headers?.keys() ?? [],
          data: m.string(),
        });
        if (received.length === count) resolve(received);
      },
    });
  });
}

function assertNatsError(code: string): (err: unknown) => boolean {
  return (err) => err instanceof NatsError && err.code === code;
}

describe('stream publishes on the wire', () => {
  test('framed - a subscriber gets what publish() would send: subject, reply, Nats-Msg-Id, payload', async (t) => {
    const nc = await connected(t);
    const messages = collect(nc, 'ev.>', 2);
    await nc.flush();
    const payload = Buffer.from('{"model":"modèle","values":[1,2,3]}');
    publicSend(nc)('ev.a', '_INBOX.test.1', 'id-1', payload);
    framed(nc)('ev.a', '_INBOX.test.1', 'id-1', payload);
    const [viaPublish, viaFrames] = await messages;
    assert.deepEqual(viaFrames, viaPublish);
    assert.deepEqual(viaFrames, {
      subject: 'ev.a',
      reply: '_INBOX.test.1',
      msgId: 'id-1',
      headerKeys: ['Nats-Msg-Id'],
      data: '{"model":"modèle","values":[1,2,3]}',
    });
  });

  test('burst - a thousand publishes in one turn arrive whole and in order', async (t) => {
    const nc = await connected(t);
    const messages = collect(nc, 'burst', 1000);
    await nc.flush();
    const send = framed(nc);
    for (let i = 0; i < 1000; i++) send('burst', `_INBOX.b.${i}`, `id.${i}`, Buffer.from(JSON.stringify({ i, pad: 'x'.repeat(i) })));
    const received = await messages;
    received.forEach((m, i) => {
      assert.equal(m.reply, `_INBOX.b.${i}`);
      assert.equal(m.msgId, `id.${i}`);
      assert.deepEqual(JSON.parse(m.data), { i, pad: 'x'.repeat(i) });
    });
  });

  test("max_payload - headers and payload together up to the server's limit go, one byte more is refused as publish() refuses it", async (t) => {
    const nc = await connected(t, 1024);
    const headerBytes = 'NATS/1.0\r\nNats-Msg-Id: id\r\n\r\n'.length;
    const messages = collect(nc, 'limit', 2);
    await nc.flush();
    for (const send of [publicSend(nc), framed(nc)]) {
      assert.throws(() => send('limit', 'r', 'id', Buffer.alloc(1025 - headerBytes, 0x20)), assertNatsError(ErrorCode.MaxPayloadExceeded));
      send('limit', 'r', 'id', Buffer.alloc(1024 - headerBytes, 0x20));
    }
    const received = await messages;
    assert.deepEqual(received.map((m) => m.data.length), [1024 - headerBytes, 1024 - headerBytes]);
  });

  test('closed - after close both refuse as a connection that is gone', async (t) => {
    const nc = await connected(t);
    const senders = [publicSend(nc), framed(nc)];
    await nc.close();
    for (const send of senders) {
      assert.throws(() => send('ev.a', 'r', 'id', Buffer.from('{}')), assertNatsError(ErrorCode.ConnectionClosed));
    }
  });

  test('header - a Nats-Msg-Id with a line break is refused, not written into the frame', async (t) => {
    const nc = await connected(t);
    assert.throws(() => framed(nc)('ev.a', 'r', 'id\r\nOther: x', Buffer.from('{}')), assertNatsError(ErrorCode.BadHeader));
  });
});
