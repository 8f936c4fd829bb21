import { ModelServer, SequenceStates, type InferRequest, type PredictOutputs } from 'v2serve';

/**
 * Triton's `simple_sequence`: OUTPUT = INPUT + START, where START is 1 on the request that
 * carries `sequence_start`. SequenceStates applies the sequence batcher's rules: a sequence
 * must begin with `sequence_start`, `sequence_end` drops it, an idle one is forgotten.
 */
export default class SimpleSequence extends ModelServer {
  private readonly sequences = new SequenceStates<null>(this);

  predict(request: InferRequest): PredictOutputs {
    const { start } = this.sequences.advance(request.parameters, () => null);
    const input = request.tensors['INPUT']?.data as Int32Array;
    const output = new Int32Array(input.length);
    for (let i = 0; i < input.length; i++) output[i] = (input[i] as number) + (start ? 1 : 0);
    return { OUTPUT: output };
  }
}
