import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, test } from 'node:test';
import { ConnectionSignal } from '../../src/http/connection-signal.js';

const gone = () => new Error('gone');

describe('ConnectionSignal', () => {
  test('requests in flight see the signal fire with the reason when the connection closes', () => {
    const socket = new EventEmitter();
    const connection = new ConnectionSignal(socket, gone);
    const first = connection.enter();
    const second = connection.enter();
    socket.emit('close');
    assert.equal(first.aborted, true);
    assert.equal(second.aborted, true);
    assert.equal((first.reason as Error).message, 'gone');
  });

  test('the requests of a connection share one signal when they leave no listener behind', () => {
    const connection = new ConnectionSignal(new EventEmitter(), gone);
    const first = connection.enter();
    const listener = () => undefined;
    first.addEventListener('abort', listener);
    first.removeEventListener('abort', listener);
    connection.leave();
    assert.equal(connection.enter(), first);
  });

  test('an idle connection whose signal kept a listener gives the next request a fresh one', () => {
    const connection = new ConnectionSignal(new EventEmitter(), gone);
    const first = connection.enter();
    first.addEventListener('abort', () => undefined);
    connection.leave();
    const next = connection.enter();
    assert.notEqual(next, first);
    assert.equal(next.aborted, false);
  });

  test('a signal is not replaced while another request of the connection still holds it', () => {
    const socket = new EventEmitter();
    const connection = new ConnectionSignal(socket, gone);
    const first = connection.enter();
    const second = connection.enter();
    first.addEventListener('abort', () => undefined);
    connection.leave();
    socket.emit('close');
    assert.equal(second.aborted, true);
  });
});
