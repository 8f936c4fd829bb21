// The hand-off between a decoupled model, which pushes each response as it makes it, and
// the transport, which pulls them as its client takes them. It holds at most one response:
// a push waits until the consumer has taken what it pushed, so a slow reader makes the
// model's `yield` wait instead of growing a queue.
import { InferenceError } from '../errors.js';

interface Waiter<T> {
  resolve(result: IteratorResult<T>): void;
  reject(err: unknown): void;
}

interface Producer {
  resolve(): void;
  reject(err: unknown): void;
}

export class ResponseChannel<T> {
  private held: { value: T; producer: Producer } | undefined;
  private consumer: Waiter<T> | undefined;
  private outcome: { done: true } | { error: unknown } | undefined;
  private cancelled: InferenceError | undefined;

  /** Resolves once the consumer has taken `value`; rejects when the consumer has left. */
  readonly push = (value: T): Promise<void> => {
    if (this.cancelled) return Promise.reject(this.cancelled);
    const consumer = this.consumer;
    if (consumer) {
      this.consumer = undefined;
      consumer.resolve({ value, done: false });
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.held = { value, producer: { resolve, reject } };
    });
  };

  /** The next response; done once the producer ended; rejects with the producer's failure. */
  next(): Promise<IteratorResult<T>> {
    const held = this.held;
    if (held) {
      this.held = undefined;
      held.producer.resolve();
      return Promise.resolve({ value: held.value, done: false });
    }
    const outcome = this.outcome;
    if (outcome) return 'error' in outcome ? Promise.reject(outcome.error) : Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.consumer = { resolve, reject };
    });
  }

  /** The producer made its last response. */
  end(): void {
    this.settle({ done: true });
  }

  /** The producer failed: the consumer's next pull rejects with `error`. */
  fail(error: unknown): void {
    this.settle({ error });
  }

  /** The consumer left: a waiting push and every later one reject with `reason`. */
  cancel(reason: InferenceError): void {
    this.cancelled = reason;
    const held = this.held;
    this.held = undefined;
    held?.producer.reject(reason);
  }

  private settle(outcome: { done: true } | { error: unknown }): void {
    const consumer = this.consumer;
    if (!consumer) {
      this.outcome = outcome;
      return;
    }
    this.consumer = undefined;
    if ('error' in outcome) consumer.reject(outcome.error);
    else consumer.resolve({ value: undefined, done: true });
  }
}

/** A stream that fails at its first pull: how a stream reports what stopped it before it began. */
export async function* failedStream(err: unknown): AsyncGenerator<never> {
  throw err;
}
