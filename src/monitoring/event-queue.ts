// Bounded FIFO between emit() and the drain. A ring buffer: push and shift are O(1), and
// when full, push overwrites the oldest entry, so a stalled drain costs memory only up to
// the bound and the newest events (closest to what is happening now) survive.

export class BoundedQueue<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  /** Adds an item; returns true when the oldest item was dropped to make room. */
  push(item: T): boolean {
    const cap = this.capacity;
    if (this.size < cap) {
      this.items[(this.head + this.size) % cap] = item;
      this.size++;
      return false;
    }
    this.items[this.head] = item;
    this.head = (this.head + 1) % cap;
    return true;
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined; // let the event's tensors be collected
    this.head = (this.head + 1) % this.capacity;
    this.size--;
    return item;
  }
}
