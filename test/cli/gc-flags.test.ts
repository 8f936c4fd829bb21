// The V8 collector settings the server sets for itself, and when it leaves node's own alone.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { serverGcFlags } from '../../src/cli/gc-flags.js';

const ALL = ['--heap-growing-percent=300', '--no-allocation-site-pretenuring'];

describe('serverGcFlags', () => {
  test('grows the old generation by V8\'s largest factor (4×) and pretenures nothing when node was given neither', () => {
    assert.deepEqual(serverGcFlags([]), ALL);
    assert.deepEqual(serverGcFlags(['--cpu-prof', '--trace-gc', '--max-old-space-size=4096']), ALL);
  });

  test('leaves a growth given to node alone, in any of the spellings V8 reads', () => {
    for (const execArgv of [['--heap-growing-percent=50'], ['--heap_growing_percent=50'], ['--heap-growing-percent', '50']]) {
      assert.deepEqual(serverGcFlags(execArgv), ['--no-allocation-site-pretenuring'], execArgv.join(' '));
    }
  });

  test('leaves pretenuring as node was told, either way', () => {
    for (const execArgv of [['--allocation-site-pretenuring'], ['--no-allocation-site-pretenuring'], ['--no_allocation_site_pretenuring']]) {
      assert.deepEqual(serverGcFlags(execArgv), ['--heap-growing-percent=300'], execArgv.join(' '));
    }
  });
});
