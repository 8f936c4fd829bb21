// Publishing to a JetStream stream off the request path: messages go out asynchronously,
// at most maxAwaitingAck of them await their acknowledgement, and one not acknowledged in
// time is sent again with the same Nats-Msg-Id, so the stream stores it once however many
// of its attempts reach it.
import { createHash } from 'node:crypto';
import type { MonitoringStreamOptions } from './options.js';

/** What one attempt to store a message came to. */
export type StoreAttempt = 'stored' | 'unacknowledged';

export interface StreamStore {
  /**
   * Publishes one message to the stream and waits up to timeoutMs for its acknowledgement.
   * 'unacknowledged' when none came (timeout, no responder, not connected): a retry may
   * succeed. Rejects when the stream refused the message, which a retry would not change.
   */
  storeInStream(subject: string, payload: Uint8Array, msgId: string, timeoutMs: number): Promise<StoreAttempt>;
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

/** The longest one message may take from its first attempt to its last timeout. */
export function retrySpanMs(limits: Pick<DeliveryLimits, 'ackTimeoutMs' | 'maxRetries'>): number {
  return limits.ackTimeoutMs * (limits.maxRetries + 1);
}

interface Message {
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly msgId: string;
  readonly events: number;
}

/**
 * The Nats-Msg-Id of a batch message: a digest of its rows' event ids, so a retry of the
 * batch carries the same id as its first attempt.
 */
export function batchMessageId(eventIds: readonly string[]): string {
  return createHash('sha256').update(eventIds.join('\n')).digest('base64url');
}

export class StreamPublisher {
  private awaitingMessages = 0;
  private awaitingEvents = 0;
  private abandoned = false;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly store: StreamStore,
    readonly limits: DeliveryLimits,
    private readonly report: DeliveryReport,
  ) {}

  /** Whether another message may be published now. */
  hasRoom(): boolean {
    return this.awaitingMessages < this.limits.maxAwaitingAck;
  }

  /** Events published and not yet settled. */
  get awaitingAck(): number {
    return this.awaitingEvents;
  }

  /** Starts delivering a message of `events` events; its outcome goes to the report. */
  publish(subject: string, payload: Uint8Array, msgId: string, events: number): void {
    this.awaitingMessages++;
    this.awaitingEvents += events;
    void this.deliver({ subject, payload, msgId, events });
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
   * Waits for every message to settle, up to the deadline, then stops reporting. Returns
   * the events still awaiting their acknowledgement: the caller counts them as lost.
   */
  async abandonAt(deadline: number): Promise<number> {
    while (this.awaitingMessages > 0 && (await this.nextSettled(deadline)));
    this.abandoned = true;
    const abandoned = this.awaitingEvents;
    this.awaitingMessages = 0;
    this.awaitingEvents = 0;
    return abandoned;
  }

  private async deliver(m: Message): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const started = Date.now();
      let result: StoreAttempt;
      try {
        result = await this.store.storeInStream(m.subject, m.payload, m.msgId, this.limits.ackTimeoutMs);
      } catch (err) {
        this.settle(m, () => this.report.refused(m.events, err));
        return;
      }
      if (this.abandoned) return;
      if (result === 'stored') {
        this.settle(m, () => this.report.stored(m.events));
        return;
      }
      if (attempt >= this.limits.maxRetries) {
        this.settle(m, () => this.report.unacknowledged(m.events));
        return;
      }
      this.report.retried(m.events);
      // "No responders" comes back at once (the stream is still being restored, say): each
      // attempt gets a full ack timeout, so the retries span an outage instead of a burst.
      await pause(started + this.limits.ackTimeoutMs - Date.now());
      if (this.abandoned) return;
    }
  }

  private settle(m: Message, reportOutcome: () => void): void {
    if (this.abandoned) return;
    this.awaitingMessages--;
    this.awaitingEvents -= m.events;
    reportOutcome();
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
    this.report.settled();
  }
}

function pause(ms: number): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
