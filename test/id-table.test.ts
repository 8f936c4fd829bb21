// IdTable: what Map gives for integer ids (stream ids, job numbers), in ascending id order.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IdTable } from '../src/id-table.js';

describe('IdTable', () => {
  test('gets, sets, deletes and counts entries by id', () => {
    const table = new IdTable<string>();
    assert.equal(table.set(1, 'a'), table);
    table.set(3, 'b');
    table.set(3, 'b again');
    assert.equal(table.size, 2);
    assert.equal(table.get(3), 'b again');
    assert.equal(table.get(5), undefined);
    assert.equal(table.delete(1), true);
    assert.equal(table.delete(1), false);
    assert.equal(table.size, 1);
    assert.equal(table.get(1), undefined);
  });

  test('first() and values() go by ascending id, the order increasing ids were set in', () => {
    const table = new IdTable<number>();
    for (const id of [7, 9, 2 ** 31 - 1, 2 ** 31 + 5, 11]) table.set(id, id);
    table.delete(7);
    assert.equal(table.first(), 9);
    assert.deepEqual(table.values(), [9, 11, 2 ** 31 - 1, 2 ** 31 + 5]);
    table.clear();
    assert.equal(table.size, 0);
    assert.equal(table.first(), undefined);
    assert.deepEqual(table.values(), []);
  });

  test('forEach visits every entry, even as the visit deletes them (as a session\'s destroy() does)', () => {
    const table = new IdTable<{ id: number }>();
    for (const id of [1, 3, 5]) table.set(id, { id });
    const seen: number[] = [];
    table.forEach((entry, id, self) => {
      seen.push(id);
      assert.equal(entry.id, id);
      self.delete(id);
    });
    assert.deepEqual(seen, [1, 3, 5]);
    assert.equal(table.size, 0);
  });

  test('a visit that deletes an entry not yet visited passes it over', () => {
    const table = new IdTable<number>();
    for (const id of [1, 2, 3]) table.set(id, id);
    const seen: number[] = [];
    table.forEach((_, id) => {
      seen.push(id);
      table.delete(2);
    });
    assert.deepEqual(seen, [1, 3]);
  });
});
