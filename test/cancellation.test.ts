// Cancellation: reads like an AbortSignal, makes one only when asked, and a subclass fed by
// an outside event listens to it only once something waits.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { abortSignalOf, Cancellation } from '../src/cancellation.js';

/** An outside event a subclass reads while nobody waits, and listens to from the first listener on. */
class Fed extends Cancellation {
  happened = false;
  watched = 0;
  private fire: (() => void) | undefined;

  protected override check(): void {
    if (this.happened) this.abort('event');
  }

  protected override watch(): void {
    this.watched++;
    this.fire = () => this.check();
  }

  event(): void {
    this.happened = true;
    this.fire?.();
  }
}

describe('Cancellation', () => {
  test('an abort calls each listener once, functions and handleEvent objects alike, and sets aborted and reason', () => {
    const cancellation = new Cancellation();
    const calls: string[] = [];
    const removed = (): number => calls.push('removed');
    cancellation.addEventListener('abort', () => calls.push('function'), { once: true });
    cancellation.addEventListener('abort', { handleEvent: () => calls.push('object') });
    cancellation.addEventListener('abort', removed);
    cancellation.removeEventListener('abort', removed);
    assert.equal(cancellation.aborted, false);
    assert.equal(cancellation.reason, undefined);
    cancellation.abort('why');
    cancellation.abort('again');
    assert.deepEqual(calls, ['function', 'object']);
    assert.equal(cancellation.aborted, true);
    assert.equal(cancellation.reason, 'why');
  });

  test('a listener added after the abort never runs, as on an AbortSignal', () => {
    const cancellation = new Cancellation();
    cancellation.abort('why');
    let ran = false;
    cancellation.addEventListener('abort', () => (ran = true));
    assert.equal(ran, false);
  });

  test('its AbortSignal is made once, on the first read, and follows it; one read after the abort is aborted already', () => {
    const before = new Cancellation();
    const signal = before.signal;
    assert.equal(before.signal, signal);
    assert.equal(signal.aborted, false);
    before.abort('late');
    assert.equal(signal.aborted, true);
    assert.equal(signal.reason, 'late');
    const after = new Cancellation();
    after.abort('early');
    assert.equal(after.signal.aborted, true);
    assert.equal(after.signal.reason, 'early');
  });

  test('abortSignalOf hands an AbortSignal back as it is, and a Cancellation\'s own signal', () => {
    const controller = new AbortController();
    assert.equal(abortSignalOf(controller.signal), controller.signal);
    const cancellation = new Cancellation();
    assert.equal(abortSignalOf(cancellation), cancellation.signal);
  });

  test('a subclass reads its event while nobody waits, and watches it once the first listener or the signal does', () => {
    const unwatched = new Fed();
    unwatched.event();
    assert.equal(unwatched.watched, 0);
    assert.equal(unwatched.aborted, true, 'read on demand');

    const listened = new Fed();
    let told = 0;
    listened.addEventListener('abort', () => told++);
    listened.addEventListener('abort', () => told++);
    assert.equal(listened.watched, 1, 'watched once');
    listened.event();
    assert.equal(told, 2);

    const signalled = new Fed();
    const signal = signalled.signal;
    assert.equal(signalled.watched, 1);
    signalled.event();
    assert.equal(signal.aborted, true);
    assert.equal(signal.reason, 'event');
  });

  test('a subclass whose event happened before the first listener aborts then, without running that listener', () => {
    const fed = new Fed();
    fed.happened = true;
    let ran = false;
    fed.addEventListener('abort', () => (ran = true));
    assert.equal(fed.aborted, true);
    assert.equal(fed.watched, 0, 'nothing left to watch');
    assert.equal(ran, false);
  });
});
