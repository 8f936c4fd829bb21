// Priority levels and queue policies as pure decisions: config validation, the level a
// request's priority picks, and its queue timeout (Triton's model_config_utils.cc,
// InferenceRequest::SetPriority, PolicyQueue::Enqueue).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfigText } from '../../src/repository/index.js';
import { priorityLevel, priorityQueues, queueTimeoutUs, type QueuePolicy } from '../../src/scheduling/queue-policy.js';

const queuesOf = (batching: string, serverMaxQueueSize = 0) =>
  priorityQueues(parseConfigText(`name: "m" max_batch_size: 8 dynamic_batching { ${batching} }`, 'config.pbtxt'), serverMaxQueueSize);

describe('priorityQueues', () => {
  test('no levels: one queue with the default policy, bounded by the server default when max_queue_size is 0', () => {
    const queues = queuesOf('', 1024);
    assert.equal(queues.levels, 0);
    assert.deepEqual(queues.defaultPolicy, { timeoutAction: 'REJECT', defaultTimeoutUs: 0n, allowTimeoutOverride: false, maxQueueSize: 1024 });
    assert.equal(queues.timeouts, false);
  });

  test('levels with their own policies; the others have the default policy', () => {
    const queues = queuesOf(`priority_levels: 3 default_priority_level: 2
      default_queue_policy { default_timeout_microseconds: 500 max_queue_size: 7 }
      priority_queue_policy { key: 1 value: { timeout_action: DELAY default_timeout_microseconds: 100 allow_timeout_override: true } }`);
    assert.equal(queues.levels, 3);
    assert.equal(queues.defaultLevel, 2);
    assert.deepEqual(queues.defaultPolicy, { timeoutAction: 'REJECT', defaultTimeoutUs: 500n, allowTimeoutOverride: false, maxQueueSize: 7 });
    assert.deepEqual([...queues.policies], [[1, { timeoutAction: 'DELAY', defaultTimeoutUs: 100n, allowTimeoutOverride: true, maxQueueSize: 0 }]]);
    assert.equal(queues.timeouts, true);
  });

  test('a timeout on one level only is enough for the batcher to keep timeouts', () => {
    assert.equal(queuesOf('priority_levels: 2 default_priority_level: 1 priority_queue_policy { key: 2 value: { default_timeout_microseconds: 1 } }').timeouts, true);
    assert.equal(queuesOf('priority_levels: 2 default_priority_level: 1 default_queue_policy { allow_timeout_override: true }').timeouts, false);
  });

  for (const [batching, field, message] of [
    ['priority_levels: 2', 'default_priority_level', /must be in range \[1, 2\] \(priority_levels\), got 0/],
    ['priority_levels: 2 default_priority_level: 3', 'default_priority_level', /must be in range \[1, 2\] \(priority_levels\), got 3/],
    ['default_priority_level: 1', 'default_priority_level', /is 1 but priority_levels is not set/],
    [
      'priority_levels: 2 default_priority_level: 1 priority_queue_policy { key: 3 value: { } }',
      'priority_queue_policy',
      /has key 3, which must be a priority level in range \[1, 2\]/,
    ],
    ['priority_levels: 2 default_priority_level: 1 priority_queue_policy { key: 0 value: { } }', 'priority_queue_policy', /has key 0/],
    ['priority_queue_policy { key: 1 value: { max_queue_size: 3 } }', 'priority_queue_policy', /has key 1, .*range \[1, 0\]/],
  ] as const) {
    test(`${batching}: INVALID_ARGUMENT naming dynamic_batching.${field}`, () => {
      assert.throws(() => queuesOf(batching), { code: 'INVALID_ARGUMENT', message: new RegExp(`^'m: dynamic_batching\\.${field}' ${message.source}`) });
    });
  }
});

describe('priorityLevel', () => {
  const queues = queuesOf('priority_levels: 3 default_priority_level: 2');
  const cases: [unknown, number, string][] = [
    [undefined, 2, 'no priority: the default level'],
    [0, 2, '0 means the default level'],
    [1, 1, 'the most urgent'],
    [3, 3, 'the least urgent'],
    [4, 2, 'above priority_levels: the default level, as Triton'],
    [1n, 1, 'a uint64_param'],
    [2n ** 63n, 2, 'a huge uint64_param'],
    ['1', 2, 'not an integer: the default level (the transports refuse it before)'],
  ];
  for (const [priority, level, why] of cases) {
    test(`priority ${String(priority)} → level ${level}: ${why}`, () => assert.equal(priorityLevel(queues, priority as number), level));
  }
  test('without levels every request joins the one queue', () => {
    assert.equal(priorityLevel(queuesOf(''), 5), 0);
  });
});

describe('queueTimeoutUs', () => {
  const policy = (defaultTimeoutUs: bigint, allowTimeoutOverride: boolean): QueuePolicy => ({
    timeoutAction: 'REJECT',
    defaultTimeoutUs,
    allowTimeoutOverride,
    maxQueueSize: 0,
  });
  const cases: [QueuePolicy, number | bigint | undefined, bigint, string][] = [
    [policy(1000n, false), undefined, 1000n, 'the default'],
    [policy(1000n, false), 10, 1000n, 'no override allowed: the request timeout is not read'],
    [policy(1000n, true), 10, 10n, 'a shorter request timeout wins'],
    [policy(1000n, true), 10n, 10n, 'as an int64 bigint too'],
    [policy(1000n, true), 5000, 1000n, 'a longer one does not lengthen it'],
    [policy(1000n, true), 0, 1000n, '0 is no request timeout'],
    [policy(0n, true), 10, 0n, 'no default timeout: none, whatever the request says (Triton)'],
  ];
  for (const [p, timeout, expected, why] of cases) {
    test(`default ${p.defaultTimeoutUs}, override ${p.allowTimeoutOverride}, timeout ${String(timeout)} → ${expected}: ${why}`, () =>
      assert.equal(queueTimeoutUs(p, timeout), expected));
  }
});
