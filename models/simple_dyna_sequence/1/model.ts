import { InferenceError, ModelServer, SequenceStates, type InferRequest, type PredictOutputs } from 'v2serve';

/** Triton's `simple_dyna_sequence`: INPUT, plus 1 on sequence_start, plus the correlation id on sequence_end. */
export default class SimpleDynaSequence extends ModelServer {
  private readonly sequences = new SequenceStates<null>(this);

  predict(request: InferRequest): PredictOutputs {
    const { id, start, end } = this.sequences.advance(request.parameters, () => null);
    if (typeof id === 'string') {
      throw new InferenceError('INVALID_ARGUMENT', `model '${this.name}' needs an integer sequence_id (its CORRID is UINT64), got '${id}'`);
    }
    const added = (start ? 1 : 0) + (end ? Number(id) : 0);
    const input = request.tensors['INPUT']?.data as Int32Array;
    return { OUTPUT: input.map((value) => value + added) };
  }
}
