// Publishing to a JetStream stream off the request path, pipelined: each message is a core
// publish whose reply subject carries a token of its own, the stream's PubAck replies come
// back on one wildcard subscription and are matched to the messages in flight by that
// token, and one timer sweeps for attempts whose ack did not come in time. At most
// maxAwaitingAck messages are in flight; one not acknowledged in time is sent again with
// the same Nats-Msg-Id, so the stream stores it once however many of its attempts reach it.
// New messages go out together, SEND_DELAY_MS after the first (or at SEND_BATCH): sent as
// they came, each request or two cost a socket write, and the reads and wake-ups of its
// acknowledgements, which cost more CPU than publishing the messages themselves.
// nats.js's jetstream().publish() gives the same guarantees with a request per message (a
// timer, several promises and an Error with its stack each): 3 to 4 times the CPU.
import { createHash } from 'node:crypto';
import { IdTable } from '../id-table.js';
import type { MonitoringStreamOptions } from './options.js';
import { type PubAck, readPubAck } from './pub-ack.js';

/** The NATS side: core publishes with a reply subject, and the replies to them. */
export interface StreamWire {
  /**
   * Publishes one attempt of a message with its Nats-Msg-Id; the stream's reply comes back
   * to the onStreamReply listener with the same token. False when it could not be sent (not
   * connected): no reply will come. Throws when the message can never be sent (larger than
   * the server's max_payload).
   */
  sendToStream(subject: string, payload: Uint8Array, msgId: string, token: number): boolean;
  /** The listener gets every reply: its token (NaN when not one of ours), payload and status code (0 without one). */
  onStreamReply(listener: (token: number, data: Uint8Array, status: number) => void): void;
}

/** Where the publisher reports what became of each message's events. */
export interface DeliveryReport {
  stored(events: number): void;
  retried(events: number): void;
  /** Still not acknowledged after the last retry. */
  unacknowledged(events: number): void;
  refused(events: number, err: unknown): void;
  /** A message settled, so there is room for another. */
  settled(): void;
}

export type DeliveryLimits = Pick<MonitoringStreamOptions, 'maxAwaitingAck' | 'ackTimeoutMs' | 'maxRetries'>;

/** How long a new message waits for others to go out with it. */
export const SEND_DELAY_MS = 50;
/** Messages waiting that are sent at once, without waiting for SEND_DELAY_MS. */
export const SEND_BATCH = 256;

/** The longest one message may take from its first attempt to its last timeout. */
export function retrySpanMs(limits: Pick<DeliveryLimits, 'ackTimeoutMs' | 'maxRetries'>): number {
  return limits.ackTimeoutMs * (limits.maxRetries + 1);
}

interface InFlight {
  readonly token: number;
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly msgId: string;
  readonly events: number;
  /** Attempts sent before the current one. */
  retries: number;
  /** When the current attempt times out, on the publisher's clock. */
  deadline: number;
}

/**
 * The Nats-Msg-Id of a batch message: a digest of its rows' event ids, so a retry of the
 * batch carries the same id as its first attempt.
 */
export function batchMessageId(eventIds: readonly string[]): string {
  return createHash('sha256').update(eventIds.join('\n')).digest('base64url');
}

export class StreamPublisher {
  /** Messages sent and not settled, by token: not a Map, for the reason IdTable gives. */
  private readonly inFlight = new IdTable<InFlight>();
  /**
   * Attempts in the order of their deadlines, from `due` on: every attempt gets the same
   * timeout, so the sweep stops at the first one not yet due. A retry is queued again; its
   * earlier place, and a settled message's, is passed over (its deadline no longer matches).
   */
  private attempts: InFlight[] = [];
  private attemptDeadlines: number[] = [];
  private due = 0;
  /** Messages published and not sent yet: they count against maxAwaitingAck as those in flight. */
  private unsent: InFlight[] = [];
  private sendTimer: NodeJS.Timeout | undefined;
  private prompt = false;
  private awaitingEvents = 0;
  private tokens = 0;
  private sweepTimer: NodeJS.Timeout | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly wire: StreamWire,
    readonly limits: DeliveryLimits,
    private readonly report: DeliveryReport,
    /** Milliseconds, monotonic: a wall clock set back would hold every retry until it catches up. */
    private readonly now: () => number = () => performance.now(),
  ) {
    wire.onStreamReply((token, data, status) => {
      const m = this.inFlight.get(token);
      // A late reply to an attempt already settled (a retry's duplicate, or after close).
      if (m) this.answered(m, readPubAck(data, status));
    });
  }

  /** Whether another message may be published now. */
  hasRoom(): boolean {
    return this.inFlight.size + this.unsent.length < this.limits.maxAwaitingAck;
  }

  /** Events published and not yet settled. */
  get awaitingAck(): number {
    return this.awaitingEvents;
  }

  /** Starts delivering a message of `events` events; its outcome goes to the report. */
  publish(subject: string, payload: Uint8Array, msgId: string, events: number): void {
    // A reply subject's last token; integers keep the table of messages in flight an IdTable.
    const token = ++this.tokens;
    this.awaitingEvents += events;
    this.unsent.push({ token, subject, payload, msgId, events, retries: 0, deadline: 0 });
    if (this.prompt || this.unsent.length >= SEND_BATCH) this.sendUnsent();
    else this.sendTimer ??= setTimeout(this.sendUnsent, SEND_DELAY_MS);
  }

  /** Sends what waits, and from now on each message as it is published: for close(). */
  sendPromptly(): void {
    this.prompt = true;
    this.sendUnsent();
  }

  /** Resolves true when a message settles, false at the deadline (ms since the epoch). */
  nextSettled(deadline: number): Promise<boolean> {
    const ms = deadline - Date.now();
    if (ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /**
   * Waits for every message to settle, up to the deadline, then stops: later replies are
   * ignored. Returns the events still awaiting their acknowledgement: the caller counts
   * them as lost.
   */
  async abandonAt(deadline: number): Promise<number> {
    this.sendPromptly();
    while (this.inFlight.size > 0 && (await this.nextSettled(deadline)));
    clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.inFlight.clear();
    this.attempts = [];
    this.attemptDeadlines = [];
    this.due = 0;
    const abandoned = this.awaitingEvents;
    this.awaitingEvents = 0;
    return abandoned;
  }

  private readonly sendUnsent = (): void => {
    clearTimeout(this.sendTimer);
    this.sendTimer = undefined;
    const messages = this.unsent;
    this.unsent = [];
    const now = this.now();
    for (const m of messages) this.send(m, now);
    this.armSweep();
  };

  private send(m: InFlight, now: number): void {
    m.deadline = now + this.limits.ackTimeoutMs;
    this.inFlight.set(m.token, m);
    this.attempts.push(m);
    this.attemptDeadlines.push(m.deadline);
    let sent: boolean;
    try {
      sent = this.wire.sendToStream(m.subject, m.payload, m.msgId, m.token);
    } catch (err) {
      this.settle(m, () => this.report.refused(m.events, err));
      return;
    }
    if (!sent) this.answered(m, { kind: 'unavailable' });
  }

  private answered(m: InFlight, ack: PubAck): void {
    if (ack.kind === 'stored') {
      this.settle(m, () => this.report.stored(m.events));
    } else if (ack.kind === 'refused') {
      this.settle(m, () => this.report.refused(m.events, ack.error));
    } else if (m.retries >= this.limits.maxRetries) {
      this.settle(m, () => this.report.unacknowledged(m.events));
    }
    // Otherwise the next attempt waits for this one's deadline, even when the stream said
    // at once it could not store it (not restored yet, say): the retries then span an
    // outage instead of a burst.
  }

  /**
   * Passes over the attempts at the head that no longer count, and lets go of them once they
   * are most of the queue. Returns the first current attempt's place, or undefined.
   */
  private firstAttempt(): number | undefined {
    const { attempts, attemptDeadlines } = this;
    while (this.due < attempts.length) {
      const m = attempts[this.due] as InFlight;
      if (this.inFlight.get(m.token) === m && m.deadline === attemptDeadlines[this.due]) break;
      this.due++;
    }
    if (this.due === attempts.length) {
      this.attempts = [];
      this.attemptDeadlines = [];
      this.due = 0;
      return undefined;
    }
    if (this.due > 1024 && this.due * 2 > attempts.length) {
      this.attempts = attempts.slice(this.due);
      this.attemptDeadlines = attemptDeadlines.slice(this.due);
      this.due = 0;
    }
    return this.due;
  }

  private armSweep(): void {
    if (this.sweepTimer || this.firstAttempt() === undefined) return;
    this.sweepTimer = setTimeout(this.sweep, Math.max(1, (this.attemptDeadlines[this.due] as number) - this.now()));
    // close() waits with timers of its own; a forgotten publisher must not hold the process.
    this.sweepTimer.unref();
  }

  private readonly sweep = (): void => {
    this.sweepTimer = undefined;
    const now = this.now();
    // A message sent again is queued at the end with a later deadline, where the loop stops.
    for (let at = this.firstAttempt(); at !== undefined; at = this.firstAttempt()) {
      const m = this.attempts[at] as InFlight;
      if (m.deadline > now) break;
      this.due++;
      if (m.retries >= this.limits.maxRetries) {
        this.settle(m, () => this.report.unacknowledged(m.events));
      } else {
        m.retries++;
        this.report.retried(m.events);
        this.send(m, now);
      }
    }
    this.armSweep();
  };

  private settle(m: InFlight, reportOutcome: () => void): void {
    if (this.inFlight.get(m.token) !== m) return;
    this.inFlight.delete(m.token);
    // Acknowledgements come mostly in order: the queue lets go of settled messages as they do.
    if (this.attempts[this.due] === m) this.firstAttempt();
    this.awaitingEvents -= m.events;
    reportOutcome();
    if (this.waiters.length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    }
    this.report.settled();
  }
}
