// The bundled Iris classifier: its data and the fit that made it. Its answers when served are
// test/integration/onnx-iris.test.ts's.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { IRIS_FEATURES, IRIS_SPECIES, fitIris, irisOnnxModel, predictionsCsv, readIrisCsv } from '../../tools/iris-training.js';

const path = (relative: string): string => fileURLToPath(new URL(`../../${relative}`, import.meta.url));
const rows = readIrisCsv(readFileSync(path('data/iris/iris.csv'), 'utf8'));

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

  test('fitting again gives the committed predictions.csv, which the served models are checked against', () => {
    assert.equal(readFileSync(path('data/iris/predictions.csv'), 'utf8'), predictionsCsv(fitIris(rows), rows));
  });
});
