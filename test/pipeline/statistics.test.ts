import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Duration, VersionStatistics } from '../../src/pipeline/statistics.js';

describe('Duration', () => {
  test('sums whole nanoseconds exactly past the largest integer a double holds', () => {
    const duration = new Duration();
    const big = Number.MAX_SAFE_INTEGER / 2 - 0.5; // 2^52 - 1, odd
    for (let i = 0; i < 5; i++) duration.add(big);
    duration.add(3);
    assert.equal(duration.count, 6);
    assert.equal(duration.ns, 5n * BigInt(big) + 3n);
  });
});

describe('VersionStatistics', () => {
  test('recordSuccess - adds each phase to its own duration', () => {
    const statistics = new VersionStatistics();
    statistics.recordSuccess(100, { queueNs: 10, inputNs: 20, inferNs: 30, outputNs: 40 }, 2);
    statistics.recordSuccess(1, { queueNs: 1, inputNs: 0, inferNs: 0, outputNs: 0 }, 1);
    assert.equal(statistics.inferenceCount, 3);
    assert.deepEqual(
      [statistics.success, statistics.queue, statistics.computeInput, statistics.computeInfer, statistics.computeOutput].map((d) => [d.count, d.ns]),
      [
        [2, 101n],
        [2, 11n],
        [2, 20n],
        [2, 30n],
        [2, 40n],
      ],
    );
  });
});
