// Backends beside model modules, with a fake backend (no ONNX): which configs and version
// directories select it, what completing a config does, and how the repository uses both
// (the module it loads, the config it reports, a failing auto-complete).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { pino } from 'pino';
import { ModelInstanceGroup_Kind, type ModelConfig } from '../../generated/model_config.js';
import { InferenceError } from '../../src/errors.js';
import type { ModelContext, ModelInstance } from '../../src/model/index.js';
import {
  completeBackendConfig,
  ModelRepository,
  parseConfigText,
  selectBackend,
  type ModelBackend,
} from '../../src/repository/index.js';

const FAKE_MODULE = '/backends/fake/serve.js';

/** Auto-complete declares one input named after the version it read, so a test sees which one. */
function fakeBackend(autoCompleted: string[] = []): ModelBackend {
  return {
    name: 'fakert',
    platform: 'fakert_fake',
    modelFileExtension: '.fake',
    modelModule: FAKE_MODULE,
    defaultWorkers: 1,
    autoComplete(config: ModelConfig, versionPath: string, version: string): Promise<ModelConfig> {
      autoCompleted.push(versionPath);
      if (config.parameters.has('refuse')) return Promise.reject(new InferenceError('INVALID_ARGUMENT', "input 'x': the model says no"));
      const input = parseConfigText(`input [ { name: "from_version_${version}" data_type: TYPE_FP32 dims: [ 2 ] } ]`, 'auto').input;
      return Promise.resolve(config.input.length > 0 ? config : { ...config, input });
    },
  };
}

describe('selectBackend', () => {
  let dir: string;
  const write = (path: string, text = '') => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'v2serve-backends-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const backend = fakeBackend();
  const cases: [string, string, string[], boolean, ModelBackend | undefined][] = [
    ['a config naming the platform', 'platform: "fakert_fake"', ['1/model.ts'], true, backend],
    ['a config naming the backend', 'backend: "fakert"', [], true, backend],
    ['a config naming the platform, auto-complete off', 'platform: "fakert_fake"', [], false, backend],
    ['a config naming another platform', 'platform: "tensorflow_graphdef"', ['1/model.fake'], true, undefined],
    ['no platform, the version holds a model file', '', ['1/model.fake'], true, backend],
    ['no platform, a model file and a model module', '', ['1/model.fake', '1/model.ts'], true, undefined],
    ['no platform, a model file, auto-complete off', '', ['1/model.fake'], false, undefined],
    ['no platform, no model file', '', ['1/weights.bin'], true, undefined],
  ];
  for (const [name, text, files, autoComplete, expected] of cases) {
    test(`selectBackend - ${name}`, () => {
      for (const file of files) write(file);
      const config = parseConfigText(text, 'config.pbtxt');
      assert.equal(selectBackend(config, join(dir, '1'), { backends: [backend], autoComplete }), expected);
    });
  }
});

describe('completeBackendConfig', () => {
  test('completeBackendConfig - names platform and backend, auto-completes from the version, adds the default workers', async () => {
    const read: string[] = [];
    const config = await completeBackendConfig(parseConfigText('', 'c'), fakeBackend(read), '/repo/m', '3', true);
    assert.equal(config.platform, 'fakert_fake');
    assert.equal(config.backend, 'fakert');
    assert.deepEqual(read, ['/repo/m/3']);
    assert.deepEqual(config.input.map((input) => input.name), ['from_version_3']);
    assert.deepEqual(
      config.instanceGroup.map((group) => [group.kind, group.count]),
      [[ModelInstanceGroup_Kind.KIND_CPU, 1]],
    );
  });

  test('completeBackendConfig - auto-complete off leaves the tensors as declared', async () => {
    const read: string[] = [];
    const config = await completeBackendConfig(parseConfigText('platform: "fakert_fake"', 'c'), fakeBackend(read), '/repo/m', '1', false);
    assert.deepEqual(read, []);
    assert.deepEqual(config.input, []);
    assert.equal(config.backend, 'fakert');
  });

  test('completeBackendConfig - a declared instance_group is kept', async () => {
    const declared = parseConfigText('instance_group [ { kind: KIND_MODEL } ]', 'c');
    const config = await completeBackendConfig(declared, fakeBackend(), '/repo/m', '1', true);
    assert.deepEqual(config.instanceGroup, declared.instanceGroup);
  });
});

describe('ModelRepository with a backend', () => {
  let root: string;
  let loaded: { modulePath: string; context: ModelContext }[];
  let autoCompleted: string[];
  const write = (path: string, text = '') => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  const repository = (autoCompleteConfig = true) =>
    new ModelRepository({
      root,
      controlMode: 'explicit',
      startupModels: [],
      strictReadiness: true,
      serverParameters: {},
      logger: pino({ level: 'silent' }),
      events: { emit: () => undefined },
      loadWaitMs: 1000,
      backends: [fakeBackend(autoCompleted)],
      autoCompleteConfig,
      createInstance: (modulePath, _generation, context) => {
        loaded.push({ modulePath, context });
        const instance: ModelInstance = {
          label: 'workers',
          modelClass: 'Fake',
          run: () => Promise.resolve({ outputs: [], parameters: {}, metrics: {}, labels: {} }),
          unload: () => Promise.resolve(),
        };
        return Promise.resolve(instance);
      },
    });

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'v2serve-repository-backends-'));
    loaded = [];
    autoCompleted = [];
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test('backends - a version with only a model file and no config.pbtxt loads the backend module with the completed config', async () => {
    write('m/1/model.fake');
    const repo = repository();
    await repo.loadModel('m');
    assert.deepEqual(loaded.map((load) => load.modulePath), [FAKE_MODULE]);
    const config = repo.config('m', '');
    assert.equal(config.platform, 'fakert_fake');
    assert.deepEqual(config.input.map((input) => input.name), ['from_version_1']);
    assert.equal(loaded[0]?.context.config, config);
    assert.deepEqual(repo.metadata('m', '').inputs, [{ name: 'from_version_1', datatype: 'FP32', shape: [2] }]);
    assert.equal(repo.metadata('m', '').platform, 'fakert_fake');
  });

  test('backends - a model module in the version is loaded instead of the backend module', async () => {
    write('m/config.pbtxt', 'platform: "fakert_fake"');
    write('m/1/model.fake');
    write('m/1/model.ts');
    await repository().loadModel('m');
    assert.deepEqual(loaded.map((load) => load.modulePath), [join(root, 'm', '1', 'model.ts')]);
  });

  test('backends - one config for every version, completed from the highest one loaded', async () => {
    write('m/config.pbtxt', 'platform: "fakert_fake"\nversion_policy { all { } }');
    write('m/1/model.fake');
    write('m/2/model.fake');
    const repo = repository();
    await repo.loadModel('m');
    assert.deepEqual(autoCompleted, [join(root, 'm', '2')]);
    assert.deepEqual(repo.config('m', '1').input.map((input) => input.name), ['from_version_2']);
  });

  test('backends - an auto-complete that fails leaves the model UNAVAILABLE with its reason', async () => {
    write('m/config.pbtxt', 'platform: "fakert_fake"\nparameters { key: "refuse" value: { string_value: "1" } }');
    write('m/1/model.fake');
    const repo = repository();
    await assert.rejects(repo.loadModel('m'), { code: 'INVALID_ARGUMENT', message: /failed to load 'm': input 'x': the model says no/ });
    assert.deepEqual(repo.index(false), [{ name: 'm', version: '', state: 'UNAVAILABLE', reason: "failed to load 'm': input 'x': the model says no" }]);
    assert.deepEqual(loaded, []);
  });

  test('backends - with auto-complete off, a version with only a model file is a model-module version and has none', async () => {
    write('m/1/model.fake');
    const repo = repository(false);
    await assert.rejects(repo.loadModel('m'), /no model module/);
    assert.deepEqual(autoCompleted, []);
  });
});
