// Which file of a version directory is the ONNX model: the same answer for config
// auto-complete (the repository, before any instance exists) and for each instance's session.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceError } from '../errors.js';

/** Triton's onnxruntime backend reads this file unless config.pbtxt names another. */
export const DEFAULT_ONNX_MODEL_FILENAME = 'model.onnx';

/**
 * The model file of a version directory: `default_model_filename` when the config names one
 * (and it must be there), else `model.onnx`, else the first `.onnx` file by name.
 */
export function findOnnxModelFile(versionPath: string, defaultModelFilename: string, version: string): string {
  const files = readdirSync(versionPath, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name)
    .sort();
  if (defaultModelFilename) {
    if (!files.includes(defaultModelFilename)) {
      throw new InferenceError('INVALID_ARGUMENT', `default_model_filename '${defaultModelFilename}' is not a file of version ${version}`);
    }
    return join(versionPath, defaultModelFilename);
  }
  const file = files.includes(DEFAULT_ONNX_MODEL_FILENAME) ? DEFAULT_ONNX_MODEL_FILENAME : files.find((name) => name.endsWith('.onnx'));
  if (file === undefined) throw new InferenceError('INVALID_ARGUMENT', `version ${version} has no .onnx model file`);
  return join(versionPath, file);
}
