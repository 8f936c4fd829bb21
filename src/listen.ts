// Binding a node:http server, for every port of ours that is one (HTTP/REST, metrics).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on `address:port` and resolves with the port bound (port 0: any free one); rejects as the bind fails (EADDRINUSE). */
export function listen(server: Server, port: number, address: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
