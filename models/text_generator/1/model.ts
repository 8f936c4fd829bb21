import { readFileSync } from 'node:fs';
import { InferenceError, ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
import { generate, readNgramTable, type GenerationOptions, type NgramModel } from './ngram.ts';

/** The most tokens one request may ask for. */
const MAX_TOKENS_LIMIT = 1024;
const DEFAULT_MAX_TOKENS = 16;

function invalid(parameter: string, expected: string, value: number): InferenceError {
  return new InferenceError('INVALID_ARGUMENT', `parameter '${parameter}' must be ${expected}, got ${value}`);
}

/**
 * Streams the continuation of `text_input`, token by token, from word trigrams of the
 * Declaration of Independence (ngrams.json, written by `npm run train-textgen`). Request
 * parameters, as LLM backends behind Triton read them: `stream` (true: one response per token;
 * false, the default: one response with the whole text), `max_tokens`, `temperature` (0 =
 * greedy) and `seed` (for temperature > 0).
 */
export default class TextGenerator extends ModelServer {
  private model!: NgramModel;

  override load(): void {
    const path = this.getModel('.json').modelFile;
    if (path === undefined) throw new Error('ngrams.json is missing from the version directory (npm run train-textgen writes it)');
    try {
      this.model = readNgramTable(JSON.parse(readFileSync(path, 'utf8')));
    } catch (err) {
      throw new Error(`${path}: ${(err as Error).message} (npm run train-textgen writes it)`);
    }
  }

  override async *predict(request: InferRequest, signal: AbortSignal): AsyncGenerator<PredictOutputs, PredictOutputs | undefined> {
    const prompt = request.tensors['text_input']?.data as readonly Uint8Array[];
    if (prompt.length !== 1) throw new InferenceError('INVALID_ARGUMENT', `input 'text_input' must hold one string, got ${prompt.length}`);
    const options = this.options(request);
    const tokens = generate(this.model, Buffer.from(prompt[0]!).toString('utf8'), options);
    if (!this.getParam('stream', false, request)) return { text_output: [[...tokens].join('')] };
    for (const token of tokens) {
      // The client went away: nothing more to generate for it.
      if (signal.aborted) return undefined;
      yield { text_output: [token] };
    }
    return undefined;
  }

  private options(request: InferRequest): GenerationOptions {
    const maxTokens = this.getParam('max_tokens', DEFAULT_MAX_TOKENS, request);
    if (!Number.isSafeInteger(maxTokens) || maxTokens < 0 || maxTokens > MAX_TOKENS_LIMIT) throw invalid('max_tokens', `an integer in 0..${MAX_TOKENS_LIMIT}`, maxTokens);
    const temperature = this.getParam('temperature', 0, request);
    if (!Number.isFinite(temperature) || temperature < 0) throw invalid('temperature', 'a number >= 0', temperature);
    const seed = this.getParam('seed', 0, request);
    if (!Number.isSafeInteger(seed)) throw invalid('seed', 'an integer', seed);
    return { maxTokens, temperature, seed };
  }
}
