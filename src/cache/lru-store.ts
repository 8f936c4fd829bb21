// A store bounded by bytes that evicts the least recently used entries first. A Map keeps
// insertion order: an entry read is moved to the end, so the first one is always the oldest.

export interface Sized {
  readonly byteSize: number;
}

export class LruStore<V extends Sized> {
  private readonly entries = new Map<string, V>();
  /** The bytes the entries count, at most `capacity`. */
  bytes = 0;
  evictions = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The entry, now the most recently used. */
  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  /** Stores an entry, evicting the oldest until it fits; false (nothing stored, nothing evicted) when it is bigger than the whole store. */
  set(key: string, value: V): boolean {
    if (value.byteSize > this.capacity) return false;
    const previous = this.entries.get(key);
    if (previous !== undefined) {
      this.entries.delete(key);
      this.bytes -= previous.byteSize;
    }
    while (this.bytes + value.byteSize > this.capacity) {
      const [oldest, evicted] = this.entries.entries().next().value as [string, V];
      this.entries.delete(oldest);
      this.bytes -= evicted.byteSize;
      this.evictions += 1;
    }
    this.entries.set(key, value);
    this.bytes += value.byteSize;
    return true;
  }
}
