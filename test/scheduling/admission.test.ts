import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AdmissionCounter, admits, type AdmissionState } from '../../src/scheduling/admission.js';

describe('admits', () => {
  const cases: [AdmissionState, boolean, string][] = [
    [{ admitted: 1_000_000, executing: 0, maxQueueSize: 0 }, true, 'max_queue_size 0 is no bound'],
    [{ admitted: 5, executing: 1, maxQueueSize: 4 }, true, 'four waiting and one executing fill it'],
    [{ admitted: 6, executing: 1, maxQueueSize: 4 }, false, 'the sixth is one too many'],
    [{ admitted: 12, executing: 8, maxQueueSize: 4 }, true, 'requests of an executing batch have left the queue'],
    [{ admitted: 13, executing: 8, maxQueueSize: 4 }, false, 'beyond the batch and the queue'],
    [{ admitted: 1, executing: 0, maxQueueSize: 1 }, true, 'a first request always fits a bound of one'],
  ];
  for (const [state, expected, why] of cases) {
    test(`${JSON.stringify(state)} → ${expected}: ${why}`, () => assert.equal(admits(state), expected));
  }
});

describe('AdmissionCounter', () => {
  test('a refused request is RESOURCE_EXHAUSTED naming the model and the limit, and takes no place', () => {
    const counter = new AdmissionCounter("model 'm' version 1", 1, () => 1);
    const first = counter.admit();
    const second = counter.admit();
    assert.throws(() => counter.admit(), { code: 'RESOURCE_EXHAUSTED', message: /model 'm' version 1 .*max_queue_size 1/ });
    first();
    second();
    assert.doesNotThrow(() => counter.admit());
  });

  test('idle() resolves once every admitted request has been released, and a double release counts once', async () => {
    const counter = new AdmissionCounter('m', 0, () => 0);
    const release = counter.admit();
    const other = counter.admit();
    let idle = false;
    const done = counter.idle().then(() => (idle = true));
    release();
    release();
    await new Promise((r) => setImmediate(r));
    assert.equal(idle, false, 'one request is still in');
    other();
    await done;
    assert.equal(idle, true);
  });
});
