// A store bounded by bytes that evicts the least recently used entries first. The entries
// form a list from the least to the most recently used; a read moves its entry to the end
// by relinking it, which leaves the Map untouched (deleting and re-adding a key on every hit
// costs a Map more, and leaves holes it must compact).

export interface Sized {
  readonly byteSize: number;
}

interface Node<V> {
  readonly key: string;
  readonly value: V;
  /** What the entry counts against the capacity: its value's bytes, and what was added to it since (grow). */
  size: number;
  older: Node<V> | undefined;
  newer: Node<V> | undefined;
}

export class LruStore<V extends Sized> {
  private readonly nodes = new Map<string, Node<V>>();
  private oldest: Node<V> | undefined;
  private newest: Node<V> | undefined;
  /** The bytes the entries count, at most `capacity`. */
  bytes = 0;
  evictions = 0;

  /** `removed`: told of every entry that leaves, evicted or replaced. */
  constructor(
    readonly capacity: number,
    private readonly removed?: (key: string, value: V) => void,
  ) {}

  get size(): number {
    return this.nodes.size;
  }

  /** The entry, now the most recently used. */
  get(key: string): V | undefined {
    const node = this.nodes.get(key);
    if (node === undefined) return undefined;
    this.touch(node);
    return node.value;
  }

  /** The entry, its place in the order left as it is. */
  peek(key: string): V | undefined {
    return this.nodes.get(key)?.value;
  }

  /** Stores an entry, evicting the oldest until it fits; false (nothing stored, nothing evicted) when it is bigger than the whole store. */
  set(key: string, value: V): boolean {
    if (value.byteSize > this.capacity) return false;
    const previous = this.nodes.get(key);
    if (previous !== undefined) this.remove(previous);
    const node: Node<V> = { key, value, size: value.byteSize, older: undefined, newer: undefined };
    this.nodes.set(key, node);
    this.append(node);
    this.bytes += node.size;
    this.evictAllBut(node);
    return true;
  }

  /**
   * Counts `bytes` more (or fewer, when negative) against an entry, which becomes the most
   * recently used; others are evicted until it fits. False (nothing changed) when the entry
   * is gone or would outgrow the whole store.
   */
  grow(key: string, bytes: number): boolean {
    const node = this.nodes.get(key);
    if (node === undefined || node.size + bytes > this.capacity) return false;
    node.size += bytes;
    this.bytes += bytes;
    this.touch(node);
    this.evictAllBut(node);
    return true;
  }

  private evictAllBut(kept: Node<V>): void {
    while (this.bytes > this.capacity) {
      const oldest = this.oldest as Node<V>;
      if (oldest === kept) return;
      this.remove(oldest);
      this.evictions += 1;
    }
  }

  private remove(node: Node<V>): void {
    this.nodes.delete(node.key);
    this.unlink(node);
    this.bytes -= node.size;
    this.removed?.(node.key, node.value);
  }

  private touch(node: Node<V>): void {
    if (node === this.newest) return;
    this.unlink(node);
    this.append(node);
  }

  private unlink(node: Node<V>): void {
    if (node.older) node.older.newer = node.newer;
    else this.oldest = node.newer;
    if (node.newer) node.newer.older = node.older;
    else this.newest = node.older;
    node.older = undefined;
    node.newer = undefined;
  }

  private append(node: Node<V>): void {
    node.older = this.newest;
    if (this.newest) this.newest.newer = node;
    else this.oldest = node;
    this.newest = node;
  }
}
