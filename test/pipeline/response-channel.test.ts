// The one-response hand-off between a decoupled model and its transport.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InferenceError } from '../../src/errors.js';
import { ResponseChannel } from '../../src/pipeline/index.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ResponseChannel', () => {
  test('a push waits until the consumer has taken it: never more than one response held', async () => {
    const channel = new ResponseChannel<number>();
    let taken = false;
    const push = channel.push(1).then(() => (taken = true));
    await tick();
    assert.equal(taken, false, 'nobody pulled yet');
    assert.deepEqual(await channel.next(), { value: 1, done: false });
    await push;
    assert.equal(taken, true);
  });

  test('a consumer already waiting gets the push at once, and the push resolves at once', async () => {
    const channel = new ResponseChannel<number>();
    const next = channel.next();
    await channel.push(7);
    assert.deepEqual(await next, { value: 7, done: false });
  });

  test('end after the last pull: done; failure: the next pull rejects with it', async () => {
    const ended = new ResponseChannel<number>();
    const pending = ended.next();
    ended.end();
    assert.deepEqual(await pending, { value: undefined, done: true });
    const failed = new ResponseChannel<number>();
    failed.fail(new InferenceError('INTERNAL', 'model broke'));
    await assert.rejects(failed.next(), { message: 'model broke' });
  });

  test('a held response is still delivered before the end the producer signalled after it', async () => {
    const channel = new ResponseChannel<number>();
    void channel.push(1);
    channel.end();
    assert.deepEqual(await channel.next(), { value: 1, done: false });
    assert.deepEqual(await channel.next(), { value: undefined, done: true });
  });

  test('cancel: the waiting push and every later one reject with the reason', async () => {
    const channel = new ResponseChannel<number>();
    const waiting = channel.push(1);
    const reason = new InferenceError('CANCELLED', 'client left');
    channel.cancel(reason);
    await assert.rejects(waiting, reason);
    await assert.rejects(channel.push(2), reason);
  });
});
