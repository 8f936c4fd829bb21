// What the hooks of a model see and return, and the job an instance runs. No protobuf, no transport.
import type { MetricValue } from '../events.js';
import type { NestedList, PredictOutputs, Tensor } from '../tensor/index.js';

/**
 * A request or model parameter. int64 parameters arrive as `number` when they fit
 * exactly in a double, otherwise as `bigint`.
 */
export type ParamValue = boolean | number | bigint | string;
export type Parameters = Readonly<Record<string, ParamValue>>;

export interface RequestedOutput {
  readonly name: string;
  readonly parameters: Parameters;
}

/** The request the hooks of a model server see. */
export interface InferRequest {
  readonly id: string;
  /**
   * List form: one entry per input, in the order the model declares its inputs
   * (request order when it declares none), each the tensor's values as nested lists.
   * Built on first access, so a model that only reads `tensors` never pays for it.
   */
  readonly inputs: NestedList[];
  /** Inputs by name: typed, shaped views on the received bytes. */
  readonly tensors: Readonly<Record<string, Tensor>>;
  /**
   * The request's parameters. Triton's keys arrive type-checked: `sequence_id` (number/bigint
   * > 0 or non-empty string; 0/"" = no sequence), `sequence_start` / `sequence_end` (boolean),
   * `priority` (≥ 0; 1 is the most urgent, 0 the default: a dynamic batcher with priority_levels
   * queues by it), `timeout` (µs).
   * Requests of one sequence reach predict() one at a time, in arrival order.
   */
  readonly parameters: Parameters;
  /** The outputs the client asked for; empty means all. */
  readonly outputs: readonly RequestedOutput[];
  /** Request-scoped data a hook passes on to the next (preprocess → validate → predict/explain); starts empty. */
  readonly state: Record<string, unknown>;
}

/** The response postprocess sees and may change. */
export interface InferResponse {
  readonly id: string;
  readonly modelName: string;
  readonly modelVersion: string;
  outputs: Tensor[];
  parameters: Record<string, ParamValue>;
}

export type { PredictOutputs };

/**
 * What a decoupled model's predict() gives (config `model_transaction_policy { decoupled: true }`):
 * usually an `async function*`. Each value it yields is one response; the value it returns,
 * when not undefined, is one more response, marked as the request's last.
 */
export type PredictStream = AsyncIterable<PredictOutputs>;

/** One response of a decoupled model's request, as its instance hands it on. */
export interface StreamedOutput {
  readonly outputs: Tensor[];
  readonly parameters: Record<string, ParamValue>;
  /** The model marked it as the request's last (the value its generator returned). */
  readonly final: boolean;
}

/**
 * Where an instance hands a decoupled request's responses as they are made. The model's next
 * response waits for the promise returned: that is the flow control from the client back to
 * the model's `yield`.
 */
export type ResponseSink = (response: StreamedOutput) => Promise<void> | void;

/** The operation a request asks for: `infer` (alias `predict`), `explain` or a custom one. */
export type Operation = string;

/** What loggedResults() returns to replace the logged inputs and outputs. */
export interface LoggedResults {
  readonly inputs: unknown;
  readonly outputs: unknown;
}

/** One request, decoded and validated, ready for an instance. */
export interface ExecutionJob {
  readonly id: string;
  /** In request order. */
  readonly tensors: readonly Tensor[];
  readonly parameters: Parameters;
  readonly outputs: readonly RequestedOutput[];
  readonly operation: string;
  /** Set when another model called this one: the models whose requests led here, outermost first. */
  readonly callers?: readonly string[];
  /** Set for a decoupled model: its responses go here as made; the run's output then carries none. */
  readonly responses?: ResponseSink;
}

export interface ExecutionOutput {
  readonly outputs: Tensor[];
  readonly parameters: Record<string, ParamValue>;
  /** Snapshots taken when the request finished, for monitoring. */
  readonly metrics: Record<string, MetricValue>;
  readonly labels: Record<string, string>;
  readonly logged?: LoggedResults;
  /** Worker instances: the hooks' own time, so that waiting for a free instance counts as queue time. */
  readonly inferNs?: bigint;
  /** Worker instances: the job's tensors moved back, present only when some had moved into the thread (for monitoring). */
  readonly inputs?: readonly Tensor[];
  /** Worker instances: which one ran the job ('0', '1', …), for monitoring events. */
  readonly instance?: string;
  /** A decoupled model's job: how many responses it handed to the job's sink. */
  readonly responseCount?: number;
}
