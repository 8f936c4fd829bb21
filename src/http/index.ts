// The KServe v2 / Triton HTTP/REST transport: JSON and the binary tensor data extension ⇄ the
// core's calls, errors mapped to HTTP status codes once (status.ts).
export { startHttpServer, type HttpServerOptions, type RunningHttpServer } from './server.js';
