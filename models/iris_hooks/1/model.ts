import { readFileSync } from 'node:fs';
import { InferenceError, type InferRequest, type PredictOutputs, type Tensor } from 'v2serve';
import { OnnxModel, type OnnxSignature } from 'v2serve/onnx';

const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'] as const;

/**
 * Iris species from measurements sent as JSON text: preprocess turns the JSON into the
 * graph's FP32 `input`, predict names the most likely species, explain gives every
 * species' probability.
 */
export default class IrisHooks extends OnnxModel {
  private species: string[] = [];

  override async load(): Promise<void> {
    const labels = this.getModel('.onnx').extra['labels.txt'];
    if (labels === undefined) throw new Error('version directory lacks labels.txt');
    this.species = readFileSync(labels, 'utf8').split('\n').filter((line) => line.trim() !== '');
    await super.load();
  }

  /** The graph is not what config.pbtxt declares (JSON in, names out): check what the hooks rely on. */
  protected override checkModelSignature(signature: OnnxSignature): void {
    const input = signature.inputs.find((tensor) => tensor.name === 'input');
    const output = signature.outputs.find((tensor) => tensor.name === 'probabilities');
    if (input?.datatype !== 'FP32' || input.shape[1] !== FEATURES.length) {
      throw new Error(`the graph needs input 'input' FP32 [batch, ${FEATURES.length}]`);
    }
    if (output?.datatype !== 'FP32' || output.shape[1] !== this.species.length) {
      throw new Error(`the graph needs output 'probabilities' FP32 [batch, ${this.species.length}] (one per label)`);
    }
  }

  override preprocess(request: InferRequest): InferRequest {
    const elements = request.tensors['MEASUREMENTS']?.data as readonly Uint8Array[] | undefined;
    if (elements === undefined) throw InferenceError.invalidArgument('MEASUREMENTS', 'is missing');
    const values = new Float32Array(elements.length * FEATURES.length);
    elements.forEach((element, row) => values.set(measurements(element, row), row * FEATURES.length));
    const input: Tensor = { name: 'input', datatype: 'FP32', shape: [elements.length, FEATURES.length], data: values };
    return { ...request, tensors: { input } };
  }

  override async predict(request: InferRequest, signal: AbortSignal): Promise<PredictOutputs> {
    const rows = await this.probabilities(request, signal);
    return { SPECIES: rows.map((row) => this.species[row.indexOf(Math.max(...row))]!) };
  }

  override async explain(request: InferRequest, signal: AbortSignal): Promise<PredictOutputs> {
    const rows = await this.probabilities(request, signal);
    return {
      SPECIES: rows.map((row) => JSON.stringify(Object.fromEntries(this.species.map((name, k) => [name, row[k]])))),
    };
  }

  private async probabilities(request: InferRequest, signal: AbortSignal): Promise<number[][]> {
    const { probabilities } = await this.runModel(request.tensors, ['probabilities'], signal);
    const flat = probabilities!.data as Float32Array;
    const classes = this.species.length;
    return Array.from({ length: flat.length / classes }, (_, row) => [...flat.subarray(row * classes, (row + 1) * classes)]);
  }
}

/** One flower: a JSON object with the four names, or a list of four numbers, in centimetres. */
function measurements(element: Uint8Array, row: number): number[] {
  const field = `MEASUREMENTS[${row}]`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(element));
  } catch {
    throw InferenceError.invalidArgument(field, 'is not JSON');
  }
  const values = Array.isArray(parsed)
    ? parsed
    : typeof parsed === 'object' && parsed !== null
      ? FEATURES.map((name) => (parsed as Record<string, unknown>)[name])
      : [];
  if (values.length !== FEATURES.length || !values.every((value) => typeof value === 'number' && Number.isFinite(value))) {
    throw InferenceError.invalidArgument(field, `must be [${FEATURES.join(', ')}] or an object with those keys, numbers in cm`);
  }
  return values as number[];
}
