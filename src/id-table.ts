// Entries keyed by integer ids handed out in increasing order (HTTP/2 stream ids, job numbers),
// each set and deleted once per request. Not a Map: V8 links every hash table a Map or Set
// leaves behind (outgrown, shrunk, or rehashed to drop deleted entries) to its successor, and
// once one table of that chain outlives two scavenges, each dead one in the old generation keeps
// the next alive, with every entry in it: every request's objects are then promoted, until the
// process ends (docs/benchmarks.md). An object's integer-keyed elements have no such chain, and
// enumerate in ascending order: for increasing ids, the order they were set in.

export class IdTable<V> {
  private entries = Object.create(null) as Record<number, V>;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: number): V | undefined {
    return this.entries[id];
  }

  set(id: number, value: V): this {
    if (this.entries[id] === undefined) this.count++;
    this.entries[id] = value;
    return this;
  }

  delete(id: number): boolean {
    if (this.entries[id] === undefined) return false;
    delete this.entries[id];
    this.count--;
    return true;
  }

  clear(): void {
    this.entries = Object.create(null) as Record<number, V>;
    this.count = 0;
  }

  /** The entry of the lowest id: the oldest one. */
  first(): V | undefined {
    for (const id in this.entries) return this.entries[id as unknown as number];
    return undefined;
  }

  /** The entries by ascending id, as of now. */
  values(): V[] {
    return Object.values(this.entries);
  }

  /** Visits the entries by ascending id; a visit may delete entries (those not yet visited are then passed over). */
  forEach(visit: (value: V, id: number, table: this) => void): void {
    for (const key of Object.keys(this.entries)) {
      const id = Number(key);
      const value = this.entries[id];
      if (value !== undefined) visit(value, id, this);
    }
  }
}
