// The registry of models and versions: loads and unloads them (one at a time per model,
// with Triton's reload rule), routes requests to versions, and answers the repository,
// metadata and statistics questions. The layout on disk is layout.ts's business.
import { existsSync, statSync } from 'node:fs';
import type { RequestSignal } from '../cancellation.js';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ResponseCache } from '../cache/index.js';
import type { ModelConfig } from '../../generated/model_config.js';
import {
  checkStepIO,
  describeStep,
  EnsembleInstance,
  ensembleLoop,
  ensemblePlan,
  isEnsemble,
  stepModels,
  type EnsemblePlan,
} from '../ensemble/index.js';
import { dictionary } from '../dictionary.js';
import { InferenceError, errorMessage } from '../errors.js';
import type { EventSink, ModelState, VersionObservers } from '../events.js';
import { findModelModule, type ModelContext, type ModelInstance, type Parameters, type WarmupSample } from '../model/index.js';
import { failedStream, type InferCall, type InferResult, type StreamedResult, type VersionStatistics } from '../pipeline/index.js';
import { schedulingSettings, type SchedulingDefaults, type SchedulingSettings } from '../scheduling/index.js';
import { modelView, type TensorSpec } from '../tensor/index.js';
import { completeBackendConfig, selectBackend, type ModelBackend } from './backends.js';
import { createInstance } from './instance-factory.js';
import { KeyedLock } from './keyed-lock.js';
import { RepositoryCalls } from './model-calls.js';
import { checkInside, checkModelName, parseVersion, readModelConfig, scanModels, selectVersions, stepModelsOnDisk } from './layout.js';
import { checkDecoupledConfig, checkResponseCache, configParameters, configRuntime, ignoredConfigFields, ioSpec, normalizeConfig } from './model-config.js';
import { writeModelOverride, type ModelOverride } from './model-override.js';
import { ModelVersion } from './model-version.js';
import { interimVersions, servingAfterReload } from './reload.js';
import { warmupSamples } from './warmup.js';

export type ControlMode = 'none' | 'explicit' | 'poll';

/** Creates the instance(s) a version runs on; the default follows config.pbtxt's instance_group. */
export type InstanceFactory = (
  modulePath: string,
  generation: number,
  context: ModelContext,
  /** config.pbtxt `model_warmup`: each instance runs them after its load, before it serves. */
  warmup: readonly WarmupSample[],
) => Promise<ModelInstance>;

export interface RepositoryOptions {
  readonly root: string;
  readonly controlMode: ControlMode;
  /** explicit mode: the models loaded at start ('*' = all). */
  readonly startupModels: readonly string[];
  readonly strictReadiness: boolean;
  readonly serverParameters: Parameters;
  readonly logger: Logger;
  readonly events: EventSink;
  /** Side paths that keep per-version state (metrics). */
  readonly observers?: VersionObservers;
  /** Default bound on how long a request waits for a loading model (config parameter `load_wait_ms`). */
  readonly loadWaitMs: number;
  /** Server-wide defaults for the queue bound and execution timeout (config.pbtxt overrides). */
  readonly schedulingDefaults?: SchedulingDefaults;
  /** Checks a model's config for side paths' settings (monitoring); a throw fails the load with its message. */
  readonly checkConfig?: (config: ModelConfig) => void;
  readonly createInstance?: InstanceFactory;
  /** Backends besides model modules (the server's table); none: every model is a model module. */
  readonly backends?: readonly ModelBackend[];
  /** Triton's config auto-complete (default on; --disable-auto-complete-config turns it off). */
  readonly autoCompleteConfig?: boolean;
  /** The server's response cache (--cache-config), for models whose config enables it; absent: none. */
  readonly responseCache?: ResponseCache;
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
  versions: Map<string, ModelVersion>;
  /** Why the model as a whole is unavailable (bad config, no versions). */
  reason: string;
  /** Whether the model was asked to be loaded (counts for strict readiness). */
  wanted: boolean;
  /** The files sent with RepositoryModelLoad that the loaded versions run from, if any. */
  override?: ModelOverride | undefined;
}

/** What a version is loaded from. */
interface VersionStart {
  readonly name: string;
  readonly version: string;
  readonly config: ModelConfig;
  readonly scheduling: SchedulingSettings;
  /** The model directory. */
  readonly dir: string;
  readonly generation: number;
  /** The backend's module, for a version without a model module of its own. */
  readonly backendModule: string | undefined;
  /** Set for an ensemble: its steps run instead of a model module. */
  readonly ensemble: EnsemblePlan | undefined;
  readonly warmup: readonly WarmupSample[];
}

/** A batching model's metadata shows the batch dimension as -1, as Triton's. */
const DEFAULT_BATCH_DIM = -1;

export class ModelRepository {
  private readonly models = new Map<string, ModelEntry>();
  private readonly root: string;
  private generation = 0;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly lock = new KeyedLock();
  private readonly createInstance: InstanceFactory;
  /** What every model is given to call the others with. */
  private readonly calls = new RepositoryCalls((name, version) => this.resolve(name, version));
  /** Loaded ensemble instances, told when their step models' readiness changes. */
  private readonly ensembles = new Map<EnsembleInstance, EnsemblePlan>();

  constructor(private readonly options: RepositoryOptions) {
    this.root = resolve(options.root);
    this.createInstance = options.createInstance ?? createInstance;
  }

  /** Scans the repository and starts loading what the control mode says; loads finish in the background. */
  start(): void {
    if (!existsSync(this.root) || !statSync(this.root).isDirectory()) {
      throw new InferenceError('INVALID_ARGUMENT', `model repository ${this.root} is not a directory`);
    }
    const names = scanModels(this.root);
    const { controlMode, startupModels } = this.options;
    for (const name of names) this.models.set(name, { name, versions: new Map(), reason: '', wanted: false });
    const all = controlMode !== 'explicit' || startupModels.includes('*');
    for (const name of all ? names : startupModels) this.track(this.loadModel(name).catch(() => undefined));
  }

  /** Resolves when every load started so far has finished (successfully or not). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private track(promise: Promise<unknown>): void {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
  }

  /**
   * Loads (or reloads) a model: every version its policy selects. Loads and unloads of
   * one model run one at a time, in the order asked.
   */
  loadModel(name: string, configOverride?: ModelConfig, files?: ReadonlyMap<string, Uint8Array>): Promise<void> {
    return this.load(name, configOverride, files, []);
  }

  /** `via`: the ensembles whose loads lead here, so that ensembles that contain each other fail instead of waiting forever. */
  private load(name: string, configOverride: ModelConfig | undefined, files: ReadonlyMap<string, Uint8Array> | undefined, via: readonly string[]): Promise<void> {
    checkModelName(name);
    if (files && files.size > 0 && !configOverride) {
      throw InferenceError.invalidArgument('parameters', "'file:' parameters need the 'config' parameter too");
    }
    return this.lock.run(name, async () => {
      const override = files && files.size > 0 ? writeModelOverride(name, files) : undefined;
      try {
        await this.loadFrom(override?.directory ?? join(this.root, name), name, configOverride, override, via);
      } catch (err) {
        override?.remove();
        throw err;
      }
    });
  }

  private async loadFrom(
    dir: string,
    name: string,
    configOverride: ModelConfig | undefined,
    override: ModelOverride | undefined,
    via: readonly string[],
  ): Promise<void> {
    if (!override) {
      if (!existsSync(dir)) {
        throw new InferenceError('INTERNAL', `failed to load '${name}', failed to poll from model repository`);
      }
      checkInside(this.root, dir, name);
    }
    let entry = this.models.get(name);
    if (!entry) {
      entry = { name, versions: new Map(), reason: '', wanted: true };
      this.models.set(name, entry);
    }
    entry.wanted = true;
    const log = this.options.logger.child({ model: name });
    const previous = entry.versions;
    const serving = [...previous.values()].some((v) => v.ready);
    let config: ModelConfig;
    let scheduling: SchedulingSettings;
    let versions: string[];
    let backend: ModelBackend | undefined;
    let ensemble: EnsemblePlan | undefined;
    let warmup: WarmupSample[];
    try {
      const declared = configOverride ?? readModelConfig(dir);
      versions = selectVersions(dir, declared);
      if (versions.length === 0) throw new InferenceError('INVALID_ARGUMENT', `no version directory to load in ${dir}`);
      // One config serves every version, as in Triton: a backend completes it from the
      // highest version loaded, the one requests without a version go to.
      const newest = versions[0]!;
      const autoComplete = this.options.autoCompleteConfig ?? true;
      backend = selectBackend(declared, join(dir, newest), { backends: this.options.backends ?? [], autoComplete });
      // The fields as the user wrote them, before auto-complete and defaults fill in others.
      const ignored = ignoredConfigFields(declared, configRuntime(declared, backend?.name));
      if (ignored.size > 0) {
        const fields = [...ignored.keys()].join(', ');
        log.warn({ ignoredConfigFields: dictionary(ignored) }, `config fields accepted and ignored: ${fields}`);
      }
      const completed = backend ? await completeBackendConfig(declared, backend, dir, newest, autoComplete) : declared;
      config = normalizeConfig(completed, name);
      scheduling = schedulingSettings(config, this.options.schedulingDefaults);
      warmup = warmupSamples(config, dir);
      this.options.checkConfig?.(config);
      checkDecoupledConfig(config);
      if (isEnsemble(config)) {
        ensemble = ensemblePlan(config);
        await this.loadSteps(ensemble, [...via, name]);
      }
      checkResponseCache(config, ensemble ? this.stepConfigs(ensemble) : undefined);
      if (config.responseCache?.enable && !this.options.responseCache) {
        log.info("config field 'response_cache.enable' is set but the server has no response cache (--cache-config local,size=BYTES): every request runs the model");
      }
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
    for (const version of versions) {
      fresh.set(
        version,
        this.startVersion({ name, version, config, scheduling, dir, generation, backendModule: backend?.modelModule, ensemble, warmup }, log),
      );
    }
    entry.versions = interimVersions(previous, fresh);
    if (!serving) entry.reason = '';
    const results = await Promise.allSettled([...fresh.values()].map((v) => v.whenLoaded()));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const keepPrevious = servingAfterReload(serving, failure !== undefined) === 'previous';
    const replaced = keepPrevious ? fresh : previous;
    const replacedOverride = keepPrevious ? override : entry.override;
    if (keepPrevious) {
      entry.versions = previous;
      log.error({ reason: errorMessage(failure?.reason) }, 'model failed to reload; the loaded versions go on serving');
    } else {
      entry.reason = '';
      entry.versions = fresh;
      entry.override = override;
    }
    // Requests already running on the replaced versions finish first.
    await Promise.all([...replaced.values()].map((v) => v.unload()));
    replacedOverride?.remove();
    // A replaced version reported UNLOADING and UNAVAILABLE after its successor (same model
    // and version) reported READY: the successor says READY again so side paths end on the truth.
    for (const v of entry.versions.values()) if (v.ready && replaced.has(v.version)) v.announce();
    if (failure) throw new InferenceError('INVALID_ARGUMENT', `failed to load '${name}': ${errorMessage(failure.reason)}`);
  }

  /**
   * An ensemble's step models, each ready (loaded here when it is not: explicit mode loads
   * what an ensemble needs, as Triton does) and taking what the step maps. Throws naming the
   * step and what is missing.
   */
  private async loadSteps(plan: EnsemblePlan, via: readonly string[]): Promise<void> {
    const loop = ensembleLoop(plan, (model) => stepModelsOnDisk(this.root, model));
    if (loop) throw new InferenceError('INVALID_ARGUMENT', `ensembles contain each other (${loop}): none of them can run`);
    await Promise.all(
      stepModels(plan).map(async ({ model, version }) => {
        const steps = plan.steps.filter((step) => step.model === model && step.version === version);
        const where = describeStep(steps[0]!);
        if (via.includes(model)) throw new InferenceError('INVALID_ARGUMENT', `${where}: ensembles contain each other (${[...via, model].join(' → ')})`);
        checkModelName(model);
        if (!this.models.has(model) && !existsSync(join(this.root, model))) {
          throw new InferenceError('INVALID_ARGUMENT', `${where}: model '${model}' is not in the model repository`);
        }
        // Queued behind the model's own loads: one started with the repository has finished.
        const loaded = await this.lock.run(model, () => Promise.resolve(this.modelReady(model, version)));
        if (!loaded) {
          const entry = this.models.get(model);
          if (this.options.controlMode !== 'explicit' && entry?.reason) {
            throw new InferenceError('UNAVAILABLE', `${where}: model '${model}' is not available: ${entry.reason}`);
          }
          try {
            await this.load(model, undefined, undefined, via);
          } catch (err) {
            throw new InferenceError('UNAVAILABLE', `${where}: model '${model}' failed to load: ${errorMessage(err)}`, { cause: err });
          }
        }
        let stepVersion: ModelVersion;
        try {
          stepVersion = this.resolve(model, version);
        } catch (err) {
          throw new InferenceError('UNAVAILABLE', `${where}: ${errorMessage(err)}`, { cause: err });
        }
        if (!stepVersion.ready) {
          throw new InferenceError('UNAVAILABLE', `${where}: model '${model}' version ${stepVersion.version} is not ready (${stepVersion.state} ${stepVersion.reason})`);
        }
        if (stepVersion.decoupled) {
          throw new InferenceError(
            'UNAVAILABLE',
            `${where}: model '${model}' is decoupled (model_transaction_policy.decoupled): v2serve's ensembles take one response per step`,
          );
        }
        for (const step of steps) checkStepIO(plan, step, stepVersion.io);
      }),
    );
  }

  /** The configs of an ensemble's step models, loaded by now. */
  private stepConfigs(plan: EnsemblePlan): Map<string, ModelConfig> {
    return new Map(stepModels(plan).map(({ model, version }) => [model, this.resolve(model, version).config] as const));
  }

  /** Readiness of an ensemble: every step model has its version ready; else why not. */
  private stepsUnready(plan: EnsemblePlan): string | undefined {
    for (const { model, version } of stepModels(plan)) {
      if (!this.modelReady(model, version)) {
        const v = version ? ` version ${version}` : '';
        return `step model '${model}'${v} is not ready`;
      }
    }
    return undefined;
  }

  /** A version changed state: the ensembles over its model follow. */
  private followSteps(model: string): void {
    for (const [instance, plan] of this.ensembles) {
      if (!plan.steps.some((step) => step.model === model)) continue;
      const unready = this.stepsUnready(plan);
      instance.setAvailable(unready === undefined, unready ?? '');
    }
  }

  private startVersion(start: VersionStart, modelLog: Logger): ModelVersion {
    const { name, version, config, scheduling, dir, generation, backendModule, ensemble, warmup } = start;
    const path = join(dir, version);
    const io = ioSpec(config);
    const parameters = configParameters(config);
    const loadWaitMs = Number(parameters['load_wait_ms'] ?? this.options.loadWaitMs);
    const log = modelLog.child({ version });
    const modelVersion = new ModelVersion({
      name,
      version,
      config,
      io,
      path,
      scheduling,
      events: this.options.events,
      ...(this.options.observers ? { observers: this.options.observers } : {}),
      loadWaitMs,
      log,
      onState: () => this.followSteps(name),
      ...(config.responseCache?.enable && this.options.responseCache ? { responseCache: this.options.responseCache } : {}),
    });
    const context: ModelContext = {
      name,
      version,
      config,
      // A reshaped tensor has its reshape shape for the model: the pipeline reshapes both ways.
      io: modelView(io),
      parameters,
      serverParameters: this.options.serverParameters,
      versionPath: path,
      logger: log,
      models: this.calls,
    };
    const started = process.hrtime.bigint();
    const loading = (async () => {
      try {
        const instance = ensemble
          ? this.ensembleInstance(ensemble, config)
          : await this.createInstance(findModelModule(path, backendModule), generation, context, warmup);
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

  private ensembleInstance(plan: EnsemblePlan, config: ModelConfig): EnsembleInstance {
    const instance = new EnsembleInstance({
      plan,
      models: this.calls,
      labels: dictionary(config.metricTags),
      onUnload: () => this.ensembles.delete(instance),
    });
    this.ensembles.set(instance, plan);
    return instance;
  }

  /**
   * Unloads every version of a model; in-flight requests finish first. Unknown models are fine,
   * as in Triton. `unloadDependents` (Triton's `unload_dependents`): an ensemble's step models
   * are unloaded too, those no other loaded ensemble has as a step.
   */
  async unloadModel(name: string, unloadDependents = false): Promise<void> {
    checkModelName(name);
    const plans = unloadDependents ? this.ensemblePlans(name) : [];
    await this.lock.run(name, async () => {
      const entry = this.models.get(name);
      if (!entry) return;
      entry.wanted = false;
      await Promise.all([...entry.versions.values()].map((v) => v.unload()));
      entry.override?.remove();
      entry.override = undefined;
    });
    const steps = new Set(plans.flatMap((plan) => stepModels(plan).map((step) => step.model)));
    const stillUsed = new Set([...this.ensembles.values()].flatMap((plan) => plan.steps.map((step) => step.model)));
    await Promise.all([...steps].filter((model) => !stillUsed.has(model)).map((model) => this.unloadModel(model, true)));
  }

  /** The plans of a model's loaded ensemble versions (none for a model that is no ensemble). */
  private ensemblePlans(name: string): EnsemblePlan[] {
    return [...this.ensembles.values()].filter((plan) => plan.name === name);
  }

  /** Poll mode: the model's directory is gone. Unloads it and forgets it. */
  removeModel(name: string): Promise<void> {
    return this.lock.run(name, async () => {
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

  /** The models the repository holds, loaded or not: what it knows, without reading the disk. */
  modelNames(): IterableIterator<string> {
    return this.models.keys();
  }

  /** The model directories in the repository now, sorted. */
  modelDirectories(): string[] {
    return scanModels(this.root);
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
    // Version maps are kept highest first (selectVersions, interimVersions): the walk needs no sort.
    let loading: ModelVersion | undefined;
    for (const candidate of entry.versions.values()) {
      if (candidate.ready) return candidate;
      if (loading === undefined && candidate.state === 'LOADING') loading = candidate;
    }
    if (loading === undefined) {
      const why = entry.reason ? `: ${entry.reason}` : '';
      // Unloaded on purpose: gone, as Triton answers. Failed to load: there but unavailable.
      const code = entry.wanted ? 'UNAVAILABLE' : 'NOT_FOUND';
      throw new InferenceError(code, `Request for unknown model: '${name}' has no available versions${why}`);
    }
    return loading;
  }

  /** The version `resolve` names, or undefined where it throws. */
  resolved(name: string, version: string): ModelVersion | undefined {
    try {
      return this.resolve(name, version);
    } catch {
      return undefined;
    }
  }

  /** Never throws: an unknown model or version is a rejection, like every other failure. */
  infer(call: InferCall, signal: RequestSignal): Promise<InferResult> {
    try {
      return this.resolve(call.model, call.version).infer(call, signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The responses of one request, as they are made (one for a model that is not decoupled). */
  inferStream(call: InferCall, signal: RequestSignal): AsyncIterable<StreamedResult> {
    try {
      return this.resolve(call.model, call.version).inferStream(call, signal);
    } catch (err) {
      return failedStream(err);
    }
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
    const names = new Set([...scanModels(this.root), ...this.models.keys()]);
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
