// The bundled Iris classifier: its data, the fit that made it, and its answers when served.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { parseConfigText } from '../../src/repository/index.js';
import { runHooks, type ExecutionJob, type ModelContext, type ModelServer } from '../../src/model/index.js';
// model.ts imports 'v2serve', the built package: its classes are dist's, so dist's hook runner runs it.
import { runHooks as runPackageHooks } from '../../dist/src/model/index.js';
import { OnnxModel } from '../../src/onnx/index.js';
import { CONFIG_TO_DATATYPE, type Tensor } from '../../src/tensor/index.js';
import { IRIS_FEATURES, IRIS_SPECIES, fitIris, irisOnnxModel, readIrisCsv } from '../../tools/iris-training.js';
import IrisHooks from '../../models/iris_hooks/1/model.js';

const path = (relative: string): string => fileURLToPath(new URL(`../../${relative}`, import.meta.url));
const rows = readIrisCsv(readFileSync(path('data/iris/iris.csv'), 'utf8'));

/** data/iris/predictions.csv: what the fitted parameters answer for each row. */
const stored = readFileSync(path('data/iris/predictions.csv'), 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((line) => {
    const [species, ...probabilities] = line.split(',');
    return { species: species!, probabilities: probabilities.map(Number) };
  });

function context(model: string): ModelContext {
  const config = parseConfigText(readFileSync(path(`models/${model}/config.pbtxt`), 'utf8'), 'config.pbtxt');
  const specs = (tensors: typeof config.input | typeof config.output) =>
    tensors.map((t) => ({ name: t.name, datatype: CONFIG_TO_DATATYPE[t.dataType]!, dims: t.dims.map(Number) }));
  return {
    name: config.name,
    version: '1',
    config,
    io: { modelName: config.name, maxBatchSize: config.maxBatchSize, inputs: specs(config.input), outputs: specs(config.output) },
    parameters: {},
    serverParameters: {},
    versionPath: path(`models/${model}/1`),
    logger: pino({ level: 'silent' }),
  };
}

function job(tensors: Tensor[], operation = 'infer'): ExecutionJob {
  return { id: 'iris', tensors, parameters: {}, outputs: [], operation };
}

const signal = new AbortController().signal;

async function withModel<T extends Pick<ModelServer, 'load' | 'unload'>>(model: T, use: (model: T) => Promise<void>): Promise<void> {
  await model.load();
  try {
    await use(model);
  } finally {
    await model.unload();
  }
}

describe('iris data', () => {
  test('150 rows, 50 per species, with the well-known species means', () => {
    assert.equal(rows.length, 150);
    // Fisher (1936) per-species means, cm: sepal length, sepal width, petal length, petal width.
    const known: Record<string, number[]> = {
      setosa: [5.006, 3.428, 1.462, 0.246],
      versicolor: [5.936, 2.77, 4.26, 1.326],
      virginica: [6.588, 2.974, 5.552, 2.026],
    };
    IRIS_SPECIES.forEach((species, k) => {
      const of = rows.filter((row) => row.species === k);
      assert.equal(of.length, 50, species);
      const means = IRIS_FEATURES.map((_, j) => of.reduce((sum, row) => sum + row.features[j]!, 0) / of.length);
      means.forEach((mean, j) => assert.ok(Math.abs(mean - known[species]![j]!) < 5e-4, `${species} ${IRIS_FEATURES[j]} mean ${mean}`));
    });
  });
});

describe('iris training', () => {
  test('fitting again gives the committed model.onnx byte for byte, in both model directories', () => {
    const model = irisOnnxModel(fitIris(rows));
    assert.deepEqual(readFileSync(path('models/iris/1/model.onnx')), Buffer.from(model));
    assert.deepEqual(readFileSync(path('models/iris_hooks/1/model.onnx')), Buffer.from(model));
  });
});

describe('iris served zero-code', () => {
  test('answers the training set as the script predicted, with accuracy >= 0.95', async (t) => {
    await withModel(new OnnxModel(context('iris')), async (model) => {
      const input = Float32Array.from(rows.flatMap((row) => row.features));
      const output = await runHooks(model, job([{ name: 'input', datatype: 'FP32', shape: [rows.length, 4], data: input }]), signal);
      const probabilities = output.outputs[0]!;
      assert.equal(probabilities.name, 'probabilities');
      assert.deepEqual(probabilities.shape, [rows.length, 3]);
      const values = probabilities.data as Float32Array;
      let correct = 0;
      rows.forEach((row, i) => {
        const served = [...values.subarray(i * 3, i * 3 + 3)];
        const predicted = served.indexOf(Math.max(...served));
        assert.equal(IRIS_SPECIES[predicted], stored[i]!.species, `row ${i + 1}`);
        served.forEach((p, k) => assert.ok(Math.abs(p - stored[i]!.probabilities[k]!) < 1e-5, `row ${i + 1} class ${k}: ${p}`));
        if (predicted === row.species) correct++;
      });
      const accuracy = correct / rows.length;
      t.diagnostic(`iris training accuracy, served: ${accuracy.toFixed(4)} (${correct}/${rows.length})`);
      assert.ok(accuracy >= 0.95, `accuracy ${accuracy}`);
    });
  });
});

describe('iris with TypeScript hooks', () => {
  const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
  const measurements = (elements: string[]): Tensor => ({
    name: 'MEASUREMENTS',
    datatype: 'BYTES',
    shape: [elements.length],
    data: elements.map(encode),
  });
  const strings = (tensor: Tensor): string[] => (tensor.data as Uint8Array[]).map((element) => new TextDecoder().decode(element));

  test('names the species of every training row, as the script predicted, from objects or lists', async () => {
    await withModel(new IrisHooks(context('iris_hooks')), async (model) => {
      const elements = rows.map((row, i) =>
        i % 2 === 0 ? JSON.stringify(row.features) : JSON.stringify(Object.fromEntries(IRIS_FEATURES.map((name, j) => [name, row.features[j]]))),
      );
      const output = await runPackageHooks(model, job([measurements(elements)]), signal);
      assert.deepEqual(strings(output.outputs[0]!), stored.map((prediction) => prediction.species));
    });
  });

  test('explain gives each species’ probability as JSON', async () => {
    await withModel(new IrisHooks(context('iris_hooks')), async (model) => {
      const output = await runPackageHooks(model, job([measurements(['[6.3,3.3,6.0,2.5]'])], 'explain'), signal);
      const explained = JSON.parse(strings(output.outputs[0]!)[0]!) as Record<string, number>;
      assert.deepEqual(Object.keys(explained), [...IRIS_SPECIES]);
      IRIS_SPECIES.forEach((species, k) => assert.ok(Math.abs(explained[species]! - stored[100]!.probabilities[k]!) < 1e-5, species));
    });
  });

  test('measurements that are not four numbers are INVALID_ARGUMENT naming the element', async () => {
    await withModel(new IrisHooks(context('iris_hooks')), async (model) => {
      await assert.rejects(runPackageHooks(model, job([measurements(['[5.1,3.5,1.4,0.2]', '{"sepal_length":5.1}'])]), signal), {
        code: 'INVALID_ARGUMENT',
        message: /'MEASUREMENTS\[1\]' must be \[sepal_length, sepal_width, petal_length, petal_width\]/,
      });
      await assert.rejects(runPackageHooks(model, job([measurements(['five'])]), signal), { code: 'INVALID_ARGUMENT', message: /'MEASUREMENTS\[0\]' is not JSON/ });
    });
  });
});
