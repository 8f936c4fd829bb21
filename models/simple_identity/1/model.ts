import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';

/** Echoes INPUT0 as OUTPUT0: the element views go back without a copy. */
export default class SimpleIdentity extends ModelServer {
  predict(request: InferRequest): PredictOutputs {
    const input = request.tensors['INPUT0'];
    if (!input) return [];
    return { OUTPUT0: { data: input.data, shape: input.shape } };
  }
}
