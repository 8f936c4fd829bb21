import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nanos } from 'nats';
import { DEFAULT_STREAM_OPTIONS, type MonitoringStreamOptions, resolveMonitoringOptions } from '../../src/monitoring/index.js';
import { streamConfig, streamDifferences, streamSubject, subjectCovers } from '../../src/monitoring/stream-config.js';

const OPTIONS: MonitoringStreamOptions = { ...DEFAULT_STREAM_OPTIONS, name: 'EVENTS', maxAgeMs: 3_600_000, maxBytes: 1_000_000 };

describe('streamSubject', () => {
  for (const [template, subject] of [
    ['v2serve.inference.{model}', 'v2serve.inference.*'],
    ['inf.{model}.{version}', 'inf.*.*'],
    ['inf.m-{model}.v{version}.x', 'inf.*.*.x'],
    ['fixed.subject', 'fixed.subject'],
  ] as const) {
    test(`'${template}' is captured by '${subject}'`, () => assert.equal(streamSubject(template), subject));
  }
});

describe('subjectCovers', () => {
  for (const [pattern, filter, covers] of [
    ['v2serve.inference.*', 'v2serve.inference.*', true],
    ['v2serve.>', 'v2serve.inference.*', true],
    ['>', 'a.*', true],
    ['v2serve.*.*', 'v2serve.inference.*', true],
    ['v2serve.inference.echo', 'v2serve.inference.*', false],
    ['v2serve.inference', 'v2serve.inference.*', false],
    ['v2serve.inference.*.*', 'v2serve.inference.*', false],
    ['other.>', 'v2serve.inference.*', false],
    ['v2serve.inference.>', 'v2serve.inference', false],
  ] as const) {
    test(`'${pattern}' ${covers ? 'captures' : 'does not capture'} '${filter}'`, () => {
      assert.equal(subjectCovers(pattern, filter), covers);
    });
  }
});

describe('streamDifferences', () => {
  const created = (o: MonitoringStreamOptions) => {
    const c = streamConfig(o, 'v2serve.inference.*');
    return { subjects: c.subjects ?? [], max_age: c.max_age ?? 0, max_bytes: c.max_bytes ?? 0, num_replicas: c.num_replicas ?? 0, duplicate_window: nanos(120_000) };
  };

  test('a stream as v2serve creates it has no differences', () => {
    assert.deepEqual({ ...streamDifferences(created(OPTIONS), OPTIONS, 'v2serve.inference.*') }, {});
  });

  test('no limit: 0 in the options, -1 bytes and 0 age in the stream', () => {
    const unlimited = { ...OPTIONS, maxAgeMs: 0, maxBytes: 0 };
    const config = created(unlimited);
    assert.equal(config.max_bytes, -1);
    assert.equal(config.max_age, 0);
    assert.deepEqual({ ...streamDifferences(config, unlimited, 'v2serve.inference.*') }, {});
  });

  test('other limits are named with both values', () => {
    const existing = { ...created(OPTIONS), max_age: nanos(60_000), max_bytes: 5000, num_replicas: 3 };
    assert.deepEqual({ ...streamDifferences(existing, OPTIONS, 'v2serve.inference.*') }, {
      maxAgeMs: { stream: 60_000, configured: 3_600_000 },
      maxBytes: { stream: 5000, configured: 1_000_000 },
      replicas: { stream: 3, configured: 1 },
    });
  });

  test('a stream that does not capture the monitoring subjects differs in subjects', () => {
    const existing = { ...created(OPTIONS), subjects: ['v2serve.inference.echo'] };
    assert.deepEqual(Object.keys(streamDifferences(existing, OPTIONS, 'v2serve.inference.*')), ['subjects']);
  });

  test('a duplicate window shorter than the retries differs: a retry could store an event twice', () => {
    const existing = { ...created(OPTIONS), duplicate_window: nanos(1000) };
    assert.deepEqual({ ...streamDifferences(existing, OPTIONS, 'v2serve.inference.*') }, {
      duplicateWindowMs: { stream: 1000, configured: '>= 8000' },
    });
  });
});

describe('stream options', () => {
  test('fill DEFAULT_STREAM_OPTIONS around the name', () => {
    const o = resolveMonitoringOptions({ natsUrl: 'nats://x', stream: { name: 'EVENTS', replicas: 3 } }, { serverId: 's', host: 'h' });
    assert.deepEqual(o.stream, { ...DEFAULT_STREAM_OPTIONS, name: 'EVENTS', replicas: 3 });
  });

  test('reject a name JetStream would refuse, naming the option', () => {
    assert.throws(() => resolveMonitoringOptions({ natsUrl: 'nats://x', stream: { name: 'a.b' } }, { serverId: 's', host: 'h' }), {
      name: 'RangeError',
      message: /'stream.name'/,
    });
  });

  test('reject an ack timeout of 0, naming the option', () => {
    assert.throws(
      () => resolveMonitoringOptions({ natsUrl: 'nats://x', stream: { name: 'E', ackTimeoutMs: 0 } }, { serverId: 's', host: 'h' }),
      { name: 'RangeError', message: "'stream.ackTimeoutMs' must be an integer >= 1, got '0'" },
    );
  });
});
