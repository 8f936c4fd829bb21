// The transport-neutral way into inference: what the gRPC and HTTP transports both call.
export { checkRepositoryName, checkRequestParameters, DataPlane, TRITON_PARAMETERS } from './data-plane.js';
export type { StreamedResult } from '../pipeline/index.js';
