// One version of a model: its state, its instance, its statistics, and the request
// path from a decoded call to encoded outputs.
import type { Logger } from 'pino';
import type { ModelConfig } from '../../generated/model_config.js';
import { InferenceError, abortError } from '../errors.js';
import { dictionary } from '../dictionary.js';
import type { EventSink, ModelState } from '../events.js';
import { batchSize, decodeInputs, encodeOutputs, type IOSpec, type Tensor } from '../tensor/index.js';
import { DynamicBatcher, batchingSettings } from './dynamic-batcher.js';
import type { ExecutionJob, ExecutionOutput } from './hooks.js';
import type { ModelInstance } from './model-instance.js';
import { Labels, checkClassifiable, classificationCount, classify } from './classification.js';
import { SequenceQueue, checkSequenceRequest, sequenceOf } from './sequence.js';
import { VersionStatistics } from './statistics.js';
import type { InferCall, InferResult, RequestedOutput } from './types.js';

/** Server-wide defaults for what config.pbtxt can set per model. */
export interface VersionLimits {
  /** Requests waiting beyond those executing; 0 = no bound (config: dynamic_batching.default_queue_policy.max_queue_size). */
  readonly maxQueueSize?: number;
  /** How long a hook may take before the request fails DEADLINE_EXCEEDED; 0 = no limit (config parameter execution_timeout_ms). */
  readonly executionTimeoutMs?: number;
}

/** config.pbtxt parameter: the per-model execution timeout, ms. */
export const EXECUTION_TIMEOUT_PARAMETER = 'execution_timeout_ms';

export class ModelVersion {
  state: ModelState = 'LOADING';
  reason = '';
  readonly statistics = new VersionStatistics();
  private instance: ModelInstance | undefined;
  private readonly loaded: Promise<void>;
  private settle!: { resolve: () => void; reject: (err: Error) => void };
  private inFlight = 0;
  private readonly sequences = new SequenceQueue();
  private readonly labels: Labels;
  private drained: (() => void) | undefined;
  /** Requests admitted at once (executing + queued); 0 = no bound. */
  private readonly maxInFlight: number;
  private readonly maxQueueSize: number;
  private readonly executionTimeoutMs: number;
  private readonly settingsError: InferenceError | undefined;
  /** Set for max_batch_size > 0 with dynamic_batching: merges concurrent requests into one execution. */
  private readonly batcher: DynamicBatcher | undefined;

  constructor(
    readonly name: string,
    readonly version: string,
    readonly config: ModelConfig,
    readonly io: IOSpec,
    readonly path: string,
    private readonly events: EventSink,
    /** How long a request waits for a loading version before UNAVAILABLE. */
    private readonly loadWaitMs: number,
    limits: VersionLimits = {},
    /** Where a model that hangs past its execution timeout is reported. */
    private readonly log?: Logger,
  ) {
    const executors = config.instanceGroup.reduce((sum, group) => sum + Math.max(1, group.count), 0) || 1;
    // proto3 cannot tell max_queue_size 0 from unset: 0 in config.pbtxt means the server default.
    const configured = Number(config.dynamicBatching?.defaultQueuePolicy?.maxQueueSize ?? 0);
    this.maxQueueSize = configured > 0 ? configured : (limits.maxQueueSize ?? 0);
    this.maxInFlight = this.maxQueueSize > 0 ? this.maxQueueSize + executors : 0;
    const timeout = parseExecutionTimeout(config, limits.executionTimeoutMs ?? 0);
    this.executionTimeoutMs = timeout instanceof InferenceError ? 0 : timeout;
    let batching: ReturnType<typeof batchingSettings>;
    let batchingError: InferenceError | undefined;
    try {
      batching = batchingSettings(config);
    } catch (err) {
      if (!(err instanceof InferenceError)) throw err;
      batchingError = err;
    }
    this.settingsError = timeout instanceof InferenceError ? timeout : batchingError;
    this.batcher = batching && new DynamicBatcher({
      ...batching,
      describe: `model '${name}' version ${version}`,
      executors,
      run: (job, signal) => this.runBatch(job, signal),
      onExecution: (execution) => this.statistics.recordExecution(execution.batchSize, execution),
    });
    this.labels = new Labels(config, path);
    this.loaded = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // A version that fails to load must not leave an unhandled rejection behind.
    this.loaded.catch(() => undefined);
  }

  /** Throws when config.pbtxt's settings for this version are unusable (checked before the model loads). */
  checkSettings(): void {
    if (this.settingsError) throw this.settingsError;
  }

  get ready(): boolean {
    return this.state === 'READY';
  }

  get modelClass(): string {
    return this.instance?.modelClass ?? '';
  }

  /** Resolves when the version is ready; rejects with the load error. */
  whenLoaded(): Promise<void> {
    return this.loaded;
  }

  /** Called once by the repository when the instance has loaded, or failed to. */
  loadSettled(result: { instance: ModelInstance } | { error: Error }): void {
    if ('instance' in result) {
      const { instance } = result;
      this.instance = instance;
      this.setState('READY', '');
      this.settle.resolve();
      // Worker instances can all die and come back: READY while at least one is alive.
      instance.watch?.((available, reason) => {
        if (this.instance !== instance || this.state === 'UNLOADING') return;
        this.setState(available ? 'READY' : 'UNAVAILABLE', reason);
      });
    } else {
      this.setState('UNAVAILABLE', `failed to load: ${result.error.message}`);
      this.settle.reject(result.error);
    }
  }

  private setState(state: ModelState, reason: string): void {
    this.state = state;
    this.reason = reason;
    this.events.emit({
      kind: 'model-state',
      modelClass: this.modelClass,
      model: this.name,
      version: this.version,
      state,
      reason,
      labels: dictionary(this.config.metricTags),
      path: this.path,
    });
  }

  /** Waits (bounded) for a loading version; fails UNAVAILABLE with its state otherwise. */
  private async whenReady(signal: AbortSignal): Promise<ModelInstance> {
    if (this.state === 'LOADING') {
      let timer: NodeJS.Timeout | undefined;
      let stopWaiting: (() => void) | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.loadWaitMs);
        stopWaiting = () => resolve();
        signal.addEventListener('abort', stopWaiting, { once: true });
      });
      await Promise.race([this.loaded.catch(() => undefined), timeout]);
      clearTimeout(timer);
      if (stopWaiting) signal.removeEventListener('abort', stopWaiting);
      throwIfAborted(signal);
    }
    if (this.state !== 'READY' || !this.instance) {
      const why = this.reason ? `: ${this.reason}` : '';
      throw new InferenceError(
        'UNAVAILABLE',
        `model '${this.name}' version ${this.version} is not at ready state (${this.state}${why})`,
      );
    }
    return this.instance;
  }

  async infer(call: InferCall, signal: AbortSignal): Promise<InferResult> {
    this.inFlight++;
    try {
      this.admit();
      return await this.execute(call, signal);
    } catch (err) {
      const durationNs = process.hrtime.bigint() - call.arrivedNs;
      this.statistics.recordFailure(durationNs);
      this.emitFailure(call, durationNs, err);
      throw err;
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) this.drained?.();
    }
  }

  /**
   * Past the bound the request fails at once, before anything is decoded or allocated:
   * memory stays bounded and the client learns to back off.
   */
  private admit(): void {
    if (this.maxInFlight === 0) return;
    // With dynamic batching the requests of an executing batch have left the queue, as in
    // Triton; without, each instance executes one request.
    const executing = this.batcher ? this.batcher.executing : this.maxInFlight - this.maxQueueSize;
    if (this.inFlight <= this.maxQueueSize + executing) return;
    throw new InferenceError(
      'RESOURCE_EXHAUSTED',
      `Exceeds maximum queue size: model '${this.name}' version ${this.version} already has ${executing} executing and ${this.maxQueueSize} queued (max_queue_size ${this.maxQueueSize})`,
    );
  }

  /** The batcher's way to an instance: the one loaded now, under the execution timeout. */
  private runBatch(job: ExecutionJob, signal: AbortSignal): Promise<ExecutionOutput> {
    const instance = this.instance;
    if (!instance) return Promise.reject(new InferenceError('UNAVAILABLE', `model '${this.name}' version ${this.version} is not loaded`));
    return this.runWithin(instance, job, signal);
  }

  /**
   * The model's answer, or DEADLINE_EXCEEDED once the execution timeout passes. The
   * hook's AbortSignal fires then too; a hook that ignores it is abandoned, not awaited.
   */
  private runWithin(instance: ModelInstance, job: ExecutionJob, signal: AbortSignal): Promise<ExecutionOutput> {
    const ms = this.executionTimeoutMs;
    if (ms === 0) return instance.run(job, signal);
    const timeout = new AbortController();
    return new Promise<ExecutionOutput>((resolve, reject) => {
      const timer = setTimeout(() => {
        const err = new InferenceError(
          'DEADLINE_EXCEEDED',
          `model '${this.name}' version ${this.version} did not answer within its execution timeout of ${ms} ms (${EXECUTION_TIMEOUT_PARAMETER})`,
        );
        this.log?.warn({ requestId: job.id, operation: job.operation, timeoutMs: ms }, 'model did not answer within its execution timeout; request abandoned');
        timeout.abort(err);
        reject(err);
      }, ms);
      instance.run(job, AbortSignal.any([signal, timeout.signal])).then(
        (output) => {
          clearTimeout(timer);
          resolve(output);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /** Failed requests are always reported, with the parameters and the error; the inputs may not have decoded. */
  private emitFailure(call: InferCall, durationNs: bigint, err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    const operation = call.parameters['operation'];
    this.events.emit({
      kind: 'inference',
      modelClass: this.modelClass,
      model: this.name,
      version: this.version,
      instance: this.instance?.label ?? '',
      labels: dictionary(this.config.metricTags),
      op: typeof operation === 'string' ? operation : 'infer',
      requestId: call.id,
      arrivedAtMs: Date.now() - Number(durationNs / 1_000_000n),
      durationNs,
      inputs: [],
      outputs: [],
      parameters: call.parameters,
      metrics: {},
      error: {
        message: error.message,
        code: error instanceof InferenceError ? error.code : 'INTERNAL',
        ...(error.stack ? { stack: error.stack } : {}),
      },
    });
  }

  private async execute(call: InferCall, clientSignal: AbortSignal): Promise<InferResult> {
    const deadline = requestDeadline(call, clientSignal);
    try {
      return await this.executeUntil(call, deadline.signal);
    } finally {
      deadline.dispose();
    }
  }

  /** `signal` fires when the client goes away or the request's `timeout` expires. */
  private async executeUntil(call: InferCall, signal: AbortSignal): Promise<InferResult> {
    const instance = await this.whenReady(signal);
    const operation = requestOperation(call);
    const decodeStart = process.hrtime.bigint();
    const tensors = decodeInputs(call.inputs, call.raw, this.io);
    checkRequestedOutputs(call.outputs, this.io, this.name);
    checkSequenceRequest(this.config, call.parameters, this.name);
    checkClassifiable(call.outputs, this.io, this.name);
    const decodeEnd = process.hrtime.bigint();
    const job: ExecutionJob = {
      id: call.id,
      tensors,
      parameters: call.parameters,
      outputs: call.outputs,
      operation,
    };
    // A request of a sequence waits for the earlier ones of the same sequence.
    const sequence = sequenceOf(call.parameters);
    const nextInSequence = sequence ? await this.sequences.enter(sequence, signal) : undefined;
    let output: ExecutionOutput;
    let inferStart: bigint;
    /** Set when the request ran in a dynamic batch: the batch's execution time. */
    let batched: { inferNs: bigint } | undefined;
    try {
      // An expired or cancelled request still waiting is never computed (Triton: timeout in the queue).
      throwIfAborted(signal);
      inferStart = process.hrtime.bigint();
      if (this.batcher) {
        // Queued with compatible requests for one instance.run() per batch; dropped unrun if
        // `signal` fires while it waits. The wait counts as queue time (below).
        const share = await this.batcher.submit(job, signal);
        output = share.output;
        batched = { inferNs: output.inferNs ?? share.endNs - share.startNs };
      } else {
        output = await this.runWithin(instance, job, signal);
      }
    } finally {
      nextInSequence?.();
    }
    const encodeStart = process.hrtime.bigint();
    const selected = await this.classifyOutputs(selectOutputs(output.outputs, call.outputs, this.name, this.io), call.outputs);
    const encoded = encodeOutputs(selected);
    const end = process.hrtime.bigint();

    const totalNs = end - call.arrivedNs;
    const inputNs = decodeEnd - decodeStart;
    // A worker instance reports its own execution time; the rest (waiting for a free
    // instance, for a sequence's earlier requests or for a batch, crossing threads) falls
    // into the queue figure below.
    const inferNs = batched?.inferNs ?? output.inferNs ?? encodeStart - inferStart;
    const outputNs = end - encodeStart;
    const rows = batchSize(tensors, this.io);
    this.statistics.recordSuccess(
      totalNs,
      { queueNs: totalNs - inputNs - inferNs - outputNs, inputNs, inferNs, outputNs },
      rows,
    );
    // A batched execution is recorded once, by the batcher.
    if (!batched) this.statistics.recordExecution(rows, { inputNs, inferNs, outputNs });
    this.events.emit({
      kind: 'inference',
      modelClass: instance.modelClass,
      model: this.name,
      version: this.version,
      instance: output.instance ?? instance.label,
      labels: output.labels,
      op: operation,
      requestId: call.id,
      arrivedAtMs: Date.now() - Number(totalNs / 1_000_000n),
      durationNs: totalNs,
      inputs: output.inputs ?? tensors,
      outputs: selected,
      ...(output.logged ? { logged: output.logged } : {}),
      parameters: call.parameters,
      metrics: output.metrics,
    });
    return {
      model: this.name,
      version: this.version,
      id: call.id,
      parameters: output.parameters,
      outputs: encoded.outputs,
      raw: encoded.raw,
    };
  }

  /** Requested outputs with a `classification` parameter become their top-k (classification extension). */
  private async classifyOutputs(selected: Tensor[], requested: readonly RequestedOutput[]): Promise<Tensor[]> {
    if (!requested.some((output) => classificationCount(output) !== undefined)) return selected;
    return Promise.all(
      selected.map(async (tensor, i) => {
        const k = classificationCount(requested[i] as RequestedOutput);
        if (k === undefined) return tensor;
        return classify(tensor, k, await this.labels.of(tensor.name), this.io.maxBatchSize > 0, this.name);
      }),
    );
  }

  /** Stops taking requests, waits for those in flight, then unloads the instance. */
  async unload(): Promise<void> {
    if (this.state === 'UNAVAILABLE' && !this.instance) return;
    this.setState('UNLOADING', '');
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    const instance = this.instance;
    this.instance = undefined;
    await instance?.unload();
    this.setState('UNAVAILABLE', 'unloaded');
  }
}

function requestOperation(call: InferCall): string {
  const operation = call.parameters['operation'];
  if (operation === undefined) return 'infer';
  if (typeof operation !== 'string' || operation === '') {
    throw InferenceError.invalidArgument('parameters.operation', 'must be a non-empty string_param');
  }
  return operation;
}

function checkRequestedOutputs(requested: readonly RequestedOutput[], io: IOSpec, model: string): void {
  const seen = new Set<string>();
  for (const [i, output] of requested.entries()) {
    if (seen.has(output.name)) {
      throw InferenceError.invalidArgument(`outputs[${i}]`, `output '${output.name}' already exists in request`);
    }
    seen.add(output.name);
    if (io.outputs.length > 0 && !io.outputs.some((spec) => spec.name === output.name)) {
      throw InferenceError.invalidArgument(`outputs[${i}]`, `unexpected inference output '${output.name}' for model '${model}'`);
    }
  }
}

/**
 * The requested outputs in the order asked for; all of them when none was asked for,
 * and then every declared output must be there (a model returning too few is at fault).
 */
function selectOutputs(produced: Tensor[], requested: readonly RequestedOutput[], model: string, io: IOSpec): Tensor[] {
  if (requested.length === 0) {
    const missing = io.outputs.find((spec) => !spec.optional && !produced.some((t) => t.name === spec.name));
    if (missing) throw new InferenceError('INTERNAL', `model '${model}' did not produce declared output '${missing.name}'`);
    return produced;
  }
  return requested.map((output) => {
    const tensor = produced.find((t) => t.name === output.name);
    if (!tensor) throw new InferenceError('INTERNAL', `model '${model}' did not produce requested output '${output.name}'`);
    return tensor;
  });
}

function parseExecutionTimeout(config: ModelConfig, fallback: number): number | InferenceError {
  const raw = config.parameters.get(EXECUTION_TIMEOUT_PARAMETER)?.stringValue;
  if (raw === undefined || raw === '') return fallback;
  const ms = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(ms) || ms > 2 ** 31 - 1) {
    return InferenceError.invalidArgument(
      `${config.name}: parameters.${EXECUTION_TIMEOUT_PARAMETER}`,
      `must be an integer number of milliseconds (0 = no limit), got '${raw}'`,
    );
  }
  return ms;
}

/** The signal's reason when it is ours (CANCELLED, DEADLINE_EXCEEDED), else CANCELLED. */
function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw abortError(signal);
}

const NO_DEADLINE = { dispose: () => undefined };

/**
 * The client's signal, plus the request parameter `timeout` (µs since the request arrived;
 * 0 or absent: none, as in Triton). When it expires the signal fires with DEADLINE_EXCEEDED:
 * a request still waiting is dropped, a running one sees its AbortSignal fire.
 */
function requestDeadline(call: InferCall, signal: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  const timeout = call.parameters['timeout'];
  if (timeout === undefined || timeout === 0 || timeout === 0n || signal.aborted) return { signal, ...NO_DEADLINE };
  if (typeof timeout !== 'number' && typeof timeout !== 'bigint') {
    throw InferenceError.invalidArgument('parameters.timeout', 'must be an int64_param (microseconds)');
  }
  const controller = new AbortController();
  const forward = (): void => controller.abort(signal.reason);
  signal.addEventListener('abort', forward, { once: true });
  const expire = (): void =>
    controller.abort(
      new InferenceError('DEADLINE_EXCEEDED', `request '${call.id}' to model '${call.model}': timeout of ${timeout} µs expired`),
    );
  const remainingMs = Number(call.arrivedNs + BigInt(timeout) * 1000n - process.hrtime.bigint()) / 1e6;
  let timer: NodeJS.Timeout | undefined;
  if (remainingMs <= 0) expire();
  // setTimeout fires at once past 2^31-1 ms; a timeout of 24 days is as good as none.
  else if (remainingMs < 2 ** 31 - 1) timer = setTimeout(expire, Math.ceil(remainingMs));
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', forward);
    },
  };
}
