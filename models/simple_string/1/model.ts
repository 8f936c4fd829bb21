import { InferenceError, ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';

function decimal(element: Uint8Array, input: string, index: number): number {
  const text = Buffer.from(element.buffer, element.byteOffset, element.byteLength).toString('utf8');
  if (!/^-?\d+$/.test(text.trim())) {
    throw new InferenceError('INVALID_ARGUMENT', `${input}[${index}] is not a decimal integer: '${text}'`);
  }
  return Number(text);
}

/** Sum and difference of decimal integer strings, as Triton's `simple_string`. */
export default class SimpleString extends ModelServer {
  predict(request: InferRequest): PredictOutputs {
    const a = request.tensors['INPUT0']?.data as readonly Uint8Array[];
    const b = request.tensors['INPUT1']?.data as readonly Uint8Array[];
    const sum: string[] = [];
    const difference: string[] = [];
    for (let i = 0; i < a.length; i++) {
      const x = decimal(a[i] as Uint8Array, 'INPUT0', i);
      const y = decimal(b[i] as Uint8Array, 'INPUT1', i);
      sum.push(String(x + y));
      difference.push(String(x - y));
    }
    return { OUTPUT0: sum, OUTPUT1: difference };
  }
}
