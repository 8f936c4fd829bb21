import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CallTracker, settlesWithin } from '../src/call-tracker.js';

describe('CallTracker', () => {
  test('drain resolves at once when no call is in flight', async () => {
    assert.equal(await settlesWithin(new CallTracker().drain(), 60_000), true);
  });

  test('drain waits for the last call in flight to leave', async () => {
    const calls = new CallTracker();
    assert.equal(calls.enter(), true);
    assert.equal(calls.enter(), true);
    let drained = false;
    const done = calls.drain().then(() => (drained = true));
    calls.leave();
    await Promise.resolve();
    assert.equal(drained, false, 'one call is still in flight');
    calls.leave();
    await done;
    assert.equal(drained, true);
  });

  test('a call arriving once drain started is refused and not counted', async () => {
    const calls = new CallTracker();
    const drained = calls.drain();
    assert.equal(calls.shuttingDown, true);
    assert.equal(calls.enter(), false);
    await drained;
  });

  test('drain tells the closing listeners, but not one that unsubscribed', () => {
    const calls = new CallTracker();
    const told: string[] = [];
    calls.onClosing(() => told.push('kept'));
    const unsubscribe = calls.onClosing(() => told.push('gone'));
    unsubscribe();
    void calls.drain();
    assert.deepEqual(told, ['kept']);
  });

  test('cut answers the calls still registered, not the ones that forgot their answer', () => {
    const calls = new CallTracker();
    const answered: string[] = [];
    const call = (name: string) => ({ cutSlot: -1, answerCut: () => answered.push(name) });
    const [first, second, third, fourth] = [call('first'), call('second'), call('third'), call('fourth')];
    for (const c of [first, second, third, fourth]) calls.answerOnCut(c);
    calls.forget(second);
    calls.forget(fourth);
    calls.cut();
    assert.deepEqual(answered.sort(), ['first', 'third']);
  });
});

describe('settlesWithin', () => {
  test('is false for a promise that never settles', async () => {
    assert.equal(await settlesWithin(new Promise(() => undefined), 1), false);
  });

  test('is true for a promise that resolves in time', async () => {
    assert.equal(await settlesWithin(Promise.resolve(), 60_000), true);
  });
});
