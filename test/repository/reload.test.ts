import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { interimVersions, servingAfterReload } from '../../src/repository/reload.js';

const version = (name: string, ready: boolean) => ({ name, ready });

describe('servingAfterReload', () => {
  const cases: [boolean, boolean, 'previous' | 'fresh', string][] = [
    [true, false, 'fresh', 'a reload that loaded replaces the old versions'],
    [true, true, 'previous', 'a reload that failed leaves the loaded versions serving (Triton)'],
    [false, false, 'fresh', 'a first load serves what it loaded'],
    [false, true, 'fresh', 'a first load that failed shows its failed versions'],
  ];
  for (const [wasServing, failed, expected, why] of cases) {
    test(`serving ${wasServing}, failed ${failed} → ${expected}: ${why}`, () => assert.equal(servingAfterReload(wasServing, failed), expected));
  }
});

describe('interimVersions', () => {
  test('a ready old version keeps its number while its successor loads; others route to the new ones, highest first', () => {
    const previous = new Map([
      ['1', version('old-1', true)],
      ['2', version('old-2', false)],
    ]);
    const fresh = new Map([
      ['2', version('new-2', false)],
      ['3', version('new-3', false)],
    ]);
    assert.deepEqual(
      [...interimVersions(previous, fresh)].map(([number, v]) => [number, v.name]),
      [
        ['3', 'new-3'],
        ['2', 'new-2'],
        ['1', 'old-1'],
      ],
    );
  });

  test('an old version that was not ready and has no successor is dropped', () => {
    assert.deepEqual([...interimVersions(new Map([['1', version('old-1', false)]]), new Map()).keys()], []);
  });
});
