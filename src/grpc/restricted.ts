// Triton's --grpc-restricted-protocol: the RPCs of a category answer only calls that
// carry a given header with a given value. Checked by a server interceptor on the
// request metadata, before any handler runs or any message is decoded.
import { timingSafeEqual } from 'node:crypto';
import { ServerInterceptingCall, status as Status, type Metadata, type ServerInterceptor } from '@grpc/grpc-js';
import { dictionary } from '../dictionary.js';
import type { ProtocolCategory, ProtocolRestriction } from '../restrictions.js';

const INFERENCE = '/inference.GRPCInferenceService/';
const HEALTH = '/grpc.health.v1.Health/';

/**
 * Every method's category, as Triton groups them. Reflection has no category (Triton
 * serves none): switch it off with --grpc-reflection=false.
 */
export const METHOD_CATEGORY: Readonly<Record<string, ProtocolCategory>> = dictionary({
  [`${INFERENCE}ServerLive`]: 'health',
  [`${INFERENCE}ServerReady`]: 'health',
  [`${INFERENCE}ModelReady`]: 'health',
  [`${HEALTH}Check`]: 'health',
  [`${HEALTH}Watch`]: 'health',
  [`${HEALTH}List`]: 'health',
  [`${INFERENCE}ServerMetadata`]: 'metadata',
  [`${INFERENCE}ModelMetadata`]: 'metadata',
  [`${INFERENCE}ModelInfer`]: 'inference',
  [`${INFERENCE}ModelStreamInfer`]: 'inference',
  [`${INFERENCE}ModelConfig`]: 'model-config',
  [`${INFERENCE}ModelStatistics`]: 'statistics',
  [`${INFERENCE}RepositoryIndex`]: 'model-repository',
  [`${INFERENCE}RepositoryModelLoad`]: 'model-repository',
  [`${INFERENCE}RepositoryModelUnload`]: 'model-repository',
  [`${INFERENCE}SystemSharedMemoryStatus`]: 'shared-memory',
  [`${INFERENCE}SystemSharedMemoryRegister`]: 'shared-memory',
  [`${INFERENCE}SystemSharedMemoryUnregister`]: 'shared-memory',
  [`${INFERENCE}CudaSharedMemoryStatus`]: 'shared-memory',
  [`${INFERENCE}CudaSharedMemoryRegister`]: 'shared-memory',
  [`${INFERENCE}CudaSharedMemoryUnregister`]: 'shared-memory',
  [`${INFERENCE}TraceSetting`]: 'trace',
  [`${INFERENCE}LogSettings`]: 'logging',
});

function carries(metadata: Metadata, restriction: ProtocolRestriction): boolean {
  const [first] = metadata.get(restriction.header);
  if (typeof first !== 'string') return false;
  const got = Buffer.from(first);
  const want = Buffer.from(restriction.value);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** The interceptor enforcing `restrictions`; undefined when there is nothing to enforce. */
export function restrictionInterceptor(restrictions: readonly ProtocolRestriction[]): ServerInterceptor | undefined {
  const byPath = new Map<string, ProtocolRestriction>();
  for (const [path, category] of Object.entries(METHOD_CATEGORY)) {
    const restriction = restrictions.find((r) => r.categories.includes(category));
    if (restriction) byPath.set(path, restriction);
  }
  if (byPath.size === 0) return undefined;
  return (method, call) => {
    const restriction = byPath.get(method.path);
    if (!restriction) return new ServerInterceptingCall(call);
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, pass) => {
            if (carries(metadata, restriction)) {
              pass(metadata);
              return;
            }
            // Triton's text: clients and operators match on it.
            call.sendStatus({
              code: Status.UNAVAILABLE,
              details: `This protocol is restricted, expecting header '${restriction.header}'`,
            });
          },
        }),
    });
  };
}
