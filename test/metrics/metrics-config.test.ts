// --metrics-config: Triton's keys, v2serve's buckets, and messages naming the setting and the flag.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig, UsageError } from '../../src/cli/config.js';
import { DEFAULT_BUCKETS, parseMetricsConfig } from '../../src/metrics/index.js';

describe('parseMetricsConfig', () => {
  test('defaults: histograms on with the default buckets, Triton\'s latency counters on', () => {
    assert.deepEqual(parseMetricsConfig([]), { histograms: true, counterLatencies: true, buckets: DEFAULT_BUCKETS });
  });

  test("Triton's keys turn histograms and latency counters off; a later setting of a key wins", () => {
    const settings = parseMetricsConfig(['histogram_latencies=true', 'histogram_latencies=false', 'counter_latencies=false']);
    assert.equal(settings.histograms, false);
    assert.equal(settings.counterLatencies, false);
  });

  test('buckets= sets the histogram bounds in seconds', () => {
    assert.deepEqual(parseMetricsConfig(['buckets=0.001,0.01,0.1,1']).buckets, [0.001, 0.01, 0.1, 1]);
  });

  test('summary_latencies=false is accepted, =true refused: summaries do not aggregate across replicas', () => {
    assert.equal(parseMetricsConfig(['summary_latencies=false']).histograms, true);
    assert.throws(() => parseMetricsConfig(['summary_latencies=true']), { code: 'INVALID_ARGUMENT', message: /'summary_latencies=true' is not supported/ });
  });

  for (const [spec, problem] of [
    ['buckets=0.1,0.01', /increasing order/],
    ['buckets=0.1,,1', /positive numbers of seconds/],
    ['buckets=-1', /positive numbers of seconds/],
    ['buckets=1e400', /positive numbers of seconds/],
    ['histogram_latencies=yes', /must be true or false/],
    ['histogram_latencies', /must be <setting>=<value>/],
    ['=true', /must be <setting>=<value>/],
    ['bucket=0.1', /names no setting; settings: histogram_latencies, counter_latencies, summary_latencies, buckets/],
  ] as const) {
    test(`refuses '${spec}', naming it`, () => {
      assert.throws(() => parseMetricsConfig([spec]), (err: Error) => err.message.includes(`'${spec}'`) && problem.test(err.message));
    });
  }
});

describe('parseConfig - metrics flags', () => {
  test('defaults: metrics on port 8002 of 0.0.0.0, read every 2000 ms; request log off', () => {
    const config = parseConfig([]);
    assert.deepEqual(
      { address: config.metrics?.address, port: config.metrics?.port, intervalMs: config.metrics?.intervalMs },
      { address: '0.0.0.0', port: 8002, intervalMs: 2000 },
    );
    assert.equal(config.logRequests, false);
  });

  test('--allow-metrics=false opens no metrics port', () => {
    assert.equal(parseConfig(['--allow-metrics=false', '--metrics-port=9102']).metrics, undefined);
  });

  test('--metrics-config settings reach the config', () => {
    assert.deepEqual(parseConfig(['--metrics-config=buckets=0.5,5', '--metrics-config=counter_latencies=false']).metrics?.settings, {
      histograms: true,
      counterLatencies: false,
      buckets: [0.5, 5],
    });
  });

  test('a bad --metrics-config is a usage error naming the flag and the setting', () => {
    assert.throws(() => parseConfig(['--metrics-config=buckets=abc']), (err: Error) => err instanceof UsageError && /^--metrics-config 'buckets=abc' must be/.test(err.message));
  });
});
