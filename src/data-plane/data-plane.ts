// The one way into inference for every transport (Triton's core request, MLServer's
// DataPlane): a transport-neutral call is checked against Triton's parameter rules once,
// its shared-memory inputs are read in, the repository answers, and outputs placed in
// shared memory are written out. The transports only translate their wire to and from it.
import type { CacheAlias, EncodedAnswer, KeptAnswer, ResponseCache } from '../cache/index.js';
import { InferenceError } from '../errors.js';
import type { RequestSignal } from '../cancellation.js';
import type { Parameters, ParamValue } from '../model/index.js';
import { failedStream, type InferCall, type InferResult, type StreamedResult } from '../pipeline/index.js';
import type { ModelRepository } from '../repository/index.js';
import { usesSharedMemory, type SharedMemoryRegistry } from '../shared-memory/index.js';

type ValueKind = 'an integer' | 'a boolean' | 'a string';

/** The kinds each request parameter Triton defines may take, whichever wire it came on (PROTOCOL §6.1). */
export const TRITON_PARAMETERS: ReadonlyMap<string, readonly ValueKind[]> = new Map([
  ['sequence_id', ['an integer', 'a string']],
  ['sequence_start', ['a boolean']],
  ['sequence_end', ['a boolean']],
  ['priority', ['an integer']],
  ['timeout', ['an integer']],
  ['triton_enable_empty_final_response', ['a boolean']],
] as const);

function isKind(value: ParamValue, kind: ValueKind): boolean {
  if (kind === 'an integer') return typeof value === 'bigint' || Number.isSafeInteger(value);
  return typeof value === (kind === 'a boolean' ? 'boolean' : 'string');
}

function describe(value: ParamValue): string {
  return typeof value === 'bigint' ? String(value) : JSON.stringify(value);
}

/**
 * Triton's request parameters keep their type, so that models can rely on it: sequence_id
 * an integer ≥ 0 or a string, sequence_start/end booleans, priority and timeout (µs)
 * integers ≥ 0. Other `triton_` keys are reserved, as in Triton.
 */
export function checkRequestParameters(parameters: Parameters): void {
  for (const key in parameters) {
    const allowed = TRITON_PARAMETERS.get(key);
    if (!allowed) {
      if (key.startsWith('triton_')) {
        throw InferenceError.invalidArgument(`parameters.${key}`, "is not a known parameter: keys starting with 'triton_' are reserved");
      }
      continue;
    }
    const value = parameters[key] as ParamValue;
    if (!allowed.some((kind) => isKind(value, kind))) {
      throw InferenceError.invalidArgument(`parameters.${key}`, `must be ${allowed.join(' or ')}, got ${describe(value)}`);
    }
    if ((typeof value === 'number' || typeof value === 'bigint') && value < 0) {
      throw InferenceError.invalidArgument(`parameters.${key}`, `must be >= 0, got ${describe(value)}`);
    }
  }
}

/** `classification` (Triton's classification extension) is an integer > 0. */
function checkOutputParameters(call: InferCall): void {
  for (let i = 0; i < call.outputs.length; i++) {
    const k = call.outputs[i]!.parameters['classification'];
    if (k !== undefined && !((typeof k === 'bigint' || Number.isSafeInteger(k)) && (k as number | bigint) > 0)) {
      throw InferenceError.invalidArgument(`outputs[${i}].parameters.classification`, `must be an integer > 0, got ${describe(k)}`);
    }
  }
}

/** Both transports' requests about the repository name one; v2serve serves exactly one. */
export function checkRepositoryName(name: string | undefined, field: string): void {
  if (name) throw new InferenceError('UNIMPLEMENTED', `${field} names repository '${name}', but v2serve serves one repository: leave it out`);
}

export class DataPlane {
  constructor(
    readonly repository: ModelRepository,
    readonly sharedMemory: SharedMemoryRegistry,
    /** The server's response cache (--cache-config), where transports keep their encodings of its answers. */
    readonly responseCache?: ResponseCache,
  ) {}

  /**
   * A request whose exact bytes a transport has kept an answer's encoding for
   * (ResponseCache.aliased), answered with it: the hit is counted as the pipeline counts one,
   * and the version that answers is returned. Undefined, and nothing counted, when the request
   * would now go to another version or load, or a side path wants its tensors: the transport
   * then decodes it and calls `infer`.
   */
  answerFromAlias(alias: CacheAlias, arrivedNs: bigint, lookupNs: number): string | undefined {
    const version = this.repository.resolved(alias.model, alias.version);
    if (version === undefined || !version.answeredFromCache(alias.answer.load, arrivedNs, lookupNs)) return undefined;
    (this.responseCache as ResponseCache).aliasHit(alias, lookupNs);
    return version.version;
  }

  /**
   * Keeps a transport's encoding of an answer the response cache keeps (an InferResult's
   * `cached`), under the transport's key for the exact bytes of the request, which named
   * `model` and `version`.
   */
  keepEncoded(answer: KeptAnswer, key: string, model: string, version: string, encoded: EncodedAnswer): void {
    this.responseCache?.keepEncoded(answer, key, model, version, encoded);
  }

  /** One inference: `signal` aborts it when its client goes away or its deadline passes. */
  infer(call: InferCall, signal: RequestSignal): Promise<InferResult> {
    checkRequestParameters(call.parameters);
    checkOutputParameters(call);
    return usesSharedMemory(call) ? this.inferPlaced(call, signal) : this.repository.infer(call, signal);
  }

  /**
   * One inference answered by as many responses as its model makes, each as it is made:
   * a decoupled model's zero, one or many, any other model's one (marked final). The
   * iterable throws an InferenceError: before its first response when the request cannot
   * run, later when the model fails mid-stream. Stopping the iteration (or `signal`) cancels
   * the request in the model. `triton_enable_empty_final_response` is left to the transport
   * that defines it (gRPC's ModelStreamInfer).
   */
  inferStream(call: InferCall, signal: RequestSignal): AsyncIterable<StreamedResult> {
    try {
      checkRequestParameters(call.parameters);
      checkOutputParameters(call);
    } catch (err) {
      return failedStream(err);
    }
    return usesSharedMemory(call) ? this.inferStreamPlaced(call, signal) : this.repository.inferStream(call, signal);
  }

  /** Each response's outputs are written to the requested regions before it goes on. */
  private async *inferStreamPlaced(call: InferCall, signal: RequestSignal): AsyncGenerator<StreamedResult> {
    const { sharedMemory } = this;
    const placements = sharedMemory.outputPlacements(call);
    const inputs = await sharedMemory.readInputs(call);
    for await (const streamed of this.repository.inferStream({ ...call, inputs }, signal)) {
      await sharedMemory.writeOutputs(placements, streamed.result);
      yield streamed;
    }
  }

  /** The requested output regions are checked before anything runs. */
  private async inferPlaced(call: InferCall, signal: RequestSignal): Promise<InferResult> {
    const { sharedMemory } = this;
    const placements = sharedMemory.outputPlacements(call);
    const inputs = await sharedMemory.readInputs(call);
    const result = await this.repository.infer({ ...call, inputs }, signal);
    await sharedMemory.writeOutputs(placements, result);
    // Its answer depends on the regions, not on the request's bytes: a transport keeps no encoding of it.
    return result.cached ? { ...result, cached: undefined } : result;
  }
}
