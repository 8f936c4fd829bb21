// Triton's generate extension through the real CLI with Node's fetch: `…/generate` and
// `…/generate_stream` (Server-Sent Events) on ordinary models.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { request } from './http-fixtures.js';

const GEN_ECHO_CONFIG = `
name: "gen_echo"
backend: "nodejs"
max_batch_size: 0
input [
  { name: "text_input" data_type: TYPE_STRING dims: [ 1 ] },
  { name: "numbers" data_type: TYPE_INT32 dims: [ -1 ] optional: true },
  { name: "flag" data_type: TYPE_BOOL dims: [ 1 ] optional: true }
]
output [
  { name: "text_output" data_type: TYPE_STRING dims: [ 1 ] },
  { name: "doubled" data_type: TYPE_INT32 dims: [ -1 ] },
  { name: "parameters_seen" data_type: TYPE_STRING dims: [ 1 ] }
]
`;

/** Upper-cases text_input, doubles numbers, and reports the request parameters it got. */
const GEN_ECHO = `
import { InferenceError, ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class GenEcho extends ModelServer {
  predict(request: InferRequest): PredictOutputs {
    const text = Buffer.from((request.tensors['text_input']!.data as Uint8Array[])[0]!).toString('utf8');
    if (text === 'fail') throw new InferenceError('FAILED_PRECONDITION', 'the model refuses to say fail');
    const numbers = request.tensors['numbers']?.data as Int32Array | undefined;
    const doubled = Int32Array.from(numbers ?? [], (n) => n * 2);
    const parameters = Object.keys(request.parameters).sort().map((key) => [key, request.parameters[key], typeof request.parameters[key]]);
    return { text_output: [text.toUpperCase()], doubled, parameters_seen: [JSON.stringify(parameters)] };
  }
}`;

/** One event's JSON from an SSE body. */
function events(text: string): Record<string, unknown>[] {
  assert.ok(text.endsWith('\n\n') || text === '', `an event stream ends with a blank line: ${JSON.stringify(text)}`);
  return text
    .split('\n\n')
    .filter((event) => event !== '')
    .map((event) => {
      assert.ok(event.startsWith('data: '), event);
      return JSON.parse(event.slice('data: '.length)) as Record<string, unknown>;
    });
}

describe('http generate', () => {
  const repo = tempRepository({ gen_echo: { config: GEN_ECHO_CONFIG, versions: { '1': GEN_ECHO } } });
  let cli: RunningCli;
  let base: string;
  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`]);
    base = cli.http as string;
    await cli.waitForLog((l) => l['model'] === 'gen_echo' && l['msg'] === 'model loaded');
  });
  after(async () => {
    await cli?.stop();
    repo.remove();
  });

  test('generate - fields become inputs and parameters; outputs come back as fields, one element as a plain value', async () => {
    const reply = await request(base, '/v2/models/gen_echo/generate', { id: '42', text_input: 'héllo', numbers: [1, 2], max_tokens: 5, parameters: { temperature: 0.5, stream: false, flag: true } });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('content-type'), 'application/json');
    assert.deepEqual(reply.json(), {
      id: '42',
      model_name: 'gen_echo',
      model_version: '1',
      text_output: 'HÉLLO',
      doubled: [2, 4],
      parameters_seen: JSON.stringify([
        ['id', '42', 'string'],
        ['max_tokens', 5, 'number'],
        ['stream', false, 'boolean'],
        ['temperature', 0.5, 'number'],
      ]),
    });
    assert.match(reply.text, /^\{"doubled":\[2,4\],"id":"42","model_name":"gen_echo","model_version":"1",/, 'fields in byte order, as Triton writes them');
    const versioned = await request(base, '/v2/models/gen_echo/versions/1/generate', { text_input: 'a', numbers: [3] });
    assert.deepEqual(versioned.json()['doubled'], 6, 'a one-element output is a plain value');
    assert.equal(versioned.json()['id'], undefined);
  });

  test('generate_stream - a model answering once gives one event', async () => {
    const reply = await request(base, '/v2/models/gen_echo/generate_stream', { text_input: 'abc' });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const got = events(reply.text);
    assert.equal(got.length, 1);
    assert.equal(got[0]!['text_output'], 'ABC');
    assert.deepEqual(got[0]!['doubled'], []);
  });

  test('errors before the first response: the error status and a JSON error naming the field, on both routes', async () => {
    for (const route of ['generate', 'generate_stream']) {
      const path = `/v2/models/gen_echo/${route}`;
      const badValue = await request(base, path, { text_input: 'a', numbers: ['x'] });
      assert.equal(badValue.status, 400, route);
      assert.equal(badValue.headers.get('content-type'), 'application/json');
      assert.match(String(badValue.json()['error']), /'numbers\[0\]' must be a INT32 integer/);
      const badParameter = await request(base, path, { text_input: 'a', temperature: { hot: true } });
      assert.equal(badParameter.status, 400);
      assert.match(String(badParameter.json()['error']), /^'temperature' must be an input of the model or a parameter/);
      const reserved = await request(base, path, { text_input: 'a', triton_thing: 1 });
      assert.equal(reserved.status, 400);
      assert.match(String(reserved.json()['error']), /triton_thing/);
      const missing = await request(base, path, {});
      assert.equal(missing.status, 400);
      assert.match(String(missing.json()['error']), /text_input/);
      const notJson = await request(base, path, '{');
      assert.equal(notJson.status, 400);
      const unknown = await request(base, `/v2/models/nope/${route}`, { text_input: 'a' });
      assert.equal(unknown.status, 400);
      assert.match(String(unknown.json()['error']), /unknown model: 'nope'/);
      const model = await request(base, path, { text_input: 'fail' });
      assert.equal(model.status, 400);
      assert.match(String(model.json()['error']), /the model refuses to say fail/);
      const compressed = await request(base, path, gzipSync(JSON.stringify({ text_input: 'a' })), { 'Content-Encoding': 'gzip' });
      assert.equal(compressed.status, 400);
      assert.match(String(compressed.json()['error']), /Content-Encoding/);
      const wrongVerb = await request(base, path);
      assert.equal(wrongVerb.status, 405);
    }
  });
});
