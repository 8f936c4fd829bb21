// Node 20's http2 keeps each session's streams in a Map (open ones, by id) and a Set (those
// not yet given an id: a server's stream is added and deleted as it is made), each touched
// once or twice per call. V8 replaces a Map's or Set's hash table as it fills with deleted
// entries, grows or shrinks, and links the old table to its successor. Once one table of the
// chain outlives two scavenges (it happens by chance, and then stays), every dead table in
// the old generation keeps the next alive: every table, and every stream and call object in
// it, is promoted, and only full collections free them. With 8 or more calls in flight on a
// connection that was 1.4 MB promoted per scavenge on a bare node:http2 server, scavenges of
// 8 ms instead of 0.2, and a third more CPU per call for v2serve in the runs where it struck.
// Tables without such links (src/id-table.ts) take their place on every session.
import type { Server } from '@grpc/grpc-js';
import type { Http2Session } from 'node:http2';
import type { EventEmitter } from 'node:events';
import { IdTable } from '../id-table.js';

type Stream = object;

/** The part of Map that node:http2 (lib/internal/http2/core.js) uses for a session's open streams, by id. */
export class StreamTable extends IdTable<Stream> {}

/**
 * The part of Set that node:http2 uses for a session's streams without an id yet: a server's
 * is there only while its constructor runs, so a list is the cheapest set.
 */
export class PendingStreams {
  private streams: Stream[] = [];

  get size(): number {
    return this.streams.length;
  }

  add(stream: Stream): this {
    if (!this.streams.includes(stream)) this.streams.push(stream);
    return this;
  }

  delete(stream: Stream): boolean {
    const at = this.streams.indexOf(stream);
    if (at < 0) return false;
    this.streams.splice(at, 1);
    return true;
  }

  forEach(visit: (stream: Stream, again: Stream, set: this) => void): void {
    for (const stream of [...this.streams]) visit(stream, stream, this);
  }
}

interface SessionState {
  streams: unknown;
  pendingStreams: unknown;
}

/** The session's internal state, where node:http2 keeps its streams; undefined where it has none. */
function sessionState(session: Http2Session): SessionState | undefined {
  const key = Object.getOwnPropertySymbols(session).find((symbol) => symbol.description === 'state');
  const state = key === undefined ? undefined : (session as unknown as Record<symbol, unknown>)[key];
  if (typeof state !== 'object' || state === null || !('streams' in state) || !('pendingStreams' in state)) return undefined;
  return state as SessionState;
}

/** An empty Map or Set (node's own SafeMap and SafeSet are neither instanceof Map nor Set). */
function isEmptyCollection(value: unknown): boolean {
  const collection = value as { size?: unknown; forEach?: unknown } | null;
  return typeof collection === 'object' && collection !== null && collection.size === 0 && typeof collection.forEach === 'function';
}

/** Gives a new session a StreamTable and PendingStreams; false when it does not keep the empty Map and Set this expects. */
export function tableSessionStreams(session: Http2Session): boolean {
  const state = sessionState(session);
  if (!state || !isEmptyCollection(state.streams) || !isEmptyCollection(state.pendingStreams)) return false;
  state.streams = new StreamTable();
  state.pendingStreams = new PendingStreams();
  return true;
}

/**
 * Every session of the server's HTTP/2 listeners gets a StreamTable. grpc-js keeps its
 * listeners in a private field: returns how many it found, so that a grpc-js that no longer
 * has them shows (the server then runs as it would without this).
 */
export function tableServerStreams(server: Server, onUnexpected: () => void): number {
  const listeners = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(listeners instanceof Map)) return 0;
  let warned = false;
  for (const listener of listeners.keys() as IterableIterator<EventEmitter>) {
    listener.prependListener('session', (session: Http2Session) => {
      if (tableSessionStreams(session) || warned) return;
      warned = true;
      onUnexpected();
    });
  }
  return listeners.size;
}
