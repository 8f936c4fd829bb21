// The buffer messages are written into: numbers as JSON writes them, text as UTF-8, growth
// past its first size, and a fresh start after take() or reset().
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteWriter, utf8 } from '../../src/monitoring/byte-writer.js';

function written(write: (w: ByteWriter) => void): string {
  const w = new ByteWriter(4);
  write(w);
  return w.take().toString('utf8');
}

describe('ByteWriter', () => {
  test('integer - digits as String() writes them, signs and powers of ten included', () => {
    const values = [0, -0, 1, -1, 9, 10, 11, 99, 100, 101, 4294967295, -2147483648, 2 ** 53 - 1, -(2 ** 53 - 1), 1e15];
    for (const v of values) assert.equal(written((w) => w.integer(v)), String(v), `${v}`);
  });

  test('number - as JSON.stringify writes it: null when not finite, exponents left to String()', () => {
    const values = [0.1, -2.5e-300, 1e21, 2 ** 53, 2 ** 53 + 2, -1e300, 5e-324, 3, -0, NaN, Infinity, -Infinity];
    for (const v of values) assert.equal(written((w) => w.number(v)), JSON.stringify(v), `${v}`);
  });

  test('text and bytes - UTF-8 as given, short and long, growing the buffer as needed', () => {
    const long = 'é'.repeat(5000);
    const text = written((w) => {
      w.text('{"a":');
      w.bytes(utf8('"日本🎉"'));
      w.byte(0x2c);
      w.bytes(utf8(JSON.stringify(long)));
      w.text('}');
    });
    assert.deepEqual(text, `{"a":"日本🎉",${JSON.stringify(long)}}`);
  });

  test('slabs - messages taken stay as they were while later ones fill the slab and move to new ones', () => {
    const w = new ByteWriter(64);
    const taken: [Buffer, string][] = [];
    for (let i = 0; i < 200; i++) {
      const text = `{"i":${i},"pad":"${'x'.repeat(i % 50)}"}`;
      w.text(text.slice(0, 5));
      w.text(text.slice(5));
      taken.push([w.take(), text]);
    }
    for (const [message, text] of taken) assert.equal(message.toString('utf8'), text);
  });

  test('take and reset - each message starts from nothing, and a taken one is not overwritten', () => {
    const w = new ByteWriter(4);
    w.text('first');
    const first = w.take();
    assert.equal(w.byteLength, 0);
    w.text('half-written');
    w.reset();
    w.text('second');
    assert.equal(w.take().toString('utf8'), 'second');
    assert.equal(first.toString('utf8'), 'first');
  });
});
