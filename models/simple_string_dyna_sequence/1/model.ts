import { InferenceError, ModelServer, SequenceStates, type InferRequest, type PredictOutputs } from 'v2serve';

/** A running sum per sequence; the last request adds the integer its correlation id holds. */
export default class SimpleStringDynaSequence extends ModelServer {
  private readonly sequences = new SequenceStates<number>(this);

  predict(request: InferRequest): PredictOutputs {
    const input = request.tensors['INPUT']?.data as Int32Array;
    const value = input[0] ?? 0;
    const { id, end, state } = this.sequences.advance(request.parameters, (sum) => (sum ?? 0) + value);
    const correlation = Number(id);
    if (!Number.isSafeInteger(correlation)) {
      throw new InferenceError('INVALID_ARGUMENT', `model '${this.name}' needs a sequence_id that holds an integer, got '${String(id)}'`);
    }
    return { OUTPUT: new Int32Array(input.length).fill(state + (end ? correlation : 0)) };
  }
}
