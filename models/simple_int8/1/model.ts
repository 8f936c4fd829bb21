import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';

/** Element-wise sum and difference of two INT8 tensors; an Int8Array wraps on overflow. */
export default class SimpleInt8 extends ModelServer {
  predict(request: InferRequest): PredictOutputs {
    const a = request.tensors['INPUT0']?.data as Int8Array;
    const b = request.tensors['INPUT1']?.data as Int8Array;
    const sum = new Int8Array(a.length);
    const difference = new Int8Array(a.length);
    for (let i = 0; i < a.length; i++) {
      sum[i] = (a[i] as number) + (b[i] as number);
      difference[i] = (a[i] as number) - (b[i] as number);
    }
    return { OUTPUT0: sum, OUTPUT1: difference };
  }
}
