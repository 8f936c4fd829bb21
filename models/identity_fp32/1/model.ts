import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';

/** Echoes INPUT0 as OUTPUT0; the typed view on the received bytes goes back as is. */
export default class IdentityFp32 extends ModelServer {
  predict(request: InferRequest): PredictOutputs {
    const input = request.tensors['INPUT0'];
    if (!input) return [];
    return { OUTPUT0: { data: input.data, shape: input.shape } };
  }
}
