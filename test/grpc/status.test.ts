import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { status as Status } from '@grpc/grpc-js';
import pino from 'pino';
import { InferenceError, type ErrorCode } from '../../src/errors.js';
import { toServiceError } from '../../src/grpc/status.js';

const log = pino({ level: 'silent' });

describe('toServiceError', () => {
  const refined: [ErrorCode, Status][] = [
    ['MODEL_NOT_FOUND', Status.NOT_FOUND],
    ['METHOD_NOT_ALLOWED', Status.UNIMPLEMENTED],
    ['PAYLOAD_TOO_LARGE', Status.RESOURCE_EXHAUSTED],
    ['UNSUPPORTED_MEDIA_TYPE', Status.INVALID_ARGUMENT],
  ];
  for (const [code, status] of refined) {
    test(`${code} answers the gRPC code it refines, ${Status[status]}`, () => {
      assert.deepEqual(toServiceError(new InferenceError(code, 'why'), log, 'r1'), { code: status, details: 'why' });
    });
  }

  test('an unknown model and an unknown version are both NOT_FOUND', () => {
    assert.equal(toServiceError(InferenceError.modelNotFound('m'), log, 'r1').code, Status.NOT_FOUND);
    assert.equal(toServiceError(InferenceError.modelNotFound('m', '2'), log, 'r1').code, Status.NOT_FOUND);
  });

  test('anything else thrown is INTERNAL without its message', () => {
    assert.deepEqual(toServiceError(new Error('secret detail'), log, 'r1'), { code: Status.INTERNAL, details: 'internal error' });
  });
});
