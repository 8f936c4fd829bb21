// Triton's repository layout on disk: <root>/<model>/config.pbtxt and <root>/<model>/<version>/,
// and the path safety around it: a model name is one plain directory name that stays inside
// the repository, a version is a decimal directory name.
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { ModelConfig } from '../../generated/model_config.js';
import { isEnsemble } from '../ensemble/index.js';
import { InferenceError } from '../errors.js';
import { parseConfigText } from './model-config.js';

export const VERSION_DIRECTORY = /^(0|[1-9][0-9]*)$/;
const MODEL_NAME = /^[A-Za-z0-9_.-]+$/;

/** The model directories of the repository, sorted: plain names, not hidden, not node_modules. */
export function scanModels(root: string): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && isModelName(entry.name) && entry.name !== 'node_modules')
    .map((entry) => entry.name)
    .sort();
}

function isModelName(name: string): boolean {
  return MODEL_NAME.test(name) && !name.startsWith('.');
}

/**
 * A model name is one directory name: no separator, no '..', no NUL, no %-encoding, and
 * not hidden (the scan skips those too), so it cannot name a path outside the repository.
 */
export function checkModelName(name: string): void {
  if (!isModelName(name)) throw InferenceError.invalidArgument('model_name', `'${name}' is not a valid model name`);
}

/** A model directory that is a symlink must still resolve to a place inside the repository. */
export function checkInside(root: string, dir: string, name: string): void {
  const path = relative(realpathSync(root), realpathSync(dir));
  if (path === '' || path === '..' || path.startsWith(`..${sep}`) || isAbsolute(path)) {
    throw InferenceError.invalidArgument('model_name', `'${name}' resolves to a directory outside the model repository`);
  }
}

/** A requested version: a decimal number, as the version directories are named. */
export function parseVersion(name: string, version: string): string {
  if (!VERSION_DIRECTORY.test(version)) {
    throw new InferenceError(
      'INVALID_ARGUMENT',
      `failed to get model version from specified version string '${version}' for model '${name}'`,
    );
  }
  return version;
}

/** The version directories the config's version_policy selects, highest first. */
export function selectVersions(dir: string, config: ModelConfig): string[] {
  const available = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && VERSION_DIRECTORY.test(entry.name))
    .map((entry) => entry.name)
    .sort((a, b) => Number(b) - Number(a));
  const policy = config.versionPolicy;
  if (policy?.all) return available;
  if (policy?.specific) {
    const wanted = new Set(policy.specific.versions.map(String));
    return available.filter((v) => wanted.has(v));
  }
  return available.slice(0, Math.max(1, policy?.latest?.numVersions ?? 1));
}

/** config.pbtxt of a model directory; a missing file is an empty config (Triton's auto-complete fills it in). */
export function readModelConfig(dir: string): ModelConfig {
  const file = join(dir, 'config.pbtxt');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  return parseConfigText(text, file);
}

/**
 * The step models an ensemble's config.pbtxt names, read from disk before they are loaded.
 * None for a model that is no ensemble, or whose name or config is bad: its own load says why.
 */
export function stepModelsOnDisk(root: string, model: string): string[] {
  let config: ModelConfig;
  try {
    checkModelName(model);
    config = readModelConfig(join(root, model));
  } catch {
    return [];
  }
  return isEnsemble(config) ? (config.ensembleScheduling?.step ?? []).map((step) => step.modelName) : [];
}
