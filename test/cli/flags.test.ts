// The flag table: help, defaults and types all come from it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { FLAGS, parseFlags, USAGE, UsageError } from '../../src/cli/flags.js';
import { DEFAULT_MONITORING_OPTIONS } from '../../src/monitoring/index.js';

describe('flags', () => {
  test('the help lists every flag of the table once, with its placeholder (none for a switch)', () => {
    for (const [name, flag] of Object.entries(FLAGS)) {
      const synopsis = 'value' in flag ? `--${name}=${flag.value}` : `--${name}`;
      const lines = USAGE.split('\n').filter((line) => line.trim().split(/\s+/)[0] === synopsis);
      assert.equal(lines.length, 1, name);
    }
  });

  test('a switch is given bare, is false when absent, and takes no value', () => {
    assert.equal(parseFlags([]).values['disable-auto-complete-config'], false);
    assert.equal(parseFlags(['--disable-auto-complete-config']).values['disable-auto-complete-config'], true);
    assert.throws(() => parseFlags(['--disable-auto-complete-config=true']), (err) => err instanceof UsageError && /--disable-auto-complete-config/.test(err.message));
  });

  test('docs/flags.md documents every flag of the table', () => {
    const page = readFileSync(new URL('../../docs/flags.md', import.meta.url), 'utf8');
    // A whole flag name: --grpc-use-ssl-mutual does not document --grpc-use-ssl.
    const documented = (name: string): boolean => new RegExp(`--${name}(?![\\w-])`).test(page);
    assert.deepEqual(Object.keys(FLAGS).filter((name) => !documented(name)), []);
  });

  test('the help shows the defaults the parser applies', () => {
    const { values } = parseFlags([]);
    assert.match(USAGE, /--grpc-port=PORT +gRPC port, 0 = any free port \(default 8001\)/);
    assert.equal(values['grpc-port'], 8001);
    assert.match(USAGE, new RegExp(`--monitoring-sample=N .*\\(default ${DEFAULT_MONITORING_OPTIONS.sample}\\)`));
    assert.equal(values['monitoring-sample'], DEFAULT_MONITORING_OPTIONS.sample);
    assert.equal(values['grpc-keepalive-time'], undefined, 'a flag the gRPC layer defaults stays unset');
  });

  test('given flags are reported, lists keep their order, enums their canonical spelling', () => {
    const { values, given } = parseFlags(['--load-model=b', '--load-model=a', '--log-format=iso8601', '--grpc-port=0']);
    assert.deepEqual(values['load-model'], ['b', 'a']);
    assert.equal(values['log-format'], 'ISO8601');
    assert.deepEqual([...given].sort(), ['grpc-port', 'load-model', 'log-format']);
  });

  test('one integer parser and one boolean parser, messages naming the flag', () => {
    assert.throws(() => parseFlags(['--exit-timeout-secs=1.5']), (err) => err instanceof UsageError && /--exit-timeout-secs must be an integer in 0\.\.86400/.test(err.message));
    assert.throws(() => parseFlags(['--grpc-reflection=sure']), (err) => err instanceof UsageError && /--grpc-reflection must be true or false/.test(err.message));
    assert.equal(parseFlags(['--grpc-reflection=off']).values['grpc-reflection'], false);
  });
});
