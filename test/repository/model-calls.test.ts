// RepositoryCalls without a server: the cycle rule as a table, and a call against fake
// versions (what it hands the callee, and the callee's signal following the caller's).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InferenceError } from '../../src/errors.js';
import type { TensorCall, TensorResult } from '../../src/pipeline/index.js';
import { callCycle, RepositoryCalls } from '../../src/repository/model-calls.js';
import type { ModelVersion } from '../../src/repository/model-version.js';

describe('callCycle', () => {
  const table: [string, string[], string, string | undefined][] = [
    ['a first call', ['a'], 'b', undefined],
    ['a model calling itself', ['a'], 'a', 'a → a'],
    ['back to the first caller', ['a', 'b'], 'a', 'a → b → a'],
    ['back to a caller in the middle: the loop only', ['x', 'a', 'b'], 'a', 'a → b → a'],
    ['a model called twice along the chain but not in it', ['a', 'b'], 'c', undefined],
  ];
  for (const [what, callers, model, expected] of table) {
    test(what, () => assert.equal(callCycle(callers, model), expected));
  }
});

/** A version that records the call and answers once `answer` is called (or fails with the signal's reason). */
function fakeVersion() {
  const seen: { call?: TensorCall; signal?: AbortSignal } = {};
  const version = {
    inferTensors(call: TensorCall, signal: AbortSignal): Promise<TensorResult> {
      seen.call = call;
      seen.signal = signal;
      return new Promise((resolve, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
        setImmediate(() => {
          if (!signal.aborted) resolve({ model: call.model, version: '1', id: call.id, parameters: {}, outputs: call.tensors });
        });
      });
    },
  } as unknown as ModelVersion;
  return { version, seen };
}

const TENSOR = { datatype: 'INT32' as const, shape: [1], data: new Int32Array([7]) };

describe('RepositoryCalls', () => {
  test('hands the callee the tensors by name, the chain and the options', async () => {
    const { version, seen } = fakeVersion();
    const calls = new RepositoryCalls(() => version);
    const result = await calls.infer('b', { X: TENSOR }, { callers: ['a'], outputs: ['X'], parameters: { p: 1 }, id: 'r' });
    assert.deepEqual(seen.call?.tensors, [{ ...TENSOR, name: 'X' }]);
    assert.deepEqual(seen.call?.callers, ['a']);
    assert.deepEqual(seen.call?.outputs.map((o) => o.name), ['X']);
    assert.equal(seen.call?.parameters['p'], 1);
    assert.equal(result.tensors['X']?.data, TENSOR.data, 'the callee\'s tensor, not a copy');
  });

  test('refuses a cycle before resolving the callee', async () => {
    const calls = new RepositoryCalls(() => assert.fail('resolved'));
    await assert.rejects(calls.infer('a', [], { callers: ['a', 'b'] }), { code: 'FAILED_PRECONDITION', message: /call cycle refused: a → b → a/ });
  });

  test('the callee gets a signal of its own that follows the caller\'s', async () => {
    const { version, seen } = fakeVersion();
    const calls = new RepositoryCalls(() => version);
    const caller = new AbortController();
    const pending = calls.infer('b', [], { callers: ['a'], signal: caller.signal });
    assert.notEqual(seen.signal, caller.signal);
    caller.abort(new InferenceError('DEADLINE_EXCEEDED', 'caller deadline'));
    await assert.rejects(pending, { code: 'DEADLINE_EXCEEDED', message: 'caller deadline' });
  });

  test('an unknown callee is NOT_FOUND, not the MODEL_NOT_FOUND a client\'s request gets', async () => {
    const calls = new RepositoryCalls((name) => {
      throw InferenceError.modelNotFound(name);
    });
    await assert.rejects(calls.infer('ghost', [], { callers: ['a'] }), { code: 'NOT_FOUND', message: /'ghost'/ });
  });
});
