// config.pbtxt → onnxruntime SessionOptions, with the parameter names and the meaning of
// `optimization { graph { level } }` that Triton's onnxruntime backend gives them, so a
// Triton model repository behaves the same here.
import type { InferenceSession } from 'onnxruntime-node';
import type { ModelConfig } from '../../generated/model_config.js';
import { InferenceError } from '../errors.js';

export type OrtSessionOptions = InferenceSession.SessionOptions;
export type GraphOptimizationLevel = NonNullable<OrtSessionOptions['graphOptimizationLevel']>;

/**
 * Triton's `optimization.graph.level`: -1 basic, 1 extended, 2 disabled; 0, absent or any
 * other value keep onnxruntime's default, every optimization.
 */
export function graphOptimizationLevel(level: number | undefined): GraphOptimizationLevel {
  switch (level) {
    case -1:
      return 'basic';
    case 1:
      return 'extended';
    case 2:
      return 'disabled';
    default:
      return 'all';
  }
}

/** Triton's names for the GPU accelerators it hands to onnxruntime; both need the CUDA provider libraries. */
const GPU_EXECUTION_PROVIDERS: ReadonlyMap<string, 'cuda' | 'tensorrt'> = new Map([
  ['cuda', 'cuda'],
  ['tensorrt', 'tensorrt'],
]);

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off']);

function parameterError(key: string, problem: string): InferenceError {
  return InferenceError.invalidArgument(`parameters.${key}`, problem);
}

/** A thread count: 0 (or absent) leaves the choice to onnxruntime, as in Triton. */
function threadCount(parameters: ReadonlyMap<string, string>, key: string): number | undefined {
  const text = parameters.get(key);
  if (text === undefined) return undefined;
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isSafeInteger(value) || value < 0) {
    throw parameterError(key, `must be a whole number >= 0, got '${text}'`);
  }
  return value === 0 ? undefined : value;
}

function flag(parameters: ReadonlyMap<string, string>, key: string): boolean | undefined {
  const text = parameters.get(key);
  if (text === undefined) return undefined;
  const word = text.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw parameterError(key, `must be 1/true or 0/false, got '${text}'`);
}

function executionMode(parameters: ReadonlyMap<string, string>): OrtSessionOptions['executionMode'] {
  const text = parameters.get('execution_mode');
  if (text === undefined) return undefined;
  if (text.trim() === '0') return 'sequential';
  if (text.trim() === '1') return 'parallel';
  throw parameterError('execution_mode', `must be 0 (sequential) or 1 (parallel), got '${text}'`);
}

function executionProviders(config: ModelConfig): OrtSessionOptions['executionProviders'] {
  const accelerators = config.optimization?.executionAccelerators;
  const cpu = accelerators?.cpuExecutionAccelerator ?? [];
  if (cpu.length > 0) {
    // Triton's only CPU accelerator for onnxruntime is OpenVINO, which onnxruntime-node lacks.
    throw InferenceError.invalidArgument(
      'optimization.execution_accelerators.cpu_execution_accelerator',
      `names '${cpu[0]!.name}': onnxruntime-node has no CPU accelerators besides its default`,
    );
  }
  const gpu = (accelerators?.gpuExecutionAccelerator ?? []).map((accelerator) => {
    const provider = GPU_EXECUTION_PROVIDERS.get(accelerator.name);
    if (provider === undefined) {
      throw InferenceError.invalidArgument(
        'optimization.execution_accelerators.gpu_execution_accelerator',
        `names unknown accelerator '${accelerator.name}' (known: ${[...GPU_EXECUTION_PROVIDERS.keys()].join(', ')})`,
      );
    }
    return provider;
  });
  // The CPU provider last: nodes the GPU providers cannot run fall back to it.
  return [...gpu, 'cpu'];
}

/**
 * SessionOptions for one model, from its config.pbtxt:
 * - `parameters` `intra_op_thread_count` / `inter_op_thread_count` (0: onnxruntime's default),
 *   `execution_mode` (0 sequential, 1 parallel), `enable_mem_arena`, `enable_mem_pattern`;
 * - `optimization { graph { level } }` (see graphOptimizationLevel);
 * - `optimization { execution_accelerators { gpu_execution_accelerator [ { name: "cuda" } ] } }`
 *   puts the CUDA (or `tensorrt`) provider before the CPU one.
 * A malformed value fails INVALID_ARGUMENT naming the parameter.
 */
export function sessionOptionsFromConfig(config: ModelConfig): OrtSessionOptions {
  const parameters = new Map([...config.parameters].map(([key, value]) => [key, value.stringValue]));
  const options: OrtSessionOptions = {
    executionProviders: executionProviders(config),
    graphOptimizationLevel: graphOptimizationLevel(config.optimization?.graph?.level),
  };
  const intra = threadCount(parameters, 'intra_op_thread_count');
  const inter = threadCount(parameters, 'inter_op_thread_count');
  const mode = executionMode(parameters);
  const arena = flag(parameters, 'enable_mem_arena');
  const pattern = flag(parameters, 'enable_mem_pattern');
  return {
    ...options,
    ...(intra !== undefined && { intraOpNumThreads: intra }),
    ...(inter !== undefined && { interOpNumThreads: inter }),
    ...(mode !== undefined && { executionMode: mode }),
    ...(arena !== undefined && { enableCpuMemArena: arena }),
    ...(pattern !== undefined && { enableMemPattern: pattern }),
  };
}
