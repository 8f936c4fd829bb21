// Cancellation of HTTP requests: a client that goes away shows up as its connection's close.
// Node 20 takes microseconds to make an AbortSignal (more than routing a small inference), so
// one controller per connection serves every request on it: HTTP/1.1 carries one request after
// another on a connection, and its close cancels whatever is still in flight there.
import { getEventListeners, type EventEmitter } from 'node:events';

export class ConnectionSignal {
  private controller = new AbortController();
  private inFlight = 0;

  /** `connection` emits 'close' once; `reason` is what the requests in flight then see. */
  constructor(connection: EventEmitter, reason: () => Error) {
    connection.once('close', () => this.controller.abort(reason()));
  }

  /** The signal of a request starting now. */
  enter(): AbortSignal {
    this.inFlight += 1;
    return this.controller.signal;
  }

  /** A request of this connection is answered. */
  leave(): void {
    this.inFlight -= 1;
    // The core removes its listeners when a request ends; one left behind (a model that never
    // removes its own) would pile up over a long connection's requests, so an idle connection
    // with one starts afresh, as a signal per request would.
    if (this.inFlight === 0 && getEventListeners(this.controller.signal, 'abort').length > 0) this.controller = new AbortController();
  }
}
