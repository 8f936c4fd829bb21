// The calls in flight on one server, whatever its transport, so that shutdown can refuse
// new ones and wait for the rest.

/** A call shutdown can answer itself: an object, so that a call registers no closure for it. */
export interface Cuttable {
  answerCut(): void;
  /** Where the tracker keeps the call while it is unanswered: the tracker's own bookkeeping. */
  cutSlot: number;
}

/** Counts calls in flight so that shutdown can wait for them. */
export class CallTracker {
  private active = 0;
  private closing = false;
  private idle: (() => void) | undefined;
  private readonly closingListeners = new Set<() => void>();
  /**
   * Unanswered calls, each knowing its index: a Set costs a rehash now and then as the count
   * in flight swings, about a microsecond a call.
   */
  private readonly unanswered: Cuttable[] = [];

  get shuttingDown(): boolean {
    return this.closing;
  }

  /** Returns false when the server no longer takes calls. */
  enter(): boolean {
    if (this.closing) return false;
    this.active++;
    return true;
  }

  leave(): void {
    this.active--;
    if (this.active === 0) this.idle?.();
  }

  /** Refuses new calls and resolves when the ones in flight have finished. */
  drain(): Promise<void> {
    this.closing = true;
    for (const listener of [...this.closingListeners]) listener();
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }

  /**
   * Open streams are told when shutdown starts, so that they end once their requests are
   * answered: they count as calls only while a request is in flight. Returns the unsubscribe.
   */
  onClosing(listener: () => void): () => void {
    this.closingListeners.add(listener);
    return () => this.closingListeners.delete(listener);
  }

  /** A call that shutdown answers if it cannot wait for it any longer; forget() it once answered. */
  answerOnCut(call: Cuttable): void {
    call.cutSlot = this.unanswered.length;
    this.unanswered.push(call);
  }

  forget(call: Cuttable): void {
    const { unanswered } = this;
    const last = unanswered.pop() as Cuttable;
    if (last === call) return;
    unanswered[call.cutSlot] = last;
    last.cutSlot = call.cutSlot;
  }

  /** The exit timeout passed: calls still running are answered now (UNAVAILABLE), not cut without a status. */
  cut(): void {
    for (const call of [...this.unanswered]) call.answerCut();
  }
}

/** Whether `promise` settles within `ms`: shutdown waits that long for calls, then goes on without them. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = await Promise.race([promise.then(() => true), timeout]);
  clearTimeout(timer);
  return settled;
}
