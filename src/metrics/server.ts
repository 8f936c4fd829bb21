// The metrics port: its own node:http server answering GET /metrics, so that scrapes never
// queue behind inference traffic and --allow-metrics=false opens no port.
import { createServer } from 'node:http';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import { listen } from '../listen.js';

export interface RunningMetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(options: { address: string; port: number; metrics: Metrics; log: Logger }): Promise<RunningMetricsServer> {
  const { metrics, log } = options;
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not Found: the metrics are at /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('Method Not Allowed\n');
      return;
    }
    metrics.exposition().then(
      (text) => response.writeHead(200, { 'Content-Type': metrics.contentType }).end(text),
      (err: unknown) => {
        log.error({ err }, 'metrics exposition failed');
        response.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics exposition failed\n');
      },
    );
  });
  const port = await listen(server, options.port, options.address);
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
