// protobuf ⇄ domain, one converter per message. The only module that sees both.
import type {
  InferParameter,
  ModelInferRequest_InferInputTensor,
  LogSettingsRequest_SettingValue,
  LogSettingsResponse_SettingValue,
  ModelInferRequest,

  ModelMetadataResponse,
  ModelStatistics,
  RepositoryIndexResponse_ModelIndex,
  StatisticDuration,
} from '../../generated/grpc_service.js';
import { dictionary } from '../dictionary.js';
import { InferenceError } from '../errors.js';
import { LOG_SETTINGS, unknownLogSetting, type LogSettingKind, type LogSettingValue } from '../logging/index.js';
import type { ParamValue, Parameters } from '../model/index.js';
import type { CallInput, Duration, InferCall } from '../pipeline/index.js';
import { TRITON_PARAMETERS } from '../data-plane/index.js';
import { placementOf } from '../shared-memory/index.js';
import type { IndexEntry, ModelMetadata, VersionStatisticsEntry } from '../repository/index.js';

const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_EXACT = -MAX_EXACT;

/** int64 parameters become numbers when exact, bigints otherwise. */
function fromInt64(value: bigint): number | bigint {
  return value >= MIN_EXACT && value <= MAX_EXACT ? Number(value) : value;
}

function fromInferParameter(parameter: InferParameter): ParamValue | undefined {
  if (parameter.boolParam !== undefined) return parameter.boolParam;
  if (parameter.int64Param !== undefined) return fromInt64(parameter.int64Param);
  if (parameter.stringParam !== undefined) return parameter.stringParam;
  if (parameter.doubleParam !== undefined) return parameter.doubleParam;
  if (parameter.uint64Param !== undefined) return fromInt64(parameter.uint64Param);
  return undefined;
}

/** Shared by every call that sends no parameters: nothing writes to it. */
const NO_PARAMETERS_SENT: Parameters = Object.freeze(dictionary<ParamValue>());

/** A parameter with no value set carries nothing and is left out. */
export function fromInferParameters(parameters: ReadonlyMap<string, InferParameter>): Parameters {
  if (parameters.size === 0) return NO_PARAMETERS_SENT;
  const result = dictionary<ParamValue>();
  for (const [key, parameter] of parameters) {
    const value = fromInferParameter(parameter);
    if (value !== undefined) result[key] = value;
  }
  return result;
}

/** An input's problem, worded as the codec words its own: `inputs[i] 'NAME': …`. */
function inputError(i: number, name: string, problem: string): InferenceError {
  return new InferenceError('INVALID_ARGUMENT', `inputs[${i}] '${name}': ${problem}`);
}

/** Dims as numbers: beyond 2^53 no tensor can have one; -1 and other negatives are the codec's to refuse by name. */
function shapeOf(input: ModelInferRequest_InferInputTensor, i: number): number[] {
  const { shape } = input;
  const dims = new Array<number>(shape.length);
  for (let k = 0; k < shape.length; k++) {
    const dim = shape[k]!;
    if (dim > MAX_EXACT || dim < MIN_EXACT) throw inputError(i, input.name, `dimension ${dim} in shape [${shape.join(',')}] is too large`);
    dims[k] = Number(dim);
  }
  return dims;
}

function hasTypedContents(input: ModelInferRequest_InferInputTensor): boolean {
  const c = input.contents;
  if (c === undefined) return false;
  return (
    c.boolContents.length + c.intContents.length + c.int64Contents.length + c.uintContents.length +
      c.uint64Contents.length + c.fp32Contents.length + c.fp64Contents.length + c.bytesContents.length >
    0
  );
}

/**
 * ModelInferRequest → the neutral call. raw_input_contents holds one entry per input that is
 * not in shared memory, in order (PROTOCOL §5.1); with raw entries no input may be typed.
 */
export function toInferCall(request: ModelInferRequest, arrivedNs: bigint, requestId: string): InferCall {
  if (!request.modelName) throw InferenceError.invalidArgument('model_name', 'must not be empty');
  const raw = request.rawInputContents;
  const useRaw = raw.length > 0;
  if (raw.length > request.inputs.length) {
    throw new InferenceError(
      'INVALID_ARGUMENT',
      `raw_input_contents[${request.inputs.length}]: request has ${raw.length} raw_input_contents but only ${request.inputs.length} inputs`,
    );
  }
  let next = 0;
  const inputs = request.inputs.map((input, i): CallInput => {
    const { name } = input;
    const parameters = input.parameters.size > 0 ? fromInferParameters(input.parameters) : undefined;
    let bytes: Uint8Array | undefined;
    // An input in shared memory takes no raw entry: its placement is read (and checked) first.
    if (useRaw && placementOf(parameters, `inputs[${i}]`) === undefined) {
      bytes = raw[next++];
      if (bytes === undefined) {
        if (hasTypedContents(input)) throw inputError(i, name, 'contents field must not be specified when using raw_input_contents (other inputs are raw)');
        throw inputError(
          i,
          name,
          `unable to find data for input tensor '${name}' for model '${request.modelName}': request has ${raw.length} raw_input_contents for ${request.inputs.length} inputs`,
        );
      }
    }
    return { name, datatype: input.datatype, shape: shapeOf(input, i), raw: bytes, contents: input.contents, parameters };
  });
  if (next < raw.length) {
    throw InferenceError.invalidArgument('raw_input_contents', `has ${raw.length} entries but only ${next} inputs are not in shared memory`);
  }
  for (const [key, parameter] of request.parameters) {
    // A double_param is a number like an int64_param's once converted: refused here, by its oneof.
    const kinds = parameter.doubleParam === undefined ? undefined : TRITON_PARAMETERS.get(key);
    if (kinds) throw InferenceError.invalidArgument(`parameters.${key}`, `must be ${kinds.join(' or ')}, got double_param ${parameter.doubleParam}`);
  }
  return {
    model: request.modelName,
    version: request.modelVersion,
    id: request.id,
    requestId,
    parameters: fromInferParameters(request.parameters),
    inputs,
    outputs: request.outputs.map((output) => ({ name: output.name, parameters: fromInferParameters(output.parameters) })),
    arrivedNs,
  };
}

export function toModelMetadataResponse(metadata: ModelMetadata): ModelMetadataResponse {
  const tensor = (t: ModelMetadata['inputs'][number]) => ({
    name: t.name,
    datatype: t.datatype,
    shape: t.shape.map(BigInt),
  });
  return {
    name: metadata.name,
    versions: metadata.versions,
    platform: metadata.platform,
    inputs: metadata.inputs.map(tensor),
    outputs: metadata.outputs.map(tensor),
  };
}

function toDuration(duration: Duration): StatisticDuration {
  return { count: BigInt(duration.count), ns: duration.ns };
}

export function toModelStatistics(entry: VersionStatisticsEntry): ModelStatistics {
  const s = entry.statistics;
  return {
    name: entry.name,
    version: entry.version,
    lastInference: BigInt(s.lastInferenceMs),
    inferenceCount: BigInt(s.inferenceCount),
    executionCount: BigInt(s.executionCount),
    inferenceStats: {
      success: toDuration(s.success),
      fail: toDuration(s.fail),
      queue: toDuration(s.queue),
      computeInput: toDuration(s.computeInput),
      computeInfer: toDuration(s.computeInfer),
      computeOutput: toDuration(s.computeOutput),
      cacheHit: toDuration(s.cacheHit),
      cacheMiss: toDuration(s.cacheMiss),
    },
    batchStats: s.batchStatistics().map((batch) => ({
      batchSize: BigInt(batch.batchSize),
      computeInput: toDuration(batch.computeInput),
      computeInfer: toDuration(batch.computeInfer),
      computeOutput: toDuration(batch.computeOutput),
    })),
    memoryUsage: [],
    responseStats: new Map(),
  };
}

export function toModelIndex(entry: IndexEntry): RepositoryIndexResponse_ModelIndex {
  return { name: entry.name, version: entry.version, state: entry.state, reason: entry.reason };
}

/** The oneof each kind of log setting travels in. */
const LOG_SETTING_ONEOF: Readonly<Record<LogSettingKind, keyof LogSettingsRequest_SettingValue>> = {
  bool: 'boolParam',
  uint32: 'uint32Param',
  string: 'stringParam',
};

const LOG_SETTING_ONEOF_NAME: Readonly<Record<LogSettingKind, string>> = {
  bool: 'bool_param',
  uint32: 'uint32_param',
  string: 'string_param',
};

/** Each setting's value from the oneof its kind takes; another oneof is INVALID_ARGUMENT naming the right one. */
export function fromLogSettings(settings: ReadonlyMap<string, LogSettingsRequest_SettingValue>): Map<string, LogSettingValue> {
  const values = new Map<string, LogSettingValue>();
  for (const [key, value] of settings) {
    const kind = LOG_SETTINGS.get(key);
    if (!kind) throw unknownLogSetting(key);
    const given = value[LOG_SETTING_ONEOF[kind]];
    if (given === undefined) throw InferenceError.invalidArgument(`settings.${key}`, `must be a ${LOG_SETTING_ONEOF_NAME[kind]}`);
    values.set(key, given);
  }
  return values;
}

export function toLogSettings(values: ReadonlyMap<string, LogSettingValue>): Map<string, LogSettingsResponse_SettingValue> {
  const settings = new Map<string, LogSettingsResponse_SettingValue>();
  for (const [key, value] of values) {
    const kind = LOG_SETTINGS.get(key);
    if (kind) settings.set(key, { [LOG_SETTING_ONEOF[kind]]: value });
  }
  return settings;
}
