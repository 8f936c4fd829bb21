// Triton's generate extension through the real CLI with Node's fetch: `…/generate` and
// `…/generate_stream` (Server-Sent Events) on ordinary and decoupled models — field mapping,
// events read as they arrive, errors before and after the first event, flow control, client
// disconnect — and the bundled text_generator on both routes and over ModelStreamInfer.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROJECT_ROOT, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { request } from './http-fixtures.js';
import { bytesOutput, collect } from './streaming-fixtures.js';

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

const SCRIPTED_CONFIG = `
name: "scripted"
backend: "nodejs"
max_batch_size: 0
model_transaction_policy { decoupled: true }
input [ { name: "text_input" data_type: TYPE_STRING dims: [ 1 ] } ]
output [ { name: "text_output" data_type: TYPE_STRING dims: [ 1 ] } ]
`;

/**
 * A decoupled model that plays the steps of parameter 'steps' (';'-separated): 'say:<text>'
 * answers <text>, 'fail:<text>' throws, 'gate' waits until the file named by parameter 'gate'
 * exists, and if the request is aborted meanwhile writes the file named by parameter 'marker'.
 * 'flood:<n>/<KiB>' answers n large responses, counting them in the file named by 'counter'.
 */
const SCRIPTED = `
import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { InferenceError, ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class Scripted extends ModelServer {
  async *predict(request: InferRequest, signal: AbortSignal): AsyncGenerator<PredictOutputs, undefined> {
    for (const step of String(request.parameters['steps'] ?? '').split(';').filter(Boolean)) {
      const [kind, text = ''] = step.split(':');
      if (kind === 'say') yield { text_output: [text] };
      else if (kind === 'flood') {
        // 'flood:<n>/<KiB>': n responses of KiB each, the count made so far in the file named by parameter 'counter'.
        const [count, kib] = text.split('/').map(Number);
        for (let i = 1; i <= count!; i++) {
          yield { text_output: ['x'.repeat(kib! * 1024)] };
          writeFileSync(String(request.parameters['counter']), String(i));
        }
      }
      else if (kind === 'fail') throw new InferenceError('INVALID_ARGUMENT', text);
      else if (kind === 'gate') {
        while (!existsSync(String(request.parameters['gate']))) {
          if (signal.aborted) {
            writeFileSync(String(request.parameters['marker']), 'aborted');
            return undefined;
          }
          await sleep(5);
        }
      }
    }
    return undefined;
  }
}`;

/** The bundled text generator's files, for the test repository. */
const TEXT_GENERATOR_FILES = ['config.pbtxt', '1/model.ts', '1/ngram.ts', '1/ngrams.json'];

/** Reads an SSE body event by event, as the server sends them. */
class EventReader {
  private buffered = '';
  /** How far `buffered` is known to hold no event's end: large events are not scanned again per chunk. */
  private scanned = 0;
  private readonly decoder = new TextDecoder();
  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** The next event's JSON; undefined once the stream ended. */
  async next(): Promise<Record<string, unknown> | undefined> {
    for (;;) {
      const end = this.buffered.indexOf('\n\n', Math.max(0, this.scanned - 1));
      this.scanned = this.buffered.length;
      if (end !== -1) {
        const event = this.buffered.slice(0, end);
        this.buffered = this.buffered.slice(end + 2);
        this.scanned = 0;
        assert.ok(event.startsWith('data: '), event);
        return JSON.parse(event.slice('data: '.length)) as Record<string, unknown>;
      }
      const { done, value } = await this.reader.read();
      if (done) {
        assert.equal(this.buffered, '', 'the stream ends after a whole event');
        return undefined;
      }
      this.buffered += this.decoder.decode(value, { stream: true });
    }
  }
}

async function waitForFile(path: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(path)) return true;
    await sleep(10);
  }
  return false;
}

/** One event's JSON from an SSE body. */
function eventsOf(text: string): Record<string, unknown>[] {
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
  const repo = tempRepository({
    gen_echo: { config: GEN_ECHO_CONFIG, versions: { '1': GEN_ECHO } },
    scripted: { config: SCRIPTED_CONFIG, versions: { '1': SCRIPTED } },
  });
  for (const file of TEXT_GENERATOR_FILES) repo.write(`text_generator/${file}`, readFileSync(join(PROJECT_ROOT, 'models/text_generator', file)));
  let cli: RunningCli;
  let base: string;
  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`, '--log-requests=true']);
    base = cli.http as string;
    for (const model of ['gen_echo', 'scripted', 'text_generator']) await cli.waitForLog((l) => l['model'] === model && l['msg'] === 'model loaded');
  });
  const scripted = (steps: string, more: Record<string, unknown> = {}) => ({ text_input: '', steps, ...more });
  const post = (path: string, body: unknown, signal?: AbortSignal) =>
    fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(body), ...(signal ? { signal } : {}) });
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
    const got = eventsOf(reply.text);
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

  test('generate_stream - each response is an event as the model makes it: the first arrives while the model waits to make the second', { timeout: 20_000 }, async () => {
    const gate = join(repo.dir, 'gate-1');
    const response = await post('/v2/models/scripted/generate_stream', scripted('say:one;gate;say:two', { gate, marker: join(repo.dir, 'unused') }));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const reader = new EventReader(response.body!.getReader());
    // The model cannot make the second response before the gate exists, and only this test makes it.
    assert.deepEqual(await reader.next(), { model_name: 'scripted', model_version: '1', text_output: 'one' });
    writeFileSync(gate, '');
    assert.deepEqual(await reader.next(), { model_name: 'scripted', model_version: '1', text_output: 'two' });
    assert.equal(await reader.next(), undefined);
  });

  test('generate_stream - a reader that stops reading stops the model: its next response waits for the socket to drain', { timeout: 30_000 }, async () => {
    const counter = join(repo.dir, 'flood-count');
    const events = 400;
    const controller = new AbortController();
    const response = await post('/v2/models/scripted/generate_stream', scripted(`flood:${events}/256`, { counter }), controller.signal);
    const reader = new EventReader(response.body!.getReader());
    assert.equal(String((await reader.next())?.['text_output']).length, 256 * 1024);
    // Nobody reads from here on. Unbounded, the model would make all 400 (100 MiB); bounded, it
    // stops at its next yield once the socket buffers are full (measured: about 17 on loopback;
    // even a 32 MiB receive buffer holds fewer than 150).
    let made = Number(readFileSync(counter, 'utf8'));
    for (let still = 0, waited = 0; still < 5 && waited < 10_000; waited += 100) {
      await sleep(100);
      const now = Number(readFileSync(counter, 'utf8'));
      still = now === made ? still + 1 : 0;
      made = now;
    }
    assert.ok(made < 300, `the model made ${made} of ${events} responses while nobody read`);
    controller.abort();
  });

  test('generate_stream - an error after the first event arrives as an error event, and the stream ends', async () => {
    const reply = await request(base, '/v2/models/scripted/generate_stream', scripted('say:one;fail:broke after one;say:never'));
    assert.equal(reply.status, 200);
    const got = eventsOf(reply.text);
    assert.equal(got.length, 2);
    assert.equal(got[0]!['text_output'], 'one');
    assert.deepEqual(Object.keys(got[1]!), ['error']);
    assert.match(String(got[1]!['error']), /broke after one/);
  });

  test('generate_stream - an error before any response is the error status with a JSON body; no response at all is an empty stream', async () => {
    const failed = await request(base, '/v2/models/scripted/generate_stream', scripted('fail:at once'));
    assert.equal(failed.status, 400);
    assert.equal(failed.headers.get('content-type'), 'application/json');
    assert.match(String(failed.json()['error']), /at once/);
    const none = await request(base, '/v2/models/scripted/generate_stream', scripted(''));
    assert.equal(none.status, 200);
    assert.equal(none.text, '');
  });

  test('generate_stream - a client that disconnects aborts the model', { timeout: 20_000 }, async () => {
    const marker = join(repo.dir, 'aborted-1');
    const controller = new AbortController();
    const response = await post('/v2/models/scripted/generate_stream', scripted('say:one;gate', { gate: join(repo.dir, 'never'), marker }), controller.signal);
    const reader = new EventReader(response.body!.getReader());
    assert.equal((await reader.next())?.['text_output'], 'one');
    assert.equal(existsSync(marker), false);
    controller.abort();
    assert.ok(await waitForFile(marker, 10_000), "the model saw its request's signal abort");
    // The server goes on answering.
    assert.equal((await request(base, '/v2/models/scripted/generate', scripted('say:still here'))).json()['text_output'], 'still here');
  });

  test('generate - a decoupled model answering once is answered; zero or two responses are Triton\'s error', async () => {
    const once = await request(base, '/v2/models/scripted/generate', scripted('say:only'));
    assert.equal(once.status, 200);
    assert.deepEqual(once.json(), { model_name: 'scripted', model_version: '1', text_output: 'only' });
    for (const steps of ['say:one;say:two', '']) {
      const reply = await request(base, '/v2/models/scripted/generate', scripted(steps));
      assert.equal(reply.status, 500, steps);
      assert.deepEqual(reply.json(), { error: 'generate expects model to produce exactly 1 response, use generate stream for model that generates various number of responses' });
    }
  });

  test('infer on a decoupled model is 501, as in Triton', async () => {
    const reply = await request(base, '/v2/models/scripted/infer', { inputs: [{ name: 'text_input', datatype: 'BYTES', shape: [1], data: [''] }] });
    assert.equal(reply.status, 501);
  });

  test('text_generator - generate with stream false is the concatenation of generate_stream\'s tokens with stream true (temperature 0)', async () => {
    const prompt = { text_input: 'We hold these truths', max_tokens: 24, temperature: 0 };
    const whole = await request(base, '/v2/models/text_generator/generate', { ...prompt, stream: false });
    assert.equal(whole.status, 200);
    const text = String(whole.json()['text_output']);
    const streamed = await request(base, '/v2/models/text_generator/generate_stream', { ...prompt, id: 'tokens', parameters: { stream: true } });
    const tokens = eventsOf(streamed.text).map((event) => String(event['text_output']));
    assert.equal(tokens.length, 24);
    assert.equal(tokens.join(''), text);
    assert.ok(text.startsWith(' to be'), text);
    const again = await request(base, '/v2/models/text_generator/generate', { ...prompt, stream: false, id: 'again' });
    assert.equal(again.json()['text_output'], text, 'greedy is deterministic');
    const streamedLine = await cli.waitForLog((l) => l['msg'] === 'request' && l['operation'] === 'ModelStreamInfer' && l['requestId'] === 'tokens');
    assert.equal(streamedLine['responses'], 24, 'the request log counts the events sent');
    assert.equal(streamedLine['status'], '200');
    assert.equal(streamedLine['transport'], 'http');
    const wholeLine = await cli.waitForLog((l) => l['msg'] === 'request' && l['operation'] === 'ModelInfer' && l['requestId'] === 'again');
    assert.equal(wholeLine['responses'], 1);
  });

  test('text_generator - one model, both wire forms: ModelStreamInfer answers the tokens generate_stream sends as events', async () => {
    const prompt = Buffer.from('He has');
    const length = Buffer.alloc(4);
    length.writeUInt32LE(prompt.byteLength);
    const stream = cli.client.modelStreamInfer();
    const done = collect(stream);
    stream.write({
      modelName: 'text_generator',
      modelVersion: '',
      id: 'g1',
      parameters: new Map([
        ['stream', { boolParam: true }],
        ['max_tokens', { int64Param: 6n }],
        ['temperature', { doubleParam: 0 }],
      ]),
      inputs: [{ name: 'text_input', datatype: 'BYTES', shape: [1n], parameters: new Map(), contents: undefined }],
      outputs: [],
      rawInputContents: [Buffer.concat([length, prompt])],
    });
    stream.end();
    const { responses, error } = await done;
    assert.equal(error, null);
    const grpcTokens = responses.map((r) => bytesOutput(r.inferResponse!, 'text_output')[0]);
    const events = await request(base, '/v2/models/text_generator/generate_stream', { text_input: 'He has', max_tokens: 6, temperature: 0, stream: true });
    assert.deepEqual(grpcTokens, eventsOf(events.text).map((event) => event['text_output']));
    assert.equal(grpcTokens.length, 6);
  });

  test('text_generator - bad parameters are refused naming them', async () => {
    const tooMany = await request(base, '/v2/models/text_generator/generate_stream', { text_input: 'a', max_tokens: 5000 });
    assert.equal(tooMany.status, 400);
    assert.match(String(tooMany.json()['error']), /max_tokens/);
    const cold = await request(base, '/v2/models/text_generator/generate', { text_input: 'a', temperature: -1 });
    assert.equal(cold.status, 400);
    assert.match(String(cold.json()['error']), /temperature/);
  });
});
