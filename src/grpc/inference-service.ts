// GRPCInferenceService handlers: each converts the request, calls the repository and
// converts the result. Errors leave through toServiceError, once.
import type { EventEmitter } from 'node:events';
import {
  status as Status,
  type handleBidiStreamingCall,
  type handleUnaryCall,
  type ServerDuplexStream,
  type sendUnaryData,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type {
  GRPCInferenceServiceServer,
  ModelInferRequest,
  ModelStreamInferResponse,
  RepositoryModelLoadRequest,
} from '../../generated/grpc_service.js';
import { InferenceError, errorMessage } from '../errors.js';
import { parseConfigJson, type ModelRepository } from '../model/index.js';
import {
  toInferCall,
  toInferResponse,
  toModelIndex,
  toModelMetadataResponse,
  toModelStatistics,
} from './converters.js';
import { toServiceError } from './status.js';

/** The part of a server call handlers use: its cancellation. */
type ServerSurfaceCall = EventEmitter;

/** What the handlers need to know about the server around them. */
export interface ServiceContext {
  readonly repository: ModelRepository;
  readonly log: Logger;
  readonly serverName: string;
  readonly serverVersion: string;
  readonly extensions: readonly string[];
  /** Tracks in-flight calls and refuses new ones once shutdown started. */
  readonly calls: CallTracker;
}

/** Counts calls in flight so that shutdown can wait for them. */
export class CallTracker {
  private active = 0;
  private closing = false;
  private idle: (() => void) | undefined;

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
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }
}

const SHUTTING_DOWN = { code: Status.UNAVAILABLE, details: 'GRPC server is shutting down' };

/** An AbortSignal that fires when the client cancels the call. */
function callSignal(call: ServerSurfaceCall): AbortSignal {
  const controller = new AbortController();
  call.once('cancelled', () => controller.abort(new InferenceError('CANCELLED', 'the client cancelled the call')));
  return controller.signal;
}

function unary<Req, Res>(
  context: ServiceContext,
  handler: (request: Req, call: ServerSurfaceCall) => Promise<Res> | Res,
): handleUnaryCall<Req, Res> {
  return (call, callback: sendUnaryData<Res>) => {
    if (!context.calls.enter()) {
      callback(SHUTTING_DOWN);
      return;
    }
    let result: Promise<Res>;
    try {
      result = Promise.resolve(handler(call.request, call));
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (response) => {
        context.calls.leave();
        callback(null, response);
      },
      (err: unknown) => {
        context.calls.leave();
        callback(toServiceError(err, context.log));
      },
    );
  };
}

function unimplemented<Req, Res>(context: ServiceContext, rpc: string, why: string): handleUnaryCall<Req, Res> {
  return unary(context, () => {
    throw new InferenceError('UNIMPLEMENTED', `${rpc} is not implemented by v2serve: ${why}`);
  });
}

/** Responses go out in order of completion; a failed request answers with error_message and the stream stays open. */
function modelStreamInfer(context: ServiceContext): handleBidiStreamingCall<ModelInferRequest, ModelStreamInferResponse> {
  return (call: ServerDuplexStream<ModelInferRequest, ModelStreamInferResponse>) => {
    if (!context.calls.enter()) {
      call.destroy(Object.assign(new Error(SHUTTING_DOWN.details), SHUTTING_DOWN));
      return;
    }
    const signal = callSignal(call);
    let pending = 0;
    let halfClosed = false;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      context.calls.leave();
      if (!signal.aborted) call.end();
    };
    call.on('data', (request: ModelInferRequest) => {
      pending++;
      const arrivedNs = process.hrtime.bigint();
      Promise.resolve()
        .then(() => context.repository.infer(toInferCall(request, arrivedNs), signal))
        .then(
          (result) => ({ errorMessage: '', inferResponse: toInferResponse(result) }),
          (err: unknown) => ({
            errorMessage: toServiceError(err, context.log).details,
            inferResponse: {
              modelName: request.modelName,
              modelVersion: request.modelVersion,
              id: request.id,
              parameters: { triton_final_response: { boolParam: true } },
              outputs: [],
              rawOutputContents: [],
            },
          }),
        )
        .then((response) => {
          if (!signal.aborted) call.write(response);
          pending--;
          if (halfClosed && pending === 0) finish();
        });
    });
    call.on('end', () => {
      halfClosed = true;
      if (pending === 0) finish();
    });
    call.on('error', (err) => {
      context.log.debug({ err: errorMessage(err) }, 'stream error');
      finish();
    });
    call.on('cancelled', finish);
  };
}

function loadParameters(request: RepositoryModelLoadRequest): { config?: string } {
  let config: string | undefined;
  for (const [key, value] of Object.entries(request.parameters)) {
    if (key === 'config') {
      if (value.stringParam === undefined) {
        throw InferenceError.invalidArgument(`parameters.config`, 'invalid value type for load parameter, expected string_param');
      }
      config = value.stringParam;
    } else if (key.startsWith('file:')) {
      throw new InferenceError('UNIMPLEMENTED', `load parameter '${key}': file overrides are not supported by v2serve`);
    } else {
      throw InferenceError.invalidArgument(`parameters.${key}`, 'unrecognized load parameter');
    }
  }
  return config === undefined ? {} : { config };
}

function checkRepositoryName(name: string): void {
  if (name) throw new InferenceError('UNIMPLEMENTED', `'repository_name' is not supported (got '${name}'); leave it empty`);
}

export function inferenceService(context: ServiceContext): GRPCInferenceServiceServer {
  const { repository } = context;
  const cudaShm = 'CUDA shared memory needs a GPU, and v2serve runs models on the CPU';
  return {
    serverLive: unary(context, () => ({ live: true })),
    serverReady: unary(context, () => ({ ready: !context.calls.shuttingDown && repository.serverReady() })),
    modelReady: unary(context, (request) => ({ ready: repository.modelReady(request.name, request.version) })),
    serverMetadata: unary(context, () => ({
      name: context.serverName,
      version: context.serverVersion,
      extensions: [...context.extensions],
    })),
    modelMetadata: unary(context, (request) =>
      toModelMetadataResponse(repository.metadata(request.name, request.version)),
    ),
    modelInfer: (call, callback) => {
      const arrivedNs = process.hrtime.bigint();
      unary(context, async (request: ModelInferRequest, surface) =>
        toInferResponse(await repository.infer(toInferCall(request, arrivedNs), callSignal(surface))),
      )(call, callback);
    },
    modelStreamInfer: modelStreamInfer(context),
    modelConfig: unary(context, (request) => ({ config: repository.config(request.name, request.version) })),
    modelStatistics: unary(context, (request) => ({
      modelStats: repository.statistics(request.name, request.version).map(toModelStatistics),
    })),
    repositoryIndex: unary(context, (request) => {
      checkRepositoryName(request.repositoryName);
      return { models: repository.index(request.ready).map(toModelIndex) };
    }),
    repositoryModelLoad: unary(context, async (request) => {
      checkRepositoryName(request.repositoryName);
      repository.checkExplicitControl();
      const { config } = loadParameters(request);
      await repository.loadModel(request.modelName, config === undefined ? undefined : parseConfigJson(config));
      return {};
    }),
    repositoryModelUnload: unary(context, async (request) => {
      checkRepositoryName(request.repositoryName);
      repository.checkExplicitControl();
      await repository.unloadModel(request.modelName);
      return {};
    }),
    systemSharedMemoryStatus: unimplemented(context, 'SystemSharedMemoryStatus', 'system shared memory is not supported yet'),
    systemSharedMemoryRegister: unimplemented(context, 'SystemSharedMemoryRegister', 'system shared memory is not supported yet'),
    systemSharedMemoryUnregister: unimplemented(
      context,
      'SystemSharedMemoryUnregister',
      'system shared memory is not supported yet',
    ),
    cudaSharedMemoryStatus: unimplemented(context, 'CudaSharedMemoryStatus', cudaShm),
    cudaSharedMemoryRegister: unimplemented(context, 'CudaSharedMemoryRegister', cudaShm),
    cudaSharedMemoryUnregister: unimplemented(context, 'CudaSharedMemoryUnregister', cudaShm),
    traceSetting: unimplemented(context, 'TraceSetting', 'v2serve does not trace requests'),
    logSettings: unimplemented(context, 'LogSettings', 'live log settings are not supported yet'),
  };
}
