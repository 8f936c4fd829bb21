// The bundled pipeline examples as `npm start` serves them: iris_vote (a voting model written
// with in-process calls over iris, iris_rules and iris_hooks) and simple_ensemble (a Triton
// ensemble of simple feeding simple).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { call, PROJECT_ROOT, startCli, type RunningCli } from '../helpers/server.js';
import { IRIS_SPECIES, readIrisCsv } from '../../tools/iris-training.js';
import { inferRequest, rawBytes, settledModels, stringOutput, typedOutput } from './onnx-fixtures.js';

const rows = readIrisCsv(readFileSync(join(PROJECT_ROOT, 'data', 'iris', 'iris.csv'), 'utf8'));
const EXAMPLES = ['iris', 'iris_rules', 'iris_hooks', 'iris_vote', 'simple', 'simple_ensemble'];
const BATCH = 8;

describe('pipeline examples (bundled models)', () => {
  let cli: RunningCli;
  before(async () => {
    cli = await startCli([]);
    const index = await settledModels(cli, EXAMPLES);
    for (const model of EXAMPLES) assert.equal(index.get(model)?.state, 'READY', `${model}: ${index.get(model)?.reason}`);
  });
  after(() => cli?.stop());

  const successes = async (name: string) => {
    const { modelStats } = await call(cli.client, cli.client.modelStatistics, { name, version: '' });
    return Number(modelStats[0]?.inferenceStats?.success?.count ?? 0);
  };

  test('iris_vote - the majority of three voters classifies the training set (accuracy ≥ 0.95); probabilities are their mean', async (t) => {
    const voters = ['iris', 'iris_rules', 'iris_hooks'];
    const before = await Promise.all(voters.map(successes));
    let correct = 0;
    const batches = Math.ceil(rows.length / BATCH);
    for (let b = 0; b < batches; b++) {
      const chunk = rows.slice(b * BATCH, (b + 1) * BATCH);
      const features = Float32Array.from(chunk.flatMap((row) => row.features));
      const response = await call(
        cli.client,
        cli.client.modelInfer,
        inferRequest('iris_vote', [{ name: 'input', datatype: 'FP32', shape: [chunk.length, 4], raw: rawBytes(features) }]),
      );
      const species = stringOutput(response, 'SPECIES');
      const probabilities = typedOutput(response, 'PROBABILITIES', Float32Array);
      chunk.forEach((row, i) => {
        const sum = probabilities.subarray(i * 3, i * 3 + 3).reduce((s, p) => s + p, 0);
        assert.ok(Math.abs(sum - 1) < 1e-4, `row ${b * BATCH + i}: probabilities sum to ${sum}`);
        if (species[i] === IRIS_SPECIES[row.species]) correct++;
      });
    }
    const accuracy = correct / rows.length;
    t.diagnostic(`iris_vote accuracy on the training set: ${accuracy.toFixed(4)}`);
    assert.ok(accuracy >= 0.95, `accuracy ${accuracy}`);
    const after = await Promise.all(voters.map(successes));
    voters.forEach((voter, i) => assert.equal(after[i]! - before[i]!, batches, `${voter} answered every batch`));
  });

  test('simple_ensemble - simple feeding simple doubles both inputs', async () => {
    const a = Int32Array.from({ length: 16 }, (_, i) => i);
    const b = Int32Array.from({ length: 16 }, () => 3);
    const response = await call(
      cli.client,
      cli.client.modelInfer,
      inferRequest('simple_ensemble', [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], raw: rawBytes(a) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], raw: rawBytes(b) },
      ]),
    );
    assert.deepEqual([...typedOutput(response, 'OUTPUT0', Int32Array)], [...a].map((v) => 2 * v));
    assert.deepEqual([...typedOutput(response, 'OUTPUT1', Int32Array)], [...b].map((v) => 2 * v));
  });
});
