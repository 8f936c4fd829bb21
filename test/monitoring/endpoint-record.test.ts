// Endpoint records shared by replicas: the pure merge of one replica's change, the
// compare-and-set loop, and two monitors of one deployment writing the same key.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import type { ModelState } from '../../src/events.js';
import { type EndpointRecord, mergeRecord } from '../../src/monitoring/endpoint.js';
import {
  type RecordStore,
  type StoredRecord,
  RECORD_WRITE_ATTEMPTS,
  RecordConflictError,
  updateRecord,
} from '../../src/monitoring/record-store.js';
import { type MonitoringOptionsInput, createMonitoring, endpointId, resolveMonitoringOptions } from '../../src/monitoring/index.js';
import { BASE_TIME, FakeTransport, inference, settle, state } from './fake-transport.js';

const silent = pino({ level: 'silent' });
const at = (s: number): string => new Date(BASE_TIME + s * 1000).toISOString();

/** A stored record holding these replicas: [state, second it changed at, second it last wrote at]. */
function stored(replicas: Record<string, [ModelState, number, number?]>): unknown {
  const entries = Object.entries(replicas).map(([id, [s, t, seen]]) => [
    id,
    { state: s, reason: `${id} ${s}`, host: `host-${id}`, updated: at(t), seen: at(seen ?? t) },
  ]);
  return JSON.parse(JSON.stringify({ endpoint_id: 'x', state: 'READY', replicas: Object.fromEntries(entries) })) as unknown;
}

/** serverId's change to state s at second t, written at second now (default t). */
function merge(before: unknown, serverId: string, s: ModelState, t: number, now = t, staleAfterSecs = 3600): EndpointRecord {
  return mergeRecord(
    before,
    {
      event: state(s, { reason: `${serverId} ${s}` }),
      deployment: 'dep',
      serverId,
      host: `host-${serverId}`,
      subject: 'v2serve.inference.{model}',
      time: new Date(BASE_TIME + t * 1000),
    },
    { now: new Date(BASE_TIME + now * 1000), staleAfterMs: staleAfterSecs * 1000 },
  );
}

function replicaStates(r: EndpointRecord): Record<string, string> {
  return Object.fromEntries(Object.entries(r.replicas).map(([id, e]) => [id, e.state]));
}

describe('mergeRecord: one replica changes its entry of the shared record', () => {
  const table: {
    name: string;
    before: unknown;
    /** serverId, state, second of the change, second of the write. */
    change: [string, ModelState, number, number?];
    replicas: Record<string, string>;
    state: ModelState;
    reason: string;
  }[] = [
    { name: 'creates the record', before: undefined, change: ['a', 'READY', 1], replicas: { a: 'READY' }, state: 'READY', reason: 'a READY' },
    {
      name: 'joins, keeping the other replica',
      before: stored({ a: ['READY', 1] }),
      change: ['b', 'READY', 2],
      replicas: { a: 'READY', b: 'READY' },
      state: 'READY',
      reason: 'b READY',
    },
    {
      name: 'updates its own entry only',
      before: stored({ a: ['READY', 1], b: ['READY', 2] }),
      change: ['a', 'LOADING', 3],
      replicas: { a: 'LOADING', b: 'READY' },
      state: 'READY',
      reason: 'b READY',
    },
    {
      name: 'a stopping replica leaves while another serves',
      before: stored({ a: ['READY', 1], b: ['READY', 2] }),
      change: ['a', 'UNAVAILABLE', 3],
      replicas: { b: 'READY' },
      state: 'READY',
      reason: 'b READY',
    },
    {
      name: 'the last replica to stop stays, UNAVAILABLE',
      before: stored({ b: ['READY', 2] }),
      change: ['b', 'UNAVAILABLE', 3],
      replicas: { b: 'UNAVAILABLE' },
      state: 'UNAVAILABLE',
      reason: 'b UNAVAILABLE',
    },
    {
      name: 'only the newest stopped replica is kept',
      before: stored({ a: ['UNAVAILABLE', 1], b: ['READY', 2] }),
      change: ['b', 'UNAVAILABLE', 3],
      replicas: { b: 'UNAVAILABLE' },
      state: 'UNAVAILABLE',
      reason: 'b UNAVAILABLE',
    },
    {
      name: 'a ready replica drops stopped ones',
      before: stored({ b: ['UNAVAILABLE', 3] }),
      change: ['c', 'READY', 4],
      replicas: { c: 'READY' },
      state: 'READY',
      reason: 'c READY',
    },
    {
      name: 'with none ready, the newest change is the state',
      before: stored({ a: ['LOADING', 5], b: ['READY', 1] }),
      change: ['b', 'UNLOADING', 6],
      replicas: { a: 'LOADING', b: 'UNLOADING' },
      state: 'UNLOADING',
      reason: 'b UNLOADING',
    },
    {
      name: 'a refresh keeps the time of the change and moves the time seen',
      before: stored({ a: ['READY', 1, 61], b: ['READY', 2] }),
      change: ['b', 'READY', 2, 62],
      replicas: { a: 'READY', b: 'READY' },
      state: 'READY',
      reason: 'b READY',
    },
    {
      name: 'an entry not written for the stale time is dropped, one written at its bound is kept',
      before: stored({ a: ['READY', 1, 1000], b: ['READY', 2, 400], c: ['READY', 3, 399] }),
      change: ['d', 'READY', 4000],
      replicas: { a: 'READY', b: 'READY', d: 'READY' },
      state: 'READY',
      reason: 'd READY',
    },
    {
      name: 'a value that is no record starts over',
      before: 'not a record',
      change: ['a', 'READY', 1],
      replicas: { a: 'READY' },
      state: 'READY',
      reason: 'a READY',
    },
    {
      name: 'unreadable entries are left out',
      before: {
        replicas: {
          x: { state: 'BOGUS', reason: '', host: '', updated: at(0), seen: at(0) },
          y: 'READY',
          z: { state: 'READY', reason: '', host: '', updated: at(0), seen: 'yesterday' },
        },
      },
      change: ['a', 'READY', 1],
      replicas: { a: 'READY' },
      state: 'READY',
      reason: 'a READY',
    },
  ];
  for (const row of table) {
    test(`merge - ${row.name}`, () => {
      const [serverId, s, t, now = t] = row.change;
      const r = merge(row.before, serverId, s, t, now);
      assert.deepEqual(replicaStates(r), row.replicas);
      assert.equal(r.state, row.state);
      assert.equal(r.reason, row.reason);
      assert.equal(r.endpoint_id, endpointId('dep', 'm', '1'));
      assert.equal(r.deployment, 'dep');
      assert.equal(r.server_id, serverId);
      assert.equal(r.updated, at(now));
      const own = r.replicas[serverId];
      if (own) assert.deepEqual({ ...own }, { state: s, reason: `${serverId} ${s}`, host: `host-${serverId}`, updated: at(t), seen: at(now) });
    });
  }

  test('merge - a replica named __proto__ is an entry like any other', () => {
    const entry = `{"state":"READY","reason":"r","host":"h","updated":"${at(1)}","seen":"${at(1)}"}`;
    const before = JSON.parse(`{"replicas":{"__proto__":${entry}}}`) as unknown;
    const r = merge(before, 'a', 'UNAVAILABLE', 2);
    assert.deepEqual(Object.keys(r.replicas), ['__proto__']);
    assert.equal(Object.getPrototypeOf(r.replicas), null);
    assert.equal(r.state, 'READY');
    assert.deepEqual(JSON.parse(JSON.stringify(r))['replicas']['__proto__']['state'], 'READY');
  });
});

/** A store holding one key, that answers the first `conflicts` writes as if another writer came first. */
class ConflictingStore implements RecordStore {
  value: StoredRecord | undefined;
  reads = 0;
  writes = 0;
  constructor(
    private conflicts: number,
    private readonly otherWriter: (stored: StoredRecord | undefined) => StoredRecord,
  ) {}
  async getRecord(): Promise<StoredRecord | undefined> {
    this.reads++;
    return this.value;
  }
  async writeRecord(_key: string, value: Uint8Array, revision: number): Promise<boolean> {
    this.writes++;
    if (this.conflicts > 0) {
      this.conflicts--;
      this.value = this.otherWriter(this.value);
    }
    if ((this.value?.revision ?? 0) !== revision) return false;
    this.value = { value, revision: revision + 1 };
    return true;
  }
}

const bytes = (v: unknown): Uint8Array => Buffer.from(JSON.stringify(v));
const noPause = (): Promise<void> => Promise.resolve();

describe('updateRecord: compare-and-set', () => {
  test('cas - a conflict re-reads and merges onto the other writer’s value', async () => {
    // Replica b joins between a's read and a's write.
    const store = new ConflictingStore(1, (s) => ({
      value: bytes(merge(undefined, 'b', 'READY', 1)),
      revision: (s?.revision ?? 0) + 1,
    }));
    const written = await updateRecord(store, 'k', (prev) => merge(prev, 'a', 'READY', 2), noPause);
    assert.equal(store.writes, 2);
    assert.equal(store.reads, 2);
    assert.deepEqual(replicaStates(written), { a: 'READY', b: 'READY' });
    assert.deepEqual(JSON.parse(Buffer.from(store.value!.value).toString()), JSON.parse(JSON.stringify(written)));
  });

  test('cas - gives up after RECORD_WRITE_ATTEMPTS conflicts with a RecordConflictError', async () => {
    const store = new ConflictingStore(Infinity, (s) => ({ value: bytes({}), revision: (s?.revision ?? 0) + 1 }));
    const pauses: number[] = [];
    await assert.rejects(
      updateRecord(store, 'k', () => ({}), async (attempt) => void pauses.push(attempt)),
      RecordConflictError,
    );
    assert.equal(store.writes, RECORD_WRITE_ATTEMPTS);
    assert.deepEqual(pauses, Array.from({ length: RECORD_WRITE_ATTEMPTS - 1 }, (_, i) => i + 1));
  });

  test('cas - the default pause is short and the write lands', async () => {
    const store = new ConflictingStore(2, (s) => ({ value: bytes({}), revision: (s?.revision ?? 0) + 1 }));
    await updateRecord(store, 'k', () => ({ ok: true }));
    assert.equal(store.writes, 3);
    assert.deepEqual(JSON.parse(Buffer.from(store.value!.value).toString()), { ok: true });
  });
});

describe('monitors of one deployment share a record', () => {
  function replica(transport: FakeTransport, serverId: string, over: Partial<MonitoringOptionsInput> = {}) {
    const options = resolveMonitoringOptions({ natsUrl: 'nats://unused', deployment: 'dep', ...over }, { serverId, host: `host-${serverId}` });
    return createMonitoring(options, silent, { transport });
  }

  test('shared - one key per model version, both replicas in it; READY until the last one stops', async () => {
    const transport = new FakeTransport();
    const a = replica(transport, 'a');
    const b = replica(transport, 'b');
    a.emit(state('READY'));
    b.emit(state('READY'));
    await settle(10);
    const id = endpointId('dep', 'm', '1');
    assert.deepEqual([...transport.records.keys()], [id]);
    const record = (): EndpointRecord => transport.records.get(id) as unknown as EndpointRecord;
    assert.deepEqual(replicaStates(record()), { a: 'READY', b: 'READY' });
    assert.equal(record().state, 'READY');
    a.emit(state('UNAVAILABLE'));
    await a.close();
    assert.deepEqual(replicaStates(record()), { b: 'READY' });
    assert.equal(record().state, 'READY');
    b.emit(state('UNAVAILABLE'));
    await b.close();
    assert.deepEqual(replicaStates(record()), { b: 'UNAVAILABLE' });
    assert.equal(record().state, 'UNAVAILABLE');
  });

  test('shared - a running replica refreshes its entry; an entry not refreshed is dropped', async () => {
    const transport = new FakeTransport();
    const id = endpointId('dep', 'm', '1');
    const hourAgo = new Date(Date.now() - 3600_000).toISOString();
    const dead = { state: 'READY', reason: 'loaded', host: 'gone', updated: hourAgo, seen: hourAgo };
    transport.records.set(id, { endpoint_id: id, replicas: { dead } });
    const a = replica(transport, 'a', { endpointRefreshMs: 20 });
    try {
      a.emit(state('READY'));
      const record = (): EndpointRecord | undefined => transport.records.get(id) as unknown as EndpointRecord | undefined;
      const deadline = Date.now() + 5000;
      const refreshed = (): boolean => {
        const own = record()?.replicas['a'];
        return own !== undefined && own.seen > own.updated;
      };
      while (!refreshed() && Date.now() < deadline) await sleep(10);
      assert.ok(refreshed(), 'the entry was written again after the change');
      assert.deepEqual(replicaStates(record()!), { a: 'READY' });
    } finally {
      await a.close();
    }
  });

  test('shared - events carry the shared endpoint id', async () => {
    const transport = new FakeTransport();
    const a = replica(transport, 'a');
    a.emit(state('READY'));
    a.emit(inference(1));
    await a.close();
    assert.equal(transport.sent[0]?.msg['endpoint_id'], endpointId('dep', 'm', '1'));
    assert.ok(transport.records.has(endpointId('dep', 'm', '1')));
  });

  test('shared - without a deployment each server keeps its own record', async () => {
    const transport = new FakeTransport();
    const a = replica(transport, 'a', { deployment: undefined });
    const b = replica(transport, 'b', { deployment: undefined });
    a.emit(state('READY'));
    b.emit(state('READY'));
    await Promise.all([a.close(), b.close()]);
    assert.deepEqual([...transport.records.keys()].sort(), [endpointId('a', 'm', '1'), endpointId('b', 'm', '1')].sort());
  });
});
