// The stream's replies as nats-server sends them, read into stored / unavailable / refused.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readPubAck } from '../../src/monitoring/pub-ack.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('readPubAck', () => {
  const table: { name: string; data: string; status?: number; kind: string; message?: RegExp }[] = [
    { name: 'a PubAck is stored', data: '{"stream":"EVENTS","seq":7}', kind: 'stored' },
    { name: 'a duplicate is stored (an earlier attempt was)', data: '{"stream":"EVENTS","seq":7,"duplicate":true}', kind: 'stored' },
    { name: 'a PubAck with a domain is stored', data: '{"stream":"EVENTS","domain":"hub","seq":7}', kind: 'stored' },
    { name: 'a PubAck spaced as nats-server writes it is stored', data: '{"stream":"EVENTS", "seq": 7}', kind: 'stored' },
    { name: 'a PubAck of a stream named like a key is stored', data: '{"stream":"error","seq":7}', kind: 'stored' },
    { name: 'a PubAck naming an empty stream is a refusal', data: '{"stream":"","seq":7}', kind: 'refused', message: /names no stream/ },
    { name: 'a cut PubAck is a refusal', data: '{"stream":"EVENTS","seq":7', kind: 'refused', message: /not a JSON PubAck/ },
    { name: 'no responders (503, no payload) is unavailable', data: '', status: 503, kind: 'unavailable' },
    {
      name: 'JetStream unavailable (error code 503) is unavailable',
      data: '{"error":{"code":503,"err_code":10008,"description":"JetStream system temporarily unavailable"}}',
      kind: 'unavailable',
    },
    {
      name: 'an error is a refusal naming its description and codes',
      data: '{"stream":"EVENTS","seq":0,"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"}}',
      kind: 'refused',
      message: /message size exceeds maximum allowed \(code 400, err_code 10054\)/,
    },
    { name: 'another status without payload is a refusal', data: '', status: 408, kind: 'refused', message: /status 408/ },
    { name: 'a reply that is not JSON is a refusal', data: 'PUBACK', kind: 'refused', message: /not a JSON PubAck/ },
    { name: 'JSON that is no object is a refusal', data: '7', kind: 'refused', message: /not a JSON PubAck/ },
    { name: 'a PubAck naming no stream is a refusal', data: '{"seq":7}', kind: 'refused', message: /names no stream/ },
  ];
  for (const row of table) {
    test(`readPubAck - ${row.name}`, () => {
      const ack = readPubAck(bytes(row.data), row.status ?? 0);
      assert.equal(ack.kind, row.kind);
      if (row.message) assert.match(ack.kind === 'refused' ? ack.error.message : '', row.message);
    });
  }

  test('readPubAck - a status on a reply with a payload is not the server\'s: the PubAck counts', () => {
    assert.equal(readPubAck(bytes('{"stream":"EVENTS","seq":1}'), 503).kind, 'stored');
  });
});
