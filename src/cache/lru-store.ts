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

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.nodes.size;
  }

  /** The entry, now the most recently used. */
  get(key: string): V | undefined {
    const node = this.nodes.get(key);
    if (node === undefined) return undefined;
    if (node !== this.newest) {
      this.unlink(node);
      this.append(node);
    }
    return node.value;
  }

  /** Stores an entry, evicting the oldest until it fits; false (nothing stored, nothing evicted) when it is bigger than the whole store. */
  set(key: string, value: V): boolean {
    if (value.byteSize > this.capacity) return false;
    const previous = this.nodes.get(key);
    if (previous !== undefined) {
      this.nodes.delete(key);
      this.unlink(previous);
      this.bytes -= previous.value.byteSize;
    }
    while (this.bytes + value.byteSize > this.capacity) {
      const oldest = this.oldest as Node<V>;
      this.nodes.delete(oldest.key);
      this.unlink(oldest);
      this.bytes -= oldest.value.byteSize;
      this.evictions += 1;
    }
    const node: Node<V> = { key, value, older: undefined, newer: undefined };
    this.nodes.set(key, node);
    this.append(node);
    this.bytes += value.byteSize;
    return true;
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
