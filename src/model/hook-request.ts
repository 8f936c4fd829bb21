// The request object a model's hooks receive.
import { dictionary } from '../dictionary.js';
import { toList, type IOSpec, type NestedList, type Tensor } from '../tensor/index.js';
import type { ExecutionJob, InferRequest, Parameters, RequestedOutput } from './types.js';

/**
 * The request the hooks see. `inputs` (the seed's list form) is built on first read, so a
 * model that reads only `tensors` never pays for it. It is an own enumerable accessor, not a
 * prototype getter: a preprocess hook that returns `{ ...request, more }`, as the seed's do,
 * must carry it over. `state` is a plain own property for the same reason, and costs less
 * made up front than a second accessor would.
 */
class HookRequest implements InferRequest {
  declare inputs: NestedList[];
  readonly state: Record<string, unknown> = dictionary();
  #list: NestedList[] | undefined;
  /** The inputs in the model's declared order (request order when it declares none). */
  readonly #ordered: readonly Tensor[];

  /**
   * Shared by every request, so that all of them keep one shape. One defineProperty with a
   * shared descriptor costs about half what defineProperties over a map does.
   */
  static readonly #lazyInputs: PropertyDescriptor = {
    enumerable: true,
    configurable: true,
    get(this: HookRequest): NestedList[] {
      return (this.#list ??= this.#ordered.map(toList));
    },
    set(this: HookRequest, value: NestedList[]) {
      this.#list = value;
    },
  };

  constructor(
    readonly id: string,
    readonly tensors: Readonly<Record<string, Tensor>>,
    readonly parameters: Parameters,
    readonly outputs: readonly RequestedOutput[],
    ordered: readonly Tensor[],
  ) {
    this.#ordered = ordered;
    Object.defineProperty(this, 'inputs', HookRequest.#lazyInputs);
  }

  /** Whether the list form was built or replaced (the default validate checks only a replaced one). */
  static inputsUntouched(request: InferRequest): boolean {
    return #list in request && (request as HookRequest).#list === undefined;
  }
}

/** Builds the request the hooks see. */
export function buildRequest(server: { readonly io: IOSpec }, job: ExecutionJob): InferRequest {
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
  return HookRequest.inputsUntouched(request);
}

