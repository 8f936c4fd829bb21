import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino, type Logger } from 'pino';
import { LogSettings, logSettingsOf } from '../../src/grpc/log-settings.js';

/** A root logger made as main.ts makes it, writing its lines into `lines`. */
function logger(verboseLevel = 0): { settings: LogSettings; root: Logger; lines: Record<string, unknown>[]; formats: string[] } {
  const lines: Record<string, unknown>[] = [];
  const formats: string[] = [];
  const settings = new LogSettings({ verboseLevel, format: 'default' }, (_root, format) => formats.push(format));
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const root = settings.attach(pino({ level: settings.level, hooks: settings.hooks }, sink));
  return { settings, root, lines, formats };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('LogSettings', () => {
  test('a verbose level set later reaches a child made before', async () => {
    const { settings, root, lines } = logger();
    const child = root.child({ model: 'm' }).child({ version: '1' });
    child.debug('hidden');
    settings.update(new Map(Object.entries({ log_verbose_level: { uint32Param: 2 } })));
    child.debug('shown');
    await tick();
    assert.deepEqual(lines.map((l) => l['msg']), ['shown']);
  });

  test('log_warning false drops warn lines and keeps error lines', async () => {
    const { settings, root, lines } = logger();
    settings.update(new Map(Object.entries({ log_warning: { boolParam: false } })));
    root.warn('w');
    root.error('e');
    await tick();
    assert.deepEqual(lines.map((l) => l['msg']), ['e']);
  });

  test('a rejected update changes nothing', () => {
    const { settings } = logger();
    assert.throws(() => settings.update(new Map(Object.entries({ log_error: { boolParam: false }, log_format: { stringParam: 'json' } }))), {
      code: 'INVALID_ARGUMENT',
      message: /'settings\.log_format'/,
    });
    assert.equal(settings.current().get('log_error')?.boolParam, true);
  });

  test('a format change goes to the time-format setter, once', () => {
    const { settings, formats } = logger();
    settings.update(new Map(Object.entries({ log_format: { stringParam: 'ISO8601' } })));
    settings.update(new Map(Object.entries({ log_format: { stringParam: 'ISO8601' } })));
    assert.deepEqual(formats, ['ISO8601']);
  });

  test('the settings are found from the root logger they were attached to', () => {
    const { settings, root } = logger();
    assert.equal(logSettingsOf(root), settings);
    assert.equal(logSettingsOf(pino({ level: 'silent' })), undefined);
  });
});
