// Which configs may use the response cache: Triton's rule, checked when a model loads.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkResponseCache, parseConfigText } from '../../src/repository/model-config.js';

const config = (text: string) => parseConfigText(text, 'config.pbtxt');
const CACHED = 'response_cache { enable: true }';

describe('checkResponseCache', () => {
  test('a plain or dynamically batched model may use the cache; a model not asking for it is never refused', () => {
    checkResponseCache(config(CACHED));
    checkResponseCache(config(`max_batch_size: 8 dynamic_batching { } ${CACHED}`));
    checkResponseCache(config('sequence_batching { } model_transaction_policy { decoupled: true }'));
  });

  test('a model with a sequence batcher or a decoupled one is refused, naming the field', () => {
    assert.throws(() => checkResponseCache(config(`sequence_batching { } ${CACHED}`)), {
      code: 'INVALID_ARGUMENT',
      message: /^config field 'response_cache\.enable' cannot be used with 'sequence_batching'/,
    });
    assert.throws(() => checkResponseCache(config(`model_transaction_policy { decoupled: true } ${CACHED}`)), {
      message: /^config field 'response_cache\.enable' cannot be used with 'model_transaction_policy\.decoupled'/,
    });
  });

  test('an ensemble is refused when a step model could not use the cache, naming the step', () => {
    const steps = new Map([
      ['plain', config('')],
      ['stream', config('model_transaction_policy { decoupled: true }')],
    ]);
    assert.throws(() => checkResponseCache(config(`platform: "ensemble" ${CACHED}`), steps), {
      message: /cannot be used with step model 'stream' with 'model_transaction_policy\.decoupled'/,
    });
    checkResponseCache(config(`platform: "ensemble" ${CACHED}`), new Map([['plain', config('')]]));
  });
});
