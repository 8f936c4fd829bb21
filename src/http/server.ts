// The node:http server: HTTP/1.1 with keep-alive, one route table, bodies bounded before they
// are buffered, restricted categories, compressed answers on request, and an orderly drain.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';
import { deflate, gzip } from 'node:zlib';
import { CallTracker, settlesWithin } from '../call-tracker.js';
import { InferenceError } from '../errors.js';
import type { RequestSink } from '../events.js';
import { newRequestId } from '../request-id.js';
import type { ProtocolRestriction } from '../restrictions.js';
import { readBody } from './body.js';
import { ConnectionSignal } from './connection-signal.js';
import { findRoute, type Reply, type ReplyStream, type RequestNote, type Route, type RouteContext } from './routes.js';
import { toErrorReply } from './status.js';
import { listen } from '../listen.js';

const COMPRESS = { gzip: promisify(gzip), deflate: promisify(deflate) } as const;

export interface HttpServerOptions extends Omit<RouteContext, 'shuttingDown' | 'repository' | 'sharedMemory'> {
  readonly address: string;
  readonly port: number;
  /** Largest request body, bytes, before and after decompression. */
  readonly maxInputBytes: number;
  /** --http-restricted-api: categories answering only requests with a header. */
  readonly restrictions: readonly ProtocolRestriction[];
  /** Told of every finished request (request log, counters); absent: nobody listens. */
  readonly requests?: RequestSink;
}

export interface RunningHttpServer {
  readonly port: number;
  /** New requests get 503, requests in flight finish (up to `timeoutMs`), then the server closes. */
  shutdown(timeoutMs: number): Promise<void>;
}

function carries(message: IncomingMessage, restriction: ProtocolRestriction): boolean {
  const got = message.headers[restriction.header];
  if (typeof got !== 'string') return false;
  const a = Buffer.from(got);
  const b = Buffer.from(restriction.value);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The encoding of a compressible answer: gzip or deflate when the client accepts it, else none. */
function responseEncoding(message: IncomingMessage): 'gzip' | 'deflate' | undefined {
  const header = message.headers['accept-encoding'];
  if (header === undefined) return undefined;
  const accepted = header
    .split(',')
    .map((part) => part.trim().split(';'))
    .filter(([, q]) => q === undefined || !/^\s*q\s*=\s*0(?:\.0*)?\s*$/.test(q))
    .map(([name]) => name?.trim().toLowerCase());
  if (accepted.includes('gzip')) return 'gzip';
  if (accepted.includes('deflate')) return 'deflate';
  return undefined;
}

/**
 * Sends `reply` in one write, headers and body together; gives the body bytes sent, at once
 * unless the answer is compressed first.
 */
function send(message: IncomingMessage, response: ServerResponse, reply: Reply): number | Promise<number> {
  if (response.destroyed) return 0;
  if (reply.json === undefined) {
    response.writeHead(reply.status, { 'Content-Length': 0 }).end();
    return 0;
  }
  const binary = reply.binary ?? NO_BLOBS;
  const encoding = reply.compressible ? responseEncoding(message) : undefined;
  if (encoding) return sendCompressed(response, reply.status, reply.json, binary, encoding);
  const headerLength = Buffer.byteLength(reply.json);
  if (binary.length === 0) {
    // A string body goes out with the headers in one write (node:http joins them).
    response.writeHead(reply.status, { 'Content-Type': 'application/json', 'Content-Length': headerLength });
    response.end(reply.json);
    return headerLength;
  }
  let length = headerLength;
  for (let i = 0; i < binary.length; i++) length += binary[i]!.byteLength;
  response.writeHead(reply.status, { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': headerLength, 'Content-Length': length });
  // Binary outputs go out as they are (views on the encoded outputs, no copy into one body),
  // gathered by the cork into one writev with the headers and the JSON part.
  response.cork();
  response.write(reply.json);
  for (let i = 0; i < binary.length; i++) response.write(binary[i]);
  response.end();
  response.uncork();
  return length;
}

const NO_BLOBS: readonly Uint8Array[] = [];

/** Resolves once `response` can take more (or is gone). */
function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}

/**
 * Sends each chunk as it comes (chunked transfer). A full socket buffer holds the next chunk
 * back until it drains: a slow reader slows the producer instead of growing the server's
 * memory. A client that goes away ends the stream (its producer sees its signal abort); an
 * error after the first chunk ends it with the stream's error chunk.
 */
async function sendStream(response: ServerResponse, status: number, stream: ReplyStream, mapError: (err: unknown) => string): Promise<number> {
  if (!response.destroyed) response.writeHead(status, { 'Content-Type': stream.contentType });
  let bytes = 0;
  try {
    for await (const chunk of stream.chunks) {
      // Leaving the loop closes the producer (its `finally` runs): a client gone wants no more.
      if (response.destroyed) break;
      bytes += Buffer.byteLength(chunk);
      if (!response.write(chunk)) await drained(response);
    }
  } catch (err) {
    const message = mapError(err);
    if (!response.destroyed) {
      const chunk = stream.errorChunk(message);
      bytes += Buffer.byteLength(chunk);
      response.write(chunk);
    }
  }
  response.end();
  return bytes;
}

async function sendCompressed(response: ServerResponse, status: number, json: string, binary: readonly Uint8Array[], encoding: 'gzip' | 'deflate'): Promise<number> {
  const body = await COMPRESS[encoding](Buffer.concat([Buffer.from(json, 'utf8'), ...binary]));
  response.writeHead(status, { 'Content-Type': binary.length > 0 ? 'application/octet-stream' : 'application/json', ...inferenceHeader(json, binary), 'Content-Encoding': encoding, 'Content-Length': body.byteLength });
  response.end(body);
  return body.byteLength;
}

/** The binary extension's header, when an answer has binary parts. */
function inferenceHeader(json: string, binary: readonly Uint8Array[]): { 'Inference-Header-Content-Length'?: number } {
  return binary.length > 0 ? { 'Inference-Header-Content-Length': Buffer.byteLength(json) } : {};
}

/** The request's path, without its query. */
function pathOf(message: IncomingMessage): string {
  const url = message.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** The request's id: the one its route read (an inference's `id`), else one made now, once. */
function idOf(note: RequestNote): string {
  if (note.requestId === '') note.requestId = newRequestId();
  return note.requestId;
}

export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const { log } = options;
  const calls = new CallTracker();
  const { dataPlane } = options;
  const context: RouteContext = { ...options, repository: dataPlane.repository, sharedMemory: dataPlane.sharedMemory, shuttingDown: () => calls.shuttingDown };
  const restrictions = new Map<string, ProtocolRestriction>();
  for (const restriction of [...options.restrictions].reverse()) {
    for (const category of restriction.categories) restrictions.set(category, restriction);
  }
  const connections = new WeakMap<Socket, ConnectionSignal>();
  const connectionOf = (socket: Socket): ConnectionSignal => {
    let connection = connections.get(socket);
    if (connection === undefined) {
      connection = new ConnectionSignal(socket, () => new InferenceError('CANCELLED', 'the client closed the connection'));
      connections.set(socket, connection);
    }
    return connection;
  };

  const { requests } = options;
  // Never rejects: a failure to answer is logged and ends the connection.
  const handle = async (message: IncomingMessage, response: ServerResponse, admitted: boolean): Promise<void> => {
    const arrivedNs = process.hrtime.bigint();
    const note: RequestNote = { requestId: '' };
    const connection = connectionOf(message.socket);
    const signal = connection.enter();
    let found: { route: Route; params: (string | undefined)[] } | undefined;
    let bytesIn = 0;
    let status: number;
    let bytesOut: number | Promise<number>;
    try {
      try {
        if (!admitted) throw new InferenceError('UNAVAILABLE', 'HTTP server is shutting down');
        found = findRoute(message.method ?? 'GET', pathOf(message));
        const { route, params } = found;
        const restriction = route.category === undefined ? undefined : restrictions.get(route.category);
        // Triton's text: clients and operators match on it.
        if (restriction && !carries(message, restriction)) throw new InferenceError('PERMISSION_DENIED', `This API is restricted, expecting header '${restriction.header}'`);
        const body = await readBody(message, options.maxInputBytes);
        bytesIn = body.byteLength;
        const reply = await route.handle(context, { message, params, body, arrivedNs, signal, note });
        status = reply.status;
        bytesOut =
          reply.stream === undefined
            ? send(message, response, reply)
            : sendStream(response, reply.status, reply.stream, (err) => toErrorReply(err, log, idOf(note)).message);
        if (typeof bytesOut !== 'number') bytesOut = await bytesOut;
      } catch (err) {
        const failure = toErrorReply(err, log, idOf(note));
        status = failure.status;
        // A body left unread would be parsed as the next request on this connection; once
        // shutdown started, the connection is not kept for another.
        if (!message.complete || calls.shuttingDown) response.setHeader('Connection', 'close');
        bytesOut = await send(message, response, { status, json: JSON.stringify({ error: failure.message }) });
      }
      if (!requests) return;
      const about = found?.route.about?.(found.params);
      requests.finished({
        requestId: idOf(note),
        transport: 'http',
        operation: found?.route.operation ?? `${message.method ?? 'GET'} ${pathOf(message)}`,
        model: about?.model ?? '',
        version: note.version ?? about?.version ?? '',
        // A client gone before the answer got none: 499, nginx's code for it.
        status: String(signal.aborted ? 499 : status),
        durationNs: process.hrtime.bigint() - arrivedNs,
        bytesIn,
        bytesOut,
        ...(note.responses === undefined ? {} : { responses: note.responses }),
      });
    } catch (err) {
      log.error({ err, requestId: idOf(note) }, 'HTTP response failed');
      response.destroy();
    } finally {
      connection.leave();
      if (admitted) calls.leave();
    }
  };

  const server = createServer({ keepAlive: true }, (message, response) => void handle(message, response, calls.enter()));
  server.on('clientError', (err, socket) => {
    if (log.isLevelEnabled('debug')) log.debug({ err: err.message }, 'HTTP client error');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  const port = await listen(server, options.port, options.address);

  return {
    port,
    async shutdown(timeoutMs) {
      const drained = calls.drain();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await settlesWithin(drained, timeoutMs);
      server.closeAllConnections();
      await closed;
    },
  };
}
