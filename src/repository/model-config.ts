// config.pbtxt → ModelConfig. The text format (and the JSON of RepositoryModelLoad's
// `config` parameter) is parsed by @bufbuild/protobuf against the descriptor set buf
// builds from proto/, then handed to the generated ModelConfig through the binary
// encoding, so there is one schema and no hand-written parser.
import { createFileRegistry, fromBinary, fromJsonString, toBinary, toJsonString, type DescMessage } from '@bufbuild/protobuf';
import { isReflectMessage, reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import { fromText } from '@bufbuild/protobuf/txtpb';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { DESCRIPTOR_SET_BASE64 } from '../../generated/descriptor_set.js';
import { ModelConfig, ModelInstanceGroup, ModelInstanceGroup_Kind } from '../../generated/model_config.js';
import { ENSEMBLE_PLATFORM, isEnsemble } from '../ensemble/index.js';
import { InferenceError, errorMessage } from '../errors.js';
import { dictionary } from '../dictionary.js';
import { CONFIG_TO_DATATYPE, checkReshape, type Datatype, type IOSpec, type TensorSpec } from '../tensor/index.js';
import { CONFIG_FIELDS, IGNORED_VALUES, type ConfigRuntime } from './config-fields.js';

let cachedSchema: DescMessage | undefined;

/** The descriptor of inference.ModelConfig, from the descriptor set buf builds from proto/. */
export function modelConfigSchema(): DescMessage {
  if (cachedSchema) return cachedSchema;
  const set = fromBinary(FileDescriptorSetSchema, Buffer.from(DESCRIPTOR_SET_BASE64, 'base64'));
  const found = createFileRegistry(set).getMessage('inference.ModelConfig');
  if (!found) throw new Error('inference.ModelConfig is missing from generated/descriptor_set.ts');
  cachedSchema = found;
  return found;
}

/** Parses config.pbtxt text; errors name `file`, line and column. */
export function parseConfigText(text: string, file: string): ModelConfig {
  try {
    return ModelConfig.decode(toBinary(modelConfigSchema(), fromText(modelConfigSchema(), text)));
  } catch (err) {
    const message = errorMessage(err);
    const { line, column } = locateTextError(text, message);
    throw new InferenceError('INVALID_ARGUMENT', `failed to load config ${file}:${line}:${column}: ${message}`, {
      cause: err,
    });
  }
}

/**
 * The text-format parser reports what is wrong but not where. It reads in one pass,
 * so the shortest prefix of the text that fails with the same message ends at the
 * offending token. Only runs on the error path, on a small file.
 */
function locateTextError(text: string, message: string): { line: number; column: number } {
  let end = text.length;
  for (let length = 1; length < text.length; length++) {
    try {
      fromText(modelConfigSchema(), text.slice(0, length));
    } catch (err) {
      if (errorMessage(err) === message) {
        end = length;
        break;
      }
    }
  }
  const before = text.slice(0, end);
  const line = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const tokenStart = before.slice(lineStart).search(/\S+\s*$/);
  return { line, column: (tokenStart >= 0 ? tokenStart : before.length - lineStart) + 1 };
}

/**
 * A ModelConfig as protobuf JSON with the proto field names (`max_batch_size`,
 * `data_type: "TYPE_FP32"`), as Triton's HTTP config route answers; the generated toJSON
 * would give camelCase.
 */
export function configToJson(config: ModelConfig): string {
  return toJsonString(modelConfigSchema(), fromBinary(modelConfigSchema(), ModelConfig.encode(config).finish()), { useProtoFieldName: true });
}

/** Parses a ModelConfig in the proto3 JSON mapping (RepositoryModelLoad's `config` parameter). */
export function parseConfigJson(json: string): ModelConfig {
  try {
    return ModelConfig.decode(toBinary(modelConfigSchema(), fromJsonString(modelConfigSchema(), json)));
  } catch (err) {
    throw new InferenceError('INVALID_ARGUMENT', `failed to load config from parameter 'config': ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

/** The backend name v2serve reports for models that name neither platform nor backend. */
export const DEFAULT_BACKEND = 'nodejs';

/** The runtime CONFIG_FIELDS tells apart: an ensemble, the backend a model runs on, or DEFAULT_BACKEND for a model module. */
export function configRuntime(config: ModelConfig, backend: string | undefined): ConfigRuntime {
  return isEnsemble(config) ? ENSEMBLE_PLATFORM : (backend ?? DEFAULT_BACKEND);
}

/**
 * The fields `config` sets (proto3: a value other than its default; a message field when
 * present) that `runtime` accepts and ignores, each with why, by path. A field refused by
 * CONFIG_FIELDS fails INVALID_ARGUMENT naming it. Below an ignored or refused field nothing
 * is looked at: the field already says it all.
 */
export function ignoredConfigFields(config: ModelConfig, runtime: ConfigRuntime): Map<string, string> {
  const ignored = new Map<string, string>();
  const refused = new Map<string, string>();
  const visit = (message: ReflectMessage, prefix: string): void => {
    for (const field of message.sortedFields) {
      if (!message.isSet(field)) continue;
      const path = `${prefix}${field.name}`;
      const entry = CONFIG_FIELDS.get(path);
      if (entry === undefined) throw new Error(`config field '${path}' is missing from CONFIG_FIELDS`);
      if (entry.treatment === 'refused') {
        refused.set(path, entry.why);
        continue;
      }
      if (entry.treatment === 'ignored') {
        ignored.set(path, entry.why);
        continue;
      }
      if (entry.only && !entry.only.runtimes.includes(runtime)) {
        ignored.set(path, entry.only.otherwise);
        continue;
      }
      if (field.fieldKind === 'enum' || field.fieldKind === 'scalar') {
        const why = IGNORED_VALUES.get(path)?.get(message.get(field));
        if (why !== undefined) ignored.set(path, why);
        continue;
      }
      const values =
        field.fieldKind === 'message'
          ? [message.get(field)]
          : field.fieldKind === 'list'
            ? [...message.get(field)]
            : field.fieldKind === 'map'
              ? [...message.get(field).values()]
              : [];
      for (const value of values) if (isReflectMessage(value)) visit(value, `${path}.`);
    }
  };
  const schema = modelConfigSchema();
  visit(reflect(schema, fromBinary(schema, ModelConfig.encode(config).finish())), '');
  if (refused.size > 0) {
    const fields = [...refused].map(([path, why]) => `config field '${path}' is not supported (${why})`);
    throw new InferenceError('INVALID_ARGUMENT', fields.join('; '));
  }
  return ignored;
}

/** Why a model's answers cannot be cached (Triton's rule), or undefined. */
function uncacheable(config: ModelConfig): string | undefined {
  if (config.sequenceBatching !== undefined) return "'sequence_batching': a sequence's answers depend on its earlier requests";
  if (config.modelTransactionPolicy?.decoupled) return "'model_transaction_policy.decoupled': a decoupled model answers with a stream of responses";
  return undefined;
}

/**
 * As Triton: the response cache serves neither a model with a sequence batcher (an answer
 * depends on the sequence's earlier requests) nor a decoupled one (it answers with a
 * stream, not one response), nor an ensemble with such a step model. Refused whether or
 * not the server has a cache.
 */
export function checkResponseCache(config: ModelConfig, steps: ReadonlyMap<string, ModelConfig> = new Map()): void {
  if (!config.responseCache?.enable) return;
  let conflict = uncacheable(config);
  for (const [step, stepConfig] of steps) {
    if (conflict) break;
    const why = uncacheable(stepConfig);
    if (why) conflict = `step model '${step}' with ${why}`;
  }
  if (conflict) {
    throw new InferenceError('INVALID_ARGUMENT', `config field 'response_cache.enable' cannot be used with ${conflict}; disable the response cache`);
  }
}

/**
 * A decoupled model runs each request on its own: v2serve batches no decoupled requests and
 * orders no sequences of them, and an ensemble does not stream. Refused at load, naming the field.
 */
export function checkDecoupledConfig(config: ModelConfig): void {
  if (config.modelTransactionPolicy?.decoupled !== true) return;
  const conflict = config.dynamicBatching
    ? 'dynamic_batching'
    : config.sequenceBatching
      ? 'sequence_batching'
      : isEnsemble(config)
        ? `platform '${ENSEMBLE_PLATFORM}'`
        : undefined;
  if (conflict === undefined) return;
  throw new InferenceError(
    'UNAVAILABLE',
    `model_transaction_policy.decoupled: v2serve does not serve a decoupled model with ${conflict}: remove one or the other`,
  );
}

/**
 * Fills the defaults Triton fills for the fields clients read, and checks what
 * v2serve relies on. `directoryName` is the model's directory, the model's name.
 */
export function normalizeConfig(config: ModelConfig, directoryName: string): ModelConfig {
  if (config.name && config.name !== directoryName) {
    throw new InferenceError(
      'INVALID_ARGUMENT',
      `failed to load '${directoryName}': config name '${config.name}' differs from the model directory name`,
    );
  }
  if (config.maxBatchSize < 0) {
    throw InferenceError.invalidArgument(`${directoryName}: max_batch_size`, `must be >= 0, got ${config.maxBatchSize}`);
  }
  const normalized: ModelConfig = {
    ...config,
    name: directoryName,
    backend: config.platform || config.backend ? config.backend : DEFAULT_BACKEND,
    versionPolicy: config.versionPolicy ?? { latest: { numVersions: 1 }, all: undefined, specific: undefined },
    // An ensemble runs on its step models' instances: it has none of its own, as in Triton.
    instanceGroup: isEnsemble(config)
      ? []
      : config.instanceGroup.length > 0
        ? normalizeInstanceGroups(config.instanceGroup, directoryName)
        : [
            ModelInstanceGroup.fromPartial({ name: directoryName, count: 1, kind: ModelInstanceGroup_Kind.KIND_MODEL }),
          ],
  };
  const batching = normalized.dynamicBatching;
  if (batching && batching.preferredBatchSize.length === 0 && normalized.maxBatchSize > 0) {
    normalized.dynamicBatching = { ...batching, preferredBatchSize: [normalized.maxBatchSize] };
  }
  ioSpec(normalized);
  return normalized;
}

const INSTANCE_KINDS: ReadonlySet<number> = new Set([
  ModelInstanceGroup_Kind.KIND_AUTO,
  ModelInstanceGroup_Kind.KIND_GPU,
  ModelInstanceGroup_Kind.KIND_CPU,
  ModelInstanceGroup_Kind.KIND_MODEL,
]);

/**
 * Instance groups as loaded (what ModelConfig reports). KIND_MODEL, the default when
 * config.pbtxt has no instance_group: one instance on the main thread. KIND_CPU: `count`
 * instances, each in its own worker thread. KIND_AUTO is KIND_CPU, as in Triton on a
 * machine without GPUs; so is KIND_GPU, which v2serve has no GPU for (the loader logs it
 * with the ignored fields, see IGNORED_VALUES).
 */
function normalizeInstanceGroups(groups: readonly ModelInstanceGroup[], model: string): ModelInstanceGroup[] {
  const normalized = groups.map((group, i) => {
    const field = `${model}: instance_group[${i}]`;
    if (!INSTANCE_KINDS.has(group.kind)) {
      throw InferenceError.invalidArgument(`${field}.kind`, `is not an instance group kind (${group.kind})`);
    }
    const kind = group.kind === ModelInstanceGroup_Kind.KIND_MODEL ? ModelInstanceGroup_Kind.KIND_MODEL : ModelInstanceGroup_Kind.KIND_CPU;
    if (group.count < 0) throw InferenceError.invalidArgument(`${field}.count`, `must be >= 1, got ${group.count}`);
    const count = group.count || 1;
    if (kind === ModelInstanceGroup_Kind.KIND_MODEL && count !== 1) {
      throw InferenceError.invalidArgument(
        `${field}.count`,
        `must be 1 for KIND_MODEL (one instance on the main thread), got ${count}; use KIND_CPU for worker instances`,
      );
    }
    return { ...group, name: group.name || `${model}_${i}`, count, kind };
  });
  if (normalized.length > 1 && normalized.some((group) => group.kind === ModelInstanceGroup_Kind.KIND_MODEL)) {
    throw InferenceError.invalidArgument(
      `${model}: instance_group`,
      'KIND_MODEL (the main thread) cannot be combined with other instance groups',
    );
  }
  return normalized;
}

function tensorSpecs(
  model: string,
  kind: 'input' | 'output',
  tensors: readonly { name: string; dataType: number; dims: bigint[]; optional?: boolean; reshape?: { shape: bigint[] } | undefined }[],
): TensorSpec[] {
  const seen = new Set<string>();
  return tensors.map((tensor, i) => {
    const field = `${model}: ${kind}[${i}]`;
    if (!tensor.name) throw InferenceError.invalidArgument(`${field}.name`, 'must not be empty');
    if (seen.has(tensor.name)) throw InferenceError.invalidArgument(`${field}.name`, `'${tensor.name}' is declared twice`);
    seen.add(tensor.name);
    const datatype: Datatype | undefined = CONFIG_TO_DATATYPE[tensor.dataType];
    if (!datatype) throw InferenceError.invalidArgument(`${field}.data_type`, `is not a valid data type (${tensor.dataType})`);
    const dims = numberDims(tensor.dims, `${field}.dims`);
    if (!tensor.reshape) return { name: tensor.name, datatype, dims, optional: tensor.optional ?? false };
    const reshape = numberDims(tensor.reshape.shape, `${field}.reshape.shape`);
    const problem = checkReshape(dims, reshape);
    if (problem) throw InferenceError.invalidArgument(`${field}.reshape.shape`, problem);
    return { name: tensor.name, datatype, dims, optional: tensor.optional ?? false, reshape };
  });
}

function numberDims(dims: readonly bigint[], field: string): number[] {
  return dims.map((dim) => {
    if (dim < -1n || dim > BigInt(Number.MAX_SAFE_INTEGER)) throw InferenceError.invalidArgument(field, `has an invalid dimension ${dim}`);
    return Number(dim);
  });
}

/** The codec's view of a config: declared inputs and outputs (as clients send and get them) and the batch limit. */
export function ioSpec(config: ModelConfig): IOSpec {
  return {
    modelName: config.name,
    maxBatchSize: config.maxBatchSize,
    inputs: tensorSpecs(config.name, 'input', config.input),
    outputs: tensorSpecs(config.name, 'output', config.output),
  };
}

/** config.pbtxt `parameters` as plain strings. */
export function configParameters(config: ModelConfig): Record<string, string> {
  const parameters = dictionary<string>();
  for (const [key, value] of config.parameters) parameters[key] = value.stringValue;
  return parameters;
}
