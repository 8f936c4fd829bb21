// A model repository anywhere (a temp directory outside the project, no node_modules of its
// own) served by the real CLI: ES module and CommonJS models, in the main thread and in worker
// threads, importing 'v2serve' and 'v2serve/onnx', all get the running server's modules. And a
// repository with another v2serve planted in its node_modules gets the server's, with a warning.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { call, PROJECT_ROOT, startCli, type RunningCli } from '../helpers/server.js';
import { inferRequest, rawBytes, settledModels, typedOutput } from './onnx-fixtures.js';

const SERVER_VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** The server's own files behind 'v2serve' and 'v2serve/onnx' (the CLI runs the build). */
const SERVER_MODULE = pathToFileURL(join(PROJECT_ROOT, 'dist', 'src', 'index.js')).href;
const SERVER_ONNX_MODULE = pathToFileURL(join(PROJECT_ROOT, 'dist', 'src', 'onnx', 'index.js')).href;

// InferenceError and ModelServer are recognised across copies of v2serve (a brand, the
// shape of the class), so each model checks at load that what it imported is the very
// module the server runs: a copy fails the load.
const DOUBLER_TS = `
import { InferenceError, ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';

export default class CheckedDoubler extends ModelServer {
  async load(): Promise<void> {
    const server = await import(${JSON.stringify(SERVER_MODULE)});
    if (server.ModelServer !== ModelServer || server.InferenceError !== InferenceError) throw new Error("'v2serve' is a copy");
  }

  predict(request: InferRequest): PredictOutputs {
    const input = request.tensors['INPUT0']!.data as Float32Array;
    if (input.some((v) => v < 0)) throw InferenceError.invalidArgument('INPUT0', 'must not be negative');
    return { OUTPUT0: input.map((v) => v * 2) };
  }
}
`;

const DOUBLER_CJS = `
const { InferenceError, ModelServer } = require('v2serve');

module.exports = class CheckedDoubler extends ModelServer {
  async load() {
    const server = await import(${JSON.stringify(SERVER_MODULE)});
    if (server.ModelServer !== ModelServer || server.InferenceError !== InferenceError) throw new Error("'v2serve' is a copy");
  }

  predict(request) {
    const input = request.tensors['INPUT0'].data;
    if (input.some((v) => v < 0)) throw InferenceError.invalidArgument('INPUT0', 'must not be negative');
    return { OUTPUT0: input.map((v) => v * 2) };
  }
};
`;

const DOUBLER_CONFIG = (name: string, workers: boolean) => `
name: "${name}"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
${workers ? 'instance_group [ { count: 1 kind: KIND_CPU } ]' : ''}
`;

const IRIS_TS = `
import { InferenceError, type InferRequest, type Operation } from 'v2serve';
import { OnnxModel } from 'v2serve/onnx';

export default class CheckedIris extends OnnxModel {
  override async load(): Promise<void> {
    const server = await import(${JSON.stringify(SERVER_ONNX_MODULE)});
    if (server.OnnxModel !== OnnxModel) throw new Error("'v2serve/onnx' is a copy");
    await super.load();
  }

  override validate(request: InferRequest, _operation: Operation): InferRequest {
    const input = request.tensors['input']!.data as Float32Array;
    if (input.some((v) => v < 0)) throw InferenceError.invalidArgument('input', 'measurements must not be negative');
    return request;
  }
}
`;

const IRIS_CONFIG = `
name: "iris_onnx"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "input" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "probabilities" data_type: TYPE_FP32 dims: [ 3 ] } ]
instance_group [ { kind: KIND_MODEL } ]
`;

/** Each model's module type (its directory's package.json "type") and whether it runs in a worker thread. */
const DOUBLERS = [
  { name: 'esm_ts', type: 'module', file: 'model.ts', source: DOUBLER_TS, workers: false },
  { name: 'cjs_ts', type: 'commonjs', file: 'model.ts', source: DOUBLER_TS, workers: false },
  { name: 'cjs_js', type: 'commonjs', file: 'model.js', source: DOUBLER_CJS, workers: false },
  { name: 'worker_esm_ts', type: 'module', file: 'model.ts', source: DOUBLER_TS, workers: true },
  { name: 'worker_cjs_js', type: 'commonjs', file: 'model.js', source: DOUBLER_CJS, workers: true },
] as const;
const MODELS = [...DOUBLERS.map((model) => model.name), 'iris_onnx'];

/** A temp directory outside the project holding `repository/` with every model above. */
function outsideRepository(): { dir: string; root: string } {
  const dir = mkdtempSync(join(tmpdir(), 'v2serve-imports-'));
  const root = join(dir, 'repository');
  const write = (path: string, content: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  };
  for (const model of DOUBLERS) {
    write(`${model.name}/package.json`, JSON.stringify({ type: model.type }));
    write(`${model.name}/config.pbtxt`, DOUBLER_CONFIG(model.name, model.workers));
    write(`${model.name}/1/${model.file}`, model.source);
  }
  // CommonJS: 'v2serve/onnx' through require(), the path a plain model.ts takes outside any package.
  write('iris_onnx/package.json', JSON.stringify({ type: 'commonjs' }));
  write('iris_onnx/config.pbtxt', IRIS_CONFIG);
  write('iris_onnx/1/model.ts', IRIS_TS);
  copyFileSync(join(PROJECT_ROOT, 'models', 'iris', '1', 'model.onnx'), join(root, 'iris_onnx', '1', 'model.onnx'));
  return { dir, root };
}

/** A v2serve of another version in `dir`'s node_modules, which fails whoever imports it. */
function plantV2serve(dir: string): void {
  const planted = join(dir, 'node_modules', 'v2serve');
  mkdirSync(planted, { recursive: true });
  const manifest = { name: 'v2serve', version: '0.0.1-planted', exports: { '.': './index.js', './onnx': './index.js' } };
  writeFileSync(join(planted, 'package.json'), JSON.stringify(manifest));
  writeFileSync(join(planted, 'index.js'), "throw new Error('the planted v2serve 0.0.1-planted was imported');\n");
}

async function assertAllReady(cli: RunningCli): Promise<void> {
  const index = await settledModels(cli, MODELS, 120_000);
  for (const model of MODELS) assert.equal(index.get(model)?.state, 'READY', `${model}: ${index.get(model)?.reason}`);
}

function double(cli: RunningCli, model: string, values: number[]) {
  const input = { name: 'INPUT0', datatype: 'FP32', shape: [values.length], raw: rawBytes(Float32Array.from(values)) };
  return call(cli.client, cli.client.modelInfer, inferRequest(model, [input]));
}

const plantedWarnings = (cli: RunningCli) => cli.logs.filter((line) => line['level'] === 40 && line['plantedVersion'] !== undefined);

describe('model imports - a repository outside the project', () => {
  const { dir, root } = outsideRepository();
  let cli: RunningCli;
  before(async () => {
    cli = await startCli([`--model-repository=${root}`]);
    await assertAllReady(cli);
  });
  after(async () => {
    await cli?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const model of DOUBLERS) {
    test(`model imports - ${model.name}: a ${model.type} ${model.file}${model.workers ? ' in a worker thread' : ''} loads and answers`, async () => {
      const response = await double(cli, model.name, [1, 2.5]);
      assert.deepEqual([...typedOutput(response, 'OUTPUT0', Float32Array)], [2, 5]);
    });

    test(`model imports - ${model.name}: its InferenceError from 'v2serve' is the server's, INVALID_ARGUMENT on the wire`, async () => {
      await assert.rejects(double(cli, model.name, [-1]), (err: ServiceError) => {
        assert.equal(err.code, status.INVALID_ARGUMENT, err.details);
        assert.match(err.details, /'INPUT0' must not be negative/);
        return true;
      });
    });
  }

  test("model imports - an OnnxModel subclass from 'v2serve/onnx' answers with the graph and throws the server's InferenceError", async () => {
    const setosa = { name: 'input', datatype: 'FP32', shape: [1, 4], raw: rawBytes(Float32Array.from([5.1, 3.5, 1.4, 0.2])) };
    const response = await call(cli.client, cli.client.modelInfer, inferRequest('iris_onnx', [setosa]));
    const probabilities = [...typedOutput(response, 'probabilities', Float32Array)];
    assert.equal(probabilities.indexOf(Math.max(...probabilities)), 0, `setosa is class 0: ${probabilities.join(', ')}`);
    const negative = { ...setosa, raw: rawBytes(Float32Array.from([-5.1, 3.5, 1.4, 0.2])) };
    await assert.rejects(call(cli.client, cli.client.modelInfer, inferRequest('iris_onnx', [negative])), { code: status.INVALID_ARGUMENT });
  });

  test('model imports - no node_modules/v2serve in reach: no warning', () => {
    assert.deepEqual(plantedWarnings(cli), []);
  });
});

describe('model imports - a repository with another v2serve in its node_modules', () => {
  const { dir, root } = outsideRepository();
  plantV2serve(dir);
  let cli: RunningCli;
  before(async () => {
    cli = await startCli([`--model-repository=${root}`]);
    await assertAllReady(cli);
  });
  after(async () => {
    await cli?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('model imports - planted: every model, ES module or CommonJS, main or worker thread, gets the server’s v2serve', async () => {
    for (const model of DOUBLERS) {
      const response = await double(cli, model.name, [3]);
      assert.deepEqual([...typedOutput(response, 'OUTPUT0', Float32Array)], [6], model.name);
    }
  });

  test('model imports - planted: one warning names the planted version and the server’s', () => {
    const warnings = plantedWarnings(cli);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    const [warning] = warnings;
    assert.equal(warning?.['plantedVersion'], '0.0.1-planted');
    assert.equal(warning?.['serverVersion'], SERVER_VERSION);
    assert.match(String(warning?.['msg']), new RegExp(`v2serve 0\\.0\\.1-planted .*v2serve ${SERVER_VERSION.replace(/\./g, '\\.')}`));
  });
});
