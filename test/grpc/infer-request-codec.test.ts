// decodeModelInferRequest reads what the generated decoder reads, with raw tensors as views;
// seenRequestReader knows a request again by its bytes but its id.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ModelInferRequest } from '../../generated/grpc_service.js';
import { ResponseCache, type EncodedAnswer } from '../../src/cache/index.js';
import { decodeModelInferRequest, decodeSeen, SEEN_REQUEST_MAX_BYTES, SeenRequest, seenKeyOf, seenRequestReader, requestWireSize } from '../../src/grpc/infer-request-codec.js';

const float32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer);

function request(over: Partial<ModelInferRequest> = {}): ModelInferRequest {
  return {
    modelName: 'identity_fp32',
    modelVersion: '2',
    id: 'req',
    parameters: new Map([
      ['sequence_id', { int64Param: 7n }],
      ['flag', { boolParam: false }],
    ]),
    inputs: [
      { name: 'A', datatype: 'FP32', shape: [1n, 3n], parameters: new Map([['p', { stringParam: 'x' }]]), contents: undefined },
      { name: 'B', datatype: 'FP64', shape: [2n], parameters: new Map(), contents: undefined },
    ],
    outputs: [{ name: 'OUT', parameters: new Map([['classification', { int64Param: 2n }]]) }],
    rawInputContents: [float32([1, 2, 3]), Buffer.from(new Float64Array([0.5, -0.25]).buffer)],
    ...over,
  };
}

/** Plain data for deepEqual: Buffers as arrays of numbers. */
const plain = (r: ModelInferRequest) => ({ ...r, rawInputContents: r.rawInputContents.map((b) => [...b]) });

describe('decodeModelInferRequest', () => {
  for (let pad = 0; pad < 8; pad++) {
    test(`reads what the generated decoder reads (id padded by ${pad}, so the raw bytes land at every alignment)`, () => {
      const wire = Buffer.from(ModelInferRequest.encode(request({ id: 'x'.repeat(pad) })).finish());
      assert.deepEqual(plain(decodeModelInferRequest(Buffer.from(wire))), plain(ModelInferRequest.decode(wire)));
    });
  }

  test('a decoded request knows the size of its message, and shows no property for it', () => {
    const wire = Buffer.from(ModelInferRequest.encode(request()).finish());
    const decoded = decodeModelInferRequest(wire);
    assert.equal(requestWireSize(decoded), wire.byteLength);
    assert.equal(requestWireSize(ModelInferRequest.decode(wire)), undefined);
    assert.deepEqual(Reflect.ownKeys(decoded), Reflect.ownKeys(ModelInferRequest.decode(wire)));
  });

  test('messages without parameters share an empty map; one with parameters has its own', () => {
    const bare = request({ parameters: new Map(), inputs: [{ ...request().inputs[1]!, parameters: new Map() }], rawInputContents: [request().rawInputContents[1]!] });
    const first = decodeModelInferRequest(Buffer.from(ModelInferRequest.encode(bare).finish()));
    const withSome = decodeModelInferRequest(Buffer.from(ModelInferRequest.encode(request()).finish()));
    const second = decodeModelInferRequest(Buffer.from(ModelInferRequest.encode(bare).finish()));
    assert.equal(first.parameters.size, 0);
    assert.equal(first.parameters, second.inputs[0]!.parameters, 'one empty map');
    assert.notEqual(withSome.parameters, first.parameters);
    assert.deepEqual([...withSome.parameters.keys()], ['sequence_id', 'flag']);
    assert.deepEqual([...withSome.inputs[0]!.parameters.keys()], ['p']);
    assert.equal(second.parameters.size, 0, 'decoding parameters never writes the shared map');
  });

  test('raw inputs are views on the received bytes, moved onto their element boundary when their tag and length leave room', () => {
    const big = new Float32Array(1024).map((_, i) => i);
    for (let pad = 0; pad < 4; pad++) {
      const wire = Buffer.from(
        ModelInferRequest.encode(
          request({ id: 'x'.repeat(pad), inputs: [request().inputs[0]!], rawInputContents: [Buffer.from(big.buffer)] }),
        ).finish(),
      );
      const decoded = decodeModelInferRequest(wire);
      const raw = decoded.rawInputContents[0]!;
      assert.equal(raw.buffer, wire.buffer, 'no copy');
      assert.equal(raw.byteOffset % 4, 0, `aligned (pad ${pad})`);
      assert.deepEqual(new Float32Array(raw.buffer, raw.byteOffset, 1024), big);
    }
  });

  test('typed contents, unknown fields and an empty message decode as the generated decoder has them', () => {
    const typed = request({
      rawInputContents: [],
      inputs: [{ name: 'T', datatype: 'INT32', shape: [2n], parameters: new Map(), contents: { boolContents: [], intContents: [4, -5], int64Contents: [], uintContents: [], uint64Contents: [], fp32Contents: [], fp64Contents: [], bytesContents: [] } }],
    });
    const wire = Buffer.concat([Buffer.from(ModelInferRequest.encode(typed).finish()), Buffer.from([0x98, 0x06, 0x01])]);
    assert.deepEqual(plain(decodeModelInferRequest(wire)), plain(ModelInferRequest.decode(wire)));
    assert.deepEqual(plain(decodeModelInferRequest(new Uint8Array(0))), plain(ModelInferRequest.decode(new Uint8Array(0))));
  });

  test('a truncated message throws, as the generated decoder does', () => {
    const wire = Buffer.from(ModelInferRequest.encode(request()).finish());
    assert.throws(() => decodeModelInferRequest(wire.subarray(0, wire.length - 3)));
    assert.throws(() => ModelInferRequest.decode(wire.subarray(0, wire.length - 3)));
  });
});

describe('seenRequestReader', () => {
  const wire = (over: Partial<ModelInferRequest> = {}) => Buffer.from(ModelInferRequest.encode(request(over)).finish());
  const keyOf = (bytes: Buffer): string | undefined => {
    const read = seenRequestReader(new ResponseCache(1 << 20))(bytes);
    assert.ok(!(read instanceof SeenRequest));
    return seenKeyOf(read);
  };
  const encoded: EncodedAnswer = { bytes: new Uint8Array([1, 2, 3]), idOffset: 1 };

  test('without a response cache every request is decoded, with no key', () => {
    const read = seenRequestReader(undefined)(wire());
    assert.deepEqual(plain(read as ModelInferRequest), plain(ModelInferRequest.decode(wire())));
    assert.equal(seenKeyOf(read as ModelInferRequest), undefined);
  });

  test('two requests share a key exactly when they differ at most in their ids', () => {
    const key = keyOf(wire({ id: 'a' }));
    assert.ok(key);
    assert.equal(keyOf(wire({ id: 'another id' })), key);
    assert.equal(keyOf(wire({ id: '' })), key, 'no id at all');
    const others = [
      wire({ modelVersion: '3' }),
      wire({ modelName: 'identity_fp33' }),
      wire({ parameters: new Map([['flag', { boolParam: true }]]) }),
      wire({ outputs: [] }),
      wire({ rawInputContents: [float32([1, 2, 4]), Buffer.from(new Float64Array([0.5, -0.25]).buffer)] }),
    ];
    for (const other of others) assert.notEqual(keyOf(other), key);
  });

  test('a request above the size limit, with two ids or with a group field is decoded with no key', () => {
    const big = wire({ rawInputContents: [Buffer.alloc(SEEN_REQUEST_MAX_BYTES)] });
    assert.equal(keyOf(big), undefined);
    const idField = Buffer.from([0x1a, 0x01, 0x78]);
    const twoIds = Buffer.concat([wire({ id: '' }), idField, idField]);
    assert.equal(keyOf(twoIds), undefined);
    assert.equal(keyOf(Buffer.concat([wire(), Buffer.from([0x9b, 0x06, 0x9c, 0x06])])), undefined);
  });

  test('a request whose key has an alias is left undecoded, with its id; decodeSeen reads it as the decoder does', () => {
    const cache = new ResponseCache(1 << 20);
    const first = wire({ id: 'first' });
    const key = keyOf(first) as string;
    const entryKey = 'entry';
    cache.insert(entryKey, [], {});
    cache.keepEncoded({ key: entryKey, load: 1 }, key, 'identity_fp32', '2', encoded);
    const bytes = wire({ id: 'é—second' });
    // Decoding moves raw inputs onto their element boundaries in place: the reference reads a copy.
    const expected = plain(ModelInferRequest.decode(Buffer.from(bytes)));
    const seen = seenRequestReader(cache)(bytes);
    assert.ok(seen instanceof SeenRequest);
    assert.equal(seen.id, 'é—second');
    assert.equal(seen.alias.encoded, encoded);
    assert.equal(seen.alias.key, key);
    const decoded = decodeSeen(seen);
    assert.deepEqual(plain(decoded), expected);
    assert.equal(seenKeyOf(decoded), key);
  });
});
