// Fits the bundled Iris classifier: multinomial logistic regression on standardized
// features, by full-batch gradient descent from zero weights, so every run gives the same
// model bit for bit. The standardization is folded into the weights of the graph's one Gemm,
// so the served model takes raw measurements in centimetres.
import { encodeOnnxModel } from '../src/onnx/index.js';

export const IRIS_SPECIES = ['setosa', 'versicolor', 'virginica'] as const;
export const IRIS_FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'] as const;

export interface IrisRow {
  /** Centimetres, in IRIS_FEATURES order. */
  readonly features: readonly number[];
  /** Index into IRIS_SPECIES. */
  readonly species: number;
}

/** Parses the CSV of data/iris (a header, then four measurements and a species name per line). */
export function readIrisCsv(text: string): IrisRow[] {
  const [header, ...lines] = text.trim().split('\n');
  const expected = [...IRIS_FEATURES, 'species'].join(',');
  if (header?.trim() !== expected) throw new Error(`iris.csv: header should be '${expected}', got '${header}'`);
  return lines.map((line, i) => {
    const cells = line.trim().split(',');
    const features = cells.slice(0, 4).map(Number);
    const species = IRIS_SPECIES.indexOf(cells[4] as (typeof IRIS_SPECIES)[number]);
    if (cells.length !== 5 || features.some((value) => !Number.isFinite(value)) || species < 0) {
      throw new Error(`iris.csv line ${i + 2}: cannot read '${line}'`);
    }
    return { features, species };
  });
}

export interface TrainingOptions {
  readonly iterations: number;
  readonly learningRate: number;
  /** L2 penalty on the weights (not the biases). */
  readonly l2: number;
}

export const TRAINING: TrainingOptions = { iterations: 3000, learningRate: 0.5, l2: 1e-3 };

/** What the served graph computes: probabilities = softmax(x · weightsᵀ + bias), x in centimetres. */
export interface IrisParameters {
  /** [species][feature], row-major: the Gemm's B with transB. */
  readonly weights: Float32Array;
  readonly bias: Float32Array;
}

const CLASSES = IRIS_SPECIES.length;
const FEATURES = IRIS_FEATURES.length;

function softmaxInPlace(logits: Float64Array): Float64Array {
  let max = -Infinity;
  for (const value of logits) max = Math.max(max, value);
  let sum = 0;
  for (let k = 0; k < logits.length; k++) {
    logits[k] = Math.exp(logits[k]! - max);
    sum += logits[k]!;
  }
  for (let k = 0; k < logits.length; k++) logits[k]! /= sum;
  return logits;
}

/** Fits on `rows` and returns the parameters with the standardization folded in, rounded to float32. */
export function fitIris(rows: readonly IrisRow[], options: TrainingOptions = TRAINING): IrisParameters {
  const n = rows.length;
  const mean = new Float64Array(FEATURES);
  const scale = new Float64Array(FEATURES);
  for (const row of rows) row.features.forEach((value, j) => (mean[j]! += value / n));
  for (const row of rows) row.features.forEach((value, j) => (scale[j]! += (value - mean[j]!) ** 2 / n));
  for (let j = 0; j < FEATURES; j++) scale[j] = Math.sqrt(scale[j]!);
  const standardized = rows.map((row) => row.features.map((value, j) => (value - mean[j]!) / scale[j]!));

  const w = new Float64Array(CLASSES * FEATURES);
  const b = new Float64Array(CLASSES);
  const gradW = new Float64Array(CLASSES * FEATURES);
  const gradB = new Float64Array(CLASSES);
  const p = new Float64Array(CLASSES);
  for (let iteration = 0; iteration < options.iterations; iteration++) {
    gradW.fill(0);
    gradB.fill(0);
    rows.forEach((row, i) => {
      const x = standardized[i]!;
      for (let k = 0; k < CLASSES; k++) {
        let logit = b[k]!;
        for (let j = 0; j < FEATURES; j++) logit += w[k * FEATURES + j]! * x[j]!;
        p[k] = logit;
      }
      softmaxInPlace(p);
      for (let k = 0; k < CLASSES; k++) {
        const error = (p[k]! - (k === row.species ? 1 : 0)) / n;
        gradB[k]! += error;
        for (let j = 0; j < FEATURES; j++) gradW[k * FEATURES + j]! += error * x[j]!;
      }
    });
    for (let k = 0; k < CLASSES; k++) {
      b[k]! -= options.learningRate * gradB[k]!;
      for (let j = 0; j < FEATURES; j++) {
        const at = k * FEATURES + j;
        w[at]! -= options.learningRate * (gradW[at]! + options.l2 * w[at]!);
      }
    }
  }

  // w·(x − mean)/scale + b  =  (w/scale)·x + (b − Σ w·mean/scale)
  const weights = new Float32Array(CLASSES * FEATURES);
  const bias = new Float32Array(CLASSES);
  for (let k = 0; k < CLASSES; k++) {
    let shift = b[k]!;
    for (let j = 0; j < FEATURES; j++) {
      weights[k * FEATURES + j] = w[k * FEATURES + j]! / scale[j]!;
      shift -= (w[k * FEATURES + j]! * mean[j]!) / scale[j]!;
    }
    bias[k] = shift;
  }
  return { weights, bias };
}

/** The class probabilities the graph computes for one row of measurements. */
export function predictIris(parameters: IrisParameters, features: readonly number[]): Float64Array {
  const logits = new Float64Array(CLASSES);
  for (let k = 0; k < CLASSES; k++) {
    let logit = parameters.bias[k]!;
    for (let j = 0; j < FEATURES; j++) logit += parameters.weights[k * FEATURES + j]! * features[j]!;
    logits[k] = logit;
  }
  return softmaxInPlace(logits);
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < values.length; k++) if (values[k]! > values[best]!) best = k;
  return best;
}

/** The model file: `input` FP32 [batch, 4] (cm) → Gemm → Softmax → `probabilities` FP32 [batch, 3]. */
export function irisOnnxModel(parameters: IrisParameters): Uint8Array {
  return encodeOnnxModel({
    producerName: 'v2serve tools/train-iris.ts',
    graph: {
      name: 'iris_logistic_regression',
      inputs: [{ name: 'input', elemType: 'FLOAT', shape: ['batch', FEATURES] }],
      outputs: [{ name: 'probabilities', elemType: 'FLOAT', shape: ['batch', CLASSES] }],
      initializers: [
        { name: 'weights', elemType: 'FLOAT', dims: [CLASSES, FEATURES], data: parameters.weights },
        { name: 'bias', elemType: 'FLOAT', dims: [CLASSES], data: parameters.bias },
      ],
      nodes: [
        { opType: 'Gemm', inputs: ['input', 'weights', 'bias'], outputs: ['logits'], attributes: { transB: { int: 1 } } },
        { opType: 'Softmax', inputs: ['logits'], outputs: ['probabilities'], attributes: { axis: { int: 1 } } },
      ],
    },
  });
}

/** predictions.csv: the species the fitted parameters give each row, and the probabilities (6 decimals). */
export function predictionsCsv(parameters: IrisParameters, rows: readonly IrisRow[]): string {
  const lines = rows.map((row) => {
    const probabilities = predictIris(parameters, row.features);
    return [IRIS_SPECIES[argmax(probabilities)], ...[...probabilities].map((p) => p.toFixed(6))].join(',');
  });
  return `predicted,${IRIS_SPECIES.join(',')}\n${lines.join('\n')}\n`;
}

export function accuracy(parameters: IrisParameters, rows: readonly IrisRow[]): number {
  const correct = rows.filter((row) => argmax(predictIris(parameters, row.features)) === row.species).length;
  return correct / rows.length;
}
