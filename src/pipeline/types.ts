// The core's request and answer, as a transport hands one in and gets one back.
import type { Parameters, RequestedOutput } from '../model/index.js';
import type { ParamValue } from '../model/index.js';
import type { KeptAnswer } from '../cache/index.js';
import type { EncodedOutput, ReceivedInput, Tensor } from '../tensor/index.js';

/** What every call to a version has, however its inputs came. */
export interface CallBase {
  readonly model: string;
  /** Empty: the highest ready version. */
  readonly version: string;
  /** The client's id, echoed in the answer; may be empty. */
  readonly id: string;
  /** The id log lines, events and the model see: the client's, or one the transport made. */
  readonly requestId: string;
  readonly parameters: Parameters;
  readonly outputs: readonly RequestedOutput[];
  /** process.hrtime.bigint() when the call arrived. */
  readonly arrivedNs: bigint;
}

/** One input of a call: as received, with the parameters it came with (shared-memory placement among them). */
export interface CallInput extends ReceivedInput {
  /** Absent when the input came with none (the usual case). */
  readonly parameters?: Parameters | undefined;
}

/** One inference call as either transport hands it in: nothing of either wire's form. */
export interface InferCall extends CallBase {
  readonly inputs: readonly CallInput[];
}

/** A call from another model of the repository: typed tensors, nothing to decode. */
export interface TensorCall extends CallBase {
  readonly tensors: readonly Tensor[];
  /** The models whose requests led here, outermost first. */
  readonly callers: readonly string[];
}

/** What an in-process call gets back: the output tensors themselves. */
export interface TensorResult {
  readonly model: string;
  readonly version: string;
  readonly id: string;
  readonly parameters: Readonly<Record<string, ParamValue>>;
  readonly outputs: readonly Tensor[];
}

/** What the repository hands back: outputs already encoded for the wire. */
export interface InferResult {
  readonly model: string;
  readonly version: string;
  readonly id: string;
  readonly parameters: Parameters;
  readonly outputs: EncodedOutput[];
  readonly raw: Uint8Array[];
  /** Set when this answer came from the response cache: a transport may keep its encoding of it beside (DataPlane.keepEncoded). */
  readonly cached?: KeptAnswer;
}


/**
 * One response of a streamed inference (DataPlane.inferStream; Streamed<TensorResult> for a
 * model's in-process call). `final`: the model marked it
 * as the request's last; a model that ends without marking one leaves every `final` false.
 */
export interface Streamed<R> {
  readonly result: R;
  readonly final: boolean;
}

export type StreamedResult = Streamed<InferResult>;
