// GRPCInferenceService handlers: each converts the request, calls the repository and
// converts the result. Errors leave through toServiceError (unary-call.ts), once.
import type { handleBidiStreamingCall, handleUnaryCall } from '@grpc/grpc-js';
import type { GRPCInferenceServiceServer, ModelInferRequest, RepositoryModelLoadRequest } from '../../generated/grpc_service.js';
import { checkRepositoryName } from '../data-plane/index.js';
import { dictionary } from '../dictionary.js';
import { InferenceError } from '../errors.js';
import type { InferResult } from '../pipeline/index.js';
import { parseConfigJson } from '../repository/index.js';
import type { RegionStatus } from '../shared-memory/index.js';
import { fromLogSettings, toLogSettings, toModelIndex, toModelMetadataResponse, toModelStatistics } from './converters.js';
import { modelInfer } from './model-infer.js';
import { modelStreamInfer } from './model-stream.js';
import { modelTarget, noTarget } from './request-record.js';
import type { KeptReply, StreamAnswer } from './infer-response-codec.js';
import type { SeenRequest } from './infer-request-codec.js';
import type { ServiceContext } from './service-context.js';
import { unary, unimplemented } from './unary-call.js';

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

/** ModelInfer and ModelStreamInfer answer the core's results: the server's InferResultEncoder serializes them (see server.ts). */
export type InferenceServiceImplementation = Omit<GRPCInferenceServiceServer, 'modelInfer' | 'modelStreamInfer'> & {
  modelInfer: handleUnaryCall<ModelInferRequest | SeenRequest, InferResult | KeptReply>;
  modelStreamInfer: handleBidiStreamingCall<ModelInferRequest, StreamAnswer>;
};

export function inferenceService(context: ServiceContext): InferenceServiceImplementation {
  const { repository, sharedMemory: shm } = context.dataPlane;
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
    modelInfer: modelInfer(context),
    modelStreamInfer: modelStreamInfer(context),
    modelConfig: unary(context, 'ModelConfig', modelTarget, (request) => ({ config: repository.config(request.name, request.version) })),
    modelStatistics: unary(context, 'ModelStatistics', modelTarget, (request) => ({
      modelStats: repository.statistics(request.name, request.version).map(toModelStatistics),
    })),
    repositoryIndex: unary(context, 'RepositoryIndex', noTarget, (request) => {
      checkRepositoryName(request.repositoryName, "'repository_name'");
      return { models: repository.index(request.ready).map(toModelIndex) };
    }),
    repositoryModelLoad: unary(context, 'RepositoryModelLoad', (r) => ({ model: r.modelName }), async (request) => {
      checkRepositoryName(request.repositoryName, "'repository_name'");
      repository.checkExplicitControl();
      const { config, files } = loadParameters(request);
      await repository.loadModel(request.modelName, config === undefined ? undefined : parseConfigJson(config), files);
      return {};
    }),
    repositoryModelUnload: unary(context, 'RepositoryModelUnload', (r) => ({ model: r.modelName }), async (request) => {
      checkRepositoryName(request.repositoryName, "'repository_name'");
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
