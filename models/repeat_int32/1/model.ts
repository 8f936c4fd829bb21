import { setTimeout as sleep } from 'node:timers/promises';
import { InferenceError, ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';

/** Repeats each element of IN as its own response (OUT, with its index IDX), as Triton's repeat backend. */
export default class RepeatInt32 extends ModelServer {
  async *predict(request: InferRequest, signal: AbortSignal): AsyncGenerator<PredictOutputs> {
    const values = request.tensors['IN']!.data as Int32Array;
    const delays = request.tensors['DELAY']!.data as Uint32Array;
    const wait = (request.tensors['WAIT']!.data as Uint32Array)[0]!;
    if (delays.length !== values.length) {
      throw new InferenceError('INVALID_ARGUMENT', `expected IN and DELAY shape to match, got [${values.length}] and [${delays.length}]`);
    }
    for (let i = 0; i < values.length; i++) {
      const delay = delays[i]!;
      if (delay > 0) await sleep(delay, undefined, { signal });
      yield { OUT: new Int32Array([values[i]!]), IDX: new Uint32Array([i]) };
    }
    // The request is held for WAIT ms after its last response, as the backend holds it.
    if (wait > 0) await sleep(wait, undefined, { signal });
  }
}
