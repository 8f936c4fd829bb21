// The HTTP/REST transport through the real CLI with Node's fetch: every route, every status
// code, JSON tensors of every datatype value by value, and the bad-input table.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { gunzipSync, gzipSync } from 'node:zlib';
import { startCli } from '../helpers/server.js';
import { httpSuite, request } from './http-fixtures.js';

/** JSON-able values per datatype, including each type's extremes. */
const VALUES: Record<string, unknown[]> = {
  BOOL: [true, false, true],
  UINT8: [0, 255, 7],
  UINT16: [0, 65535, 300],
  UINT32: [0, 4294967295, 70000],
  UINT64: [0, Number.MAX_SAFE_INTEGER, 5],
  INT8: [-128, 127, 0],
  INT16: [-32768, 32767, -1],
  INT32: [-2147483648, 2147483647, 42],
  INT64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, -3],
  FP32: [1.5, -0.25, 1024],
  FP64: [0.1, -1e300, 3.141592653589793],
  BYTES: ['héllo', '', '__proto__'],
};

/** node:http, which decompresses nothing: the bytes as the server sent them. */
function rawRequest(base: string, method: string, path: string, headers: Record<string, string>, body?: string) {
  return new Promise<{ headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const outgoing = httpRequest(`${base}${path}`, { method, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

const input = (type: string, data: unknown, shape = [3]) => ({ name: `X_${type}`, datatype: type, shape, data });
/** The echo model answers every datatype; FP16/BF16 outputs can't be JSON, so requests name the outputs they want. */
const want = (...types: string[]) => types.map((type) => ({ name: `Y_${type}` }));

describe('http', () => {
  const suite = httpSuite();

  test('health - live answers 200 with an empty body', async () => {
    const live = await request(suite.base, '/v2/health/live');
    assert.equal(live.status, 200);
    assert.equal(live.text, '');
  });

  test('health - ready answers 400 with an empty body while a model loads, then 200', async () => {
    const loading = await request(suite.base, '/v2/health/ready');
    const modelLoading = await request(suite.base, '/v2/models/slow/ready');
    await suite.cli.waitForLog((l) => l['model'] === 'slow' && l['msg'] === 'model loaded');
    assert.equal(loading.status, 400);
    assert.equal(loading.text, '');
    assert.equal(modelLoading.status, 400);
    assert.match(String(modelLoading.json()['error']), /slow/);
    const ready = await request(suite.base, '/v2/health/ready');
    assert.equal(ready.status, 200);
    assert.equal(ready.text, '');
    assert.equal((await request(suite.base, '/v2/models/slow/versions/1/ready')).status, 200);
  });

  test('metadata - server, model, model version and the model list', async () => {
    const server = (await request(suite.base, '/v2')).json();
    assert.equal(server['name'], 'v2serve');
    assert.ok((server['extensions'] as string[]).includes('binary_tensor_data'));
    const model = await request(suite.base, '/v2/models/echo/versions/1');
    assert.equal(model.status, 200);
    assert.equal(model.headers.get('content-type'), 'application/json');
    const metadata = model.json();
    assert.deepEqual(metadata['versions'], ['1']);
    assert.deepEqual((metadata['inputs'] as unknown[])[0], { name: 'X_BOOL', datatype: 'BOOL', shape: [-1] });
    const list = (await request(suite.base, '/v2/models')).json();
    assert.ok((list['models'] as string[]).includes('echo'));
  });

  test('infer - every JSON datatype round-trips value by value, nested or flat, id echoed', async () => {
    const inputs = Object.entries(VALUES).map(([type, values], i) => (i % 2 === 0 ? input(type, values) : input(type, [[values[0]], [values[1]], [values[2]]], [3])));
    const reply = await request(suite.base, '/v2/models/echo/infer', { id: 'req-1', inputs, outputs: want(...Object.keys(VALUES)) });
    assert.equal(reply.status, 200, reply.text);
    const body = reply.json();
    assert.equal(body['id'], 'req-1');
    assert.equal(body['model_name'], 'echo');
    assert.equal(body['model_version'], '1');
    const outputs = body['outputs'] as { name: string; datatype: string; shape: number[]; data: unknown[] }[];
    for (const [type, values] of Object.entries(VALUES)) {
      const output = outputs.find((o) => o.name === `Y_${type}`);
      assert.ok(output, type);
      assert.equal(output.datatype, type);
      assert.deepEqual(output.shape, [3]);
      const expected = type === 'FP32' ? values.map((v) => Math.fround(v as number)) : values;
      assert.deepEqual(output.data, expected, type);
    }
  });

  test('infer - requested outputs only, and parameters typed as on gRPC', async () => {
    const reply = await request(suite.base, '/v2/models/echo/infer', {
      parameters: { sequence_id: 'abc', priority: 1, custom: 'x' },
      inputs: [input('INT32', [1, 2, 3]), input('FP32', [1, 2, 3])],
      outputs: [{ name: 'Y_INT32' }],
    });
    assert.equal(reply.status, 200, reply.text);
    const outputs = reply.json()['outputs'] as { name: string }[];
    assert.deepEqual(outputs.map((o) => o.name), ['Y_INT32']);
  });

  test('infer - an FP16 output asked for as JSON is 400, as in Triton', async () => {
    const reply = await request(suite.base, '/v2/models/echo/infer', { inputs: [input('INT32', [1, 2, 3])], outputs: want('FP16') });
    assert.equal(reply.status, 400);
    assert.match(String(reply.json()['error']), /FP16 via JSON is not supported/);
  });

  test('operations - explain and a custom operation dispatch as the gRPC operation parameter', async () => {
    const explain = await request(suite.base, '/v2/models/echo/explain', { inputs: [input('FP32', [1, 2, 3])], outputs: want('BYTES') });
    assert.equal(explain.status, 200, explain.text);
    assert.deepEqual((explain.json()['outputs'] as { data: unknown }[])[0]?.data, ['explained 3']);
    const custom = await request(suite.base, '/v2/models/echo/versions/1/double', { inputs: [input('FP32', [1, 2, 3])], outputs: want('FP32') });
    assert.equal(custom.status, 200, custom.text);
    assert.deepEqual((custom.json()['outputs'] as { data: unknown }[])[0]?.data, [2, 4, 6]);
  });

  test('config - ModelConfig with proto field names', async () => {
    const config = (await request(suite.base, '/v2/models/echo/config')).json();
    assert.equal(config['max_batch_size'], undefined);
    assert.equal((config['input'] as { data_type: string }[])[0]?.data_type, 'TYPE_BOOL');
  });

  test('statistics - per model and for all models', async () => {
    const one = (await request(suite.base, '/v2/models/echo/stats')).json();
    const stats = (one['model_stats'] as { name: string; inference_count: number; inference_stats: { success: { count: number } } }[])[0];
    assert.equal(stats?.name, 'echo');
    assert.ok((stats?.inference_stats.success.count ?? 0) > 0);
    const all = (await request(suite.base, '/v2/models/stats')).json();
    assert.ok((all['model_stats'] as { name: string }[]).some((s) => s.name === 'echo'));
  });

  test('repository - index lists the models; load outside explicit mode is 503', async () => {
    const index = await request(suite.base, '/v2/repository/index', { ready: true });
    assert.ok((index.json() as unknown as { name: string; state: string }[]).some((m) => m.name === 'echo' && m.state === 'READY'));
    const load = await request(suite.base, '/v2/repository/models/echo/load', {});
    assert.equal(load.status, 503);
    assert.match(String(load.json()['error']), /explicit model load \/ unload is not allowed/);
    assert.equal((await request(suite.base, '/v2/repository/other/index', {})).status, 501);
  });

  test('logging - GET answers the settings, POST changes the keys given', async () => {
    const settings = (await request(suite.base, '/v2/logging')).json();
    assert.equal(settings['log_info'], true);
    const changed = (await request(suite.base, '/v2/logging', { log_verbose_level: 0, log_info: true })).json();
    assert.equal(changed['log_verbose_level'], 0);
    const bad = await request(suite.base, '/v2/logging', { log_info: 1 });
    assert.equal(bad.status, 400);
    assert.match(String(bad.json()['error']), /log_info/);
  });

  test('shared memory - status lists none; an unknown region is 404', async () => {
    assert.deepEqual((await request(suite.base, '/v2/systemsharedmemory/status')).json(), []);
    assert.equal((await request(suite.base, '/v2/systemsharedmemory/region/nope/status')).status, 404);
    assert.equal((await request(suite.base, '/v2/cudasharedmemory/status')).status, 200);
  });

  test('trace - setting is 501, as gRPC answers UNIMPLEMENTED', async () => {
    assert.equal((await request(suite.base, '/v2/trace/setting')).status, 501);
    assert.equal((await request(suite.base, '/v2/models/echo/trace/setting', {})).status, 501);
  });

  test('gzip - a compressed request is read, and the answer is compressed when accepted', async () => {
    const body = gzipSync(JSON.stringify({ inputs: [input('INT32', [4, 5, 6])], outputs: want('INT32') }));
    const response = await fetch(`${suite.base}/v2/models/echo/infer`, {
      method: 'POST',
      headers: { 'Content-Encoding': 'gzip', 'Accept-Encoding': 'gzip' },
      body,
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-encoding'), 'gzip');
    const text = await response.text();
    assert.deepEqual((JSON.parse(text) as { outputs: { data: number[] }[] }).outputs[0]?.data, [4, 5, 6]);
  });

  test('gzip - only inference answers are compressed: a client that does not decompress reads every other answer', async () => {
    const accept = { 'Accept-Encoding': 'gzip, deflate' };
    for (const path of ['/v2', '/v2/models/echo', '/v2/models/echo/config', '/v2/models/echo/stats', '/v2/models/stats', '/v2/systemsharedmemory/status']) {
      const answer = await rawRequest(suite.base, 'GET', path, accept);
      assert.equal(answer.headers['content-encoding'], undefined, path);
      assert.doesNotThrow(() => JSON.parse(answer.body.toString('utf8')), path);
    }
    const index = await rawRequest(suite.base, 'POST', '/v2/repository/index', accept, '{}');
    assert.equal(index.headers['content-encoding'], undefined);
    assert.ok(Array.isArray(JSON.parse(index.body.toString('utf8'))));
    const infer = await rawRequest(suite.base, 'POST', '/v2/models/echo/infer', accept, JSON.stringify({ inputs: [input('INT32', [7, 8, 9])], outputs: want('INT32') }));
    assert.equal(infer.headers['content-encoding'], 'gzip');
    assert.deepEqual((JSON.parse(gunzipSync(infer.body).toString('utf8')) as { outputs: { data: number[] }[] }).outputs[0]?.data, [7, 8, 9]);
    const plain = await rawRequest(suite.base, 'POST', '/v2/models/echo/infer', {}, JSON.stringify({ inputs: [input('INT32', [7, 8, 9])], outputs: want('INT32') }));
    assert.equal(plain.headers['content-encoding'], undefined);
  });

  test('status - unknown model 400, unknown version 404, unknown path 404, wrong verb 405', async () => {
    const unknown = await request(suite.base, '/v2/models/nope');
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json()['error'], "Request for unknown model: 'nope' is not found");
    const version = await request(suite.base, '/v2/models/echo/versions/9/infer', { inputs: [] });
    assert.equal(version.status, 404);
    assert.match(String(version.json()['error']), /'echo' version 9 is not found/);
    const path = await request(suite.base, '/v3/nothing');
    assert.equal(path.status, 404);
    assert.deepEqual(path.json(), { error: 'Not Found' });
    const verb = await request(suite.base, '/v2/models/echo/ready', {});
    assert.equal(verb.status, 405);
    assert.deepEqual(verb.json(), { error: 'Method Not Allowed' });
    assert.equal((await request(suite.base, '/v2/models/echo/infer')).status, 405);
  });

  /** [case, path, body, headers, what the error must name] — all 4xx, never 500. */
  const BAD: [string, string, unknown, Record<string, string>, RegExp][] = [
    ['not JSON', '/v2/models/echo/infer', '{"inputs": [', {}, /not valid JSON/],
    ['body not an object', '/v2/models/echo/infer', '[1,2]', {}, /JSON object/],
    ['inputs missing', '/v2/models/echo/infer', {}, {}, /'inputs'/],
    ['input not an object', '/v2/models/echo/infer', { inputs: [7] }, {}, /inputs\[0\]/],
    ['name missing', '/v2/models/echo/infer', { inputs: [{ datatype: 'INT32', shape: [1], data: [1] }] }, {}, /inputs\[0\]\.name/],
    ['shape negative', '/v2/models/echo/infer', { inputs: [input('INT32', [1], [-1])] }, {}, /inputs\[0\]\.shape\[0\]/],
    ['shape huge', '/v2/models/echo/infer', { inputs: [input('INT32', [1], [1e9, 1e9])] }, {}, /inputs\[0\]/],
    ['data count differs', '/v2/models/echo/infer', { inputs: [input('INT32', [1, 2])] }, {}, /has 2 elements, the shape implies 3/],
    ['data missing', '/v2/models/echo/infer', { inputs: [{ name: 'X_INT32', datatype: 'INT32', shape: [1] }] }, {}, /inputs\[0\]\.data/],
    ['INT8 out of range', '/v2/models/echo/infer', { inputs: [input('INT8', [1, 2, 300])] }, {}, /inputs\[0\]\.data\[2\]/],
    ['INT32 not an integer', '/v2/models/echo/infer', { inputs: [input('INT32', [1, 2.5, 3])] }, {}, /inputs\[0\]\.data\[1\]/],
    ['BOOL as a number', '/v2/models/echo/infer', { inputs: [input('BOOL', [1, 0, 1])] }, {}, /true or false/],
    ['BYTES not a string', '/v2/models/echo/infer', { inputs: [input('BYTES', [1, 2, 3])] }, {}, /a string/],
    ['INT64 beyond 2^53', '/v2/models/echo/infer', { inputs: [input('INT64', [1, 2, 2 ** 60])] }, {}, /binary data format/],
    ['FP16 in JSON', '/v2/models/echo/infer', { inputs: [input('FP16', [1, 2, 3])] }, {}, /FP16 via JSON is not supported/],
    ['BF16 in JSON', '/v2/models/echo/infer', { inputs: [input('BF16', [1, 2, 3])] }, {}, /BF16 via JSON is not supported/],
    ['unknown datatype', '/v2/models/echo/infer', { inputs: [input('FP8', [1, 2, 3])] }, {}, /FP8/],
    ['deep nesting', '/v2/models/echo/infer', { inputs: [input('INT32', JSON.parse('['.repeat(100) + ']'.repeat(100)) as unknown)] }, {}, /nested deeper/],
    ['reserved triton_ parameter', '/v2/models/echo/infer', { parameters: { triton_x: 1 }, inputs: [] }, {}, /parameters\.triton_x/],
    ['sequence_start not a boolean', '/v2/models/echo/infer', { parameters: { sequence_start: 1 }, inputs: [] }, {}, /parameters\.sequence_start/],
    ['priority negative', '/v2/models/echo/infer', { parameters: { priority: -1 }, inputs: [] }, {}, /parameters\.priority/],
    ['parameter an object', '/v2/models/echo/infer', { parameters: { p: {} }, inputs: [] }, {}, /parameters\.p/],
    ['__proto__ parameter an object', '/v2/models/echo/infer', '{"parameters":{"__proto__":{"x":1}},"inputs":[]}', {}, /parameters\.__proto__/],
    ['classification zero', '/v2/models/echo/infer', { inputs: [input('FP32', [1, 2, 3])], outputs: [{ name: 'Y_FP32', parameters: { classification: 0 } }] }, {}, /classification/],
    ['binary_data not a boolean', '/v2/models/echo/infer', { inputs: [input('FP32', [1, 2, 3])], outputs: [{ name: 'Y_FP32', parameters: { binary_data: 'yes' } }] }, {}, /binary_data/],
    ['id not a string', '/v2/models/echo/infer', { id: 5, inputs: [] }, {}, /'id'/],
    ['undeclared input', '/v2/models/echo/infer', { inputs: [{ name: 'NOPE', datatype: 'INT32', shape: [1], data: [1] }] }, {}, /NOPE/],
    ['header length beyond the body', '/v2/models/echo/infer', '{}', { 'Inference-Header-Content-Length': '99' }, /Inference-Header-Content-Length/],
    ['binary_data_size beyond the body', '/v2/models/echo/infer', '{"inputs":[{"name":"X_FP32","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4}}]}', {}, /expecting 4 additional bytes/],
    ['unknown Content-Encoding', '/v2/models/echo/infer', '{}', { 'Content-Encoding': 'br' }, /Content-Encoding/],
    ['gzip header on plain text', '/v2/models/echo/infer', '{}', { 'Content-Encoding': 'gzip' }, /gzip/],
    ['bad percent-encoding', '/v2/models/%E0%A4%A/infer', {}, {}, /URL path segment/],
    ['register without byte_size', '/v2/systemsharedmemory/region/r/register', { key: 'k' }, {}, /byte_size/],
    ['load parameter not a string', '/v2/repository/index', { ready: 'yes' }, {}, /'ready'/],
    ['unknown log setting', '/v2/logging', { log_nope: true }, {}, /log_nope/],
  ];

  for (const [name, path, body, headers, names] of BAD) {
    test(`bad input - ${name} is 4xx naming the field`, async () => {
      const reply = await request(suite.base, path, body, headers);
      assert.ok(reply.status >= 400 && reply.status < 500, `${reply.status} ${reply.text}`);
      assert.match(String(reply.json()['error']), names);
    });
  }

  test('bad input - the server still serves after the bad-input table', async () => {
    const reply = await request(suite.base, '/v2/models/echo/infer', { inputs: [input('INT32', [1, 2, 3])], outputs: want('INT32') });
    assert.equal(reply.status, 200);
  });
});

describe('http - flags', () => {
  test('restricted api - a restricted category without the header is 403 with Triton\'s text', async (t) => {
    const cli = await startCli(['--http-restricted-api=inference,model-config:x-key=secret', '--http-max-input-size=1024']);
    t.after(() => cli.stop());
    const base = cli.http as string;
    const denied = await request(base, '/v2/models/simple/config');
    assert.equal(denied.status, 403);
    assert.equal(denied.json()['error'], "This API is restricted, expecting header 'x-key'");
    assert.equal((await request(base, '/v2/models/simple/config', undefined, { 'x-key': 'secret' })).status, 200);
    assert.equal((await request(base, '/v2/health/live')).status, 200);
    const large = await request(base, '/v2/models/simple/infer', 'x'.repeat(2048), { 'x-key': 'secret' });
    assert.equal(large.status, 413);
    assert.match(String(large.json()['error']), /--http-max-input-size/);
    const inflated = await request(base, '/v2/models/simple/infer', gzipSync(' '.repeat(4096)), { 'x-key': 'secret', 'Content-Encoding': 'gzip' });
    assert.equal(inflated.status, 413);
    assert.match(String(inflated.json()['error']), /decompressed/);
  });

  test('allow-http=false - no HTTP listening line, gRPC serves', async (t) => {
    const cli = await startCli(['--allow-http=false']);
    t.after(() => cli.stop());
    assert.equal(cli.http, undefined);
    assert.ok(!cli.logs.some((l) => l['transport'] === 'http'));
  });
});
