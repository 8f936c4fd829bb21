// config.pbtxt `model_warmup`, on the instance's side: after load(), each instance runs every
// sample `count` times through its hooks, as Triton warms each instance before it serves. The
// runs reach no scheduler, statistics, metrics or monitoring: they are not requests.
import { InferenceError, errorMessage } from '../errors.js';
import { dictionary } from '../dictionary.js';
import type { Tensor } from '../tensor/index.js';
import { runHooks } from './hooks.js';
import type { ModelServer } from './model-server.js';

/** One `model_warmup` entry, ready to run: its inputs as the model sees them (reshaped, batched). */
export interface WarmupSample {
  readonly name: string;
  /** Runs, at least 1 (Triton: a count of 0 runs the sample once). */
  readonly count: number;
  readonly tensors: readonly Tensor[];
}

const dropResponse = (): Promise<void> => Promise.resolve();

/**
 * Runs the samples in order on `server`, each `count` times, one run at a time. The first
 * failure stops the warmup and is thrown, naming the sample as Triton does; the code is the
 * model's own when it threw an InferenceError.
 */
export async function warmUp(server: ModelServer, samples: readonly WarmupSample[], decoupled: boolean): Promise<void> {
  const signal = new AbortController().signal;
  // A decoupled model's responses are read and dropped, as its one answer is for the others.
  const responses = decoupled ? { responses: dropResponse } : {};
  for (const sample of samples) {
    for (let run = 0; run < sample.count; run++) {
      try {
        await runHooks(server, { id: '', tensors: sample.tensors, parameters: dictionary(), outputs: [], operation: 'infer', ...responses }, signal);
      } catch (err) {
        const code = err instanceof InferenceError ? err.code : 'INTERNAL';
        throw new InferenceError(code, `failed to run warmup sample '${sample.name}': ${errorMessage(err)}`, { cause: err });
      }
    }
  }
}
