// The core's request and answer, as a transport hands one in and gets one back.
import type { Parameters, RequestedOutput } from '../model/index.js';
import type { WireInputTensor, WireOutputTensor } from '../tensor/index.js';

/** One inference call as a transport hands it to the repository. */
export interface InferCall {
  readonly model: string;
  /** Empty: the highest ready version. */
  readonly version: string;
  /** The client's id, echoed in the answer; may be empty. */
  readonly id: string;
  /** The id log lines, events and the model see: the client's, or one the transport made. */
  readonly requestId: string;
  readonly parameters: Parameters;
  readonly inputs: readonly WireInputTensor[];
  /** Each input's parameters, by index; absent when no input has any (the usual case). */
  readonly inputParameters?: readonly (Parameters | undefined)[];
  readonly raw: readonly Uint8Array[];
  readonly outputs: readonly RequestedOutput[];
  /** process.hrtime.bigint() when the call arrived. */
  readonly arrivedNs: bigint;
}

/** What the repository hands back: outputs already encoded for the wire. */
export interface InferResult {
  readonly model: string;
  readonly version: string;
  readonly id: string;
  readonly parameters: Parameters;
  readonly outputs: WireOutputTensor[];
  readonly raw: Uint8Array[];
}

