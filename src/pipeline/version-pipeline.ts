// One request through a version: decode and check the inputs, hand the job to the
// scheduler, select and classify the outputs, encode them. Returns the answer and how long
// each phase took; what is recorded about it is the telemetry's business. With the response
// cache on, a request whose answer is kept skips the scheduler and the model.
import type { CachedResponse, ResponseCache } from '../cache/index.js';
import type { RequestSignal } from '../cancellation.js';
import type { ModelConfig } from '../../generated/model_config.js';
import type { ExecutionJob, ExecutionOutput, RequestedOutput, StreamedOutput } from '../model/index.js';
import { checkSequenceRequest, nowNs, type Scheduled, type Scheduler } from '../scheduling/index.js';
import { Reshapes, batchSize, checkTensors, decodeInputs, encodeOutputs, type IOSpec, type Tensor } from '../tensor/index.js';
import { Labels, checkClassifiable, classificationCount, classify } from './classification.js';
import { checkRequestedOutputs, selectOutputs } from './outputs.js';
import { requestOperation } from './request-deadline.js';
import type { RequestTimings } from './statistics.js';
import type { CallBase, InferCall, InferResult, Streamed, StreamedResult, TensorCall, TensorResult } from './types.js';

const isClassified = (output: RequestedOutput): boolean => classificationCount(output) !== undefined;

export interface PipelineSpec {
  readonly name: string;
  readonly version: string;
  readonly config: ModelConfig;
  readonly io: IOSpec;
  /** The version directory: label files are found beside its config. */
  readonly path: string;
}

/** What the response cache did for a request: found its answer, or missed and kept it. */
export interface CacheOutcome {
  readonly hit: boolean;
  /** A hit: looking the answer up; a miss: looking up and inserting (Triton's cache_hit / cache_miss durations). */
  readonly ns: number;
}

/** A request that went through: what telemetry needs to know of it. */
export interface Completed {
  readonly operation: string;
  /** The decoded inputs. */
  readonly inputs: readonly Tensor[];
  /** The outputs sent, after selection and classification. */
  readonly outputs: readonly Tensor[];
  /** What the model answered; absent when the answer came from the response cache. */
  readonly output: ExecutionOutput | undefined;
  readonly timings: RequestTimings;
  /** Batch rows of the request. */
  readonly rows: number;
  /** It ran in a dynamic batch, whose execution the scheduler recorded. */
  readonly batched: boolean;
  /** Absent when the version does not use the response cache. */
  readonly cache: CacheOutcome | undefined;
}

/** The answer, as the way in that took the call hands it back. */
export interface Answered<R> extends Completed {
  readonly result: R;
}

/** A decoupled model's request that went through: its responses were delivered as made. */
export interface StreamCompleted {
  readonly operation: string;
  readonly inputs: readonly Tensor[];
  readonly output: ExecutionOutput;
  readonly timings: RequestTimings;
  readonly rows: number;
  /** Responses delivered. */
  readonly responses: number;
}

export class VersionPipeline {
  private readonly labels: Labels;
  /** config.pbtxt reshapes: the model sees its inputs and makes its outputs in their reshape shape. */
  private readonly reshapes: Reshapes;
  /** This load of the version, in its requests' cache keys. */
  readonly cacheLoad: number;

  constructor(
    private readonly spec: PipelineSpec,
    private readonly scheduler: Scheduler,
    /** The server's response cache, when the version's config enables it. */
    private readonly cache?: ResponseCache,
  ) {
    this.labels = new Labels(spec.config, spec.path);
    this.reshapes = new Reshapes(spec.io);
    this.cacheLoad = cache ? cache.newLoad() : 0;
  }

  // run and runTensors spell out the same phases rather than share one runner taking
  // closures: on this path every request paid for those closures and a second async frame.

  /** A transport's call: decoded from the wire, answered encoded for it. */
  async run(call: InferCall, signal: RequestSignal): Promise<Answered<InferResult>> {
    const operation = requestOperation(call);
    const decodeStart = nowNs();
    const job = this.checkedJob(call, operation, decodeInputs(call.inputs, this.spec.io), undefined);
    const inputNs = Math.round(nowNs() - decodeStart);
    const { cache } = this;
    // Looked up once the request proved valid: an invalid one never got an answer to keep.
    const lookup = cache?.lookup({
      model: this.spec.name,
      version: this.spec.version,
      load: this.cacheLoad,
      inputs: job.tensors,
      outputs: call.outputs,
      parameters: call.parameters,
    });
    if (lookup?.response) return this.cacheHit(call, job, lookup.key, lookup.response, lookup.ns);
    const scheduled = await this.scheduler.schedule(job, signal);
    const encodeStart = nowNs();
    const { output } = scheduled;
    const selected = this.selectedOutputs(output.outputs, call.outputs);
    const outputs = call.outputs.some(isClassified) ? await this.classifyOutputs(selected, call.outputs) : selected;
    const encoded = encodeOutputs(outputs);
    const insertNs = cache && lookup ? cache.insert(lookup.key, outputs, output.parameters) : 0;
    const result: InferResult = {
      model: this.spec.name,
      version: this.spec.version,
      id: call.id,
      parameters: output.parameters,
      outputs: encoded.outputs,
      raw: encoded.raw,
      // Only a hit's answer is kept encoded too: an answer asked for once may never be again.
      cached: undefined,
    };
    const outcome = lookup ? { hit: false, ns: lookup.ns + insertNs } : undefined;
    return this.answered(call, job, scheduled, outputs, result, inputNs, encodeStart, outcome, insertNs);
  }

  /** The kept answer, under this request's id; the wire's raw list is the request's own (shared-memory outputs empty its entries). */
  private cacheHit(call: InferCall, job: ExecutionJob, key: string, cached: CachedResponse, lookupNs: number): Answered<InferResult> {
    const result: InferResult = {
      model: this.spec.name,
      version: this.spec.version,
      id: call.id,
      parameters: cached.parameters,
      outputs: cached.encoded.slice(),
      raw: cached.raw.slice(),
      cached: { key, load: this.cacheLoad },
    };
    const totalNs = Number(process.hrtime.bigint() - call.arrivedNs);
    return {
      result,
      operation: job.operation,
      inputs: job.tensors,
      outputs: cached.outputs,
      output: undefined,
      // As Triton's: a hit's time before its lookup is queue time, no compute phase is recorded.
      timings: { queueNs: Math.max(0, totalNs - lookupNs), inputNs: 0, inferNs: 0, outputNs: 0 },
      rows: batchSize(job.tensors, this.spec.io),
      batched: false,
      cache: { hit: true, ns: lookupNs },
    };
  }

  /**
   * Another model's call: its tensors checked as the wire's would be, the output tensors
   * handed back as they are. Never answered from the response cache: the caller owns the
   * tensors it gets and may change them (Triton caches requests from clients, not steps).
   */
  async runTensors(call: TensorCall, signal: RequestSignal): Promise<Answered<TensorResult>> {
    const operation = requestOperation(call);
    const decodeStart = nowNs();
    const job = this.checkedJob(call, operation, checkTensors(call.tensors, this.spec.io), call.callers);
    const inputNs = Math.round(nowNs() - decodeStart);
    const scheduled = await this.scheduler.schedule(job, signal);
    const encodeStart = nowNs();
    const { output } = scheduled;
    const selected = this.selectedOutputs(output.outputs, call.outputs);
    const outputs = call.outputs.some(isClassified) ? await this.classifyOutputs(selected, call.outputs) : selected;
    const result: TensorResult = { model: this.spec.name, version: this.spec.version, id: call.id, parameters: output.parameters, outputs };
    return this.answered(call, job, scheduled, outputs, result, inputNs, encodeStart, undefined);
  }

  /**
   * A decoupled model's request: checked and decoded once, then each response the model
   * makes selected, classified and encoded, and handed to `deliver`, whose promise the model's
   * next response waits for.
   */
  async runStream(call: InferCall, signal: RequestSignal, deliver: (response: StreamedResult) => Promise<void>): Promise<StreamCompleted> {
    const operation = requestOperation(call);
    const decodeStart = nowNs();
    const checked = this.checkedJob(call, operation, decodeInputs(call.inputs, this.spec.io), undefined);
    const { name, version } = this.spec;
    return this.streamed(call, checked, Math.round(nowNs() - decodeStart), signal, (response, outputs) => {
      const encoded = encodeOutputs(outputs);
      const result: InferResult = { model: name, version, id: call.id, parameters: response.parameters, outputs: encoded.outputs, raw: encoded.raw };
      return deliver({ result, final: response.final });
    });
  }

  /** Another model's call to a decoupled model: its responses as tensors. */
  async runTensorsStream(call: TensorCall, signal: RequestSignal, deliver: (response: Streamed<TensorResult>) => Promise<void>): Promise<StreamCompleted> {
    const operation = requestOperation(call);
    const decodeStart = nowNs();
    const checked = this.checkedJob(call, operation, checkTensors(call.tensors, this.spec.io), call.callers);
    const { name, version } = this.spec;
    return this.streamed(call, checked, Math.round(nowNs() - decodeStart), signal, (response, outputs) =>
      deliver({ result: { model: name, version, id: call.id, parameters: response.parameters, outputs }, final: response.final }),
    );
  }

  /** The job run with each response selected and classified, then handed to `deliver`. */
  private async streamed(
    call: CallBase,
    checked: ExecutionJob,
    inputNs: number,
    signal: RequestSignal,
    deliver: (response: StreamedOutput, outputs: Tensor[]) => Promise<void>,
  ): Promise<StreamCompleted> {
    const { io } = this.spec;
    const classified = call.outputs.some(isClassified);
    let outputNs = 0;
    let responses = 0;
    const job: ExecutionJob = {
      ...checked,
      responses: async (response: StreamedOutput): Promise<void> => {
        const encodeStart = nowNs();
        const selected = this.selectedOutputs(response.outputs, call.outputs);
        const outputs = classified ? await this.classifyOutputs(selected, call.outputs) : selected;
        const handed = deliver(response, outputs);
        outputNs += Math.round(nowNs() - encodeStart);
        responses++;
        await handed;
      },
    };
    const scheduled = await this.scheduler.schedule(job, signal);
    const { output } = scheduled;
    const totalNs = Number(process.hrtime.bigint() - call.arrivedNs);
    const runNs = output.inferNs === undefined ? scheduled.inferNs : Number(output.inferNs);
    // The output phase happened inside the run, between the model's responses.
    const inferNs = Math.max(0, runNs - outputNs);
    return {
      operation: job.operation,
      inputs: job.tensors,
      output,
      timings: { queueNs: Math.max(0, totalNs - inputNs - inferNs - outputNs), inputNs, inferNs, outputNs },
      rows: batchSize(job.tensors, io),
      responses,
    };
  }

  /** What the model made, back in the wire's shapes (config reshapes), as the request selected it. */
  private selectedOutputs(produced: Tensor[], requested: readonly RequestedOutput[]): Tensor[] {
    const { name, io } = this.spec;
    return selectOutputs(this.reshapes.any ? this.reshapes.toWire(produced) : produced, requested, name, io);
  }

  /** The request's other fields checked, and the job for the scheduler. */
  private checkedJob(
    call: CallBase,
    operation: string,
    inputs: readonly Tensor[],
    callers: readonly string[] | undefined,
  ): ExecutionJob {
    const { name, io, config } = this.spec;
    checkRequestedOutputs(call.outputs, io, name);
    checkSequenceRequest(config, call.parameters, name);
    checkClassifiable(call.outputs, io, name);
    const tensors = this.reshapes.any ? this.reshapes.toModel(inputs) : inputs;
    return callers
      ? { id: call.requestId, tensors, parameters: call.parameters, outputs: call.outputs, operation, callers }
      : { id: call.requestId, tensors, parameters: call.parameters, outputs: call.outputs, operation };
  }

  /** The answer with what telemetry needs of it; the output phase ends here. */
  private answered<R>(
    call: CallBase,
    job: ExecutionJob,
    scheduled: Scheduled,
    outputs: readonly Tensor[],
    result: R,
    inputNs: number,
    encodeStart: number,
    cache: CacheOutcome | undefined,
    insertNs = 0,
  ): Answered<R> {
    // The cache's time is its own figure, in no phase.
    const outputNs = Math.max(0, Math.round(nowNs() - encodeStart) - insertNs);
    const { output } = scheduled;
    // The arrival is the transport's bigint reading; the phases within it, the number clock's.
    const totalNs = Number(process.hrtime.bigint() - call.arrivedNs);
    // A worker instance reports its own execution time; the rest (waiting for a free
    // instance, for a sequence's earlier requests or for a batch, crossing threads) falls
    // into the queue figure.
    const inferNs = output.inferNs === undefined ? scheduled.inferNs : Number(output.inferNs);
    return {
      result,
      operation: job.operation,
      inputs: job.tensors,
      outputs,
      output,
      // Two clocks' roundings must not make a queue of nothing negative.
      timings: { queueNs: Math.max(0, totalNs - inputNs - inferNs - outputNs - (cache?.ns ?? 0)), inputNs, inferNs, outputNs },
      rows: batchSize(job.tensors, this.spec.io),
      batched: scheduled.batched,
      cache,
    };
  }

  /** Requested outputs with a `classification` parameter become their top-k (classification extension). */
  private classifyOutputs(selected: Tensor[], requested: readonly RequestedOutput[]): Promise<Tensor[]> {
    return Promise.all(
      selected.map(async (tensor, i) => {
        const k = classificationCount(requested[i] as RequestedOutput);
        if (k === undefined) return tensor;
        return classify(tensor, k, await this.labels.of(tensor.name), this.spec.io.maxBatchSize > 0, this.spec.name);
      }),
    );
  }
}
