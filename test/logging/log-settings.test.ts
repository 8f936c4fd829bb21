import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { createRootLogger, timeFormatOf, type RootLogger } from '../../src/logging/index.js';

/** A root logger made as the server makes it, writing its lines into `lines`. */
function logger(verboseLevel = 0): RootLogger & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { ...createRootLogger({ verboseLevel, format: 'default' }, sink), lines };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('LogSettings', () => {
  test('a verbose level set later reaches a child made before', async () => {
    const { settings, log, lines } = logger();
    const child = log.child({ model: 'm' }).child({ version: '1' });
    child.debug('hidden');
    settings.update(new Map([['log_verbose_level', 2]]));
    child.debug('shown');
    await tick();
    assert.deepEqual(lines.map((l) => l['msg']), ['shown']);
  });

  test('log_warning false drops warn lines and keeps error lines', async () => {
    const { settings, log, lines } = logger();
    settings.update(new Map([['log_warning', false]]));
    log.warn('w');
    log.error('e');
    await tick();
    assert.deepEqual(lines.map((l) => l['msg']), ['e']);
  });

  test('a rejected update changes nothing', () => {
    const { settings } = logger();
    assert.throws(() => settings.update(new Map<string, boolean | string>([['log_error', false], ['log_format', 'json']])), {
      code: 'INVALID_ARGUMENT',
      message: /'settings\.log_format'/,
    });
    assert.equal(settings.current().get('log_error'), true);
  });

  test('a value of the wrong kind is INVALID_ARGUMENT naming the setting and its kind', () => {
    const { settings } = logger();
    assert.throws(() => settings.update(new Map([['log_verbose_level', -1]])), { code: 'INVALID_ARGUMENT', message: /'settings\.log_verbose_level' must be a uint32/ });
    assert.throws(() => settings.update(new Map([['log_info', 'yes']])), { code: 'INVALID_ARGUMENT', message: /'settings\.log_info' must be a bool/ });
  });

  test('a format change switches the time format of the root and of its children', async () => {
    const { settings, log, lines } = logger();
    const child = log.child({ model: 'm' });
    settings.update(new Map([['log_format', 'ISO8601']]));
    assert.equal(timeFormatOf(log), 'ISO8601');
    child.info('iso');
    settings.update(new Map([['log_format', 'default']]));
    child.info('epoch');
    await tick();
    assert.match(String(lines[0]?.['time']), /^\d{4}-\d\d-\d\dT/);
    assert.equal(typeof lines[1]?.['time'], 'number');
  });
});
