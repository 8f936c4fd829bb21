export { startGrpcServer, EXTENSIONS, INFERENCE_SERVICE, type GrpcServerOptions, type RunningServer } from './server.js';
export { CONNECTION_DEFAULTS, notAppliedOptions, type ConnectionOptions } from './channel-options.js';
export { CertificateFiles, TlsFileError, type TlsFileRole, type TlsOptions } from './tls.js';
