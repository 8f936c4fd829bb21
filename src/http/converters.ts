// HTTP/JSON ⇄ domain: the inference request and response of the KServe v2 protocol with
// Triton's binary tensor data extension, and the JSON of the other routes. The only module
// that sees both JSON bodies and core types.
import { dictionary, ownEntry } from '../dictionary.js';
import { InferenceError } from '../errors.js';
import { LOG_SETTINGS, unknownLogSetting, type LogSettingValue } from '../logging/index.js';
import type { ParamValue, Parameters, RequestedOutput } from '../model/index.js';
import type { CallInput, InferCall, InferResult } from '../pipeline/index.js';
import type { IndexEntry, ModelMetadata, VersionStatisticsEntry } from '../repository/index.js';
import type { RegionStatus } from '../shared-memory/index.js';
import { newRequestId, requestIdOf } from '../request-id.js';
import { ELEMENT_SIZE, elementCount, isDatatype } from '../tensor/index.js';
import { encodeJsonData, jsonDataText } from './json-tensors.js';

type JsonObject = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses a JSON body; a syntax error names the body. */
export function parseJson(text: string, field = 'request body'): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw InferenceError.invalidArgument(field, `is not valid JSON: ${(err as Error).message}`);
  }
}

/** The body as an object; an empty body is `{}` where the route allows one. */
export function jsonObject(body: Uint8Array, field = 'request body'): JsonObject {
  if (body.byteLength === 0) return dictionary();
  const value = parseJson(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'), field);
  if (!isObject(value)) throw InferenceError.invalidArgument(field, 'must be a JSON object');
  return value;
}

function optionalObject(parent: JsonObject, key: string, field: string): JsonObject | undefined {
  const value = ownEntry(parent, key);
  if (value === undefined) return undefined;
  if (!isObject(value)) throw InferenceError.invalidArgument(field, 'must be a JSON object');
  return value;
}

function requiredString(parent: JsonObject, key: string, field: string): string {
  const value = ownEntry(parent, key);
  if (typeof value !== 'string') throw InferenceError.invalidArgument(field, 'must be a string');
  return value;
}

function optionalBoolean(parent: JsonObject, key: string, field: string): boolean | undefined {
  const value = ownEntry(parent, key);
  if (value !== undefined && typeof value !== 'boolean') throw InferenceError.invalidArgument(field, 'must be true or false');
  return value;
}

function nonNegativeInteger(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw InferenceError.invalidArgument(field, `must be an integer >= 0, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Transport parameters of the binary extension: they steer the encoding and never reach the model. */
const BINARY_DATA_OUTPUT = 'binary_data_output';
const BINARY_DATA = 'binary_data';
const BINARY_DATA_SIZE = 'binary_data_size';
const SHARED_MEMORY_REGION = 'shared_memory_region';

/**
 * The parameters of `raw` but `omit`, as a dictionary. A value must be a boolean, a number or
 * a string; a bad one is named `<prefix>.<key>`, the prefix built only then (a request's happy
 * path builds no field names).
 */
function parameters(raw: JsonObject | undefined, prefix: () => string, omit: string): Record<string, ParamValue> {
  const result = dictionary<ParamValue>();
  if (raw === undefined) return result;
  for (const key of Object.keys(raw)) {
    if (key === omit) continue;
    const value = raw[key];
    if (typeof value !== 'boolean' && typeof value !== 'string' && typeof value !== 'number') {
      throw InferenceError.invalidArgument(`${prefix()}.${key}`, `must be a boolean, a number or a string, got ${JSON.stringify(value)}`);
    }
    result[key] = value;
  }
  return result;
}

function shape(value: unknown, field: () => string): number[] {
  if (!Array.isArray(value)) throw InferenceError.invalidArgument(field(), 'must be an array of integers');
  const dims = new Array<number>(value.length);
  for (let i = 0; i < value.length; i++) {
    const d: unknown = value[i];
    dims[i] = typeof d === 'number' && Number.isSafeInteger(d) && d >= 0 ? d : nonNegativeInteger(d, `${field()}[${i}]`);
  }
  return dims;
}

/** What the route says about the call, besides its body. */
export interface InferTarget {
  readonly model: string;
  readonly version: string;
  /** The operation the URL names (`explain`, a custom one); undefined for `infer`. */
  readonly operation: string | undefined;
}

/** The core's call, and how the answer's outputs are to be encoded. */
export interface HttpInferCall {
  readonly call: InferCall;
  /** The request's `binary_data_output`: outputs go binary unless their own `binary_data` says. */
  readonly binaryByDefault: boolean;
  /** The outputs' own `binary_data`, when any said. */
  readonly binaryByName: ReadonlyMap<string, boolean> | undefined;
  /** Outputs the client placed in shared memory, when any: the answer names them, with no data. */
  readonly placed: ReadonlySet<string> | undefined;
}

const requestParametersField = (): string => 'parameters';

/**
 * The JSON header and the binary blobs after it → the core's call. Every input becomes a
 * raw entry: binary ones are views on `binary` (no copy), JSON ones are encoded once.
 */
export function toInferCall(target: InferTarget, header: JsonObject, binary: Uint8Array, arrivedNs: bigint): HttpInferCall {
  const id = ownEntry(header, 'id') ?? '';
  if (typeof id !== 'string') throw InferenceError.invalidArgument('id', 'must be a string');
  const givenParameters = optionalObject(header, 'parameters', 'parameters');
  const requestParameters = parameters(givenParameters, requestParametersField, BINARY_DATA_OUTPUT);
  const binaryByDefault = (givenParameters && optionalBoolean(givenParameters, BINARY_DATA_OUTPUT, `parameters.${BINARY_DATA_OUTPUT}`)) ?? false;
  if (target.operation !== undefined) requestParameters['operation'] = target.operation;

  const rawInputs = ownEntry(header, 'inputs');
  if (!Array.isArray(rawInputs)) throw InferenceError.invalidArgument('inputs', 'must be an array');
  const inputs = new Array<CallInput>(rawInputs.length);
  let offset = 0;
  for (let i = 0; i < rawInputs.length; i++) {
    const field = (): string => `inputs[${i}]`;
    const input: unknown = rawInputs[i];
    if (!isObject(input)) throw InferenceError.invalidArgument(field(), 'must be a JSON object');
    const name = ownEntry(input, 'name');
    if (typeof name !== 'string') throw InferenceError.invalidArgument(`${field()}.name`, 'must be a string');
    const datatype = ownEntry(input, 'datatype');
    if (typeof datatype !== 'string') throw InferenceError.invalidArgument(`${field()}.datatype`, 'must be a string');
    const dims = shape(ownEntry(input, 'shape'), () => `${field()}.shape`);
    const given = ownEntry(input, 'parameters');
    let own: Record<string, ParamValue> | undefined;
    let size: unknown;
    if (given !== undefined) {
      if (!isObject(given)) throw InferenceError.invalidArgument(`${field()}.parameters`, 'must be a JSON object');
      own = parameters(given, () => `${field()}.parameters`, BINARY_DATA_SIZE);
      size = ownEntry(given, BINARY_DATA_SIZE);
      // An input gets parameters only when it has some besides binary_data_size.
      if (Object.keys(own).length === 0) own = undefined;
    }
    const data = ownEntry(input, 'data');
    if (own?.[SHARED_MEMORY_REGION] !== undefined) {
      if (data !== undefined || size !== undefined) throw InferenceError.invalidArgument(field(), 'is in shared memory: it must have no data and no binary_data_size');
      inputs[i] = { name, datatype, shape: dims, parameters: own };
      continue;
    }
    let raw: Uint8Array;
    if (size !== undefined) {
      const bytes = nonNegativeInteger(size, `${field()}.parameters.${BINARY_DATA_SIZE}`);
      if (data !== undefined) throw InferenceError.invalidArgument(field(), 'has both data and binary_data_size');
      if (offset + bytes > binary.byteLength) {
        throw InferenceError.invalidArgument(field(), `unexpected size for input '${name}', expecting ${bytes} additional bytes, got ${binary.byteLength - offset}`);
      }
      raw = binary.subarray(offset, offset + bytes);
      offset += bytes;
    } else {
      if (data === undefined) throw InferenceError.invalidArgument(`${field()}.data`, 'is missing (or give parameters.binary_data_size)');
      const count = elementCount(dims);
      if (!Number.isFinite(count)) throw InferenceError.invalidArgument(`${field()}.shape`, `implies too many elements: [${dims.join(',')}]`);
      raw = encodeJsonData(data, datatype, count, () => `${field()}.data`);
    }
    inputs[i] = own === undefined ? { name, datatype, shape: dims, raw } : { name, datatype, shape: dims, raw, parameters: own };
  }
  if (offset !== binary.byteLength) {
    throw InferenceError.invalidArgument('request body', `has ${binary.byteLength - offset} bytes of binary data that no input's binary_data_size claims`);
  }

  let binaryByName: Map<string, boolean> | undefined;
  let placed: Set<string> | undefined;
  const rawOutputs = ownEntry(header, 'outputs') ?? NO_OUTPUTS;
  if (!Array.isArray(rawOutputs)) throw InferenceError.invalidArgument('outputs', 'must be an array');
  const outputs = new Array<RequestedOutput>(rawOutputs.length);
  for (let i = 0; i < rawOutputs.length; i++) {
    const field = (): string => `outputs[${i}]`;
    const output: unknown = rawOutputs[i];
    if (!isObject(output)) throw InferenceError.invalidArgument(field(), 'must be a JSON object');
    const name = ownEntry(output, 'name');
    if (typeof name !== 'string') throw InferenceError.invalidArgument(`${field()}.name`, 'must be a string');
    const given = optionalObject(output, 'parameters', `${field()}.parameters`);
    const own = parameters(given, () => `${field()}.parameters`, BINARY_DATA);
    if (given !== undefined) {
      const asBinary = optionalBoolean(given, BINARY_DATA, `${field()}.parameters.${BINARY_DATA}`);
      if (asBinary !== undefined) (binaryByName ??= new Map()).set(name, asBinary);
      if (own[SHARED_MEMORY_REGION] !== undefined) (placed ??= new Set()).add(name);
    }
    outputs[i] = { name, parameters: own };
  }

  return {
    call: {
      model: target.model,
      version: target.version,
      id,
      requestId: requestIdOf(id),
      parameters: requestParameters,
      inputs,
      outputs,
      arrivedNs,
    },
    binaryByDefault,
    binaryByName,
    placed,
  };
}

const NO_OUTPUTS: readonly unknown[] = [];

/**
 * Triton's raw binary request (Inference-Header-Content-Length: 0): the body is the one
 * input's tensor, batch 1, its variable dimension (at most one) from the body's size; every
 * output answers binary.
 */
export function rawBinaryCall(target: InferTarget, metadata: ModelMetadata, batched: boolean, body: Uint8Array, arrivedNs: bigint): HttpInferCall {
  if (metadata.inputs.length !== 1) {
    throw InferenceError.invalidArgument('Inference-Header-Content-Length', `is 0 (raw binary request), which needs a model with one input; '${metadata.name}' has ${metadata.inputs.length}`);
  }
  const input = metadata.inputs[0]!;
  const dims = batched ? [1, ...input.shape.slice(1)] : [...input.shape];
  const variable = dims.filter((d) => d < 0).length;
  if (!isDatatype(input.datatype)) throw new InferenceError('INTERNAL', `input '${input.name}' has datatype '${input.datatype}'`);
  if (input.datatype === 'BYTES') {
    if (dims.some((d) => d !== 1 && d !== -1)) {
      throw InferenceError.invalidArgument('Inference-Header-Content-Length', `is 0 (raw binary request): a BYTES input must have shape [1], '${input.name}' has [${input.shape.join(',')}]`);
    }
    const element = Buffer.allocUnsafe(4 + body.byteLength);
    element.writeUInt32LE(body.byteLength, 0);
    element.set(body, 4);
    return rawCall(target, input.name, input.datatype, dims.map(() => 1), element, arrivedNs);
  }
  if (variable > 1) {
    throw InferenceError.invalidArgument('Inference-Header-Content-Length', `is 0 (raw binary request), which needs at most one variable dimension; '${input.name}' has [${input.shape.join(',')}]`);
  }
  const size = ELEMENT_SIZE[input.datatype];
  const fixed = dims.reduce((n, d) => (d < 0 ? n : n * d), 1) * size;
  if (variable === 1) {
    if (fixed === 0 || body.byteLength % fixed !== 0) {
      throw InferenceError.invalidArgument('request body', `has ${body.byteLength} bytes, not a multiple of ${fixed} for input '${input.name}'`);
    }
    return rawCall(target, input.name, input.datatype, dims.map((d) => (d < 0 ? body.byteLength / fixed : d)), body, arrivedNs);
  }
  return rawCall(target, input.name, input.datatype, dims, body, arrivedNs);
}

function rawCall(target: InferTarget, name: string, datatype: string, dims: readonly number[], bytes: Uint8Array, arrivedNs: bigint): HttpInferCall {
  const parameters = dictionary<ParamValue>();
  if (target.operation !== undefined) parameters['operation'] = target.operation;
  return {
    call: {
      model: target.model,
      version: target.version,
      id: '',
      requestId: newRequestId(),
      parameters,
      inputs: [{ name, datatype, shape: dims, raw: bytes }],
      outputs: [],
      arrivedNs,
    },
    binaryByDefault: true,
    binaryByName: undefined,
    placed: undefined,
  };
}

/** A JSON object's text whose bigint values keep every digit. */
function parametersText(parameters: Parameters): string {
  const entries = Object.entries(parameters).map(([key, value]) => `${JSON.stringify(key)}:${typeof value === 'bigint' ? String(value) : JSON.stringify(value)}`);
  return `{${entries.join(',')}}`;
}

/** The answer: its JSON header, and the binary blobs that follow it (none for a JSON-only answer). */
export interface InferReply {
  readonly json: string;
  readonly binary: readonly Uint8Array[];
}

export function toInferReply(result: InferResult, request: HttpInferCall): InferReply {
  const binary: Uint8Array[] = [];
  const { binaryByDefault, binaryByName, placed } = request;
  let outputs = '';
  for (let i = 0; i < result.outputs.length; i++) {
    const output = result.outputs[i]!;
    const bytes = result.raw[i] ?? NO_BYTES;
    if (i > 0) outputs += ',';
    outputs += `{"name":${JSON.stringify(output.name)},"datatype":${JSON.stringify(output.datatype)},"shape":[${output.shape.join(',')}]`;
    // Triton writes an output placed in shared memory as its name, datatype and shape alone:
    // its C++ client reads any output that has parameters as binary data.
    if (placed?.has(output.name)) {
      outputs += '}';
    } else if (binaryByName?.get(output.name) ?? binaryByDefault) {
      binary.push(bytes);
      outputs += `,"parameters":{"${BINARY_DATA_SIZE}":${bytes.byteLength}}}`;
    } else {
      if (!isDatatype(output.datatype)) throw new InferenceError('INTERNAL', `output '${output.name}' has datatype '${output.datatype}'`);
      outputs += `,"data":${jsonDataText(bytes, output.datatype, () => `outputs[${i}] '${output.name}'`)}}`;
    }
  }
  const id = result.id ? `,"id":${JSON.stringify(result.id)}` : '';
  const parameters = hasEntries(result.parameters) ? `,"parameters":${parametersText(result.parameters)}` : '';
  const json = `{"model_name":${JSON.stringify(result.model)},"model_version":${JSON.stringify(result.version)}${id}${parameters},"outputs":[${outputs}]}`;
  return { json, binary };
}

const NO_BYTES = new Uint8Array(0);

function hasEntries(record: Parameters): boolean {
  for (const key in record) {
    if (Object.hasOwn(record, key)) return true;
  }
  return false;
}

export function toIndexJson(entries: readonly IndexEntry[]): unknown {
  return entries.map((entry) => ({
    name: entry.name,
    ...(entry.version ? { version: entry.version } : {}),
    ...(entry.state ? { state: entry.state } : {}),
    reason: entry.reason,
  }));
}

const duration = (d: { count: number; ns: bigint }) => ({ count: d.count, ns: Number(d.ns) });

export function toStatisticsJson(entries: readonly VersionStatisticsEntry[]): unknown {
  return {
    model_stats: entries.map(({ name, version, statistics: s }) => ({
      name,
      version,
      last_inference: s.lastInferenceMs,
      inference_count: s.inferenceCount,
      execution_count: s.executionCount,
      inference_stats: {
        success: duration(s.success),
        fail: duration(s.fail),
        queue: duration(s.queue),
        compute_input: duration(s.computeInput),
        compute_infer: duration(s.computeInfer),
        compute_output: duration(s.computeOutput),
        cache_hit: duration(s.cacheHit),
        cache_miss: duration(s.cacheMiss),
      },
      batch_stats: s.batchStatistics().map((batch) => ({
        batch_size: batch.batchSize,
        compute_input: duration(batch.computeInput),
        compute_infer: duration(batch.computeInfer),
        compute_output: duration(batch.computeOutput),
      })),
    })),
  };
}

export function toRegionsJson(regions: readonly RegionStatus[]): unknown {
  return regions.map((r) => ({ name: r.name, key: r.key, offset: Number(r.offset), byte_size: Number(r.byteSize) }));
}

/** `{key, offset?, byte_size}` of a register request. */
export function fromRegisterJson(body: JsonObject): { key: string; offset: bigint; byteSize: bigint } {
  const key = requiredString(body, 'key', 'key');
  const offset = nonNegativeInteger(ownEntry(body, 'offset') ?? 0, 'offset');
  const byteSize = nonNegativeInteger(ownEntry(body, 'byte_size'), 'byte_size');
  return { key, offset: BigInt(offset), byteSize: BigInt(byteSize) };
}

/** A log settings body: each key's JSON type must be its kind (bool, uint32, string). */
export function fromLogSettingsJson(body: JsonObject): Map<string, LogSettingValue> {
  const values = new Map<string, LogSettingValue>();
  for (const [key, value] of Object.entries(body)) {
    const kind = LOG_SETTINGS.get(key);
    if (!kind) throw unknownLogSetting(key);
    const ok =
      kind === 'bool' ? typeof value === 'boolean' : kind === 'string' ? typeof value === 'string' : typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
    if (!ok) throw InferenceError.invalidArgument(`settings.${key}`, `must be a ${kind === 'bool' ? 'boolean' : kind === 'uint32' ? 'integer in 0..4294967295' : 'string'}`);
    values.set(key, value as LogSettingValue);
  }
  return values;
}

export function toLogSettingsJson(values: ReadonlyMap<string, LogSettingValue>): Record<string, LogSettingValue> {
  return dictionary([...values]);
}

/** `{"config": "<ModelConfig JSON>", "file:<path>": "<base64>"}` of a load request. */
export function fromLoadJson(body: JsonObject): { config?: string; files: Map<string, Uint8Array> } {
  const given = optionalObject(body, 'parameters', 'parameters');
  let config: string | undefined;
  const files = new Map<string, Uint8Array>();
  for (const [key, value] of Object.entries(given ?? dictionary())) {
    if (key === 'config') {
      if (typeof value !== 'string') throw InferenceError.invalidArgument('parameters.config', 'must be a string (the ModelConfig as JSON)');
      config = value;
    } else if (key.startsWith('file:')) {
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
        throw InferenceError.invalidArgument(`parameters.${key}`, 'must be a base64 string');
      }
      files.set(key.slice('file:'.length), Buffer.from(value, 'base64'));
    } else {
      throw InferenceError.invalidArgument(`parameters.${key}`, 'unrecognized load parameter');
    }
  }
  return config === undefined ? { files } : { config, files };
}

/** `{"ready"?: bool}` of an index request. */
export function fromIndexJson(body: JsonObject): boolean {
  return optionalBoolean(body, 'ready', 'ready') ?? false;
}

/** `{"parameters": {"unload_dependents"?: bool}}` of an unload request: whether an ensemble's step models go too. */
export function unloadDependents(body: JsonObject): boolean {
  const given = optionalObject(body, 'parameters', 'parameters');
  return given === undefined ? false : (optionalBoolean(given, 'unload_dependents', 'parameters.unload_dependents') ?? false);
}
