// The bytes of monitoring messages: the times in them and the shape of each kind of message.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { InferenceEvent } from '../../src/events.js';
import { ByteWriter } from '../../src/monitoring/byte-writer.js';
import {
  WhenText,
  headText,
  writeBatchMessage,
  writeErrorMessage,
  writeRow,
  writeSingleMessage,
} from '../../src/monitoring/event-json.js';
import { BASE_TIME, failed, inference } from './fake-transport.js';

function at(arrivedAtMs: number): InferenceEvent {
  return inference(1, { arrivedAtMs });
}

describe('WhenText', () => {
  test('when - is the ISO time of each event, across seconds, before the epoch and for fractional ms', () => {
    const when = new WhenText();
    const times = [BASE_TIME, BASE_TIME + 7, BASE_TIME + 999, BASE_TIME + 1000, BASE_TIME + 61_010, BASE_TIME + 5, -1, -1001, 0, 1.9, -1.9, 8.64e15];
    for (const ms of times) {
      assert.equal(when.of(at(ms)), JSON.stringify(new Date(Math.trunc(ms)).toISOString()), `at ${ms}`);
    }
  });

  test('when - a time no Date holds gives the epoch', () => {
    const when = new WhenText();
    for (const ms of [NaN, Infinity, 8.64e15 + 1]) assert.equal(when.of(at(ms)), JSON.stringify(new Date(0).toISOString()));
  });
});

function headOf(e: InferenceEvent): string {
  return headText({
    modelClass: e.modelClass,
    worker: e.instance,
    model: e.model,
    version: e.version,
    host: 'h',
    labels: e.labels,
    endpointId: 'id',
    sampleRate: 1,
  });
}

/** What `write` writes, parsed: every message is one JSON value. */
function written(write: (w: ByteWriter) => void): Record<string, unknown> {
  const w = new ByteWriter(8);
  write(w);
  return JSON.parse(w.take().toString('utf8')) as Record<string, unknown>;
}

const HEAD_KEYS = ['class', 'worker', 'model', 'version', 'host', 'labels', 'endpoint_id', 'sample_rate'];

describe('messages', () => {
  test('single - is one JSON object: the head then the event\'s columns as fields', () => {
    const e = inference(3, { parameters: { priority: 2 }, metrics: { calls: 3 }, labels: { team: 'a"b' } });
    const msg = written((w) => writeSingleMessage(w, Buffer.from(headOf(e)), e, 1024, new WhenText()));
    assert.deepEqual(Object.keys(msg), [...HEAD_KEYS, 'request', 'op', 'resp', 'when', 'latency_us', 'metrics']);
    assert.deepEqual(msg['labels'], { team: 'a"b' });
    assert.deepEqual(msg['request'], { id: 'r3', inputs: [[[3, 0.5]]], parameters: { priority: 2 } });
    assert.deepEqual(msg['resp'], { outputs: [[3, 6]] });
    assert.equal(msg['op'], 'infer');
    assert.equal(msg['when'], new Date(BASE_TIME + 3).toISOString());
    assert.equal(msg['latency_us'], 1_500_000);
    assert.deepEqual(msg['metrics'], { calls: 3 });
  });

  test('single - text outside ASCII, a cache hit, a decoupled model\'s response count, no metrics', () => {
    const e = inference(1, { requestId: 'réq-日本-🎉', op: 'ïnfer', metrics: {}, cacheHit: true });
    const msg = written((w) => writeSingleMessage(w, Buffer.from(headOf(e)), e, 1024, new WhenText()));
    assert.equal((msg['request'] as Record<string, unknown>)['id'], 'réq-日本-🎉');
    assert.equal(msg['op'], 'ïnfer');
    assert.deepEqual(msg['resp'], { outputs: [[1, 2]], cache_hit: true });
    assert.deepEqual(msg['metrics'], {});
    const decoupled = inference(2, { responses: 12, outputs: [] });
    const streamed = written((w) => writeSingleMessage(w, Buffer.from(headOf(decoupled)), decoupled, 1024, new WhenText()));
    assert.deepEqual(streamed['resp'], { outputs: [], responses: 12 });
  });

  test('single - what loggedResults() returned replaces the tensors', () => {
    const e = inference(1, { logged: { inputs: { text: 'hi' }, outputs: [1, 'two'] } });
    const msg = written((w) => writeSingleMessage(w, Buffer.from(headOf(e)), e, 1024, new WhenText()));
    assert.deepEqual(msg['request'], { id: 'r1', inputs: { text: 'hi' } });
    assert.deepEqual(msg['resp'], { outputs: [1, 'two'] });
  });

  test('batch - the head, the column names, then one row per event', () => {
    const when = new WhenText();
    const events = [inference(1), inference(2, { parameters: { p: true } })];
    const rows = events.map((e) => {
      const w = new ByteWriter(8);
      writeRow(w, e, 1024, when);
      return w.take();
    });
    const msg = written((w) => writeBatchMessage(w, headOf(events[0] as InferenceEvent), rows));
    assert.deepEqual(Object.keys(msg), [...HEAD_KEYS, 'headers', 'values']);
    assert.deepEqual(msg['headers'], ['request', 'op', 'resp', 'when', 'latency_us', 'metrics']);
    assert.deepEqual(msg['values'], [
      [{ id: 'r1', inputs: [[[1, 0.5]]] }, 'infer', { outputs: [[1, 2]] }, new Date(BASE_TIME + 1).toISOString(), 1_500_000, { calls: 1 }],
      [{ id: 'r2', inputs: [[[2, 0.5]]], parameters: { p: true } }, 'infer', { outputs: [[2, 4]] }, new Date(BASE_TIME + 2).toISOString(), 1_500_000, { calls: 2 }],
    ]);
  });

  test('error - the request, the error and its code; the stack only when verbose', () => {
    const e = failed(4);
    for (const verbose of [false, true]) {
      const msg = written((w) => writeErrorMessage(w, Buffer.from(headOf(e)), e, { maxElements: 1024, verbose, when: new WhenText() }));
      assert.deepEqual(Object.keys(msg), [...HEAD_KEYS, 'request', 'op', 'when', 'latency_us', 'metrics', 'error', 'error_code']);
      assert.deepEqual(msg['request'], { id: 'r4', inputs: [[[4, 0.5]]] });
      assert.equal(msg['error'], verbose ? 'predict exploded\nError: predict exploded\n    at predict (model.ts:1:1)' : 'predict exploded');
      assert.equal(msg['error_code'], 'INTERNAL');
      assert.equal(msg['latency_us'], 1_500_000);
    }
  });
});
