// The backends the server offers besides model modules, and their --backend-config settings.
// The repository gets this table from startServer instead of importing src/onnx: importing
// it loads onnxruntime's native library, which only a server with ONNX models should pay
// for, so the backend's code is imported here, lazily, the first time a model needs it.
import { fileURLToPath } from 'node:url';
import type { ModelConfig } from '../generated/model_config.js';
import type { ModelBackend } from './repository/index.js';

/** A --backend-config setting: Triton's name, an integer within bounds, and Triton's default. */
interface IntegerSetting {
  readonly min: number;
  readonly max: number;
  readonly default: number;
  readonly help: string;
}

/** What --backend-config=<backend>,<key>=<value> may set, per backend. */
export const BACKEND_SETTINGS = {
  onnxruntime: {
    'default-max-batch-size': {
      min: 0,
      max: 2 ** 31 - 1,
      // Triton's: auto-complete gives a batchable model max_batch_size 4 unless told otherwise.
      default: 4,
      help: 'max_batch_size auto-complete gives a model whose inputs and outputs all have an open first dimension; 0 = no batching',
    },
  },
} as const satisfies Record<string, Record<string, IntegerSetting>>;

export type BackendName = keyof typeof BACKEND_SETTINGS;

/** Every setting of every backend, its default when not given. */
export type BackendSettings = { readonly [B in BackendName]: { readonly [K in keyof (typeof BACKEND_SETTINGS)[B]]: number } };

export function defaultBackendSettings(): BackendSettings {
  return { onnxruntime: { 'default-max-batch-size': BACKEND_SETTINGS.onnxruntime['default-max-batch-size'].default } };
}

/** The zero-code ONNX model module, beside this file in src/ (through tsx) or dist/src/. */
const ONNX_MODEL_MODULE = fileURLToPath(new URL('./onnx/zero-code-model.js', import.meta.url));

/** The backends, configured. */
export function modelBackends(settings: BackendSettings): ModelBackend[] {
  return [
    {
      name: 'onnxruntime',
      platform: 'onnxruntime_onnx',
      modelFileExtension: '.onnx',
      modelModule: ONNX_MODEL_MODULE,
      // onnxruntime-node's run() holds the thread that calls it for the whole execution: on
      // the main thread that would stop every other request, health check and model. One
      // worker keeps the event loop free; more sessions only help when one cannot use the
      // cores, which onnxruntime's own intra-op threads already do.
      defaultWorkers: 1,
      async autoComplete(config: ModelConfig, versionPath: string, version: string): Promise<ModelConfig> {
        const onnx = await import('./onnx/index.js');
        const signature = await onnx.readOnnxSignature(onnx.findOnnxModelFile(versionPath, config.defaultModelFilename, version));
        return onnx.autoCompleteConfig(config, signature, { defaultMaxBatchSize: settings.onnxruntime['default-max-batch-size'] });
      },
    },
  ];
}
