// A clock that stands still until the test moves it: timers run inside advance(), in the
// order they fall due, so a test of a delay neither sleeps nor depends on the machine's load.
import type { Clock } from '../../src/scheduling/clock.js';

interface Timer {
  readonly dueNs: bigint;
  readonly callback: () => void;
}

const NS_PER_MS = 1_000_000;

export class ManualClock implements Clock {
  #nowNs = 0n;
  readonly #timers = new Set<Timer>();

  now(): bigint {
    return this.#nowNs;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const timer: Timer = { dueNs: this.#nowNs + BigInt(Math.round(ms * NS_PER_MS)), callback };
    this.#timers.add(timer);
    return timer;
  }

  clearTimeout(timer: unknown): void {
    this.#timers.delete(timer as Timer);
  }

  /** Timers set and not yet run or cleared. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time on by `ms`, running each timer that falls due on the way at its due time. */
  advance(ms: number): void {
    const endNs = this.#nowNs + BigInt(Math.round(ms * NS_PER_MS));
    for (let next = this.#nextDue(endNs); next; next = this.#nextDue(endNs)) {
      this.#timers.delete(next);
      this.#nowNs = next.dueNs;
      next.callback();
    }
    this.#nowNs = endNs;
  }

  /** The earliest timer due by `endNs`, first set first among equals. */
  #nextDue(endNs: bigint): Timer | undefined {
    let earliest: Timer | undefined;
    for (const timer of this.#timers) if (timer.dueNs <= endNs && (!earliest || timer.dueNs < earliest.dueNs)) earliest = timer;
    return earliest;
  }
}
