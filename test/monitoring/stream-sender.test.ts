// HPUB frames as the NATS protocol lays them out: the header and total lengths count bytes,
// frames of one burst follow each other, and the buffer grows for large payloads.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteWriter } from '../../src/monitoring/byte-writer.js';
import { hpubHeaderBytes, writeHpub } from '../../src/monitoring/stream-sender.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

function frameText(subject: string, reply: string, msgId: string, payload: string): string {
  const header = `NATS/1.0\r\nNats-Msg-Id: ${msgId}\r\n\r\n`;
  const headerBytes = bytes(header).length;
  return `HPUB ${subject} ${reply} ${headerBytes} ${headerBytes + bytes(payload).length}\r\n${header}${payload}\r\n`;
}

function append(frames: ByteWriter, subject: string, reply: string, msgId: string, payload: string): void {
  writeHpub(frames, subject, reply, msgId, hpubHeaderBytes(msgId), bytes(payload));
}

describe('HPUB frames', () => {
  test('frame - one publish with its reply subject and Nats-Msg-Id header', () => {
    const frames = new ByteWriter();
    append(frames, 'v2serve.simple.1', '_INBOX.abc.7', 'id.1', '{"a":1}');
    assert.equal(frames.take().toString('utf8'), frameText('v2serve.simple.1', '_INBOX.abc.7', 'id.1', '{"a":1}'));
    assert.equal(
      frameText('s', 'r', 'i', '{}'),
      'HPUB s r 28 30\r\nNATS/1.0\r\nNats-Msg-Id: i\r\n\r\n{}\r\n',
      'the expected text itself, spelled out once',
    );
  });

  test('frame - lengths count UTF-8 bytes, not characters', () => {
    const frames = new ByteWriter();
    append(frames, 'v2serve.modèle_日本.1', '_INBOX.x.1', 'ïd', '{"label":"ünïcode 🎉"}');
    const text = frames.take().toString('utf8');
    assert.equal(text, frameText('v2serve.modèle_日本.1', '_INBOX.x.1', 'ïd', '{"label":"ünïcode 🎉"}'));
    assert.match(text, /^HPUB \S+ \S+ 30 56\r\n/);
  });

  test('burst - frames follow each other, and take() starts the next burst empty', () => {
    const frames = new ByteWriter();
    const expected: string[] = [];
    for (let i = 0; i < 300; i++) {
      append(frames, `s.${i}`, `r.${i}`, `id.${i}`, `{"i":${i}}`);
      expected.push(frameText(`s.${i}`, `r.${i}`, `id.${i}`, `{"i":${i}}`));
    }
    assert.equal(frames.take().toString('utf8'), expected.join(''));
    assert.equal(frames.byteLength, 0);
    append(frames, 'after', 'r', 'id', '[]');
    assert.equal(frames.take().toString('utf8'), frameText('after', 'r', 'id', '[]'));
  });

  test('growth - a payload larger than the buffer, after other frames, arrives whole', () => {
    const frames = new ByteWriter();
    const big = `"${'x'.repeat(200_000)}"`;
    append(frames, 'small', 'r', 'a', '1');
    append(frames, 'big', 'r', 'b', big);
    append(frames, 'small', 'r', 'c', '2');
    assert.equal(
      frames.take().toString('utf8'),
      frameText('small', 'r', 'a', '1') + frameText('big', 'r', 'b', big) + frameText('small', 'r', 'c', '2'),
    );
  });

  test('take - the frames handed over are not overwritten by the next burst', () => {
    const frames = new ByteWriter();
    append(frames, 'first', 'r', 'a', '1');
    const first = frames.take();
    append(frames, 'second', 'r', 'b', '2');
    assert.equal(first.toString('utf8'), frameText('first', 'r', 'a', '1'));
  });
});
