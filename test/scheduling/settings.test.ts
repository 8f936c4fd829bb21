import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfigText } from '../../src/repository/index.js';
import { schedulingSettings } from '../../src/scheduling/index.js';

const config = (text: string) => parseConfigText(`name: "m"\n${text}`, 'config.pbtxt');

describe('schedulingSettings', () => {
  test('defaults: one executor, the server-wide queue bound and timeout, no batching', () => {
    assert.deepEqual(schedulingSettings(config(''), { maxQueueSize: 1024, executionTimeoutMs: 0 }), {
      executors: 1,
      maxQueueSize: 1024,
      executionTimeoutMs: 0,
      batching: undefined,
    });
  });

  test('instance groups add their counts; config.pbtxt bounds win over the server-wide ones', () => {
    const settings = schedulingSettings(
      config(`
        max_batch_size: 8
        instance_group [ { count: 2 }, { count: 3 } ]
        dynamic_batching { preferred_batch_size: [ 4 ] max_queue_delay_microseconds: 100 default_queue_policy { max_queue_size: 16 } }
        parameters { key: "execution_timeout_ms" value: { string_value: "250" } }`),
      { maxQueueSize: 1024, executionTimeoutMs: 0 },
    );
    assert.equal(settings.executors, 5);
    assert.equal(settings.maxQueueSize, 16);
    assert.equal(settings.executionTimeoutMs, 250);
    const { queues, ...batching } = settings.batching ?? {};
    assert.deepEqual(batching, { maxBatchSize: 8, preferredBatchSizes: [4], maxQueueDelayUs: 100 });
    assert.equal(queues?.defaultPolicy.maxQueueSize, 16, "the batcher's one queue has the config's bound");
  });

  for (const [parameters, message] of [
    [{ execution_timeout_ms: 'soon' }, /parameters\.execution_timeout_ms' must be an integer number of milliseconds/],
    [{ execution_timeout_ms: '-1' }, /execution_timeout_ms/],
  ] as const) {
    test(`an unusable ${JSON.stringify(parameters)} is INVALID_ARGUMENT naming it`, () => {
      const [key, value] = Object.entries(parameters)[0]!;
      const bad = config(`parameters { key: "${key}" value: { string_value: "${value}" } }`);
      assert.throws(() => schedulingSettings(bad), { code: 'INVALID_ARGUMENT', message });
    });
  }

  test('a preferred batch size beyond max_batch_size is INVALID_ARGUMENT naming it', () => {
    const bad = config('max_batch_size: 4 dynamic_batching { preferred_batch_size: [ 8 ] }');
    assert.throws(() => schedulingSettings(bad), { code: 'INVALID_ARGUMENT', message: /preferred_batch_size\[0\]/ });
  });
});
