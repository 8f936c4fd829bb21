// Compare-and-set updates of endpoint records. Every replica of a deployment writes the
// same key, so a write computed from a value another replica has since replaced must not
// land: it would drop that replica's entry.
import { setTimeout as sleep } from 'node:timers/promises';

/** A stored value and the revision it was stored at. */
export interface StoredRecord {
  readonly value: Uint8Array;
  readonly revision: number;
}

/** The key-value side of the transport (a JetStream KV bucket). */
export interface RecordStore {
  /** The value under key; undefined when it has none (never written, or deleted). */
  getRecord(key: string): Promise<StoredRecord | undefined>;
  /**
   * Stores value when key is still at `revision` (0: has no value). Resolves false when
   * another writer came first; rejects when the store is unavailable.
   */
  writeRecord(key: string, value: Uint8Array, revision: number): Promise<boolean>;
}

/** Reads, changes and writes before giving up on a key that keeps changing. */
export const RECORD_WRITE_ATTEMPTS = 10;

export class RecordConflictError extends Error {
  constructor(key: string, attempts: number) {
    super(`endpoint record ${key} changed under each of ${attempts} writes`);
    this.name = 'RecordConflictError';
  }
}

/** A random pause growing with the attempt, so replicas that collided do not collide again in step. */
function backoff(attempt: number): Promise<void> {
  return sleep(Math.random() * 20 * attempt);
}

function parseStored(value: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(value).toString('utf8')) as unknown;
  } catch {
    return undefined; // not JSON: the change starts the record over
  }
}

/**
 * Writes change(stored value) under key, reading again and retrying when another writer
 * stored a value in between. Resolves with what was written.
 */
export async function updateRecord<T>(
  store: RecordStore,
  key: string,
  change: (stored: unknown) => T,
  pause: (attempt: number) => Promise<void> = backoff,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const current = await store.getRecord(key);
    const next = change(current === undefined ? undefined : parseStored(current.value));
    if (await store.writeRecord(key, Buffer.from(JSON.stringify(next)), current?.revision ?? 0)) return next;
    if (attempt >= RECORD_WRITE_ATTEMPTS) throw new RecordConflictError(key, attempt);
    await pause(attempt);
  }
}
