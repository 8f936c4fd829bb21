import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { LruStore } from '../../src/cache/index.js';

const entry = (byteSize: number, tag = '') => ({ byteSize, tag });

describe('LruStore', () => {
  test('keeps entries within its bytes, evicting the least recently used first', () => {
    const store = new LruStore<ReturnType<typeof entry>>(100);
    assert.equal(store.set('a', entry(40, 'a')), true);
    assert.equal(store.set('b', entry(40, 'b')), true);
    assert.equal(store.get('a')?.tag, 'a'); // a is now the most recently used
    store.set('c', entry(40, 'c'));
    assert.equal(store.get('b'), undefined);
    assert.equal(store.get('a')?.tag, 'a');
    assert.equal(store.get('c')?.tag, 'c');
    assert.deepEqual({ size: store.size, bytes: store.bytes, evictions: store.evictions }, { size: 2, bytes: 80, evictions: 1 });
  });

  test('an entry exactly the capacity fits; one byte more is not kept and evicts nothing', () => {
    const store = new LruStore<ReturnType<typeof entry>>(100);
    store.set('a', entry(10));
    assert.equal(store.set('big', entry(101)), false);
    assert.equal(store.size, 1);
    assert.equal(store.evictions, 0);
    assert.equal(store.set('whole', entry(100)), true);
    assert.deepEqual({ size: store.size, bytes: store.bytes, evictions: store.evictions }, { size: 1, bytes: 100, evictions: 1 });
  });

  test('setting a key again replaces its entry and its bytes', () => {
    const store = new LruStore<ReturnType<typeof entry>>(100);
    store.set('a', entry(60, 'first'));
    store.set('a', entry(70, 'second'));
    assert.deepEqual({ size: store.size, bytes: store.bytes, evictions: store.evictions, tag: store.get('a')?.tag }, { size: 1, bytes: 70, evictions: 0, tag: 'second' });
  });

  test('peek reads without reordering; grow counts bytes against an entry, makes it the newest and evicts others, never itself', () => {
    const removed: string[] = [];
    const store = new LruStore<ReturnType<typeof entry>>(100, (key) => removed.push(key));
    store.set('a', entry(30, 'a'));
    store.set('b', entry(30, 'b'));
    assert.equal(store.peek('a')?.tag, 'a');
    assert.equal(store.grow('a', 30), true, 'a is the newest now');
    assert.deepEqual({ bytes: store.bytes, size: store.size }, { bytes: 90, size: 2 });
    assert.equal(store.grow('a', 20), true);
    assert.equal(store.get('b'), undefined, 'b, the oldest, made room');
    assert.deepEqual(removed, ['b']);
    assert.equal(store.grow('a', 21), false, 'a would outgrow the store');
    assert.equal(store.grow('gone', 1), false);
    assert.equal(store.grow('a', -40), true);
    assert.deepEqual({ bytes: store.bytes, evictions: store.evictions }, { bytes: 40, evictions: 1 });
  });

  test('the removal callback hears of evicted and replaced entries, with the entry that left', () => {
    const removed: string[] = [];
    const store = new LruStore<ReturnType<typeof entry>>(100, (key, value) => removed.push(`${key}:${value.tag}`));
    store.set('a', entry(60, 'first'));
    store.set('a', entry(60, 'second'));
    store.set('b', entry(60, 'b'));
    assert.deepEqual(removed, ['a:first', 'a:second']);
  });

  test('any string is a key: __proto__ and constructor are entries like others', () => {
    const store = new LruStore<ReturnType<typeof entry>>(100);
    assert.equal(store.get('__proto__'), undefined);
    assert.equal(store.get('constructor'), undefined);
    store.set('__proto__', entry(10, 'p'));
    store.set('constructor', entry(10, 'c'));
    assert.equal(store.get('__proto__')?.tag, 'p');
    assert.equal(store.get('constructor')?.tag, 'c');
  });

  test('any sequence of reads and writes keeps what a list ordered by use keeps', () => {
    const op = fc.record({ write: fc.boolean(), key: fc.constantFrom('a', 'b', 'c', 'd', 'e', '__proto__'), size: fc.integer({ min: 1, max: 60 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const store = new LruStore<ReturnType<typeof entry>>(100);
        // The reference: entries oldest first, evicted from the front.
        let model: { key: string; size: number }[] = [];
        let evictions = 0;
        ops.forEach(({ write, key, size }, i) => {
          const tag = String(i);
          if (!write) {
            const found = model.find((e) => e.key === key);
            if (found) model = [...model.filter((e) => e !== found), found];
            const got = store.get(key);
            assert.equal(got?.byteSize, found?.size);
            return;
          }
          model = model.filter((e) => e.key !== key);
          while (model.reduce((n, e) => n + e.size, 0) + size > 100) {
            model.shift();
            evictions += 1;
          }
          model.push({ key, size });
          store.set(key, entry(size, tag));
        });
        assert.equal(store.size, model.length);
        assert.equal(store.bytes, model.reduce((n, e) => n + e.size, 0));
        assert.equal(store.evictions, evictions);
      }),
      { seed: 28, numRuns: 300 },
    );
  });
});
