import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedQueue } from '../../src/monitoring/event-queue.js';

describe('BoundedQueue', () => {
  test('returns items in FIFO order', () => {
    const q = new BoundedQueue<number>(4);
    for (const i of [1, 2, 3]) q.push(i);
    assert.deepEqual([q.shift(), q.shift(), q.shift(), q.shift()], [1, 2, 3, undefined]);
  });

  test('when full drops the oldest item and reports it', () => {
    const q = new BoundedQueue<number>(2);
    assert.equal(q.push(1), false);
    assert.equal(q.push(2), false);
    assert.equal(q.push(3), true);
    assert.equal(q.length, 2);
    assert.deepEqual([q.shift(), q.shift()], [2, 3]);
  });

  test('keeps order across wrap-around', () => {
    const q = new BoundedQueue<number>(3);
    const out: number[] = [];
    for (let i = 0; i < 10; i++) {
      q.push(i);
      if (i % 2 === 0) out.push(q.shift()!);
    }
    while (q.length > 0) out.push(q.shift()!);
    assert.deepEqual(out.slice(-3), [7, 8, 9]);
    assert.equal(new Set(out).size, out.length);
  });
});
