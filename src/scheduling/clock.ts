// Time as a scheduler sees it: the real clock by default; tests pass a clock they move on
// themselves, so that a queue delay passes without waiting for it.
export interface Clock {
  /** Monotonic nanoseconds, as process.hrtime.bigint(). */
  now(): bigint;
  /** Calls `callback` once, `ms` milliseconds from now; returns what clearTimeout() takes. */
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

/**
 * Monotonic nanoseconds as a plain number, for the phases of every request:
 * process.hrtime.bigint() allocates a BigInt per reading, and one more per difference.
 * performance.now() reads the same monotonic clock, in ms from the process's start; a
 * double holds those nanoseconds to well under 1 ns for months.
 */
export const nowNs = (): number => performance.now() * 1e6;

export const realClock: Clock = {
  now: () => process.hrtime.bigint(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
};
