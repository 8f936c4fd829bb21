// protobuf ⇄ domain, one converter per message. The only module that sees both.
import type {
  InferParameter,
  LogSettingsRequest_SettingValue,
  LogSettingsResponse_SettingValue,
  ModelInferRequest,
  ModelInferResponse,
  ModelMetadataResponse,
  ModelStatistics,
  RepositoryIndexResponse_ModelIndex,
  StatisticDuration,
} from '../../generated/grpc_service.js';
import { dictionary } from '../dictionary.js';
import { InferenceError } from '../errors.js';
import { LOG_SETTINGS, unknownLogSetting, type LogSettingKind, type LogSettingValue } from '../logging/index.js';
import type { ParamValue, Parameters } from '../model/index.js';
import type { Duration, InferCall, InferResult } from '../pipeline/index.js';
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

function toInferParameter(value: ParamValue): InferParameter {
  switch (typeof value) {
    case 'boolean':
      return { boolParam: value };
    case 'string':
      return { stringParam: value };
    case 'bigint':
      return { int64Param: value };
    default:
      return Number.isSafeInteger(value) ? { int64Param: BigInt(value) } : { doubleParam: value };
  }
}

export function toInferParameters(parameters: Parameters): Map<string, InferParameter> {
  const result = new Map<string, InferParameter>();
  for (const [key, value] of Object.entries(parameters)) result.set(key, toInferParameter(value));
  return result;
}

/** Which oneof each request parameter Triton defines may use (PROTOCOL §6.1). */
const TRITON_PARAMETERS: ReadonlyMap<string, readonly (keyof InferParameter)[]> = new Map(Object.entries({
  sequence_id: ['int64Param', 'stringParam'],
  sequence_start: ['boolParam'],
  sequence_end: ['boolParam'],
  priority: ['int64Param', 'uint64Param'],
  timeout: ['int64Param'],
  triton_enable_empty_final_response: ['boolParam'],
}));

const ONEOF_NAME: Readonly<Record<keyof InferParameter, string>> = {
  boolParam: 'bool_param',
  int64Param: 'int64_param',
  stringParam: 'string_param',
  doubleParam: 'double_param',
  uint64Param: 'uint64_param',
};

/**
 * Triton's request parameters keep their wire type, so that models can rely on it:
 * sequence_id is a number/bigint ≥ 0 or a string, sequence_start/end booleans, priority
 * and timeout (µs) numbers/bigints ≥ 0. Other `triton_` keys are reserved, as in Triton.
 */
function checkRequestParameters(parameters: ReadonlyMap<string, InferParameter>): void {
  for (const [key, parameter] of parameters) {
    const allowed = TRITON_PARAMETERS.get(key);
    if (!allowed) {
      if (key.startsWith('triton_')) {
        throw InferenceError.invalidArgument(`parameters.${key}`, "is not a known parameter: keys starting with 'triton_' are reserved");
      }
      continue;
    }
    const set = allowed.find((oneof) => parameter[oneof] !== undefined);
    if (set === undefined) {
      const expected = allowed.map((oneof) => ONEOF_NAME[oneof]).join(' or ');
      throw InferenceError.invalidArgument(`parameters.${key}`, `must be ${expected}`);
    }
    if (set === 'int64Param' && (parameter.int64Param as bigint) < 0n) {
      throw InferenceError.invalidArgument(`parameters.${key}`, `must be >= 0, got ${parameter.int64Param}`);
    }
  }
}

/** `classification` (Triton's classification extension) is an int64 > 0. */
function checkOutputParameters(parameters: ReadonlyMap<string, InferParameter>, i: number): void {
  const classification = parameters.get('classification');
  if (classification === undefined) return;
  const k = classification.int64Param;
  if (k === undefined || k <= 0n) {
    throw InferenceError.invalidArgument(`outputs[${i}].parameters.classification`, 'must be an int64_param > 0');
  }
}

export function toInferCall(request: ModelInferRequest, arrivedNs: bigint, requestId: string): InferCall {
  if (!request.modelName) throw InferenceError.invalidArgument('model_name', 'must not be empty');
  checkRequestParameters(request.parameters);
  return {
    model: request.modelName,
    version: request.modelVersion,
    id: request.id,
    requestId,
    parameters: fromInferParameters(request.parameters),
    inputs: request.inputs,
    ...(request.inputs.some((input) => input.parameters.size > 0)
      ? { inputParameters: request.inputs.map((input) => fromInferParameters(input.parameters)) }
      : {}),
    raw: request.rawInputContents,
    outputs: request.outputs.map((output, i) => {
      checkOutputParameters(output.parameters, i);
      return { name: output.name, parameters: fromInferParameters(output.parameters) };
    }),
    arrivedNs,
  };
}

/** Shared by every output tensor: protobuf encoding only reads it. */
const NO_PARAMETERS: ReadonlyMap<string, InferParameter> = new Map();

/** Raw outputs become Buffer views on the encoded bytes: no copy before serialization. */
export function toInferResponse(result: InferResult): ModelInferResponse {
  return {
    modelName: result.model,
    modelVersion: result.version,
    id: result.id,
    parameters: toInferParameters(result.parameters),
    outputs: result.outputs.map((output) => ({
      name: output.name,
      datatype: output.datatype,
      shape: output.shape,
      parameters: NO_PARAMETERS as Map<string, InferParameter>,
      contents: undefined,
    })),
    rawOutputContents: result.raw.map((bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)),
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
      cacheHit: { count: 0n, ns: 0n },
      cacheMiss: { count: 0n, ns: 0n },
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
