// The V8 heap growth the server sets for itself, and when it leaves node's own alone.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { heapGrowingFlag } from '../../src/cli/heap-growth.js';

describe('heapGrowingFlag', () => {
  test('grows the old generation by V8\'s largest factor (4×) when node was given no growth', () => {
    assert.equal(heapGrowingFlag([]), '--heap-growing-percent=300');
    assert.equal(heapGrowingFlag(['--cpu-prof', '--trace-gc', '--max-old-space-size=4096']), '--heap-growing-percent=300');
  });

  test('leaves a growth given to node alone, in any of the spellings V8 reads', () => {
    for (const execArgv of [['--heap-growing-percent=50'], ['--heap_growing_percent=50'], ['--heap-growing-percent', '50']]) {
      assert.equal(heapGrowingFlag(execArgv), undefined, execArgv.join(' '));
    }
  });
});
