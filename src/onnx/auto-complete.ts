// Triton's config auto-complete for ONNX models, as pure functions of the declared config
// and the model's signature: fill what config.pbtxt leaves out, then check that what it
// declares is what the model is.
import type { ModelConfig, ModelDynamicBatching, ModelInput, ModelOutput } from '../../generated/model_config.js';
import { InferenceError } from '../errors.js';
import { CONFIG_TO_DATATYPE, DATATYPE_TO_CONFIG, type Datatype } from '../tensor/index.js';
import { formatOnnxShape, isOpenDim, type OnnxSignature, type OnnxTensorInfo } from './signature.js';

/** Triton's onnxruntime backend fills in this max_batch_size (its `default-max-batch-size`). */
export const DEFAULT_MAX_BATCH_SIZE = 4;

export interface AutoCompleteOptions {
  /** max_batch_size for a batchable model whose config leaves it at 0; Triton's default is 4. */
  readonly defaultMaxBatchSize?: number;
}

/** The first graph input or output that cannot carry a batch dimension, if any. */
function firstUnbatchable(signature: OnnxSignature): { kind: string; info: OnnxTensorInfo } | undefined {
  for (const [kind, infos] of [['input', signature.inputs], ['output', signature.outputs]] as const) {
    const info = infos.find((candidate) => candidate.shape.length === 0 || !isOpenDim(candidate.shape[0]!));
    if (info) return { kind, info };
  }
  return undefined;
}

/** The dims config.pbtxt states for a model tensor: without the batch dim, -1 for open ones, `[1]` for a scalar. */
function completedDims(info: OnnxTensorInfo, batching: boolean): { dims: bigint[]; reshape: { shape: bigint[] } | undefined } {
  const dims = info.shape.slice(batching ? 1 : 0).map((dim) => (isOpenDim(dim) ? -1n : BigInt(dim)));
  // A config cannot declare a scalar; as Triton, declare [1] and reshape it to the model's [].
  if (dims.length === 0) return { dims: [1n], reshape: { shape: [] } };
  return { dims, reshape: undefined };
}

function completedInput(info: OnnxTensorInfo, batching: boolean): ModelInput {
  return {
    name: info.name,
    dataType: DATATYPE_TO_CONFIG[info.datatype],
    format: 0,
    ...completedDims(info, batching),
    isShapeTensor: false,
    allowRaggedBatch: false,
    optional: false,
    isNonLinearFormatIo: false,
  };
}

function completedOutput(info: OnnxTensorInfo, batching: boolean): ModelOutput {
  return {
    name: info.name,
    dataType: DATATYPE_TO_CONFIG[info.datatype],
    ...completedDims(info, batching),
    labelFilename: '',
    isShapeTensor: false,
    isNonLinearFormatIo: false,
  };
}

function emptyDynamicBatching(): ModelDynamicBatching {
  return {
    preferredBatchSize: [],
    maxQueueDelayMicroseconds: 0n,
    preserveOrdering: false,
    priorityLevels: 0n,
    defaultPriorityLevel: 0n,
    defaultQueuePolicy: undefined,
    priorityQueuePolicy: new Map(),
  };
}

/**
 * Fills in a config from the model, as Triton's onnxruntime backend does:
 * - a config that declares both inputs and outputs is returned as it is;
 * - a model whose every input and output has an open first dimension is batchable: a
 *   max_batch_size of 0 becomes `defaultMaxBatchSize` (4), and a batching model without a
 *   scheduler gets `dynamic_batching { }`; a non-zero max_batch_size on a model that cannot
 *   batch fails, naming the tensor;
 * - missing inputs (outputs) are all the model's inputs (outputs), in graph order, with their
 *   dims after the batch dimension and -1 for open ones.
 * Check the result with checkConfigAgainstModel.
 */
export function autoCompleteConfig(config: ModelConfig, signature: OnnxSignature, options: AutoCompleteOptions = {}): ModelConfig {
  if (config.input.length > 0 && config.output.length > 0) return config;
  let maxBatchSize = config.maxBatchSize;
  let dynamicBatching = config.dynamicBatching;
  const unbatchable = firstUnbatchable(signature);
  if (unbatchable === undefined) {
    if (maxBatchSize === 0) maxBatchSize = Math.max(options.defaultMaxBatchSize ?? DEFAULT_MAX_BATCH_SIZE, 0);
    if (maxBatchSize > 1 && dynamicBatching === undefined && config.sequenceBatching === undefined) {
      dynamicBatching = emptyDynamicBatching();
    }
  } else if (maxBatchSize !== 0) {
    throw new InferenceError(
      'INVALID_ARGUMENT',
      `max_batch_size ${maxBatchSize} needs every input and output of the model to have an open first dimension, ` +
        `but ${unbatchable.kind} '${unbatchable.info.name}' has shape ${formatOnnxShape(unbatchable.info.shape)}`,
    );
  }
  const batching = maxBatchSize > 0;
  return {
    ...config,
    maxBatchSize,
    dynamicBatching,
    input: config.input.length > 0 ? config.input : signature.inputs.map((info) => completedInput(info, batching)),
    output: config.output.length > 0 ? config.output : signature.outputs.map((info) => completedOutput(info, batching)),
  };
}

/** `TYPE_FP32`, `TYPE_STRING`: a datatype as config.pbtxt spells it. */
function configTypeName(datatype: Datatype | undefined, dataType: number): string {
  if (datatype === undefined) return `data type ${dataType}`;
  return `TYPE_${datatype === 'BYTES' ? 'STRING' : datatype}`;
}

interface DeclaredTensor {
  readonly name: string;
  readonly dataType: number;
  readonly dims: readonly bigint[];
  readonly reshape: { readonly shape: readonly bigint[] } | undefined;
}

function describeDeclared(tensor: DeclaredTensor, full: readonly bigint[], batching: boolean): string {
  const reshape = tensor.reshape ? ` reshaped to ${formatOnnxShape(tensor.reshape.shape)}` : '';
  const withBatch = batching ? ` (with the batch dimension: ${formatOnnxShape(full)})` : '';
  return `dims ${formatOnnxShape(tensor.dims)}${reshape}${withBatch}`;
}

function checkTensor(kind: 'input' | 'output', tensor: DeclaredTensor, info: OnnxTensorInfo, maxBatchSize: number): void {
  const what = `${kind} '${tensor.name}'`;
  const declaredType: Datatype | undefined = CONFIG_TO_DATATYPE[tensor.dataType];
  if (declaredType !== info.datatype) {
    throw new InferenceError(
      'INVALID_ARGUMENT',
      `${what}: config.pbtxt declares ${configTypeName(declaredType, tensor.dataType)}, ` +
        `the model has ${configTypeName(info.datatype, 0)} (${info.ortType})`,
    );
  }
  const batching = maxBatchSize > 0;
  if (batching && (info.shape.length === 0 || !isOpenDim(info.shape[0]!))) {
    throw new InferenceError(
      'INVALID_ARGUMENT',
      `${what}: max_batch_size ${maxBatchSize} needs an open first dimension, the model has ${formatOnnxShape(info.shape)}`,
    );
  }
  const full = [...(batching ? [-1n] : []), ...(tensor.reshape?.shape ?? tensor.dims)];
  const fits =
    full.length === info.shape.length &&
    info.shape.every((dim, i) => isOpenDim(dim) || BigInt(dim) === full[i]);
  if (!fits) {
    throw new InferenceError(
      'INVALID_ARGUMENT',
      `${what}: config.pbtxt declares ${describeDeclared(tensor, full, batching)}, ` +
        `the model has shape ${formatOnnxShape(info.shape)}`,
    );
  }
}

function names(infos: readonly { name: string }[]): string {
  return infos.map((info) => `'${info.name}'`).join(', ') || 'none';
}

/**
 * Checks a config against the model it serves, as Triton does when it loads an ONNX model:
 * every model input is declared, every declared input and output is the model's, with the
 * model's datatype and a shape the model accepts (a model dimension that is open accepts any
 * declared one; a fixed one needs the same), and no input is optional (onnxruntime-node lists
 * only the inputs a run needs). Fails INVALID_ARGUMENT naming the tensor with both sides.
 */
export function checkConfigAgainstModel(config: ModelConfig, signature: OnnxSignature): void {
  for (const [kind, declared, infos] of [
    ['input', config.input, signature.inputs],
    ['output', config.output, signature.outputs],
  ] as const) {
    for (const tensor of declared) {
      const info = infos.find((candidate) => candidate.name === tensor.name);
      if (info === undefined) {
        throw new InferenceError(
          'INVALID_ARGUMENT',
          `${kind} '${tensor.name}': config.pbtxt declares it, the model has no such ${kind} (its ${kind}s: ${names(infos)})`,
        );
      }
      checkTensor(kind, tensor, info, config.maxBatchSize);
    }
  }
  for (const tensor of config.input) {
    if (tensor.optional) {
      throw new InferenceError(
        'INVALID_ARGUMENT',
        `input '${tensor.name}': config.pbtxt declares it optional, but onnxruntime runs the graph only with every one of its inputs`,
      );
    }
  }
  for (const info of signature.inputs) {
    if (!config.input.some((tensor) => tensor.name === info.name)) {
      throw new InferenceError(
        'INVALID_ARGUMENT',
        `input '${info.name}': the model needs it (${configTypeName(info.datatype, 0)} ${formatOnnxShape(info.shape)}), ` +
          `config.pbtxt does not declare it (declared: ${names(config.input)})`,
      );
    }
  }
}
