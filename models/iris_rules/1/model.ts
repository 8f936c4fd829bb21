import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';

const FEATURES = 4;
const SPECIES = 3;

/** setosa: petal length < 2.45 cm; else versicolor: petal width < 1.75 cm; else virginica. One-hot "probabilities". */
export default class IrisRules extends ModelServer {
  predict(request: InferRequest): PredictOutputs {
    const input = request.tensors['input']!.data as Float32Array;
    const rows = input.length / FEATURES;
    const probabilities = new Float32Array(rows * SPECIES);
    for (let row = 0; row < rows; row++) {
      const petalLength = input[row * FEATURES + 2]!;
      const petalWidth = input[row * FEATURES + 3]!;
      const species = petalLength < 2.45 ? 0 : petalWidth < 1.75 ? 1 : 2;
      probabilities[row * SPECIES + species] = 1;
    }
    return { probabilities };
  }
}
