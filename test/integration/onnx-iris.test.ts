// The bundled Iris models as `npm start` serves them (the bundled repository, the real CLI):
// zero-code with a label file for the classification extension, and with TypeScript hooks.
// Every one of the 150 training rows must answer what tools/train-iris.ts predicted.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { call, PROJECT_ROOT, startCli, type RunningCli } from '../helpers/server.js';
import { IRIS_FEATURES, IRIS_SPECIES, readIrisCsv } from '../../tools/iris-training.js';
import { inferRequest, rawBytes, rawStrings, settledModels, stringOutput, typedOutput } from './onnx-fixtures.js';

const rows = readIrisCsv(readFileSync(join(PROJECT_ROOT, 'data', 'iris', 'iris.csv'), 'utf8'));

/** data/iris/predictions.csv: the fitted parameters' own answer for each row (six decimals). */
const predicted = readFileSync(join(PROJECT_ROOT, 'data', 'iris', 'predictions.csv'), 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((line) => {
    const [species, ...probabilities] = line.split(',');
    return { species: species!, probabilities: probabilities.map(Number) };
  });

/** What the rounding of predictions.csv and float32 leave between the script and the served graph. */
const TOLERANCE = 1e-5;

function rowRequest(i: number, outputs: Parameters<typeof inferRequest>[2] = []) {
  const input = { name: 'input', datatype: 'FP32', shape: [1, 4], raw: rawBytes(Float32Array.from(rows[i]!.features)) };
  return inferRequest('iris', [input], outputs);
}

describe('onnx iris (bundled models)', () => {
  let cli: RunningCli;
  before(async () => {
    cli = await startCli([]);
    const index = await settledModels(cli, ['iris', 'iris_hooks']);
    for (const model of ['iris', 'iris_hooks']) assert.equal(index.get(model)?.state, 'READY', `${model}: ${index.get(model)?.reason}`);
  });
  after(() => cli?.stop());

  test('iris - zero-code: all 150 training rows answer the script’s probabilities; accuracy ≥ 0.95', async (t) => {
    const responses = await Promise.all(rows.map((_, i) => call(cli.client, cli.client.modelInfer, rowRequest(i))));
    let correct = 0;
    responses.forEach((response, i) => {
      const served = [...typedOutput(response, 'probabilities', Float32Array)];
      served.forEach((p, k) => assert.ok(Math.abs(p - predicted[i]!.probabilities[k]!) < TOLERANCE, `row ${i + 1} ${IRIS_SPECIES[k]}: ${p}`));
      const species = served.indexOf(Math.max(...served));
      assert.equal(IRIS_SPECIES[species], predicted[i]!.species, `row ${i + 1}`);
      if (species === rows[i]!.species) correct++;
    });
    const accuracy = correct / rows.length;
    t.diagnostic(`iris accuracy on the training set, served by v2serve: ${accuracy.toFixed(4)} (${correct}/${rows.length})`);
    assert.ok(accuracy >= 0.95, `accuracy ${accuracy}`);
  });

  test('iris - classification 1 answers "probability:index:species" from labels.txt for every row', async () => {
    const classification = { name: 'probabilities', parameters: { classification: { int64Param: 1n } } };
    const responses = await Promise.all(rows.map((_, i) => call(cli.client, cli.client.modelInfer, rowRequest(i, [classification]))));
    responses.forEach((response, i) => {
      const [answer, ...rest] = stringOutput(response, 'probabilities');
      assert.deepEqual(rest, []);
      const match = /^(\d\.\d{6}):(\d):(\w+)$/.exec(answer ?? '');
      assert.ok(match, `row ${i + 1}: '${answer}'`);
      const expected = predicted[i]!;
      assert.equal(match[3], expected.species, `row ${i + 1}`);
      assert.equal(Number(match[2]), IRIS_SPECIES.indexOf(expected.species as (typeof IRIS_SPECIES)[number]));
      assert.ok(Math.abs(Number(match[1]) - Math.max(...expected.probabilities)) < TOLERANCE, `row ${i + 1}: '${answer}'`);
    });
  });

  test('iris - classification 3 ranks every species of a virginica row', async () => {
    const classification = { name: 'probabilities', parameters: { classification: { int64Param: 3n } } };
    const response = await call(cli.client, cli.client.modelInfer, rowRequest(100, [classification]));
    const answers = stringOutput(response, 'probabilities');
    assert.deepEqual(answers.map((answer) => answer.split(':').slice(1).join(':')), ['2:virginica', '1:versicolor', '0:setosa']);
    assert.match(answers[0]!, /^0\.9\d{5}:2:virginica$/);
  });

  const measurements = (elements: string[]) => ({ name: 'MEASUREMENTS', datatype: 'BYTES', shape: [elements.length], raw: rawStrings(elements) });

  test('iris_hooks - names the species of all 150 rows sent as JSON lists or objects, as the script predicted', async () => {
    const elements = rows.map((row, i) =>
      i % 2 === 0 ? JSON.stringify(row.features) : JSON.stringify(Object.fromEntries(IRIS_FEATURES.map((name, j) => [name, row.features[j]]))),
    );
    const response = await call(cli.client, cli.client.modelInfer, inferRequest('iris_hooks', [measurements(elements)]));
    assert.deepEqual(stringOutput(response, 'SPECIES'), predicted.map((p) => p.species));
  });

  test('iris_hooks - operation explain answers each species’ probability as JSON', async () => {
    const request = inferRequest('iris_hooks', [measurements(['[6.3,3.3,6.0,2.5]'])], [], { operation: { stringParam: 'explain' } });
    const [explained] = stringOutput(await call(cli.client, cli.client.modelInfer, request), 'SPECIES');
    const probabilities = JSON.parse(explained!) as Record<string, number>;
    assert.deepEqual(Object.keys(probabilities), [...IRIS_SPECIES]);
    IRIS_SPECIES.forEach((species, k) => assert.ok(Math.abs(probabilities[species]! - predicted[100]!.probabilities[k]!) < TOLERANCE, species));
  });

  test('iris_hooks - measurements that are not four numbers are INVALID_ARGUMENT naming the element', async () => {
    const request = inferRequest('iris_hooks', [measurements(['[5.1,3.5,1.4,0.2]', '{"sepal_length":5.1}'])]);
    await assert.rejects(call(cli.client, cli.client.modelInfer, request), {
      code: status.INVALID_ARGUMENT,
      details: /'MEASUREMENTS\[1\]' must be \[sepal_length, sepal_width, petal_length, petal_width\]/,
    });
  });
});
