import { InferenceError, ModelServer, type InferRequest, type PredictOutputs, type Tensor } from 'v2serve';

const SPECIES = ['setosa', 'versicolor', 'virginica'];
const FEATURES = 4;

/** One voter's answer: per row, a probability for each species. */
type Ballot = number[][];

/**
 * Asks every voter at once (in-process calls: no encoding, the request's deadline and
 * cancellation carried over through `signal`), then combines: majority vote for the species,
 * mean for the probabilities.
 */
export default class IrisVote extends ModelServer {
  private probabilityVoters: string[] = [];
  private speciesVoters: string[] = [];

  override load(): void {
    this.probabilityVoters = list(this.getParam('probability_voters', ''));
    this.speciesVoters = list(this.getParam('species_voters', ''));
    if (this.probabilityVoters.length + this.speciesVoters.length === 0) throw new Error('no voters configured');
  }

  override async predict(request: InferRequest, signal: AbortSignal): Promise<PredictOutputs> {
    const input = request.tensors['input']!;
    const ballots = await Promise.all([
      ...this.probabilityVoters.map((voter) => this.askProbabilities(voter, input, signal)),
      ...this.speciesVoters.map((voter) => this.askSpecies(voter, input, signal)),
    ]);
    const rows = input.shape[0]!;
    const species: string[] = [];
    const probabilities = new Float32Array(rows * SPECIES.length);
    for (let row = 0; row < rows; row++) {
      const answers = ballots.map((ballot) => ballot[row]!);
      species.push(SPECIES[majority(answers.map(argmax))]!);
      mean(answers).forEach((p, k) => (probabilities[row * SPECIES.length + k] = p));
    }
    return { SPECIES: { data: species, shape: [rows, 1] }, PROBABILITIES: probabilities };
  }

  private async askProbabilities(voter: string, input: Tensor, signal: AbortSignal): Promise<Ballot> {
    const { tensors } = await this.infer(voter, [input], { signal, outputs: ['probabilities'] });
    const flat = tensors['probabilities']!.data as Float32Array;
    return Array.from({ length: flat.length / SPECIES.length }, (_, row) => [...flat.subarray(row * SPECIES.length, (row + 1) * SPECIES.length)]);
  }

  /** A voter taking one JSON list of measurements per element and answering species names. */
  private async askSpecies(voter: string, input: Tensor, signal: AbortSignal): Promise<Ballot> {
    const values = input.data as Float32Array;
    const encoder = new TextEncoder();
    const measurements = Array.from({ length: input.shape[0]! }, (_, row) =>
      encoder.encode(JSON.stringify([...values.subarray(row * FEATURES, (row + 1) * FEATURES)])),
    );
    const { outputs } = await this.infer(voter, [{ name: 'MEASUREMENTS', datatype: 'BYTES', shape: [measurements.length], data: measurements }], { signal });
    const decoder = new TextDecoder();
    return (outputs[0]!.data as readonly Uint8Array[]).map((element) => {
      const name = decoder.decode(element);
      const at = SPECIES.indexOf(name);
      if (at < 0) throw new InferenceError('INTERNAL', `voter '${voter}' answered unknown species '${name}'`);
      return SPECIES.map((_, k) => (k === at ? 1 : 0));
    });
  }
}

function list(value: string): string[] {
  return value.split(',').map((name) => name.trim()).filter((name) => name !== '');
}

function argmax(values: readonly number[]): number {
  return values.indexOf(Math.max(...values));
}

/** The most frequent choice; a tie goes to the one the earliest voter made. */
function majority(choices: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const choice of choices) counts.set(choice, (counts.get(choice) ?? 0) + 1);
  let best = choices[0]!;
  for (const choice of choices) if ((counts.get(choice) ?? 0) > (counts.get(best) ?? 0)) best = choice;
  return best;
}

function mean(rows: readonly (readonly number[])[]): number[] {
  return rows[0]!.map((_, k) => rows.reduce((sum, row) => sum + row[k]!, 0) / rows.length);
}
