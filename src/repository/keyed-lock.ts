// Runs tasks for one key one at a time, in the order asked: loads and unloads of one model
// never overlap, while different models load in parallel.
export class KeyedLock {
  /** Per key: settles when the last task asked for has finished. */
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task);
    const done = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, done);
    void done.then(() => {
      if (this.tails.get(key) === done) this.tails.delete(key);
    });
    return result;
  }
}
