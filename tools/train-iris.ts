// Fits the Iris classifier on data/iris/iris.csv and writes what depends on it:
//   models/iris/1/model.onnx and models/iris_hooks/1/model.onnx (the graph),
//   data/iris/predictions.csv (the fitted model's own answers, which the tests compare the
//   served graph against). Deterministic: running it again rewrites the same bytes.
//   npm run train-iris
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TRAINING, accuracy, fitIris, irisOnnxModel, predictionsCsv, readIrisCsv } from './iris-training.js';

const root = (path: string): string => fileURLToPath(new URL(`../${path}`, import.meta.url));

function write(path: string, content: Uint8Array | string): void {
  mkdirSync(dirname(root(path)), { recursive: true });
  writeFileSync(root(path), content);
  console.log(`wrote ${path} (${typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength} bytes)`);
}

const rows = readIrisCsv(readFileSync(root('data/iris/iris.csv'), 'utf8'));
const parameters = fitIris(rows, TRAINING);
console.log(
  `fitted ${rows.length} rows: ${TRAINING.iterations} iterations, learning rate ${TRAINING.learningRate}, L2 ${TRAINING.l2}; ` +
    `training accuracy ${accuracy(parameters, rows).toFixed(4)}`,
);
const model = irisOnnxModel(parameters);
write('models/iris/1/model.onnx', model);
write('models/iris_hooks/1/model.onnx', model);
write('data/iris/predictions.csv', predictionsCsv(parameters, rows));
