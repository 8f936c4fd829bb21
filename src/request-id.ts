// Ids for requests that come without one, so that every log line about a request can name it.
// A random prefix per process and a counter: unique enough across replicas and restarts, and
// cheap enough to make on every request.
import { randomBytes } from 'node:crypto';

const PREFIX = randomBytes(4).toString('hex');
let counter = 0;

export function newRequestId(): string {
  counter += 1;
  return `${PREFIX}-${counter.toString(36)}`;
}

/** The client's id when it gave one, else a new one. */
export function requestIdOf(clientId: string): string {
  return clientId === '' ? newRequestId() : clientId;
}
