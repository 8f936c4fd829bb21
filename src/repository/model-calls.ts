// Models calling models: the repository's side of ModelServer.infer() (and of ensemble
// steps). A call resolves the callee as a client's request would and enters its version
// through the tensor-level way in, so admission, readiness, scheduling, statistics and
// events are the callee's own; only the wire encoding is skipped.
import { dictionary } from '../dictionary.js';
import { InferenceError } from '../errors.js';
import { requestIdOf } from '../request-id.js';
import {
  callInputs,
  type ChainedCallOptions,
  type ModelCaller,
  type ModelCallInputs,
  type ModelCallResult,
  type StreamedCallResult,
} from '../model/index.js';
import type { TensorCall, TensorResult } from '../pipeline/index.js';
import type { ModelVersion } from './model-version.js';

/** Finds the version a call goes to, as for a client's request (MODEL_NOT_FOUND naming an unknown model). */
export type ResolveVersion = (name: string, version: string) => ModelVersion;

/**
 * The callee's version. An unknown callee is NOT_FOUND, as model authors are promised:
 * MODEL_NOT_FOUND is a client's own request naming an unknown model, and the client of
 * a caller did not name the callee.
 */
function calleeVersion(resolve: ResolveVersion, model: string, version: string): ModelVersion {
  try {
    return resolve(model, version);
  } catch (err) {
    if (err instanceof InferenceError && err.code === 'MODEL_NOT_FOUND') throw new InferenceError('NOT_FOUND', err.message, { cause: err });
    throw err;
  }
}

/** The chain of calls and the callee: a cycle when the callee is already in it. */
export function callCycle(callers: readonly string[], model: string): string | undefined {
  const at = callers.indexOf(model);
  return at < 0 ? undefined : [...callers.slice(at), model].join(' → ');
}

/**
 * A signal of the callee's own that follows the caller's: the callee's job is keyed by it
 * (its call chain), so two calls made with one caller signal must not share it.
 */
function follow(signal: AbortSignal | undefined): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  if (!signal) return { signal: controller.signal, dispose: () => undefined };
  if (signal.aborted) {
    controller.abort(signal.reason);
    return { signal: controller.signal, dispose: () => undefined };
  }
  const forward = (): void => controller.abort(signal.reason);
  signal.addEventListener('abort', forward, { once: true });
  return { signal: controller.signal, dispose: () => signal.removeEventListener('abort', forward) };
}

export class RepositoryCalls implements ModelCaller {
  constructor(private readonly resolve: ResolveVersion) {}

  async infer(model: string, inputs: ModelCallInputs, options: ChainedCallOptions): Promise<ModelCallResult> {
    const version = this.callee(model, options);
    if (version.decoupled) {
      throw new InferenceError('UNIMPLEMENTED', `model '${model}' is decoupled (model_transaction_policy.decoupled): read its responses with inferStream()`);
    }
    const linked = follow(options.signal);
    try {
      return callResult(await version.inferTensors(tensorCall(model, inputs, options), linked.signal));
    } finally {
      linked.dispose();
    }
  }

  /** A decoupled callee's responses as it makes them; any other callee's one, marked final. */
  async *inferStream(model: string, inputs: ModelCallInputs, options: ChainedCallOptions): AsyncGenerator<StreamedCallResult> {
    const version = this.callee(model, options);
    const linked = follow(options.signal);
    try {
      for await (const { result, final } of version.inferTensorsStream(tensorCall(model, inputs, options), linked.signal)) {
        yield { ...callResult(result), final };
      }
    } finally {
      linked.dispose();
    }
  }

  private callee(model: string, options: ChainedCallOptions): ModelVersion {
    const cycle = callCycle(options.callers, model);
    if (cycle) {
      throw new InferenceError('FAILED_PRECONDITION', `call cycle refused: ${cycle} (model '${model}' is already answering this request)`);
    }
    return calleeVersion(this.resolve, model, options.version ?? '');
  }
}

function tensorCall(model: string, inputs: ModelCallInputs, options: ChainedCallOptions): TensorCall {
  const id = options.id ?? '';
  return {
    model,
    version: options.version ?? '',
    id,
    requestId: requestIdOf(id),
    parameters: dictionary(options.parameters ?? {}),
    outputs: (options.outputs ?? []).map((name) => ({ name, parameters: dictionary() })),
    arrivedNs: process.hrtime.bigint(),
    tensors: callInputs(inputs),
    callers: options.callers,
  };
}

function callResult(result: TensorResult): ModelCallResult {
  return {
    model: result.model,
    version: result.version,
    outputs: result.outputs,
    tensors: dictionary(result.outputs.map((tensor) => [tensor.name, tensor] as const)),
    parameters: result.parameters,
  };
}
