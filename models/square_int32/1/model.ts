import { InferenceError, ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';

/** For IN = n, n responses of OUT = n, as Triton's square backend. */
export default class SquareInt32 extends ModelServer {
  async *predict(request: InferRequest, signal: AbortSignal): AsyncGenerator<PredictOutputs> {
    const n = (request.tensors['IN']!.data as Int32Array)[0]!;
    if (n < 0) throw new InferenceError('INVALID_ARGUMENT', `IN must be >= 0, got ${n}`);
    for (let i = 0; i < n && !signal.aborted; i++) yield { OUT: new Int32Array([n]) };
  }
}
