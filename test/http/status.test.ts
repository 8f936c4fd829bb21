import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { InferenceError, type ErrorCode } from '../../src/errors.js';
import { toErrorReply } from '../../src/http/status.js';

const log = pino({ level: 'silent' });

describe('toErrorReply', () => {
  const statuses: [ErrorCode, number][] = [
    ['INVALID_ARGUMENT', 400],
    ['NOT_FOUND', 404],
    ['MODEL_NOT_FOUND', 400],
    ['PERMISSION_DENIED', 403],
    ['METHOD_NOT_ALLOWED', 405],
    ['PAYLOAD_TOO_LARGE', 413],
    ['UNSUPPORTED_MEDIA_TYPE', 415],
    ['UNIMPLEMENTED', 501],
    ['INTERNAL', 500],
    ['UNAVAILABLE', 503],
    ['RESOURCE_EXHAUSTED', 503],
    ['DEADLINE_EXCEEDED', 503],
  ];
  for (const [code, status] of statuses) {
    test(`${code} answers ${status} with the error's message`, () => {
      assert.deepEqual(toErrorReply(new InferenceError(code, 'why'), log, 'r1'), { status, message: 'why' });
    });
  }

  test('an unknown model is 400 and an unknown version of a known one 404, as Triton answers', () => {
    assert.equal(toErrorReply(InferenceError.modelNotFound('m'), log, 'r1').status, 400);
    assert.equal(toErrorReply(InferenceError.modelNotFound('m', '2'), log, 'r1').status, 404);
  });

  test('anything else thrown is 500 without its message', () => {
    assert.deepEqual(toErrorReply(new Error('secret detail'), log, 'r1'), { status: 500, message: 'internal error' });
  });
});
