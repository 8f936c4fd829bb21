// The class users extend: mlrun's V2ModelServer, hook for hook, typed.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ModelConfig } from '../../generated/model_config.js';
import { InferenceError } from '../errors.js';
import { dictionary, ownEntry } from '../dictionary.js';
import type { MetricValue } from '../events.js';
import type { IOSpec } from '../tensor/index.js';
import { hasUntouchedInputs } from './hook-request.js';
import {
  CALL_CHAINS,
  type CallChains,
  type ModelCaller,
  type ModelCallInputs,
  type ModelCallOptions,
  type ModelCallResult,
  type StreamedCallResult,
} from './model-calls.js';
import type {
  InferRequest,
  InferResponse,
  LoggedResults,
  Operation,
  ParamValue,
  Parameters,
  PredictOutputs,
  PredictStream,
} from './types.js';

/** What the repository gives a model server when it creates it. */
export interface ModelContext {
  readonly name: string;
  readonly version: string;
  /** The parsed config.pbtxt, with Triton's defaults filled in. */
  readonly config: ModelConfig;
  /** The declared inputs and outputs as the model sees them: a reshaped tensor has its reshape shape. */
  readonly io: IOSpec;
  /** config.pbtxt `parameters`, as strings (ModelParameter.string_value). */
  readonly parameters: Readonly<Record<string, string>>;
  /** Server-wide parameters: the last place getParam() looks. */
  readonly serverParameters: Parameters;
  /** The version directory the model module was loaded from. */
  readonly versionPath: string;
  readonly logger: Logger;
  /** The other models of the repository, for infer(); absent where calls cannot be made. */
  readonly models?: ModelCaller;
}

/** The model file and its siblings, as getModel() finds them. */
export interface ModelFiles {
  readonly modelFile: string | undefined;
  /** Every other file of the version directory, by file name. */
  readonly extra: Readonly<Record<string, string>>;
}

const CUSTOM_OPERATION_PREFIX = 'op';

/**
 * Base class of every model. A minimal model implements `load()` and `predict()`;
 * the other hooks default to pass-through.
 *
 * Custom operations are methods named `op<Name>` (`opStats` serves operation `stats`),
 * selected by the request parameter `operation`, like the seed's `op_<name>` methods.
 */
export abstract class ModelServer {
  readonly name: string;
  readonly version: string;
  readonly config: ModelConfig;
  readonly io: IOSpec;
  protected readonly log: Logger;
  /** Set by the runtime once load() resolved. */
  ready = false;
  /** Why load() failed, when it did. */
  error = '';
  /** Labels attached to every monitoring event; starts as config.pbtxt `metric_tags`. */
  labels: Record<string, string>;
  /** Metrics set with setMetric(); a snapshot goes with every monitoring event. */
  readonly metrics: Record<string, MetricValue> = dictionary();
  /** Filled by the hook runner: the call chain of each running job, by its signal. */
  readonly [CALL_CHAINS]: CallChains = new WeakMap();
  private readonly context: ModelContext;

  constructor(context: ModelContext) {
    this.context = context;
    this.name = context.name;
    this.version = context.version;
    this.config = context.config;
    this.io = context.io;
    this.log = context.logger;
    this.labels = dictionary(context.config.metricTags);
  }

  /**
   * Loads whatever the model needs (files, weights). Runs once, before any request.
   * The default loads nothing, as the seed's: a model with nothing to load leaves it out.
   */
  load(): Promise<void> | void {
    return undefined;
  }

  /**
   * A decoupled model (config `model_transaction_policy { decoupled: true }`) may answer zero,
   * one or many times: write predict as an `async function*` that yields each response's
   * outputs (and may `return` a last one, marked final); stop when `signal` fires.
   *
   * `signal` is the request's own only when the hook declares it (or takes rest parameters):
   * a hook declared with the request alone gets a shared signal that never fires, since
   * making one per request costs microseconds. The same holds for explain and `op…` methods.
   */
  abstract predict(request: InferRequest, signal: AbortSignal): Promise<PredictOutputs> | PredictOutputs | PredictStream;

  explain(_request: InferRequest, _signal: AbortSignal): Promise<PredictOutputs> | PredictOutputs {
    throw new InferenceError('UNIMPLEMENTED', `model '${this.name}' does not implement operation 'explain'`);
  }

  preprocess(request: InferRequest, _op: Operation): Promise<InferRequest> | InferRequest {
    return request;
  }

  /** The seed's v2 check: the request has a list of inputs. */
  validate(request: InferRequest, _op: Operation): Promise<InferRequest> | InferRequest {
    // The lazily built list form is a list by construction: reading it here would convert
    // every tensor of every request, used or not. Only a replaced `inputs` is checked.
    if (!hasUntouchedInputs(request) && !Array.isArray(request.inputs)) {
      throw InferenceError.invalidArgument('inputs', 'must be a list');
    }
    return request;
  }

  postprocess(response: InferResponse): Promise<InferResponse> | InferResponse {
    return response;
  }

  /** Returns what monitoring logs instead of the request's inputs and outputs, or undefined for those. */
  loggedResults(_request: InferRequest, _response: InferResponse, _op: Operation): LoggedResults | undefined {
    return undefined;
  }

  unload(): Promise<void> | void {
    return undefined;
  }

  /**
   * Looks `key` up in the request's parameters, then config.pbtxt's, then the server's, and
   * gives it the type of `defaultValue`: config.pbtxt's strings become numbers, booleans or
   * bigints as the default asks. A value that cannot be read so is INVALID_ARGUMENT naming the
   * parameter. Without a default, the value comes as it was found.
   */
  getParam(key: string, defaultValue: number, request?: InferRequest): number;
  getParam(key: string, defaultValue: boolean, request?: InferRequest): boolean;
  getParam(key: string, defaultValue: bigint, request?: InferRequest): bigint;
  getParam(key: string, defaultValue: string, request?: InferRequest): string;
  getParam(key: string, defaultValue?: undefined, request?: InferRequest): ParamValue | undefined;
  getParam(key: string, defaultValue?: ParamValue, request?: InferRequest): ParamValue | undefined {
    // A preprocess hook may have replaced the parameters with a plain object: own entries only.
    const found =
      ownEntry(request?.parameters, key) ?? ownEntry(this.context.parameters, key) ?? ownEntry(this.context.serverParameters, key);
    if (found === undefined) return defaultValue;
    return defaultValue === undefined ? found : asTypeOf(found, defaultValue, key);
  }

  /**
   * Calls another model of the repository and reads its responses as they are made: a
   * decoupled model's zero, one or many (infer() refuses a decoupled callee), any other
   * model's one, marked final. Stopping the iteration cancels the callee's request. Models
   * in worker threads cannot stream calls (UNIMPLEMENTED).
   */
  inferStream(model: string, inputs: ModelCallInputs, options: ModelCallOptions = {}): AsyncIterable<StreamedCallResult> {
    const caller = this.context.models;
    if (!caller?.inferStream) {
      const why = caller ? 'its calls cannot stream (it runs in a worker thread)' : 'it runs without a model repository';
      return refusedStream(new InferenceError('UNIMPLEMENTED', `model '${this.name}' cannot stream a call to model '${model}': ${why}`));
    }
    const chain = (options.signal && this[CALL_CHAINS].get(options.signal)) ?? [];
    return caller.inferStream(model, inputs, { ...options, callers: [...chain, this.name] });
  }

  /**
   * Calls another model of the repository in this process: tensors in, tensors out, no
   * encoding. The callee's admission, scheduling, readiness checks and statistics apply as
   * for a client's request. Pass the `signal` your hook received, so that the request's
   * deadline and cancellation reach the callee and a call cycle (A → B → A) is refused.
   * Errors are InferenceErrors (NOT_FOUND for an unknown model, INVALID_ARGUMENT for inputs
   * the callee does not take, the callee's own errors).
   */
  infer(model: string, inputs: ModelCallInputs, options: ModelCallOptions = {}): Promise<ModelCallResult> {
    const caller = this.context.models;
    if (!caller) {
      return Promise.reject(new InferenceError('UNIMPLEMENTED', `model '${this.name}' cannot call model '${model}': it runs without a model repository`));
    }
    const chain = (options.signal && this[CALL_CHAINS].get(options.signal)) ?? [];
    return caller.infer(model, inputs, { ...options, callers: [...chain, this.name] });
  }

  setMetric(name: string, value: MetricValue): void {
    this.metrics[name] = value;
  }

  /**
   * Finds the model file in the version directory: `config.default_model_filename` when set,
   * else the first file ending with `suffix` that is not the model module itself.
   */
  getModel(suffix = ''): ModelFiles {
    const dir = this.context.versionPath;
    const files = readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => entry.name)
      .sort();
    const preferred = this.config.defaultModelFilename;
    const modelName =
      preferred && files.includes(preferred)
        ? preferred
        : files.find((file) => file.endsWith(suffix) && !/^model\.(ts|js|mjs)$/.test(file));
    const extra = dictionary<string>();
    for (const file of files) {
      if (file !== modelName) extra[file] = join(dir, file);
    }
    return { modelFile: modelName === undefined ? undefined : join(dir, modelName), extra };
  }

  /** The operations this model serves: infer, predict, explain and its op<Name> methods. */
  operations(): string[] {
    const names = new Set(['infer', 'predict', 'explain']);
    for (let proto: object | null = Object.getPrototypeOf(this); proto && proto !== ModelServer.prototype; ) {
      for (const key of Object.getOwnPropertyNames(proto)) {
        const operation = customOperationName(key);
        if (operation && typeof (this as unknown as Record<string, unknown>)[key] === 'function') names.add(operation);
      }
      proto = Object.getPrototypeOf(proto) as object | null;
    }
    return [...names];
  }
}

function customOperationName(method: string): string | undefined {
  if (!method.startsWith(CUSTOM_OPERATION_PREFIX) || method.length <= CUSTOM_OPERATION_PREFIX.length) return undefined;
  const first = method.charAt(CUSTOM_OPERATION_PREFIX.length);
  if (first !== first.toUpperCase() || first === first.toLowerCase()) return undefined;
  return first.toLowerCase() + method.slice(CUSTOM_OPERATION_PREFIX.length + 1);
}

/** The method that serves a custom operation, e.g. `stats` → `opStats`. */
export function customOperationMethod(operation: string): string {
  return CUSTOM_OPERATION_PREFIX + operation.charAt(0).toUpperCase() + operation.slice(1);
}

/** `value` read as the type of `like`; INVALID_ARGUMENT naming the parameter when it cannot be. */
function asTypeOf(value: ParamValue, like: ParamValue, key: string): ParamValue {
  const wrong = (expected: string): InferenceError =>
    InferenceError.invalidArgument(`parameters.${key}`, `must be ${expected}, got '${String(value)}'`);
  switch (typeof like) {
    case 'string':
      return String(value);
    case 'number': {
      const n = typeof value === 'string' ? (value.trim() === '' ? Number.NaN : Number(value)) : Number(value);
      if (typeof value === 'boolean' || !Number.isFinite(n)) throw wrong('a number');
      return n;
    }
    case 'bigint':
      if (typeof value === 'bigint') return value;
      if ((typeof value === 'number' && Number.isInteger(value)) || (typeof value === 'string' && /^-?\d+$/.test(value.trim()))) {
        return BigInt(typeof value === 'string' ? value.trim() : value);
      }
      throw wrong('an integer');
    default:
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === '1' || value === 1) return true;
      if (value === 'false' || value === '0' || value === 0) return false;
      throw wrong('true or false');
  }
}

// A stream that fails at its first pull.
async function* refusedStream(err: InferenceError): AsyncGenerator<never> {
  throw err;
}
