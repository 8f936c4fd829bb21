// The text of monitoring messages: the times in them and the shape of a message.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { InferenceEvent } from '../../src/events.js';
import { WhenText, encodeRow, headText, singleMessage } from '../../src/monitoring/event-json.js';
import { BASE_TIME, inference } from './fake-transport.js';

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

describe('singleMessage', () => {
  test('single - is one JSON object: the head then the row', () => {
    const e = inference(3, { parameters: { priority: 2 }, metrics: { calls: 3 }, labels: { team: 'a"b' } });
    const head = headText({
      modelClass: e.modelClass,
      worker: e.instance,
      model: e.model,
      version: e.version,
      host: 'h',
      labels: e.labels,
      endpointId: 'id',
      sampleRate: 1,
    });
    const msg = JSON.parse(singleMessage(head, encodeRow(e, 1024, new WhenText()))) as Record<string, unknown>;
    assert.deepEqual(Object.keys(msg), [
      'class', 'worker', 'model', 'version', 'host', 'labels', 'endpoint_id', 'sample_rate',
      'request', 'op', 'resp', 'when', 'latency_us', 'metrics',
    ]);
    assert.deepEqual(msg['labels'], { team: 'a"b' });
    assert.deepEqual(msg['request'], { id: 'r3', inputs: [[[3, 0.5]]], parameters: { priority: 2 } });
  });
});
