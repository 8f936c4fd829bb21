import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Parameters } from '../../src/model/index.js';
import type { InferCall, InferResult } from '../../src/pipeline/index.js';
import { SharedMemoryRegistry, usesSharedMemory } from '../../src/shared-memory/index.js';

const placed = (region: string, byteSize: number, offset = 0): Parameters => ({
  shared_memory_region: region,
  shared_memory_byte_size: byteSize,
  ...(offset ? { shared_memory_offset: offset } : {}),
});

/** Inputs with these parameters (raw data for those given some), outputs with these. */
function request(inputs: Parameters[], raw: (Buffer | undefined)[], outputs: Parameters[] = []): InferCall {
  return {
    model: 'm',
    version: '',
    id: '',
    requestId: 'r',
    parameters: {},
    inputs: inputs.map((parameters, i) => ({ name: `IN${i}`, datatype: 'UINT8', shape: [4], raw: raw[i], parameters })),
    outputs: outputs.map((parameters, i) => ({ name: `OUT${i}`, parameters })),
    arrivedNs: 0n,
  };
}

describe('SharedMemoryRegistry', () => {
  let dir: string;
  let registry: SharedMemoryRegistry;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'v2serve-shm-'));
    writeFileSync(join(dir, 'region'), Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]));
    symlinkSync(join(dir, 'region'), join(dir, 'link'));
  });
  after(async () => {
    await registry?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('register accepts a key with or without the leading slash and lists it', async () => {
    registry = new SharedMemoryRegistry(dir);
    await registry.register('a', '/region', 4n, 8n);
    await registry.register('b', 'region', 0n, 16n);
    assert.deepEqual(registry.status('a'), [{ name: 'a', key: '/region', offset: 4n, byteSize: 8n }]);
    assert.equal(registry.status('').length, 2);
  });

  test('register refuses keys that are paths', async () => {
    for (const key of ['', '/', '.', '..', '/../region', 'x/region', 'a\0b']) {
      await assert.rejects(registry.register('bad', key, 0n, 1n), { code: 'INVALID_ARGUMENT', message: /'key'/ }, JSON.stringify(key));
    }
  });

  test('register does not follow a symlink', async () => {
    await assert.rejects(registry.register('link', '/link', 0n, 1n), { code: 'INVALID_ARGUMENT', message: /Unable to open shared memory region: '\/link'/ });
  });

  test('register refuses a region past the end of the object', async () => {
    await assert.rejects(registry.register('big', '/region', 8n, 9n), { code: 'INVALID_ARGUMENT', message: /offset 8 \+ byte_size 9 exceeds the 16 bytes/ });
  });

  test('two registers of one name at once: one ALREADY_EXISTS', async () => {
    const results = await Promise.allSettled([registry.register('twice', '/region', 0n, 1n), registry.register('twice', '/region', 0n, 1n)]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.equal((rejected.reason as { code: string }).code, 'ALREADY_EXISTS');
    await registry.unregister('twice');
  });

  test('readInputs reads shm inputs in as their raw data and leaves the others as they came', async () => {
    const inputs = await registry.readInputs(request([{}, placed('a', 4, 2), {}], [Buffer.from('wxyz'), undefined, Buffer.from('WXYZ')]));
    assert.deepEqual(
      inputs.map((input) => [...(input.raw ?? [])]),
      [[...Buffer.from('wxyz')], [6, 7, 8, 9], [...Buffer.from('WXYZ')]],
    );
  });

  test('readInputs rejects an input in shared memory that carries data of its own', async () => {
    await assert.rejects(registry.readInputs(request([placed('a', 4)], [Buffer.alloc(4)])), { code: 'INVALID_ARGUMENT', message: /in shared memory: it must carry no data/ });
  });

  test('offset + byte_size beyond the region names region and offset', async () => {
    await assert.rejects(registry.readInputs(request([placed('a', 4, 6)], [])), {
      code: 'INVALID_ARGUMENT',
      message: /'inputs\[0\]\.parameters\.shared_memory_offset' region 'a': offset 6 \+ byte_size 4 exceeds the region's 8 bytes/,
    });
  });

  test('writeOutputs writes at region offset + offset and leaves an empty raw entry', async () => {
    const req = request([], [], [{}, placed('b', 4, 12)]);
    const placements = registry.outputPlacements(req);
    const result: InferResult = {
      model: 'm',
      version: '1',
      id: '',
      parameters: {},
      outputs: [
        { name: 'OUT0', datatype: 'UINT8', shape: [2] },
        { name: 'OUT1', datatype: 'UINT8', shape: [4] },
      ],
      raw: [Buffer.from([1, 2]), Buffer.from([0xaa, 0xbb, 0xcc, 0xdd])],
    };
    await registry.writeOutputs(placements, result);
    assert.deepEqual([...readFileSync(join(dir, 'region')).subarray(12)], [0xaa, 0xbb, 0xcc, 0xdd]);
    assert.deepEqual(
      result.raw.map((r) => r.length),
      [2, 0],
    );
  });

  test('usesSharedMemory is false for a plain request', () => {
    assert.equal(usesSharedMemory(request([{}], [Buffer.alloc(4)])), false);
    assert.equal(usesSharedMemory(request([], [], [placed('a', 1)])), true);
  });

  test('unregister of an unknown name is no error; status of one is NOT_FOUND', async () => {
    await registry.unregister('never');
    assert.throws(() => registry.status('never'), { code: 'NOT_FOUND' });
  });
});
