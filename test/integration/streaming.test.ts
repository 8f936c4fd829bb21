// ModelStreamInfer through the real server: order of completion, per-request errors,
// concurrent streams, client cancel, half-close and shutdown with streams open.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { ModelInferRequest } from '../../generated/grpc_service.js';
import { call, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { collect, expectedSum, int32Output, nextResponses, simpleRequest, waitReady } from './streaming-fixtures.js';

const SLOW_CONFIG = `
name: "slow"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
`;

/** Answers after `delay_ms` (request parameter, default 300). */
const SLOW_MODEL = `
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class Slow extends ModelServer {
  load(): void {}
  async predict(request: InferRequest): Promise<PredictOutputs> {
    const delay = Number(request.parameters['delay_ms'] ?? 300);
    await new Promise((r) => setTimeout(r, delay));
    return { OUTPUT0: request.tensors['INPUT0']!.data as Float32Array };
  }
}`;

function slowRequest(id: string, delayMs = 300): ModelInferRequest {
  return {
    modelName: 'slow',
    modelVersion: '',
    id,
    parameters: new Map(Object.entries({ delay_ms: { int64Param: BigInt(delayMs) } })),
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2n], parameters: new Map(), contents: undefined }],
    outputs: [],
    rawInputContents: [Buffer.from(new Float32Array([1, 2]).buffer)],
  };
}

describe('stream', () => {
  let cli: RunningCli;
  before(async () => {
    cli = await startCli(['--log-verbose=0']);
    await waitReady(cli, 'simple');
  });
  after(async () => {
    await cli.stop();
  });

  test('stream - 200 requests with distinct ids get 200 correct responses, each flagged final', async () => {
    const stream = cli.client.modelStreamInfer();
    const done = collect(stream);
    for (let i = 0; i < 200; i++) stream.write(simpleRequest(`r${i}`, i));
    stream.end();
    const { responses, error } = await done;
    assert.equal(error, null);
    assert.equal(responses.length, 200);
    const seen = new Set<string>();
    for (const { errorMessage, inferResponse } of responses) {
      assert.equal(errorMessage, '');
      assert.ok(inferResponse);
      const base = Number(inferResponse.id.slice(1));
      seen.add(inferResponse.id);
      assert.deepEqual(int32Output(inferResponse, 'OUTPUT0'), expectedSum(base));
      assert.equal(inferResponse.parameters.get('triton_final_response')?.boolParam, true);
    }
    assert.equal(seen.size, 200);
  });

  test('stream - one bad request in the middle gets one error_message with its id, the others succeed', async () => {
    const stream = cli.client.modelStreamInfer();
    const done = collect(stream);
    for (let i = 0; i < 50; i++) {
      if (i === 25) {
        const bad = simpleRequest('bad', 0);
        bad.inputs[0]!.shape = [1n, 15n];
        stream.write(bad);
      } else {
        stream.write(simpleRequest(`r${i}`, i));
      }
    }
    stream.end();
    const { responses, error } = await done;
    assert.equal(error, null);
    assert.equal(responses.length, 50);
    const failed = responses.filter((r) => r.errorMessage !== '');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.inferResponse?.id, 'bad');
    assert.equal(failed[0]?.inferResponse?.modelName, 'simple');
    assert.match(failed[0]?.errorMessage ?? '', /INPUT0/);
    assert.equal(failed[0]?.inferResponse?.parameters.get('triton_final_response')?.boolParam, true);
    for (const r of responses.filter((x) => x.errorMessage === '')) {
      const base = Number(r.inferResponse!.id.slice(1));
      assert.deepEqual(int32Output(r.inferResponse!, 'OUTPUT0'), expectedSum(base));
    }
  });

  test('stream - the stream stays open after an error: a later request on it succeeds', async () => {
    const stream = cli.client.modelStreamInfer();
    stream.write(simpleRequest('x', 0));
    const bad = simpleRequest('unknown-model');
    bad.modelName = 'nope';
    stream.write(bad);
    const first = await nextResponses(stream, 2);
    assert.equal(first.filter((r) => r.errorMessage !== '').length, 1);
    assert.match(first.find((r) => r.errorMessage !== '')!.errorMessage, /Request for unknown model/);
    const done = collect(stream);
    stream.write(simpleRequest('after', 3));
    stream.end();
    const { responses, error } = await done;
    assert.equal(error, null);
    assert.equal(responses.length, 1);
    assert.deepEqual(int32Output(responses[0]!.inferResponse!, 'OUTPUT0'), expectedSum(3));
  });

  test('stream - 8 concurrent streams each get their own 50 responses', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, async (_, s) => {
        const stream = cli.client.modelStreamInfer();
        const done = collect(stream);
        for (let i = 0; i < 50; i++) stream.write(simpleRequest(`s${s}-${i}`, s * 100 + i));
        stream.end();
        return { s, ...(await done) };
      }),
    );
    for (const { s, responses, error } of results) {
      assert.equal(error, null);
      assert.equal(responses.length, 50);
      for (const { errorMessage, inferResponse } of responses) {
        assert.equal(errorMessage, '');
        const [stream, i] = inferResponse!.id.slice(1).split('-').map(Number) as [number, number];
        assert.equal(stream, s);
        assert.deepEqual(int32Output(inferResponse!, 'OUTPUT0'), expectedSum(s * 100 + i));
      }
    }
  });

  test('metadata - ServerMetadata lists the Triton-tooling extensions', async () => {
    const { extensions } = await call(cli.client, cli.client.serverMetadata, {});
    for (const extension of ['classification', 'sequence', 'system_shared_memory', 'logging']) {
      assert.ok(extensions.includes(extension), extension);
    }
  });

  test('stream - half-close before any request ends the stream with OK', async () => {
    const stream = cli.client.modelStreamInfer();
    const done = collect(stream);
    stream.end();
    const { responses, error } = await done;
    assert.equal(error, null);
    assert.equal(responses.length, 0);
  });
});

describe('stream lifecycle', () => {
  const repo = tempRepository({ slow: { config: SLOW_CONFIG, versions: { '1': SLOW_MODEL } } });
  after(() => repo.remove());

  test('stream - a cancelled stream with requests in flight leaves the server serving and shutdown prompt', async () => {
    const cli = await startCli([`--model-repository=${repo.root}`, '--exit-timeout-secs=20']);
    try {
      await waitReady(cli, 'slow');
      const stream = cli.client.modelStreamInfer();
      stream.on('error', () => undefined);
      for (let i = 0; i < 5; i++) stream.write(slowRequest(`c${i}`));
      await new Promise((r) => setTimeout(r, 50));
      stream.cancel();

      const response = await call(cli.client, cli.client.modelInfer, slowRequest('after-cancel', 10));
      assert.equal(response.id, 'after-cancel');
    } finally {
      // The cancelled requests finish within 300 ms; a leaked call count would hold shutdown for 20 s.
      const started = Date.now();
      assert.equal(await cli.stop(), 0);
      assert.ok(Date.now() - started < 5_000, `shutdown took ${Date.now() - started} ms`);
    }
  });

  test('stream - shutdown answers the requests in flight, then ends an open stream with UNAVAILABLE', async () => {
    const cli = await startCli([`--model-repository=${repo.root}`, '--exit-timeout-secs=20']);
    await waitReady(cli, 'slow');
    const stream = cli.client.modelStreamInfer();
    const done = collect(stream);
    stream.write(slowRequest('in-flight', 500));
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    cli.process.kill('SIGTERM');
    const { responses, error } = await done;
    assert.equal(responses.length, 1);
    assert.equal(responses[0]?.errorMessage, '');
    assert.equal(responses[0]?.inferResponse?.id, 'in-flight');
    assert.equal(error?.code, status.UNAVAILABLE);
    assert.match(error?.details ?? '', /shutting down/);
    assert.equal(await cli.exited, 0);
    assert.ok(Date.now() - started < 5_000, `shutdown took ${Date.now() - started} ms`);
    await cli.stop();
  });
});
