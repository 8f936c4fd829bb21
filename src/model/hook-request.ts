// The request object a model's hooks receive.
import { dictionary } from '../dictionary.js';
import { toList, type NestedList, type Tensor } from '../tensor/index.js';
import type { ExecutionJob } from './hooks.js';
import type { ModelServer } from './model-server.js';
import type { InferRequest, Parameters, RequestedOutput } from './types.js';

/**
 * The request the hooks see. `inputs` (the seed's list form) is built on first read, so a
 * model that reads only `tensors` never pays for it; a class keeps the object's shape fixed,
 * which an accessor defined per request would not.
 */
class HookRequest implements InferRequest {
  private list: NestedList[] | undefined;
  private stateBag: Record<string, unknown> | undefined;

  constructor(
    readonly id: string,
    readonly tensors: Readonly<Record<string, Tensor>>,
    readonly parameters: Parameters,
    readonly outputs: readonly RequestedOutput[],
    /** The inputs in the model's declared order (request order when it declares none). */
    private readonly ordered: readonly Tensor[],
  ) {}

  get inputs(): NestedList[] {
    return (this.list ??= this.ordered.map(toList));
  }

  set inputs(value: NestedList[]) {
    this.list = value;
  }

  /** Whether the list form was built or replaced (the default validate checks only a replaced one). */
  get inputsTouched(): boolean {
    return this.list !== undefined;
  }

  get state(): Record<string, unknown> {
    return (this.stateBag ??= dictionary());
  }
}

/** Builds the request the hooks see. */
export function buildRequest(server: Pick<ModelServer, 'io'>, job: ExecutionJob): InferRequest {
  const tensors = dictionary<Tensor>();
  for (const tensor of job.tensors) tensors[tensor.name] = tensor;
  const declared = server.io.inputs;
  let ordered: readonly Tensor[] = job.tensors;
  if (declared.length > 0) {
    const inDeclaredOrder: Tensor[] = [];
    for (const spec of declared) {
      const tensor = tensors[spec.name];
      if (tensor) inDeclaredOrder.push(tensor);
    }
    ordered = inDeclaredOrder;
  }
  return new HookRequest(job.id, tensors, job.parameters, job.outputs, ordered);
}

/** True for a request built here whose list form nobody read or replaced. */
export function hasUntouchedInputs(request: InferRequest): boolean {
  return request instanceof HookRequest && !request.inputsTouched;
}

