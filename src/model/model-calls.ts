// What a model sees of the other models of its repository: one call, tensors in and out,
// in the same process (no encoding). The repository implements ModelCaller and passes it in
// through the ModelContext; this folder only declares it and keeps each job's call chain.
import type { Tensor } from '../tensor/index.js';
import type { Parameters, ParamValue } from './types.js';

/** The inputs of a call: tensors, or by name their datatype, shape and data. */
export type ModelCallInputs = readonly Tensor[] | Readonly<Record<string, Omit<Tensor, 'name'>>>;

export interface ModelCallOptions {
  /** Empty or absent: the highest ready version. */
  readonly version?: string;
  /**
   * Pass the signal your hook received: it carries the request's deadline and cancellation
   * to the callee, and the chain of calls that led here (to refuse a cycle).
   */
  readonly signal?: AbortSignal;
  readonly parameters?: Parameters;
  /** The outputs wanted, by name; absent or empty: all. */
  readonly outputs?: readonly string[];
  /** The request id the callee sees. */
  readonly id?: string;
}

export interface ModelCallResult {
  readonly model: string;
  readonly version: string;
  /** In the callee's declared order (selection order when `outputs` named some). */
  readonly outputs: readonly Tensor[];
  /** The same tensors by name. */
  readonly tensors: Readonly<Record<string, Tensor>>;
  readonly parameters: Readonly<Record<string, ParamValue>>;
}

/** One response of a call to a decoupled model (ModelServer.inferStream). */
export interface StreamedCallResult extends ModelCallResult {
  /** The callee marked it as its last. */
  readonly final: boolean;
}

/** A call as the repository takes it: the caller adds the chain of models it runs in. */
export interface ChainedCallOptions extends ModelCallOptions {
  /** The models whose requests led to this call, outermost first, the caller last. */
  readonly callers: readonly string[];
}

/** The inputs of a call as a list of tensors (named ones take their key as name). */
export function callInputs(inputs: ModelCallInputs): readonly Tensor[] {
  if (Array.isArray(inputs)) return inputs as readonly Tensor[];
  const named = inputs as Readonly<Record<string, Omit<Tensor, 'name'>>>;
  return Object.keys(named).map((name) => ({ ...(named[name] as Omit<Tensor, 'name'>), name }));
}

/** The repository's side of model calls. */
export interface ModelCaller {
  infer(model: string, inputs: ModelCallInputs, options: ChainedCallOptions): Promise<ModelCallResult>;
  /** Absent where calls cannot stream (a model in a worker thread). */
  inferStream?(model: string, inputs: ModelCallInputs, options: ChainedCallOptions): AsyncIterable<StreamedCallResult>;
}

/**
 * Per model server, the call chain each running job was reached through, keyed by the signal
 * its hooks received (one per job as the instance runs it). Held under a registered symbol,
 * so that a model using another copy of v2serve (a CommonJS model) shares it with the runner.
 */
export const CALL_CHAINS = Symbol.for('v2serve.callChains');

export type CallChains = WeakMap<AbortSignal, readonly string[]>;
