// Where a model runs: the ModelInstance contract, and the in-process instance, which
// calls the hooks directly on the main thread (no queue, no copies: the right choice for
// light or async models). KIND_CPU instance groups run in worker threads (src/workers).
import { existsSync } from 'node:fs';
import type { RequestSignal } from '../cancellation.js';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InferenceError, errorMessage } from '../errors.js';
import type { ModelConfig } from '../../generated/model_config.js';
import { DECOUPLED_FIELD, runHooks } from './hooks.js';
import { ModelServer, type ModelContext } from './model-server.js';
import type { ExecutionJob, ExecutionOutput } from './types.js';
import { warmUp, type WarmupSample } from './warmup.js';

/** Told when an instance that can lose its workers has none alive (with why), and when one is back. */
export type AvailabilityListener = (available: boolean, reason: string) => void;

export interface ModelInstance {
  /** 'main', or 'workers' for a pool (each output names its worker's index). */
  readonly label: string;
  /** The user's class name, for monitoring and logs. */
  readonly modelClass: string;
  run(job: ExecutionJob, signal: RequestSignal): Promise<ExecutionOutput>;
  unload(): Promise<void>;
  /** Only instances whose workers can die implement it. */
  watch?(listener: AvailabilityListener): void;
}

const MODEL_MODULES = ['model.ts', 'model.mts', 'model.js', 'model.mjs'];

/**
 * The model module of a version directory; without one, `backendModule` (a backend's module
 * that serves its model files with no code of the author's, e.g. ONNX), if the version has one.
 */
export function findModelModule(versionPath: string, backendModule?: string): string {
  for (const file of MODEL_MODULES) {
    const path = join(versionPath, file);
    if (existsSync(path)) return path;
  }
  if (backendModule !== undefined) return backendModule;
  throw new InferenceError('INVALID_ARGUMENT', `no model module (${MODEL_MODULES.join(', ')}) in ${versionPath}`);
}

type ModelServerClass = new (context: ModelContext) => ModelServer;

/**
 * Imports a model module and returns its default export, checked to be a class extending
 * ModelServer that has a predict() method. `generation` makes a changed module load anew
 * instead of from the module cache.
 */
async function importModelClass(modulePath: string, generation: number, model: string, decoupled: boolean): Promise<ModelServerClass> {
  const url = `${pathToFileURL(modulePath).href}?generation=${generation}`;
  const module = (await import(url)) as { default?: unknown };
  const exported = module.default;
  const problem =
    typeof exported !== 'function' || !extendsModelServer(exported)
      ? `must default-export a class extending ModelServer (import { ModelServer } from 'v2serve'); its default export is ${describeExport(exported)}`
      : typeof (exported.prototype as { predict?: unknown }).predict !== 'function'
        ? `default-exports class '${exported.name}', which has no predict() method`
        : !decoupled && isAsyncGeneratorFunction((exported.prototype as { predict: unknown }).predict)
          ? `default-exports class '${exported.name}', whose predict() is an async generator (it streams responses), but the model's config does not set ${DECOUPLED_FIELD}: true`
          : undefined;
  if (problem) throw new InferenceError('INVALID_ARGUMENT', `model '${model}': ${modulePath} ${problem}`);
  return exported as ModelServerClass;
}

const AsyncGeneratorFunction = Object.getPrototypeOf(async function* () {}).constructor as unknown;

function isAsyncGeneratorFunction(value: unknown): boolean {
  return typeof value === 'function' && value instanceof (AsyncGeneratorFunction as typeof Function);
}

/** Config `model_transaction_policy { decoupled: true }`: the model answers a request zero, one or many times. */
export function isDecoupled(config: ModelConfig): boolean {
  return config.modelTransactionPolicy?.decoupled === true;
}

function describeExport(value: unknown): string {
  if (value === undefined) return 'missing';
  if (typeof value === 'function') return `function '${value.name}'`;
  if (value === null) return 'null';
  const type = typeof value;
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

/**
 * The CLI hands every model the server's own v2serve (src/model-imports), but a server
 * started with startServer in a process of its own, or run from source while the model
 * imports the build, leaves the model another copy: the check is on the shape of
 * ModelServer, not on class identity.
 */
function extendsModelServer(candidate: { prototype?: unknown }): boolean {
  if (candidate.prototype instanceof ModelServer) return true;
  const proto = candidate.prototype as Record<string, unknown> | undefined;
  return ['load', 'getParam', 'operations'].every((method) => typeof proto?.[method] === 'function');
}

/**
 * Creates the model server, runs its load() and then the warmup samples. A failing warmup
 * unloads the model again: the instance never serves.
 */
export async function createModelServer(
  modulePath: string,
  generation: number,
  context: ModelContext,
  warmup: readonly WarmupSample[] = [],
): Promise<ModelServer> {
  const Model = await importModelClass(modulePath, generation, context.name, isDecoupled(context.config));
  const server = new Model(context);
  try {
    await server.load();
  } catch (err) {
    server.error = errorMessage(err);
    throw err;
  }
  if (warmup.length > 0) {
    const started = process.hrtime.bigint();
    try {
      await warmUp(server, warmup, isDecoupled(context.config));
    } catch (err) {
      server.error = errorMessage(err);
      await Promise.resolve()
        .then(() => server.unload())
        .catch((unloadError: unknown) => context.logger.warn({ err: unloadError }, 'model unload() after a failed warmup failed'));
      throw err;
    }
    const runs = warmup.reduce((sum, sample) => sum + sample.count, 0);
    context.logger.info({ warmupSamples: warmup.map((sample) => sample.name), warmupRuns: runs, warmupMs: Number(process.hrtime.bigint() - started) / 1e6 }, 'model warmed up');
  }
  server.ready = true;
  return server;
}

export class InProcessInstance implements ModelInstance {
  readonly label = 'main';
  readonly modelClass: string;

  constructor(private readonly server: ModelServer) {
    this.modelClass = server.constructor.name;
  }

  run(job: ExecutionJob, signal: RequestSignal): Promise<ExecutionOutput> {
    return runHooks(this.server, job, signal);
  }

  async unload(): Promise<void> {
    this.server.ready = false;
    await this.server.unload();
  }
}
