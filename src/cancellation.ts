// A request's cancellation as the core hands it along. Node 20 takes microseconds and more
// than a kilobyte to make an AbortSignal, listened to or not, and most requests end without
// anyone waiting on theirs: a Cancellation is a plain object that makes its AbortSignal only
// when asked for it (a model hook that declares a signal parameter, or an API that needs one).

/** What listens for the abort: a function, or an object with handleEvent (as for EventTarget). */
export type AbortListener = (() => void) | { handleEvent(): void };

/** What the core passes along with a request: a transport's Cancellation, or any AbortSignal. */
export type RequestSignal = AbortSignal | Cancellation;

/**
 * Reads like an AbortSignal (`aborted`, `reason`, 'abort' listeners, which an abort calls
 * once each, and which added after it never run). A transport whose cancellation is an
 * event of its own subclasses it: `check` tells whether that event happened while nobody
 * waits, `watch` starts listening for it when the first listener or the signal needs it.
 */
export class Cancellation {
  private isAborted = false;
  private why: unknown = undefined;
  private listeners: AbortListener[] | undefined = undefined;
  private controller: AbortController | undefined = undefined;
  private watching = false;

  get aborted(): boolean {
    if (!this.isAborted && !this.watching) this.check();
    return this.isAborted;
  }

  get reason(): unknown {
    return this.aborted ? this.why : undefined;
  }

  /** The AbortSignal that follows this cancellation, made on the first read. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.why);
      else this.startWatching();
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.isAborted) return;
    this.isAborted = true;
    this.why = reason;
    this.controller?.abort(reason);
    const listeners = this.listeners;
    this.listeners = undefined;
    if (!listeners) return;
    for (const listener of listeners) {
      try {
        if (typeof listener === 'function') listener();
        else listener.handleEvent();
      } catch (err) {
        // As EventTarget does: one listener's error is the process's, and the others still run.
        process.nextTick(() => {
          throw err;
        });
      }
    }
  }

  addEventListener(_type: 'abort', listener: AbortListener, _options?: { readonly once?: boolean }): void {
    this.startWatching();
    if (this.isAborted) return;
    (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: AbortListener): void {
    const listeners = this.listeners;
    if (!listeners) return;
    const at = listeners.indexOf(listener);
    if (at >= 0) listeners.splice(at, 1);
  }

  /** A subclass aborts here when its event happened while nobody listened. */
  protected check(): void {}

  /** A subclass listens for its event from here on, once. */
  protected watch(): void {}

  private startWatching(): void {
    if (this.watching) return;
    this.check();
    this.watching = true;
    if (!this.isAborted) this.watch();
  }
}

/** The AbortSignal of a request's signal, for a model hook or an API that takes only a real one. */
export function abortSignalOf(signal: RequestSignal): AbortSignal {
  return signal instanceof Cancellation ? signal.signal : signal;
}
