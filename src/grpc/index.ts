export { startGrpcServer, EXTENSIONS, INFERENCE_SERVICE, type GrpcServerOptions, type RunningServer } from './server.js';
export {
  PROTOCOL_CATEGORIES,
  checkRestrictions,
  parseRestriction,
  type ProtocolCategory,
  type ProtocolRestriction,
} from './restricted.js';
export { CONNECTION_DEFAULTS, notAppliedOptions, type ConnectionOptions } from './channel-options.js';
export { CertificateFiles, TlsFileError, type TlsFileRole, type TlsOptions } from './tls.js';
