// The stream tables every HTTP/2 session of the gRPC server gets in place of node's Map and
// Set: they behave as those do for node:http2, and this Node still keeps its streams where
// they are looked for (if not, the server runs without them and these tests say so).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Http2Session, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { PendingStreams, StreamTable, tableServerStreams, tableSessionStreams } from '../../src/grpc/session-streams.js';

describe('PendingStreams', () => {
  test('adds a stream once, deletes it, counts them, and visits a snapshot', () => {
    const pending = new PendingStreams();
    const a = {};
    const b = {};
    pending.add(a).add(a).add(b);
    assert.equal(pending.size, 2);
    const seen: object[] = [];
    pending.forEach((stream) => {
      seen.push(stream);
      pending.delete(stream);
    });
    assert.deepEqual(seen, [a, b]);
    assert.equal(pending.size, 0);
    assert.equal(pending.delete(a), false);
  });
});

/** A node:http2 server answering every stream, whose sessions go through `onSession` first. */
async function http2Server(onSession: (session: Http2Session) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer();
  server.on('session', onSession);
  server.on('stream', (stream: ServerHttp2Stream) => {
    stream.resume();
    stream.on('end', () => stream.respond({ ':status': 200 }, { endStream: true }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Sends `count` POSTs at once on one connection; resolves with their statuses. */
async function post(url: string, count: number): Promise<{ statuses: number[]; close: () => void }> {
  const client = connect(url);
  const statuses = await Promise.all(
    Array.from({ length: count }, async () => {
      const request = client.request({ ':method': 'POST', ':path': '/' });
      request.end(Buffer.alloc(16));
      const [headers] = (await once(request, 'response')) as [Record<string, number>];
      request.resume();
      await once(request, 'close');
      return headers[':status'] as number;
    }),
  );
  return { statuses, close: () => client.close() };
}

describe('tableSessionStreams on this Node', () => {
  test('replaces a new session\'s stream Map and Set, and calls come and go through the tables', async () => {
    const sessions: Http2Session[] = [];
    const tabled: boolean[] = [];
    const server = await http2Server((session) => {
      sessions.push(session);
      tabled.push(tableSessionStreams(session));
    });
    try {
      const { statuses, close } = await post(server.url, 16);
      assert.deepEqual(statuses, new Array(16).fill(200));
      assert.deepEqual(tabled, [true], 'node:http2 no longer keeps a session\'s streams where session-streams.ts looks');
      const symbol = Object.getOwnPropertySymbols(sessions[0]).find((s) => s.description === 'state') as symbol;
      const state = (sessions[0] as unknown as Record<symbol, { streams: unknown; pendingStreams: unknown }>)[symbol] as { streams: unknown; pendingStreams: unknown };
      assert.ok(state.streams instanceof StreamTable);
      assert.ok(state.pendingStreams instanceof PendingStreams);
      assert.equal((state.streams as StreamTable).size, 0, 'every answered stream left the table');
      close();
    } finally {
      await server.close();
    }
  });

  test('a session destroyed with streams open destroys them through the table', async () => {
    let serverSession: Http2Session | undefined;
    const server = createServer();
    server.on('session', (session) => {
      serverSession = session;
      assert.equal(tableSessionStreams(session), true);
    });
    const opened: ServerHttp2Stream[] = [];
    server.on('stream', (stream: ServerHttp2Stream) => opened.push(stream));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    client.on('error', () => {});
    try {
      const requests = [client.request({ ':method': 'POST', ':path': '/' }), client.request({ ':method': 'POST', ':path': '/' })];
      for (const request of requests) request.on('error', () => {});
      while (opened.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
      serverSession?.destroy();
      await Promise.all(opened.map((stream) => (stream.destroyed ? undefined : once(stream, 'close'))));
      assert.ok(opened.every((stream) => stream.destroyed));
    } finally {
      client.destroy();
      await new Promise((resolve) => server.close(() => resolve(undefined)));
    }
  });

  test('a grpc-js server\'s listeners are found, so that its sessions get the tables', async () => {
    const server = new Server();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    try {
      let unexpected = 0;
      assert.equal(tableServerStreams(server, () => unexpected++), 1, 'grpc-js no longer keeps its listeners in http2Servers');
      const { close } = await post(`http://127.0.0.1:${port}`, 1);
      close();
      assert.equal(unexpected, 0);
    } finally {
      server.forceShutdown();
    }
  });
});
