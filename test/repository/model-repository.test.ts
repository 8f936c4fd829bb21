// ModelRepository without gRPC or model code: loads, reloads and unloads against a
// fake instance factory whose loads the tests hold and release.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { pino } from 'pino';
import type { ModelEvent, ModelStateEvent } from '../../src/events.js';
import type { ModelInstance } from '../../src/model/index.js';
import { ModelRepository, type ControlMode, type InstanceFactory } from '../../src/repository/index.js';

const CONFIG = 'backend: "nodejs"\nmax_batch_size: 0\n';

/** Instances whose load the test releases, or fails, one by one. */
class HeldLoads {
  readonly pending: { generation: number; version: string; release: () => void; fail: (err: Error) => void }[] = [];
  active = 0;
  maxActive = 0;
  hold = false;

  readonly factory: InstanceFactory = (_path, generation, context) => {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    const instance: ModelInstance = {
      label: 'main',
      modelClass: `Fake${generation}`,
      run: () => Promise.resolve({ outputs: [], parameters: {}, metrics: {}, labels: {} }),
      unload: () => Promise.resolve(),
    };
    return new Promise<ModelInstance>((resolve, reject) => {
      const done = () => this.active--;
      const load = {
        generation,
        version: context.version,
        release: () => (done(), resolve(instance)),
        fail: (err: Error) => (done(), reject(err)),
      };
      if (this.hold) this.pending.push(load);
      else load.release();
    });
  };

  /** Waits until `count` loads are held. */
  async held(count: number): Promise<void> {
    while (this.pending.length < count) await new Promise((resolve) => setImmediate(resolve));
  }

  next(): HeldLoads['pending'][number] {
    const load = this.pending.shift();
    assert.ok(load, 'no load is held');
    return load;
  }
}

describe('ModelRepository', () => {
  let root: string;
  let loads: HeldLoads;
  let events: ModelEvent[];
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  const repository = (controlMode: ControlMode = 'explicit') =>
    new ModelRepository({
      root,
      controlMode,
      startupModels: [],
      strictReadiness: true,
      serverParameters: {},
      logger: pino({ level: 'silent' }),
      events: { emit: (event) => events.push(event) },
      loadWaitMs: 1000,
      createInstance: loads.factory,
    });

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'v2serve-repository-'));
    loads = new HeldLoads();
    events = [];
    write('m/config.pbtxt', CONFIG);
    write('m/1/model.ts', '');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test('loadModel - concurrent loads of one model run one after the other', async () => {
    const repo = repository();
    loads.hold = true;
    const first = repo.loadModel('m');
    const second = repo.loadModel('m');
    await loads.held(1);
    // The second load has not started: it waits for the first.
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(loads.pending.length, 1);
    loads.next().release();
    await first;
    await loads.held(1);
    loads.next().release();
    await second;
    assert.equal(loads.maxActive, 1);
    assert.equal(repo.resolve('m', '').modelClass, 'Fake2');
  });

  test('loadModel - while a reload loads, requests go to the old version, then to the new one', async () => {
    const repo = repository();
    await repo.loadModel('m');
    const old = repo.resolve('m', '1');
    loads.hold = true;
    const reload = repo.loadModel('m');
    await loads.held(1);
    assert.equal(repo.resolve('m', ''), old);
    assert.equal(repo.modelReady('m', ''), true);
    loads.next().release();
    await reload;
    const fresh = repo.resolve('m', '');
    assert.notEqual(fresh, old);
    assert.equal(fresh.state, 'READY');
    assert.equal(old.state, 'UNAVAILABLE');
  });

  test('loadModel - a reload that fails leaves the loaded version serving', async () => {
    const repo = repository();
    await repo.loadModel('m');
    const old = repo.resolve('m', '');
    loads.hold = true;
    const reload = repo.loadModel('m');
    await loads.held(1);
    loads.next().fail(new Error('bad weights'));
    await assert.rejects(reload, { code: 'INVALID_ARGUMENT', message: /failed to load 'm'.*bad weights/ });
    assert.equal(repo.resolve('m', ''), old);
    assert.equal(old.state, 'READY');
    assert.deepEqual(repo.index(false), [{ name: 'm', version: '1', state: 'READY', reason: '' }]);
    assert.equal(repo.serverReady(), true);
  });

  test('loadModel - a config that breaks on reload leaves the loaded version serving', async () => {
    const repo = repository();
    await repo.loadModel('m');
    write('m/config.pbtxt', 'max_batch_size: [');
    await assert.rejects(repo.loadModel('m'), { code: 'INVALID_ARGUMENT', message: /failed to load 'm'/ });
    assert.equal(repo.modelReady('m', ''), true);
    assert.equal(repo.serverReady(), true);
  });

  test('loadModel - a first load with a broken config leaves the reason in the index', async () => {
    write('m/config.pbtxt', 'max_batch_size: [');
    const repo = repository();
    await assert.rejects(repo.loadModel('m'), { code: 'INVALID_ARGUMENT' });
    const [entry] = repo.index(false);
    assert.equal(entry?.state, 'UNAVAILABLE');
    assert.match(entry?.reason ?? '', /failed to load 'm'.*config\.pbtxt:1/);
  });

  test('loadModel - after an unload, the index shows the reload as LOADING', async () => {
    const repo = repository();
    await repo.loadModel('m');
    await repo.unloadModel('m');
    assert.deepEqual(repo.index(false), [{ name: 'm', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' }]);
    loads.hold = true;
    const reload = repo.loadModel('m');
    await loads.held(1);
    assert.equal(repo.index(false)[0]?.state, 'LOADING');
    assert.equal(repo.resolve('m', '').state, 'LOADING');
    loads.next().release();
    await reload;
    assert.equal(repo.modelReady('m', ''), true);
  });

  test('unloadModel - waits for a load in progress, and the model ends unloaded', async () => {
    const repo = repository();
    loads.hold = true;
    const load = repo.loadModel('m');
    const unload = repo.unloadModel('m');
    await loads.held(1);
    loads.next().release();
    await load;
    await unload;
    assert.equal(repo.modelReady('m', ''), false);
    assert.deepEqual(repo.index(false), [{ name: 'm', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' }]);
  });

  test('events - after a reload the last state of the version is READY', async () => {
    const repo = repository();
    await repo.loadModel('m');
    await repo.loadModel('m');
    const states = events.filter((e): e is ModelStateEvent => e.kind === 'model-state' && e.version === '1');
    assert.equal(states.at(-1)?.state, 'READY');
    assert.equal(states.at(-1)?.modelClass, 'Fake2');
  });

  test('removeModel - unloads the model and forgets it', async () => {
    const repo = repository('poll');
    await repo.loadModel('m');
    const version = repo.resolve('m', '');
    rmSync(join(root, 'm'), { recursive: true });
    await repo.removeModel('m');
    assert.equal(version.state, 'UNAVAILABLE');
    assert.deepEqual(repo.index(false), []);
    assert.throws(() => repo.resolve('m', ''), { code: 'MODEL_NOT_FOUND' });
  });

  test('loadModel - a version directory added later is served after a reload', async () => {
    const repo = repository();
    await repo.loadModel('m');
    write('m/2/model.ts', '');
    await repo.loadModel('m');
    assert.equal(repo.resolve('m', '').version, '2');
    assert.deepEqual(repo.index(false), [{ name: 'm', version: '2', state: 'READY', reason: '' }]);
  });

  test('modelNames - the models held, loaded or not; a directory added since is not read from disk', async () => {
    write('idle/config.pbtxt', CONFIG);
    const repo = repository();
    repo.start();
    await repo.loadModel('m');
    write('later/config.pbtxt', CONFIG);
    assert.deepEqual([...repo.modelNames()].sort(), ['idle', 'm']);
  });

  test('checkExplicitControl - none and poll refuse with UNAVAILABLE naming the mode', () => {
    for (const mode of ['none', 'poll'] as const) {
      assert.throws(() => repository(mode).checkExplicitControl(), { code: 'UNAVAILABLE', message: new RegExp(`'${mode}'`) });
    }
    assert.doesNotThrow(() => repository('explicit').checkExplicitControl());
  });
});
