// The response cache's aliases: a transport's encodings of kept answers, bounded with them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ALIAS_OVERHEAD_BYTES, ResponseCache, type EncodedAnswer } from '../../src/cache/index.js';
import type { Tensor } from '../../src/tensor/index.js';

const tensor = (bytes: number): Tensor => ({ name: 'OUT', datatype: 'UINT8', shape: [bytes], data: new Uint8Array(bytes) });
const encoded = (bytes: number): EncodedAnswer => ({ bytes: new Uint8Array(bytes), idOffset: 0 });
const aliasBytes = (key: string, model: string, version: string, bytes: number) =>
  ALIAS_OVERHEAD_BYTES + (key.length + model.length + version.length) * 2 + bytes;

describe('ResponseCache aliases', () => {
  test('an alias finds the encoding kept under it and counts against its entry', () => {
    const cache = new ResponseCache(10_000);
    cache.insert('e', [tensor(100)], {});
    const before = cache.counts().bytes;
    cache.keepEncoded({ key: 'e', load: 1 }, 'wire', 'm', '', encoded(200));
    const alias = cache.aliased('wire');
    assert.deepEqual([alias?.model, alias?.version, alias?.answer.load, alias?.encoded.bytes.byteLength], ['m', '', 1, 200]);
    assert.equal(cache.counts().bytes, before + aliasBytes('wire', 'm', '', 200));
    assert.equal(cache.aliased('other'), undefined);
  });

  test('a hit through an alias counts a lookup and a hit', () => {
    const cache = new ResponseCache(10_000);
    cache.insert('e', [tensor(10)], {});
    cache.keepEncoded({ key: 'e', load: 1 }, 'wire', 'm', '1', encoded(10));
    cache.aliasHit(cache.aliased('wire')!, 500);
    const counts = cache.counts();
    assert.deepEqual([counts.lookups, counts.hits, counts.misses, counts.lookupNs], [1, 1, 0, 500]);
  });

  test('no alias is kept for an answer that left the cache, or that would not fit with it', () => {
    const cache = new ResponseCache(2_000);
    cache.keepEncoded({ key: 'absent', load: 1 }, 'wire', 'm', '', encoded(10));
    assert.equal(cache.aliased('wire'), undefined);
    cache.insert('e', [tensor(100)], {});
    cache.keepEncoded({ key: 'e', load: 1 }, 'wire', 'm', '', encoded(2_000));
    assert.equal(cache.aliased('wire'), undefined);
    assert.equal(cache.counts().entries, 1, 'the entry stays');
  });

  test('an evicted entry takes its aliases with it', () => {
    const cache = new ResponseCache(3_000);
    cache.insert('first', [tensor(1_000)], {});
    cache.keepEncoded({ key: 'first', load: 1 }, 'wire-1', 'm', '', encoded(100));
    cache.keepEncoded({ key: 'first', load: 1 }, 'wire-2', 'm', '1', encoded(100));
    cache.insert('second', [tensor(1_500)], {});
    assert.equal(cache.counts().entries, 1);
    assert.equal(cache.aliased('wire-1'), undefined);
    assert.equal(cache.aliased('wire-2'), undefined);
  });

  test('an alias kept again replaces the first, whose bytes are given back', () => {
    const cache = new ResponseCache(10_000);
    cache.insert('old', [tensor(10)], {});
    cache.insert('new', [tensor(10)], {});
    const entries = cache.counts().bytes;
    cache.keepEncoded({ key: 'old', load: 1 }, 'wire', 'm', '', encoded(100));
    cache.keepEncoded({ key: 'new', load: 2 }, 'wire', 'm', '', encoded(300));
    assert.equal(cache.aliased('wire')?.answer.key, 'new');
    assert.equal(cache.counts().bytes, entries + aliasBytes('wire', 'm', '', 300));
  });

  test('any string is an alias key: __proto__ and constructor included', () => {
    const cache = new ResponseCache(10_000);
    cache.insert('e', [tensor(10)], {});
    for (const key of ['__proto__', 'constructor']) cache.keepEncoded({ key: 'e', load: 1 }, key, key, '', encoded(1));
    assert.equal(cache.aliased('__proto__')?.model, '__proto__');
    assert.equal(cache.aliased('constructor')?.model, 'constructor');
    assert.equal(cache.aliased('toString'), undefined);
  });
});
