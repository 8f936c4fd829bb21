// Two real v2serve servers of one deployment (--monitoring-deployment) writing endpoint
// records to a real nats-server: one shared record per model version, an entry per
// replica, READY until the last replica stops.
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { type KV, type NatsConnection, connect } from 'nats';
import type { ModelInferRequest } from '../../generated/grpc_service.js';
import type { ModelStateEvent } from '../../src/events.js';
import { type EndpointRecord, endpointId, startMonitoring } from '../../src/monitoring/index.js';
import { NatsTransport, natsConnectionOptions } from '../../src/monitoring/nats-transport.js';
import { resolveMonitoringOptions } from '../../src/monitoring/options.js';
import { type NatsServer, startNatsServer } from '../helpers/nats-server.js';
import { call, startCli, type RunningCli } from '../helpers/server.js';

const BUCKET = 'v2serve_endpoints';

async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

function simpleRequest(id: string): ModelInferRequest {
  const ints = Buffer.from(new Int32Array(16).fill(1).buffer);
  return {
    modelName: 'simple',
    modelVersion: '',
    id,
    parameters: new Map(),
    inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1n, 16n], parameters: new Map(), contents: undefined })),
    outputs: [],
    rawInputContents: [ints, ints],
  };
}

describe('monitoring: replicas of one deployment share endpoint records', () => {
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

  async function replica(id: string, deployment: string): Promise<RunningCli> {
    const cli = await startCli([
      `--id=${id}`,
      `--monitoring-nats=${nats.url}`,
      `--monitoring-deployment=${deployment}`,
      '--model-control-mode=explicit',
      '--load-model=simple',
    ]);
    await cli.waitForLog((l) => l['model'] === 'simple' && l['msg'] === 'model loaded');
    return cli;
  }

  async function record(kv: KV, key: string): Promise<EndpointRecord | undefined> {
    const e = await kv.get(key);
    return e?.operation === 'PUT' ? (e.json() as EndpointRecord) : undefined;
  }

  /** Every record of the deployment; while nothing writes the bucket (keys() reads up to its end). */
  async function records(kv: KV, deployment: string): Promise<Map<string, EndpointRecord>> {
    const found = new Map<string, EndpointRecord>();
    for await (const key of await kv.keys()) {
      const e = await kv.get(key);
      const r = e?.operation === 'PUT' ? (e.json() as EndpointRecord) : undefined;
      if (r?.deployment === deployment) found.set(key, r);
    }
    return found;
  }

  test('replicas - one key, both replicas in it, READY until the last replica stops; events carry its id', async () => {
    const deployment = 'simple-deploy';
    const serverA = `${hostname()}:replica-a:0`;
    const serverB = `${hostname()}:replica-b:0`;
    const key = endpointId(deployment, 'simple', '1');
    const events: Record<string, unknown>[] = [];
    const sub = nc.subscribe('v2serve.inference.simple', { callback: (_err, m) => void events.push(m.json<Record<string, unknown>>()) });
    await nc.flush();
    const a = await replica('replica-a', deployment);
    const b = await replica('replica-b', deployment);
    try {
      const kv = await nc.jetstream().views.kv(BUCKET);
      const shared = await waitFor('both replicas in the record', async () => {
        const r = await record(kv, key);
        return r && Object.keys(r.replicas).length === 2 && r;
      });
      assert.deepEqual([...(await records(kv, deployment)).keys()], [key], 'one key per model version');
      assert.equal(shared.endpoint_id, key);
      assert.equal(shared.state, 'READY');
      assert.deepEqual(Object.keys(shared.replicas).sort(), [serverA, serverB].sort());
      assert.ok(Object.values(shared.replicas).every((r) => r.state === 'READY'));
      assert.equal(shared.model, 'simple');
      assert.equal(shared.subject, 'v2serve.inference.simple');

      await call(a.client, a.client.modelInfer, simpleRequest('from-a'));
      await call(b.client, b.client.modelInfer, simpleRequest('from-b'));
      await waitFor('an event from each replica', async () => events.length >= 2);
      assert.deepEqual(events.map((e) => e['endpoint_id']), [key, key]);

      assert.equal(await a.stop(), 0);
      const one = await waitFor('replica a gone from the record', async () => {
        const r = await record(kv, key);
        return r && Object.keys(r.replicas).length === 1 && r;
      });
      assert.deepEqual(Object.keys(one.replicas), [serverB]);
      assert.equal(one.state, 'READY', 'still served by replica b');

      assert.equal(await b.stop(), 0);
      const none = await waitFor('the record UNAVAILABLE', async () => {
        const r = await record(kv, key);
        return r?.state === 'UNAVAILABLE' && r;
      });
      assert.deepEqual(Object.keys(none.replicas), [serverB]);
      assert.equal(none.replicas[serverB]?.state, 'UNAVAILABLE');
    } finally {
      sub.unsubscribe();
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test('replicas - the entry of a replica that died without stopping is dropped by another replica\'s refresh', async () => {
    const deployment = 'refresh-deploy';
    const key = endpointId(deployment, 'echo', '1');
    const log = pino({ level: 'silent' });
    const ready: ModelStateEvent = {
      kind: 'model-state',
      modelClass: 'EchoModel',
      model: 'echo',
      version: '1',
      parameters: {},
      state: 'READY',
      reason: 'loaded',
      labels: {},
      path: '/models/echo/1',
    };
    const start = (serverId: string) =>
      startMonitoring({ natsUrl: nats.url, serverId, deployment, endpointRefreshMs: 100 }, log);
    const dying = await start('dying');
    const alive = await start('alive');
    try {
      const kv = await nc.jetstream().views.kv(BUCKET);
      const read = (): Promise<EndpointRecord | undefined> => record(kv, key);
      dying.emit(ready);
      alive.emit(ready);
      await waitFor('both entries', async () => Object.keys((await read())?.replicas ?? {}).length === 2);
      // Closed without an UNAVAILABLE event: as a killed pod, its entry stays READY.
      await dying.close();
      const left = await waitFor('the dead entry dropped', async () => {
        const r = await read();
        return r && Object.keys(r.replicas).length === 1 && r;
      });
      assert.deepEqual(Object.keys(left.replicas), ['alive']);
      assert.equal(left.state, 'READY');
    } finally {
      await Promise.all([dying.close(), alive.close()]);
    }
  });

  test('replicas - the KV write is compare-and-set: a stale revision is refused, not stored', async () => {
    const options = resolveMonitoringOptions({ natsUrl: nats.url, kvBucket: 'it_cas' }, { serverId: 's', host: 'h' });
    const transport = new NatsTransport(await natsConnectionOptions(options), options.kvBucket, pino({ level: 'silent' }));
    await transport.start();
    try {
      const v = (n: number): Uint8Array => Buffer.from(JSON.stringify({ n }));
      assert.equal(await transport.getRecord('k'), undefined);
      assert.equal(await transport.writeRecord('k', v(1), 0), true);
      assert.equal(await transport.writeRecord('k', v(2), 0), false, 'a create over an existing value');
      const first = await transport.getRecord('k');
      assert.ok(first);
      assert.equal(await transport.writeRecord('k', v(3), first.revision), true);
      assert.equal(await transport.writeRecord('k', v(4), first.revision), false, 'an update from a stale revision');
      const last = await transport.getRecord('k');
      assert.deepEqual(JSON.parse(Buffer.from(last!.value).toString()), { n: 3 });
      assert.ok(last!.revision > first.revision);
    } finally {
      await transport.close();
    }
  });
});
