// Triton's model repository: <root>/<model>/config.pbtxt and <root>/<model>/<version>/model.ts.
// Knows which models and versions exist, loads them asynchronously, routes requests to
// versions, and answers the repository and statistics questions.
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Logger } from 'pino';
import type { ModelConfig } from '../../generated/model_config.js';
import { InferenceError, errorMessage } from '../errors.js';
import { dictionary } from '../dictionary.js';
import type { EventSink, ModelState } from '../events.js';
import type { TensorSpec } from '../tensor/index.js';
import { configParameters, ioSpec, normalizeConfig, parseConfigText } from './model-config.js';
import { createInstance, findModelModule, type ModelInstance } from './model-instance.js';
import type { ModelContext } from './model-server.js';
import { writeModelOverride, type ModelOverride } from './model-override.js';
import { ModelVersion, type VersionLimits } from './model-version.js';
import type { VersionStatistics } from './statistics.js';
import type { InferCall, InferResult, Parameters } from './types.js';

export type ControlMode = 'none' | 'explicit' | 'poll';

/** Creates the instance(s) a version runs on; the default follows config.pbtxt's instance_group. */
export type InstanceFactory = (modulePath: string, generation: number, context: ModelContext) => Promise<ModelInstance>;

export interface RepositoryOptions {
  readonly root: string;
  readonly controlMode: ControlMode;
  /** explicit mode: the models loaded at start ('*' = all). */
  readonly startupModels: readonly string[];
  readonly strictReadiness: boolean;
  readonly serverParameters: Parameters;
  readonly logger: Logger;
  readonly events: EventSink;
  /** Default bound on how long a request waits for a loading model (config parameter `load_wait_ms`). */
  readonly loadWaitMs: number;
  /** Server-wide defaults for the queue bound and execution timeout (config.pbtxt overrides). */
  readonly versionLimits?: VersionLimits;
  readonly createInstance?: InstanceFactory;
}

export interface TensorMetadata {
  readonly name: string;
  readonly datatype: string;
  readonly shape: number[];
}

export interface ModelMetadata {
  readonly name: string;
  readonly versions: string[];
  readonly platform: string;
  readonly inputs: TensorMetadata[];
  readonly outputs: TensorMetadata[];
}

export interface IndexEntry {
  readonly name: string;
  readonly version: string;
  readonly state: ModelState | '';
  readonly reason: string;
}

export interface VersionStatisticsEntry {
  readonly name: string;
  readonly version: string;
  readonly statistics: VersionStatistics;
}

interface ModelEntry {
  readonly name: string;
  config: ModelConfig | undefined;
  versions: Map<string, ModelVersion>;
  /** Why the model as a whole is unavailable (bad config, no versions). */
  reason: string;
  /** Whether the model was asked to be loaded (counts for strict readiness). */
  wanted: boolean;
  /** The files sent with RepositoryModelLoad that the loaded versions run from, if any. */
  override?: ModelOverride | undefined;
}

const VERSION_DIRECTORY = /^(0|[1-9][0-9]*)$/;
const MODEL_NAME = /^[A-Za-z0-9_.-]+$/;
const DEFAULT_BATCH_DIM = -1;

export class ModelRepository {
  private readonly models = new Map<string, ModelEntry>();
  private readonly root: string;
  private generation = 0;
  private readonly pending = new Set<Promise<unknown>>();
  /** Per model: the last load or unload asked for; the next one starts after it. */
  private readonly busy = new Map<string, Promise<void>>();
  private readonly createInstance: InstanceFactory;

  constructor(private readonly options: RepositoryOptions) {
    this.root = resolve(options.root);
    // In-process, or worker threads when config.pbtxt has KIND_CPU instance groups.
    this.createInstance = options.createInstance ?? createInstance;
  }

  /** Scans the repository and starts loading what the control mode says; loads finish in the background. */
  start(): void {
    if (!existsSync(this.root) || !statSync(this.root).isDirectory()) {
      throw new InferenceError('INVALID_ARGUMENT', `model repository ${this.root} is not a directory`);
    }
    const names = this.scan();
    const { controlMode, startupModels } = this.options;
    const all = controlMode !== 'explicit' || startupModels.includes('*');
    for (const name of names) {
      this.models.set(name, { name, config: undefined, versions: new Map(), reason: '', wanted: false });
    }
    const toLoad = all ? names : startupModels;
    for (const name of toLoad) this.track(this.loadModel(name).catch(() => undefined));
  }

  /** Resolves when every load started so far has finished (successfully or not). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private track(promise: Promise<unknown>): void {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
  }

  private scan(): string[] {
    return readdirSync(this.root, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && MODEL_NAME.test(entry.name) && !entry.name.startsWith('.'))
      .filter((entry) => entry.name !== 'node_modules')
      .map((entry) => entry.name)
      .sort();
  }

  /**
   * Loads (or reloads) a model: every version its policy selects. Loads and unloads of
   * one model run one at a time, in the order asked.
   */
  loadModel(name: string, configOverride?: ModelConfig, files?: ReadonlyMap<string, Uint8Array>): Promise<void> {
    checkModelName(name);
    if (files && files.size > 0 && !configOverride) {
      throw InferenceError.invalidArgument('parameters', "'file:' parameters need the 'config' parameter too");
    }
    return this.exclusive(name, () => this.load(name, configOverride, files));
  }

  /** Runs `task` after every earlier load or unload of `name` has finished. */
  private exclusive<T>(name: string, task: () => Promise<T>): Promise<T> {
    const previous = this.busy.get(name) ?? Promise.resolve();
    const run = previous.then(task);
    const done = run.then(
      () => undefined,
      () => undefined,
    );
    this.busy.set(name, done);
    void done.then(() => {
      if (this.busy.get(name) === done) this.busy.delete(name);
    });
    return run;
  }

  private async load(
    name: string,
    configOverride: ModelConfig | undefined,
    files: ReadonlyMap<string, Uint8Array> | undefined,
  ): Promise<void> {
    const override = files && files.size > 0 ? writeModelOverride(name, files) : undefined;
    try {
      await this.loadFrom(override?.directory ?? join(this.root, name), name, configOverride, override);
    } catch (err) {
      override?.remove();
      throw err;
    }
  }

  private async loadFrom(
    dir: string,
    name: string,
    configOverride: ModelConfig | undefined,
    override: ModelOverride | undefined,
  ): Promise<void> {
    if (!override) {
      if (!existsSync(dir)) {
        throw new InferenceError('INTERNAL', `failed to load '${name}', failed to poll from model repository`);
      }
      checkInside(this.root, dir, name);
    }
    let entry = this.models.get(name);
    if (!entry) {
      entry = { name, config: undefined, versions: new Map(), reason: '', wanted: true };
      this.models.set(name, entry);
    }
    entry.wanted = true;
    const log = this.options.logger.child({ model: name });
    const previous = entry.versions;
    // Triton: "If an already loaded model fails to reload for any reason the already
    // loaded model will remain unchanged and loaded."
    const serving = [...previous.values()].some((v) => v.ready);
    let config: ModelConfig;
    let versions: string[];
    try {
      config = normalizeConfig(configOverride ?? this.readConfig(dir), name);
      versions = selectVersions(dir, config);
      if (versions.length === 0) throw new InferenceError('INVALID_ARGUMENT', `no version directory to load in ${dir}`);
    } catch (err) {
      const reason = `failed to load '${name}': ${errorMessage(err)}`;
      if (serving) {
        log.error({ reason }, 'model failed to reload; the loaded versions go on serving');
      } else {
        log.error({ reason }, 'model failed to load');
        entry.reason = reason;
        entry.versions = new Map();
        await Promise.all([...previous.values()].map((v) => v.unload()));
      }
      throw new InferenceError('INVALID_ARGUMENT', reason, { cause: err });
    }
    const generation = ++this.generation;
    const fresh = new Map<string, ModelVersion>();
    for (const version of versions) fresh.set(version, this.startVersion(name, version, config, dir, generation, log));
    // While the new versions load, the ready old ones go on serving: a request for a
    // version goes to the old one if it is ready, else waits for the new one.
    const loading = new Map<string, ModelVersion>();
    for (const version of new Set([...fresh.keys(), ...previous.keys()])) {
      const old = previous.get(version);
      const candidate = old?.ready ? old : fresh.get(version);
      if (candidate) loading.set(version, candidate);
    }
    entry.versions = sortedVersions(loading);
    if (!serving) entry.reason = '';
    const results = await Promise.allSettled([...fresh.values()].map((v) => v.whenLoaded()));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const replaced = failure && serving ? fresh : previous;
    if (failure && serving) {
      entry.versions = previous;
      log.error({ reason: errorMessage(failure.reason) }, 'model failed to reload; the loaded versions go on serving');
    } else {
      entry.config = config;
      entry.reason = '';
      entry.versions = fresh;
    }
    const replacedOverride = failure && serving ? override : entry.override;
    if (!(failure && serving)) entry.override = override;
    // Requests already running on the replaced versions finish first.
    await Promise.all([...replaced.values()].map((v) => v.unload()));
    replacedOverride?.remove();
    this.announceReady(entry, replaced);
    if (failure) {
      throw new InferenceError('INVALID_ARGUMENT', `failed to load '${name}': ${errorMessage(failure.reason)}`);
    }
  }

  /**
   * A replaced version reports UNLOADING and UNAVAILABLE after its successor (same model
   * and version) reported READY; say READY again so that side paths end on the truth.
   */
  private announceReady(entry: ModelEntry, replaced: ReadonlyMap<string, ModelVersion>): void {
    for (const v of entry.versions.values()) {
      if (!v.ready || !replaced.has(v.version)) continue;
      this.options.events.emit({
        kind: 'model-state',
        modelClass: v.modelClass,
        model: v.name,
        version: v.version,
        state: v.state,
        reason: v.reason,
        labels: dictionary(v.config.metricTags),
        path: v.path,
      });
    }
  }

  private readConfig(dir: string): ModelConfig {
    const file = join(dir, 'config.pbtxt');
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    return parseConfigText(text, file);
  }

  private startVersion(
    name: string,
    version: string,
    config: ModelConfig,
    dir: string,
    generation: number,
    modelLog: Logger,
  ): ModelVersion {
    const path = join(dir, version);
    const io = ioSpec(config);
    const parameters = configParameters(config);
    const loadWaitMs = Number(parameters['load_wait_ms'] ?? this.options.loadWaitMs);
    const log = modelLog.child({ version });
    const modelVersion = new ModelVersion(name, version, config, io, path, this.options.events, loadWaitMs, this.options.versionLimits, log);
    const context: ModelContext = {
      name,
      version,
      config,
      io,
      parameters,
      serverParameters: this.options.serverParameters,
      versionPath: path,
      logger: log,
    };
    const started = process.hrtime.bigint();
    const loading = (async () => {
      try {
        modelVersion.checkSettings();
        const instance = await this.createInstance(findModelModule(path), generation, context);
        modelVersion.loadSettled({ instance });
        log.info({ loadMs: Number(process.hrtime.bigint() - started) / 1e6 }, 'model loaded');
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        modelVersion.loadSettled({ error });
        log.error({ err: error }, 'model failed to load');
      }
    })();
    this.track(loading);
    return modelVersion;
  }

  /** Unloads every version of a model; in-flight requests finish first. Unknown models are fine, as in Triton. */
  unloadModel(name: string): Promise<void> {
    checkModelName(name);
    return this.exclusive(name, async () => {
      const entry = this.models.get(name);
      if (!entry) return;
      entry.wanted = false;
      await Promise.all([...entry.versions.values()].map((v) => v.unload()));
      entry.override?.remove();
      entry.override = undefined;
    });
  }

  /** Poll mode: the model's directory is gone. Unloads it and forgets it. */
  removeModel(name: string): Promise<void> {
    return this.exclusive(name, async () => {
      const entry = this.models.get(name);
      if (!entry) return;
      this.models.delete(name);
      await Promise.all([...entry.versions.values()].map((v) => v.unload()));
    });
  }

  /** The absolute path of the repository. */
  get directory(): string {
    return this.root;
  }

  /** The model directories in the repository now, sorted. */
  modelDirectories(): string[] {
    return this.scan();
  }

  /** Whether the control mode lets clients load and unload models. */
  checkExplicitControl(): void {
    if (this.options.controlMode !== 'explicit') {
      throw new InferenceError(
        'UNAVAILABLE',
        `explicit model load / unload is not allowed if the model control mode is '${this.options.controlMode}' (start with --model-control-mode=explicit)`,
      );
    }
  }

  /** Strict: every model that should be loaded has all its versions ready. */
  serverReady(): boolean {
    if (!this.options.strictReadiness) return true;
    for (const entry of this.models.values()) {
      if (!entry.wanted) continue;
      if (entry.reason || entry.versions.size === 0) return false;
      for (const version of entry.versions.values()) if (!version.ready) return false;
    }
    return true;
  }

  modelReady(name: string, version: string): boolean {
    const entry = this.models.get(name);
    if (!entry) return false;
    if (version) return entry.versions.get(parseVersion(name, version))?.ready ?? false;
    return [...entry.versions.values()].some((v) => v.ready);
  }

  /** The version a request goes to: exactly the one named, else the highest ready one. */
  resolve(name: string, version: string): ModelVersion {
    const entry = this.models.get(name);
    if (!entry || (entry.versions.size === 0 && !entry.reason && !entry.wanted)) {
      throw InferenceError.modelNotFound(name);
    }
    if (version) {
      const found = entry.versions.get(parseVersion(name, version));
      if (!found) throw InferenceError.modelNotFound(name, version);
      return found;
    }
    const candidates = [...entry.versions.values()].sort((a, b) => Number(b.version) - Number(a.version));
    const ready = candidates.find((v) => v.ready) ?? candidates.find((v) => v.state === 'LOADING');
    if (!ready) {
      const why = entry.reason ? `: ${entry.reason}` : '';
      // Unloaded on purpose: gone, as Triton answers. Failed to load: there but unavailable.
      const code = entry.wanted ? 'UNAVAILABLE' : 'NOT_FOUND';
      throw new InferenceError(code, `Request for unknown model: '${name}' has no available versions${why}`);
    }
    return ready;
  }

  infer(call: InferCall, signal: AbortSignal): Promise<InferResult> {
    return this.resolve(call.model, call.version).infer(call, signal);
  }

  metadata(name: string, version: string): ModelMetadata {
    const resolved = this.resolve(name, version);
    const entry = this.models.get(name) as ModelEntry;
    const { config } = resolved;
    const versions = version
      ? [resolved.version]
      : [...entry.versions.values()].filter((v) => v.ready).map((v) => v.version);
    const batch = config.maxBatchSize > 0;
    const tensor = (spec: TensorSpec): TensorMetadata => ({
      name: spec.name,
      datatype: spec.datatype,
      shape: batch ? [DEFAULT_BATCH_DIM, ...spec.dims] : [...spec.dims],
    });
    return {
      name,
      versions: versions.length > 0 ? versions : [resolved.version],
      platform: config.platform || config.backend,
      inputs: resolved.io.inputs.map(tensor),
      outputs: resolved.io.outputs.map(tensor),
    };
  }

  config(name: string, version: string): ModelConfig {
    return this.resolve(name, version).config;
  }

  index(readyOnly: boolean): IndexEntry[] {
    const entries: IndexEntry[] = [];
    const names = new Set([...this.scan(), ...this.models.keys()]);
    for (const name of [...names].sort()) {
      const entry = this.models.get(name);
      if (!entry || (entry.versions.size === 0 && !entry.reason)) {
        if (!readyOnly) entries.push({ name, version: '', state: '', reason: '' });
        continue;
      }
      if (entry.versions.size === 0) {
        if (!readyOnly) entries.push({ name, version: '', state: 'UNAVAILABLE', reason: entry.reason });
        continue;
      }
      for (const v of entry.versions.values()) {
        if (readyOnly && !v.ready) continue;
        entries.push({ name, version: v.version, state: v.state, reason: v.reason });
      }
    }
    return entries;
  }

  /** Statistics of ready versions; `name` empty = every model, `version` empty = every ready version. */
  statistics(name: string, version: string): VersionStatisticsEntry[] {
    const pick = (entry: ModelEntry): VersionStatisticsEntry[] =>
      [...entry.versions.values()]
        .filter((v) => v.ready && (!version || v.version === version))
        .map((v) => ({ name: entry.name, version: v.version, statistics: v.statistics }));
    if (!name) return [...this.models.values()].flatMap(pick);
    const entry = this.models.get(name);
    const found = entry ? pick(entry) : [];
    if (found.length === 0) {
      const v = version ? ` version ${version}` : '';
      throw new InferenceError('INVALID_ARGUMENT', `requested model '${name}'${v} is not available`);
    }
    return found;
  }

  /** Unloads every model; in-flight requests finish first. */
  async close(): Promise<void> {
    await this.settled();
    await Promise.all([...this.models.keys()].map((name) => this.unloadModel(name)));
  }
}

/**
 * A model name is one directory name: no separator, no '..', no NUL, no %-encoding, and
 * not hidden (the scan skips those too), so it cannot name a path outside the repository.
 */
function checkModelName(name: string): void {
  if (!MODEL_NAME.test(name) || name.startsWith('.')) {
    throw InferenceError.invalidArgument('model_name', `'${name}' is not a valid model name`);
  }
}

/** A model directory that is a symlink must still resolve to a place inside the repository. */
function checkInside(root: string, dir: string, name: string): void {
  const path = relative(realpathSync(root), realpathSync(dir));
  if (path === '' || path === '..' || path.startsWith(`..${sep}`) || isAbsolute(path)) {
    throw InferenceError.invalidArgument('model_name', `'${name}' resolves to a directory outside the model repository`);
  }
}

function parseVersion(name: string, version: string): string {
  if (!VERSION_DIRECTORY.test(version)) {
    throw new InferenceError(
      'INVALID_ARGUMENT',
      `failed to get model version from specified version string '${version}' for model '${name}'`,
    );
  }
  return version;
}

/** The same versions, highest first (the order the index lists them in). */
function sortedVersions(versions: ReadonlyMap<string, ModelVersion>): Map<string, ModelVersion> {
  return new Map([...versions].sort(([a], [b]) => Number(b) - Number(a)));
}

/** The version directories the config's version_policy selects, highest first. */
function selectVersions(dir: string, config: ModelConfig): string[] {
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
