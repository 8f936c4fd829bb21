// Monitoring end to end: the real CLI publishing to a real nats-server of the test's own.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect, type NatsConnection, type Subscription } from 'nats';
import type { ModelInferRequest } from '../../generated/grpc_service.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { call, startCli, type RunningCli } from '../helpers/server.js';

function simpleRequest(id: string, first = 0, bad = false): ModelInferRequest {
  const ints = (f: (i: number) => number) => Buffer.from(new Int32Array(Array.from({ length: 16 }, (_, i) => f(i))).buffer);
  return {
    modelName: 'simple',
    modelVersion: '',
    id,
    parameters: new Map(),
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n], parameters: new Map(), contents: undefined },
      { name: 'INPUT1', datatype: bad ? 'FP32' : 'INT32', shape: [1n, 16n], parameters: new Map(), contents: undefined },
    ],
    outputs: [],
    rawInputContents: [ints((i) => first + i), ints(() => 1)],
  };
}

type Json = Record<string, unknown>;

/** Collects messages of a subscription as parsed JSON. */
function collect(subscription: Subscription): Json[] {
  const messages: Json[] = [];
  void (async () => {
    for await (const message of subscription) messages.push(message.json<Json>());
  })();
  return messages;
}

async function until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function startServing(nats: NatsServer, args: string[]): Promise<RunningCli> {
  const cli = await startCli([`--monitoring-nats=${nats.url}`, ...args]);
  await cli.waitForLog((l) => l['model'] === 'simple' && l['msg'] === 'model loaded');
  return cli;
}

describe('monitoring through the server', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
  });
  after(async () => {
    await nc.close();
    await nats.cleanup();
  });

  test('monitoring - sample 1 batch 1: one event per inference with id, model, inputs, outputs, latency', async () => {
    const subscription = nc.subscribe('v2serve.inference.simple');
    const events = collect(subscription);
    const cli = await startServing(nats, []);
    try {
      const elapsedUs: number[] = [];
      for (let i = 0; i < 10; i++) {
        const started = process.hrtime.bigint();
        await call(cli.client, cli.client.modelInfer, simpleRequest(`req-${i}`, i));
        elapsedUs.push(Number(process.hrtime.bigint() - started) / 1000);
      }
      await until(() => events.length >= 10, 5000, '10 events');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(events.length, 10);
      for (const [i, event] of events.entries()) {
        const request = event['request'] as { id: string; inputs: number[][][] };
        assert.equal(request.id, `req-${i}`);
        assert.equal(event['model'], 'simple');
        assert.equal(event['version'], '1');
        assert.equal(event['op'], 'infer');
        assert.equal(event['class'], 'Simple');
        assert.equal(event['sample_rate'], 1);
        assert.deepEqual(request.inputs[0], [Array.from({ length: 16 }, (_, k) => i + k)]);
        const outputs = (event['resp'] as { outputs: unknown[] }).outputs;
        assert.deepEqual(outputs[0], [Array.from({ length: 16 }, (_, k) => i + k + 1)]);
        const latency = event['latency_us'] as number;
        assert.ok(latency > 0 && latency <= (elapsedUs[i] as number) * 1.5 + 1000, `latency ${latency} vs ${elapsedUs[i]}`);
      }
    } finally {
      subscription.unsubscribe();
      await cli.stop();
    }
  });

  test('monitoring - sample 3 batch 4: 24 inferences give 2 batches of 4 rows; SIGTERM flushes the partial one', async () => {
    const subscription = nc.subscribe('v2serve.inference.simple');
    const messages = collect(subscription);
    const cli = await startServing(nats, ['--monitoring-sample=3', '--monitoring-batch=4', '--monitoring-flush-ms=600000']);
    try {
      for (let i = 0; i < 24; i++) await call(cli.client, cli.client.modelInfer, simpleRequest(`b-${i}`));
      await until(() => messages.length >= 2, 5000, '2 batch messages');
      for (const message of messages) {
        assert.deepEqual(message['headers'], ['request', 'op', 'resp', 'when', 'latency_us', 'metrics']);
        assert.equal((message['values'] as unknown[]).length, 4);
        assert.equal(message['sample_rate'], 3);
      }
      for (let i = 24; i < 27; i++) await call(cli.client, cli.client.modelInfer, simpleRequest(`b-${i}`));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(messages.length, 2, 'the partial batch waits for the flush interval');
      cli.process.kill('SIGTERM');
      assert.equal(await cli.exited, 0);
      await until(() => messages.length >= 3, 5000, 'the flushed partial batch');
      const rows = messages[2]?.['values'] as [{ id: string }][];
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.[0].id, 'b-26');
    } finally {
      subscription.unsubscribe();
      await cli.stop();
    }
  });

  test('monitoring - a failed inference is always published, even with sampling', async () => {
    const subscription = nc.subscribe('v2serve.inference.simple');
    const messages = collect(subscription);
    const cli = await startServing(nats, ['--monitoring-sample=100']);
    try {
      await assert.rejects(call(cli.client, cli.client.modelInfer, simpleRequest('broken', 0, true)));
      await until(() => messages.length >= 1, 5000, 'the error event');
      const event = messages[0] as Json;
      assert.equal((event['request'] as { id: string }).id, 'broken');
      assert.match(String(event['error']), /INPUT1/);
      assert.equal(event['error_code'], 'INVALID_ARGUMENT');
    } finally {
      subscription.unsubscribe();
      await cli.stop();
    }
  });

  test('monitoring - with nats-server down every inference succeeds; events flow again after it restarts', async () => {
    const subscription = () => nc.subscribe('v2serve.inference.simple');
    const cli = await startServing(nats, []);
    try {
      for (let i = 0; i < 20; i++) {
        if (i === 5) await nats.stop();
        const response = await call(cli.client, cli.client.modelInfer, simpleRequest(`down-${i}`));
        assert.equal(response.id, `down-${i}`);
      }
      await nats.restart();
      await until(() => !nc.isClosed() && nc.info !== undefined, 5000, 'test client reconnect');
      const sub = subscription();
      const events = collect(sub);
      // The server's client reconnects by itself; keep sending until an event arrives (bounded).
      const deadline = Date.now() + 10_000;
      let i = 0;
      while (events.length === 0 && Date.now() < deadline) {
        await call(cli.client, cli.client.modelInfer, simpleRequest(`up-${i++}`));
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(events.length > 0, 'no event after nats-server restarted');
      sub.unsubscribe();
      cli.process.kill('SIGTERM');
      assert.equal(await cli.exited, 0);
      const flushed = cli.logs.find((l) => l['msg'] === 'monitoring flushed') as { events: { dropped: number } } | undefined;
      assert.ok(flushed, 'no monitoring stats at shutdown');
      assert.ok(flushed.events.dropped > 0, `dropped ${flushed.events.dropped}`);
    } finally {
      await cli.stop();
    }
  });
});
