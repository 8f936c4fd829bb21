export { startGrpcServer, EXTENSIONS, INFERENCE_SERVICE, type GrpcServerOptions, type RunningServer } from './server.js';
