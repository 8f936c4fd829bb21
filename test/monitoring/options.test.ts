import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_MONITORING_OPTIONS,
  modelOverridesFromParameters,
  resolveMonitoringOptions,
  subjectFor,
} from '../../src/monitoring/index.js';
import { checkSubjectTemplate } from '../../src/monitoring/endpoint.js';

const fallback = { serverId: 's', host: 'h' };

describe('resolveMonitoringOptions', () => {
  test('fills the documented defaults', () => {
    const o = resolveMonitoringOptions({ natsUrl: 'nats://x:4222' }, fallback);
    assert.equal(o.subject, 'v2serve.inference.{model}');
    assert.equal(o.maxElements, 1024);
    assert.equal(o.kvBucket, 'v2serve_endpoints');
    assert.equal(o.sample, DEFAULT_MONITORING_OPTIONS.sample);
    assert.equal(o.serverId, 's');
  });

  test('deployment defaults to the server id; an empty one is refused', () => {
    assert.equal(resolveMonitoringOptions({ natsUrl: 'nats://x' }, fallback).deployment, 's');
    assert.equal(resolveMonitoringOptions({ natsUrl: 'nats://x', serverId: 'pod-1' }, fallback).deployment, 'pod-1');
    assert.equal(resolveMonitoringOptions({ natsUrl: 'nats://x', deployment: 'iris' }, fallback).deployment, 'iris');
    assert.throws(() => resolveMonitoringOptions({ natsUrl: 'nats://x', deployment: '' }, fallback), /'deployment'/);
  });

  test('keeps defaults for options given as undefined', () => {
    const o = resolveMonitoringOptions({ natsUrl: 'nats://x', sample: undefined }, fallback);
    assert.equal(o.sample, 1);
  });

  test('rejects a sample below 1, naming the option', () => {
    assert.throws(() => resolveMonitoringOptions({ natsUrl: 'nats://x', sample: 0 }, fallback), {
      name: 'RangeError',
      message: "'sample' must be an integer >= 1, got '0'",
    });
  });

  test('rejects a bucket name JetStream would refuse', () => {
    assert.throws(() => resolveMonitoringOptions({ natsUrl: 'nats://x', kvBucket: 'a.b' }, fallback), /'kvBucket'/);
  });
});

describe('modelOverridesFromParameters', () => {
  test('reads numbers, numeric strings and Triton string_value parameters', () => {
    assert.deepEqual(
      modelOverridesFromParameters({
        monitoring_sample: 3,
        monitoring_batch: '4',
        monitoring_max_elements: { string_value: '16' },
        other: 'x',
      }),
      { sample: 3, batch: 4, maxElements: 16 },
    );
  });

  test('leaves absent parameters out', () => {
    assert.deepEqual(modelOverridesFromParameters({}), {});
  });

  test('rejects a bad value naming the parameter', () => {
    assert.throws(() => modelOverridesFromParameters({ monitoring_batch: 'lots' }), {
      name: 'RangeError',
      message: /'monitoring_batch'/,
    });
  });
});

describe('subjects', () => {
  test('subjectFor - fills {model} and {version}', () => {
    assert.equal(subjectFor('a.{model}.{version}', 'm', '2'), 'a.m.2');
  });

  test('checkSubjectTemplate - rejects wildcards and empty tokens', () => {
    assert.throws(() => checkSubjectTemplate('a.*.{model}'), /'subject'/);
    assert.throws(() => checkSubjectTemplate('a..{model}'), /'subject'/);
    assert.doesNotThrow(() => checkSubjectTemplate('v2serve.inference.{model}.{version}'));
  });
});
