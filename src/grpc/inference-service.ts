// GRPCInferenceService handlers: each converts the request, calls the repository and
// converts the result. Errors leave through toServiceError, once.
import type { EventEmitter } from 'node:events';
import {
  status as Status,
  type Deadline,
  type handleBidiStreamingCall,
  type handleUnaryCall,
  type ServerDuplexStream,
  type sendUnaryData,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type {
  GRPCInferenceServiceServer,
  InferParameter,
  ModelInferRequest,
  ModelStreamInferResponse,
  RepositoryModelLoadRequest,
} from '../../generated/grpc_service.js';
import { InferenceError, errorMessage } from '../errors.js';
import type { RequestRecord, RequestSink } from '../events.js';
import { requestIdOf } from '../request-id.js';
import { parseConfigJson, type ModelRepository } from '../repository/index.js';
import {
  fromLogSettings,
  toInferCall,
  toLogSettings,
  toInferResponse,
  toModelIndex,
  toModelMetadataResponse,
  toModelStatistics,
} from './converters.js';
import { dictionary } from '../dictionary.js';
import type { InferResult } from '../pipeline/index.js';
import type { LogSettings } from '../logging/index.js';
import type { RegionStatus, SharedMemoryRegistry } from '../shared-memory/index.js';
import { requestWireSize } from './infer-request-codec.js';
import { responseWireSize } from './infer-response-codec.js';
import { toServiceError } from './status.js';

/** The part of a server call handlers use: its cancellation and deadline. */
interface ServerSurfaceCall extends EventEmitter {
  getDeadline(): Deadline;
}

/** What the handlers need to know about the server around them. */
export interface ServiceContext {
  readonly repository: ModelRepository;
  readonly log: Logger;
  readonly serverName: string;
  readonly serverVersion: string;
  readonly extensions: readonly string[];
  /** Tracks in-flight calls and refuses new ones once shutdown started. */
  readonly calls: CallTracker;
  /** System shared memory regions. */
  readonly sharedMemory: SharedMemoryRegistry;
  /** The process's live log settings. */
  readonly logSettings: LogSettings;
  /** Told of every finished call and stream request (request log, counters); absent: nobody listens. */
  readonly requests?: RequestSink;
}

/** Counts calls in flight so that shutdown can wait for them. */
export class CallTracker {
  private active = 0;
  private closing = false;
  private idle: (() => void) | undefined;
  private readonly closingListeners = new Set<() => void>();
  private readonly unanswered = new Set<() => void>();

  get shuttingDown(): boolean {
    return this.closing;
  }

  /** Returns false when the server no longer takes calls. */
  enter(): boolean {
    if (this.closing) return false;
    this.active++;
    return true;
  }

  leave(): void {
    this.active--;
    if (this.active === 0) this.idle?.();
  }

  /** Refuses new calls and resolves when the ones in flight have finished. */
  drain(): Promise<void> {
    this.closing = true;
    for (const listener of [...this.closingListeners]) listener();
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }

  /**
   * Open streams are told when shutdown starts, so that they end once their requests are
   * answered: they count as calls only while a request is in flight. Returns the unsubscribe.
   */
  onClosing(listener: () => void): () => void {
    this.closingListeners.add(listener);
    return () => this.closingListeners.delete(listener);
  }

  /** A unary call registers how to answer it if shutdown cannot wait for it any longer. */
  answerOnCut(answer: () => void): () => void {
    this.unanswered.add(answer);
    return () => this.unanswered.delete(answer);
  }

  /** The exit timeout passed: calls still running are answered UNAVAILABLE now, not cut without a status. */
  cut(): void {
    for (const answer of [...this.unanswered]) answer();
  }
}

const SHUTTING_DOWN = { code: Status.UNAVAILABLE, details: 'GRPC server is shutting down' };

/** Ends a stream with UNAVAILABLE: grpc-js sends the status of an emitted error carrying a code. */
function endShuttingDown(call: ServerDuplexStream<ModelInferRequest, ModelStreamInferResponse>): void {
  call.emit('error', Object.assign(new Error(SHUTTING_DOWN.details), SHUTTING_DOWN));
}
const CUT = { code: Status.UNAVAILABLE, details: 'GRPC server is shutting down: the exit timeout passed before this call finished' };

/**
 * An AbortSignal that fires when the call ends before its answer: the client cancelled, or
 * its gRPC deadline passed (grpc-js has then already sent DEADLINE_EXCEEDED). A request
 * still waiting when it fires is never computed.
 */
function callSignal(call: ServerSurfaceCall, answered: () => boolean = () => false): AbortSignal {
  const controller = new AbortController();
  // grpc-js emits 'cancelled' at the end of every call, answered or not (grpc-node#2771):
  // only a call not yet answered is really cancelled, and only then is the reason built.
  call.once('cancelled', () => {
    if (answered()) return;
    const deadline = call.getDeadline();
    const expired = deadline instanceof Date ? deadline.getTime() <= Date.now() : deadline <= Date.now();
    controller.abort(
      expired
        ? new InferenceError('DEADLINE_EXCEEDED', 'the gRPC deadline of the call expired')
        : new InferenceError('CANCELLED', 'the client cancelled the call'),
    );
  });
  return controller.signal;
}

/** What a unary handler gets besides the request. */
interface UnaryCall {
  /** process.hrtime.bigint() when the call reached the handler. */
  readonly arrivedNs: bigint;
  /** The client's request id, or one made for the call. */
  readonly requestId: string;
  /** Fires when the client cancels or the deadline passes before the call is answered. */
  signal(): AbortSignal;
}

/** Which model a request concerns and the id its client gave, as the request log tells them. */
interface CallTarget {
  readonly id?: string;
  readonly model: string;
  readonly version?: string;
}
type Target<Req> = (request: Req) => CallTarget;
const NO_TARGET: CallTarget = { model: '' };
const noTarget = (): CallTarget => NO_TARGET;
const modelTarget = (request: { name: string; version: string }): CallTarget => ({ model: request.name, version: request.version });
const inferTarget = (request: ModelInferRequest): CallTarget => ({ id: request.id, model: request.modelName, version: request.modelVersion });

/** The status name of a gRPC code, as the request log writes it (Status is a numeric enum: it maps both ways). */
const statusName = (code: Status): string => Status[code] ?? String(code);

/** Sizes are known for ModelInfer's messages only: its codecs measure them. */
function record(
  rpc: string,
  target: CallTarget,
  requestId: string,
  arrivedNs: bigint,
  code: Status,
  bytesIn: number | undefined,
  bytesOut: number | undefined,
): RequestRecord {
  return {
    requestId,
    transport: 'grpc',
    operation: rpc,
    model: target.model,
    version: target.version ?? '',
    status: statusName(code),
    durationNs: process.hrtime.bigint() - arrivedNs,
    bytesIn,
    bytesOut,
  };
}

function unary<Req, Res>(
  context: ServiceContext,
  rpc: string,
  target: Target<Req>,
  handler: (request: Req, call: UnaryCall) => Promise<Res> | Res,
): handleUnaryCall<Req, Res> {
  const { requests } = context;
  return (call, callback: sendUnaryData<Res>) => {
    const arrivedNs = process.hrtime.bigint();
    const about = target(call.request);
    const requestId = requestIdOf(about.id ?? '');
    // The record is built after the answer went out: grpc-js has serialized ModelInfer's answer by then.
    const finished = (code: Status, response?: Res): void => {
      if (!requests) return;
      const infer = rpc === 'ModelInfer';
      const bytesIn = infer ? requestWireSize(call.request as ModelInferRequest) : undefined;
      const result = infer && response !== undefined ? (response as InferResult) : undefined;
      // An answered inference names the version that served it.
      const target = result ? { model: about.model, version: result.version } : about;
      requests.finished(record(rpc, target, requestId, arrivedNs, code, bytesIn, result ? responseWireSize(result) : undefined));
    };
    if (!context.calls.enter()) {
      callback(SHUTTING_DOWN);
      finished(SHUTTING_DOWN.code);
      return;
    }
    let answered = false;
    const answer = (err: Parameters<sendUnaryData<Res>>[0], response?: Res): void => {
      if (answered) return;
      answered = true;
      forget();
      context.calls.leave();
      callback(err, response);
      // An answer to a call the client already cancelled reached nobody.
      finished(err?.code ?? (call.cancelled ? Status.CANCELLED : Status.OK), response);
    };
    const forget = context.calls.answerOnCut(() => answer(CUT));
    const unaryCall: UnaryCall = { arrivedNs, requestId, signal: () => callSignal(call, () => answered) };
    let result: Promise<Res>;
    try {
      result = Promise.resolve(handler(call.request, unaryCall));
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (response) => answer(null, response),
      (err: unknown) => answer(toServiceError(err, context.log, requestId)),
    );
  };
}

function unimplemented<Req, Res>(context: ServiceContext, rpc: string, why: string): handleUnaryCall<Req, Res> {
  return unary(context, rpc, noTarget, () => {
    throw new InferenceError('UNIMPLEMENTED', `${rpc} is not implemented by v2serve: ${why}`);
  });
}

/** Triton flags every stream response; v2serve models are not decoupled, so each is the last for its request. */
const FINAL_RESPONSE_KEY = 'triton_final_response';
const FINAL_RESPONSE: InferParameter = Object.freeze({ boolParam: true });

function withFinalResponse(parameters: ReadonlyMap<string, InferParameter>): Map<string, InferParameter> {
  return new Map(parameters).set(FINAL_RESPONSE_KEY, FINAL_RESPONSE);
}

/** The answer of a failed stream request: its id, model and version, and the error text. */
function streamError(request: ModelInferRequest, message: string): ModelStreamInferResponse {
  return {
    errorMessage: message,
    inferResponse: {
      modelName: request.modelName,
      modelVersion: request.modelVersion,
      id: request.id,
      parameters: withFinalResponse(new Map()),
      outputs: [],
      rawOutputContents: [],
    },
  };
}

/**
 * Responses go out in order of completion; a failed request answers with error_message and
 * the stream stays open. Each request in flight counts as a call for shutdown; an idle open
 * stream does not, and is ended (UNAVAILABLE) once shutdown starts and its requests are answered.
 */
function modelStreamInfer(context: ServiceContext): handleBidiStreamingCall<ModelInferRequest, ModelStreamInferResponse> {
  return (call: ServerDuplexStream<ModelInferRequest, ModelStreamInferResponse>) => {
    if (context.calls.shuttingDown) {
      endShuttingDown(call);
      return;
    }
    const signal = callSignal(call);
    let pending = 0;
    let halfClosed = false;
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      unsubscribe();
      if (signal.aborted) return;
      if (halfClosed) call.end();
      else endShuttingDown(call);
    };
    const endWhenIdle = (): void => {
      if (pending === 0 && (halfClosed || context.calls.shuttingDown)) end();
    };
    const unsubscribe = context.calls.onClosing(endWhenIdle);

    call.on('data', (request: ModelInferRequest) => {
      if (ended) return;
      if (!context.calls.enter()) {
        call.write(streamError(request, SHUTTING_DOWN.details));
        return;
      }
      pending++;
      const arrivedNs = process.hrtime.bigint();
      const requestId = requestIdOf(request.id);
      let code = Status.OK;
      let target = inferTarget(request);
      inferOne(context, request, arrivedNs, requestId, signal)
        .then(
          (result): ModelStreamInferResponse => {
            target = { model: request.modelName, version: result.version };
            const response = toInferResponse(result);
            return { errorMessage: '', inferResponse: { ...response, parameters: withFinalResponse(response.parameters) } };
          },
          (err: unknown) => {
            const failure = toServiceError(err, context.log, requestId);
            code = failure.code;
            return streamError(request, failure.details);
          },
        )
        .then((response) => {
          if (!signal.aborted) call.write(response);
          pending--;
          context.calls.leave();
          endWhenIdle();
          // A stream request answered after the stream was cancelled reached nobody.
          const status = signal.aborted && code === Status.OK ? Status.CANCELLED : code;
          context.requests?.finished(record('ModelStreamInfer', target, requestId, arrivedNs, status, requestWireSize(request), undefined));
        });
    });
    call.on('end', () => {
      halfClosed = true;
      endWhenIdle();
    });
    // Cancelled or broken: nothing more can be written; requests in flight still leave the tracker.
    const abandon = (): void => {
      ended = true;
      unsubscribe();
    };
    call.on('error', (err) => {
      if (context.log.isLevelEnabled('debug')) context.log.debug({ err: errorMessage(err) }, 'stream error');
      abandon();
    });
    call.on('cancelled', abandon);
  };
}

/**
 * One inference, wire to wire. Unary and stream calls both come through here. Inputs in
 * shared memory are read before, outputs placed in shared memory written after.
 */
async function inferOne(
  context: ServiceContext,
  request: ModelInferRequest,
  arrivedNs: bigint,
  requestId: string,
  signal: AbortSignal,
): Promise<InferResult> {
  return context.sharedMemory.infer(toInferCall(request, arrivedNs, requestId), (call) => context.repository.infer(call, signal));
}

function regionStatusMap(regions: readonly RegionStatus[]): Map<string, RegionStatus> {
  return new Map(regions.map((region) => [region.name, region]));
}

const FILE_PARAMETER = 'file:';

function loadParameters(request: RepositoryModelLoadRequest): { config?: string; files: Map<string, Uint8Array> } {
  let config: string | undefined;
  const files = new Map<string, Uint8Array>();
  for (const [key, value] of request.parameters) {
    if (key === 'config') {
      if (value.stringParam === undefined) {
        throw InferenceError.invalidArgument(`parameters.config`, 'invalid value type for load parameter, expected string_param');
      }
      config = value.stringParam;
    } else if (key.startsWith(FILE_PARAMETER)) {
      if (value.bytesParam === undefined) {
        throw InferenceError.invalidArgument(`parameters.${key}`, 'invalid value type for load parameter, expected bytes_param');
      }
      files.set(key.slice(FILE_PARAMETER.length), value.bytesParam);
    } else {
      throw InferenceError.invalidArgument(`parameters.${key}`, 'unrecognized load parameter');
    }
  }
  return config === undefined ? { files } : { config, files };
}

function checkRepositoryName(name: string): void {
  if (name) throw new InferenceError('UNIMPLEMENTED', `'repository_name' is not supported (got '${name}'); leave it empty`);
}

/** The unary ModelInfer answers the core's InferResult: encodeInferResult serializes it (see server.ts). */
export type InferenceServiceImplementation = Omit<GRPCInferenceServiceServer, 'modelInfer'> & {
  modelInfer: handleUnaryCall<ModelInferRequest, InferResult>;
};

export function inferenceService(context: ServiceContext): InferenceServiceImplementation {
  const { repository } = context;
  const shm = context.sharedMemory;
  const cudaShm = 'CUDA shared memory needs a GPU, and v2serve runs models on the CPU';
  return {
    serverLive: unary(context, 'ServerLive', noTarget, () => ({ live: true })),
    serverReady: unary(context, 'ServerReady', noTarget, () => ({ ready: !context.calls.shuttingDown && repository.serverReady() })),
    modelReady: unary(context, 'ModelReady', modelTarget, (request) => ({ ready: repository.modelReady(request.name, request.version) })),
    serverMetadata: unary(context, 'ServerMetadata', noTarget, () => ({
      name: context.serverName,
      version: context.serverVersion,
      extensions: [...context.extensions],
    })),
    modelMetadata: unary(context, 'ModelMetadata', modelTarget, (request) =>
      toModelMetadataResponse(repository.metadata(request.name, request.version)),
    ),
    modelInfer: unary(context, 'ModelInfer', inferTarget, (request, call) => inferOne(context, request, call.arrivedNs, call.requestId, call.signal())),
    modelStreamInfer: modelStreamInfer(context),
    modelConfig: unary(context, 'ModelConfig', modelTarget, (request) => ({ config: repository.config(request.name, request.version) })),
    modelStatistics: unary(context, 'ModelStatistics', modelTarget, (request) => ({
      modelStats: repository.statistics(request.name, request.version).map(toModelStatistics),
    })),
    repositoryIndex: unary(context, 'RepositoryIndex', noTarget, (request) => {
      checkRepositoryName(request.repositoryName);
      return { models: repository.index(request.ready).map(toModelIndex) };
    }),
    repositoryModelLoad: unary(context, 'RepositoryModelLoad', (r) => ({ model: r.modelName }), async (request) => {
      checkRepositoryName(request.repositoryName);
      repository.checkExplicitControl();
      const { config, files } = loadParameters(request);
      await repository.loadModel(request.modelName, config === undefined ? undefined : parseConfigJson(config), files);
      return {};
    }),
    repositoryModelUnload: unary(context, 'RepositoryModelUnload', (r) => ({ model: r.modelName }), async (request) => {
      checkRepositoryName(request.repositoryName);
      repository.checkExplicitControl();
      await repository.unloadModel(request.modelName, request.parameters.get('unload_dependents')?.boolParam === true);
      return {};
    }),
    systemSharedMemoryStatus: unary(context, 'SystemSharedMemoryStatus', noTarget, (request) => ({ regions: regionStatusMap(shm.status(request.name)) })),
    systemSharedMemoryRegister: unary(context, 'SystemSharedMemoryRegister', noTarget, async (request) => {
      await shm.register(request.name, request.key, request.offset, request.byteSize);
      return {};
    }),
    systemSharedMemoryUnregister: unary(context, 'SystemSharedMemoryUnregister', noTarget, async (request) => {
      await shm.unregister(request.name);
      return {};
    }),
    // No CUDA region can exist: status lists none, unregister has nothing to do (Triton without
    // GPUs answers the same, and simple_grpc_shm_client calls unregister-all first).
    cudaSharedMemoryStatus: unary(context, 'CudaSharedMemoryStatus', noTarget, (request) => {
      if (request.name) throw new InferenceError('NOT_FOUND', `Unable to find cuda shared memory region: '${request.name}'`);
      return { regions: new Map() };
    }),
    cudaSharedMemoryRegister: unary(context, 'CudaSharedMemoryRegister', noTarget, (request) => {
      throw new InferenceError('INVALID_ARGUMENT', `failed to register CUDA shared memory region '${request.name}': GPUs not supported (${cudaShm})`);
    }),
    cudaSharedMemoryUnregister: unary(context, 'CudaSharedMemoryUnregister', noTarget, () => ({})),
    traceSetting: unimplemented(context, 'TraceSetting', 'v2serve does not trace requests'),
    logSettings: unary(context, 'LogSettings', noTarget, (request) => {
      const settings = context.logSettings;
      settings.update(fromLogSettings(request.settings));
      if (request.settings.size > 0) context.log.info({ settings: dictionary(settings.current()) }, 'log settings changed');
      return { settings: toLogSettings(settings.current()) };
    }),
  };
}
