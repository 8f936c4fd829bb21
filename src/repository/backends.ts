// Backends besides the default one (a model module in TypeScript): which configs select one,
// what it settles in a config from its model file before the version loads, and which
// module serves a version that brings no code. The server passes the table in (src/backends.ts),
// so the repository never imports a backend: its native libraries load only for its models.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ModelInstanceGroup, ModelInstanceGroup_Kind, type ModelConfig } from '../../generated/model_config.js';
import { findModelModule } from '../model/index.js';

export interface ModelBackend {
  /** config.pbtxt `backend`, e.g. 'onnxruntime'. */
  readonly name: string;
  /** config.pbtxt `platform`, e.g. 'onnxruntime_onnx'. */
  readonly platform: string;
  /** Its model files end so, e.g. '.onnx': a version with one and no model module is this backend's. */
  readonly modelFileExtension: string;
  /** The module whose default export serves a version without a model module of its own. */
  readonly modelModule: string;
  /**
   * Worker instances for a config without instance_group: a backend whose execution holds
   * the calling thread (onnxruntime-node's run()) must not run on the main thread by default.
   */
  readonly defaultWorkers: number;
  /** Config auto-complete: fills what config.pbtxt leaves out from the model file; a throw fails the load. */
  autoComplete(config: ModelConfig, versionPath: string, version: string): Promise<ModelConfig>;
}

export interface BackendOptions {
  readonly backends: readonly ModelBackend[];
  /** Off (--disable-auto-complete-config): the config says which backend and declares every tensor. */
  readonly autoComplete: boolean;
}

function holdsModelFile(versionPath: string, extension: string): boolean {
  if (!existsSync(versionPath)) return false;
  return readdirSync(versionPath, { withFileTypes: true }).some((entry) => entry.isFile() && entry.name.endsWith(extension));
}

function hasModelModule(versionPath: string): boolean {
  try {
    findModelModule(versionPath);
    return true;
  } catch {
    return false;
  }
}

/**
 * The backend a model runs on, undefined for the default one. A config that names a platform
 * or backend gets that one. A config that names neither (or no config.pbtxt at all) is, with
 * auto-complete on and as in Triton, the backend whose model file `versionPath` holds, unless
 * the version has a model module.
 */
export function selectBackend(config: ModelConfig, versionPath: string, options: BackendOptions): ModelBackend | undefined {
  if (config.platform || config.backend) {
    return options.backends.find((backend) => backend.platform === config.platform || backend.name === config.backend);
  }
  if (!options.autoComplete || hasModelModule(versionPath)) return undefined;
  return options.backends.find((backend) => holdsModelFile(versionPath, backend.modelFileExtension));
}

function workerGroup(count: number): ModelInstanceGroup {
  return ModelInstanceGroup.fromPartial({ kind: ModelInstanceGroup_Kind.KIND_CPU, count });
}

/**
 * The config a backend's model loads with: platform and backend both named (as Triton fills
 * them in), auto-completed from the model file of `version` when auto-complete is on, and the
 * backend's default instances when config.pbtxt has no instance_group.
 */
export async function completeBackendConfig(
  config: ModelConfig,
  backend: ModelBackend,
  dir: string,
  version: string,
  autoComplete: boolean,
): Promise<ModelConfig> {
  const named: ModelConfig = { ...config, platform: config.platform || backend.platform, backend: config.backend || backend.name };
  const completed = autoComplete ? await backend.autoComplete(named, join(dir, version), version) : named;
  if (completed.instanceGroup.length > 0 || backend.defaultWorkers === 0) return completed;
  return { ...completed, instanceGroup: [workerGroup(backend.defaultWorkers)] };
}
