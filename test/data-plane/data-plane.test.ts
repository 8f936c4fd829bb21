// Triton's request parameter rules, once for both transports.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkRepositoryName, checkRequestParameters } from '../../src/data-plane/index.js';
import { dictionary } from '../../src/dictionary.js';
import type { ParamValue } from '../../src/model/index.js';

const params = (entries: Record<string, ParamValue>) => Object.assign(dictionary<ParamValue>(), entries);
const INVALID = (message: RegExp) => ({ name: 'InferenceError', code: 'INVALID_ARGUMENT', message });

describe('checkRequestParameters', () => {
  test("Triton's parameters of the right kinds pass, int64 values as numbers or bigints", () => {
    checkRequestParameters(params({ sequence_id: 3, sequence_start: true, sequence_end: false, priority: 2n, timeout: 0, triton_enable_empty_final_response: true }));
    checkRequestParameters(params({ sequence_id: 'corr-1' }));
  });

  test('a parameter of the wrong kind is refused naming it and the kinds it may be', () => {
    assert.throws(() => checkRequestParameters(params({ sequence_start: 1 })), INVALID(/'parameters\.sequence_start' must be a boolean, got 1/));
    assert.throws(() => checkRequestParameters(params({ sequence_id: true })), INVALID(/'parameters\.sequence_id' must be an integer or a string, got true/));
    assert.throws(() => checkRequestParameters(params({ priority: 1.5 })), INVALID(/'parameters\.priority' must be an integer, got 1\.5/));
  });

  test('a negative integer is refused', () => {
    assert.throws(() => checkRequestParameters(params({ timeout: -1 })), INVALID(/'parameters\.timeout' must be >= 0, got -1/));
    assert.throws(() => checkRequestParameters(params({ sequence_id: -5n })), INVALID(/'parameters\.sequence_id' must be >= 0, got -5/));
  });

  test("other 'triton_' keys are reserved; anything else, '__proto__' included, reaches the model", () => {
    assert.throws(() => checkRequestParameters(params({ triton_magic: 1 })), INVALID(/'parameters\.triton_magic' is not a known parameter/));
    checkRequestParameters(params({ ['__proto__']: 'x', constructor: 1, temperature: 0.5 }));
  });
});

describe('checkRepositoryName', () => {
  test('an empty name is the one repository; any other is UNIMPLEMENTED naming it', () => {
    checkRepositoryName('', 'the path');
    checkRepositoryName(undefined, 'the path');
    assert.throws(() => checkRepositoryName('other', "'repository_name'"), { code: 'UNIMPLEMENTED', message: /'repository_name' names repository 'other'/ });
  });
});
