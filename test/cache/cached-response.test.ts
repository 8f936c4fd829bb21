import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cachedResponse, ENTRY_OVERHEAD_BYTES, ResponseCache, type KeyedRequest } from '../../src/cache/index.js';
import { dictionary } from '../../src/dictionary.js';
import { encodeOutputs, type Tensor } from '../../src/tensor/index.js';

const text = (s: string) => new TextEncoder().encode(s);

describe('cachedResponse', () => {
  test('copies the outputs: changing the model\'s buffers afterwards changes nothing kept', () => {
    const floats = new Float32Array([1.5, 2.5, 3.5]);
    const word = text('hello');
    const outputs: Tensor[] = [
      { name: 'B', datatype: 'BOOL', shape: [1], data: new Uint8Array([1]) },
      { name: 'F', datatype: 'FP32', shape: [3], data: floats },
      { name: 'S', datatype: 'BYTES', shape: [2], data: [word, text('')] },
      { name: 'L', datatype: 'INT64', shape: [1], data: new BigInt64Array([-5n]) },
    ];
    const expected = encodeOutputs(outputs).raw.map((bytes) => Buffer.from(bytes));
    const kept = cachedResponse(outputs, dictionary([['p', 1]]));
    floats[0] = 99;
    word[0] = 0;
    assert.deepEqual(kept.raw.map((bytes) => Buffer.from(bytes)), expected);
    assert.deepEqual([...(kept.outputs[1]!.data as Float32Array)], [1.5, 2.5, 3.5]);
    assert.deepEqual((kept.outputs[2]!.data as Uint8Array[]).map((e) => Buffer.from(e).toString()), ['hello', '']);
    assert.deepEqual([...(kept.outputs[3]!.data as BigInt64Array)], [-5n]);
    assert.deepEqual(kept.encoded.map((o) => [o.name, o.datatype, o.shape]), outputs.map((o) => [o.name, o.datatype, o.shape]));
    assert.equal(kept.parameters['p'], 1);
    assert.ok(kept.byteSize > ENTRY_OVERHEAD_BYTES + 3 * 4);
  });
});

describe('ResponseCache', () => {
  const request: KeyedRequest = { model: 'm', version: '1', load: 1, inputs: [], outputs: [], parameters: dictionary() };
  const output: Tensor = { name: 'OUT', datatype: 'UINT8', shape: [1000], data: new Uint8Array(1000) };

  test('a miss, then a hit with what was inserted; counts as Triton reports them', () => {
    const cache = new ResponseCache(10_000);
    const miss = cache.lookup(request);
    assert.equal(miss.response, undefined);
    cache.insert(miss.key, [output], dictionary());
    const hit = cache.lookup(request);
    assert.equal(hit.key, miss.key);
    assert.deepEqual(Buffer.from(hit.response!.raw[0]!), Buffer.alloc(1000));
    const counts = cache.counts();
    assert.deepEqual(
      { entries: counts.entries, lookups: counts.lookups, hits: counts.hits, misses: counts.misses, evictions: counts.evictions, capacity: counts.capacity },
      { entries: 1, lookups: 2, hits: 1, misses: 1, evictions: 0, capacity: 10_000 },
    );
    assert.equal(counts.bytes, hit.response!.byteSize);
  });

  test('each load of a version has its own keys', () => {
    const cache = new ResponseCache(10_000);
    const load = cache.newLoad();
    assert.notEqual(cache.newLoad(), load);
    const first = cache.lookup({ ...request, load });
    cache.insert(first.key, [output], dictionary());
    assert.notEqual(cache.lookup({ ...request, load }).response, undefined);
    assert.equal(cache.lookup({ ...request, load: load + 1 }).response, undefined);
  });

  test('a second answer that does not fit beside the first evicts it', () => {
    const cache = new ResponseCache(1800);
    const first = cache.lookup(request);
    cache.insert(first.key, [output], dictionary());
    const other = cache.lookup({ ...request, version: '2' });
    cache.insert(other.key, [output], dictionary());
    assert.equal(cache.lookup(request).response, undefined);
    assert.notEqual(cache.lookup({ ...request, version: '2' }).response, undefined);
    assert.equal(cache.counts().evictions, 1);
  });
});
