// Decoupled models through the real CLI over ModelStreamInfer: Triton's repeat_int32 with
// and without the empty final response, a model marking its last response, interleaving,
// cancel, flow control against a slow reader, and the one-answer calls refused.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { credentials, status, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { GRPCInferenceServiceClient } from '../../generated/grpc_service.js';
import type { InferParameter, ModelInferRequest, ModelInferResponse, ModelStreamInferResponse } from '../../generated/grpc_service.js';
import { call, PROJECT_ROOT, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { collect, int32Output, nextResponses, waitReady } from './streaming-fixtures.js';

const bundled = (model: string): { config: string; versions: Record<string, string> } => {
  const file = (path: string): string => readFileSync(`${PROJECT_ROOT}/models/${model}/${path}`, 'utf8');
  return { config: file('config.pbtxt'), versions: { '1': file('1/model.ts') } };
};

const STREAM_CONFIG = (name: string, extra = ''): string => `
name: "${name}"
max_batch_size: 0
model_transaction_policy { decoupled: true }
input [ { name: "N" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [ { name: "OUT" data_type: TYPE_INT32 dims: [ -1 ] } ]
${extra}`;

/** Yields 0..N-2 and returns N-1: its last response is marked final. */
const MARKS_LAST = `
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class MarksLast extends ModelServer {
  async *predict(request: InferRequest): AsyncGenerator<PredictOutputs, PredictOutputs | undefined> {
    const n = (request.tensors['N']!.data as Int32Array)[0]!;
    for (let i = 0; i < n - 1; i++) yield { OUT: new Int32Array([i]) };
    return n > 0 ? { OUT: new Int32Array([n - 1]) } : undefined;
  }
}`;

/**
 * Yields N responses of 256 KiB each (forever when N = 0), logging each yield and, from
 * its finally block, whether its signal fired: what the test sees of the model.
 */
const WATCHED = `
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class Watched extends ModelServer {
  async *predict(request: InferRequest, signal: AbortSignal): AsyncGenerator<PredictOutputs> {
    const n = (request.tensors['N']!.data as Int32Array)[0]!;
    let yielded = 0;
    try {
      while (n === 0 || yielded < n) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        yield { OUT: new Int32Array(65536).fill(yielded) };
        yielded++;
        this.log.info({ yielded, id: request.id }, 'watched yielded');
      }
    } finally {
      this.log.info({ aborted: signal.aborted, id: request.id }, 'watched ended');
    }
  }
}`;

/** Fails after two responses. */
const FAILS_MIDWAY = `
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class FailsMidway extends ModelServer {
  async *predict(): AsyncGenerator<PredictOutputs> {
    yield { OUT: new Int32Array([1]) };
    yield { OUT: new Int32Array([2]) };
    throw new Error('broke after two');
  }
}`;

/** In a worker thread: N responses; N = 0: one, then it waits for its signal. */
const IN_WORKER = `
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
import { threadId } from 'node:worker_threads';
export default class InWorker extends ModelServer {
  async *predict(request: InferRequest, signal: AbortSignal): AsyncGenerator<PredictOutputs> {
    const n = (request.tensors['N']!.data as Int32Array)[0]!;
    try {
      for (let i = 0; i < Math.max(n, 1); i++) yield { OUT: new Int32Array([i, threadId]) };
      if (n === 0) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    } finally {
      this.log.info({ aborted: signal.aborted, id: request.id }, 'in_worker ended');
    }
  }
}`;

/** Not decoupled: reads repeat_int32's N responses in-process (inferStream) and answers them as one tensor; with parameter 'unary', calls infer() instead. */
const RELAY = `
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class Relay extends ModelServer {
  async predict(request: InferRequest, signal: AbortSignal): Promise<PredictOutputs> {
    const n = (request.tensors['N']!.data as Int32Array)[0]!;
    const inputs = {
      IN: { datatype: 'INT32' as const, shape: [n], data: Int32Array.from({ length: n }, (_, i) => 10 * i) },
      DELAY: { datatype: 'UINT32' as const, shape: [n], data: new Uint32Array(n) },
      WAIT: { datatype: 'UINT32' as const, shape: [1], data: new Uint32Array(1) },
    };
    if (request.parameters['unary'] === true) await this.infer('repeat_int32', inputs, { signal });
    const values: number[] = [];
    const finals: boolean[] = [];
    for await (const response of this.inferStream('repeat_int32', inputs, { signal, outputs: ['OUT'] })) {
      values.push((response.tensors['OUT']!.data as Int32Array)[0]!);
      finals.push(response.final);
    }
    if (finals.some((final) => final)) throw new Error('repeat_int32 marked a response final');
    return { OUT: Int32Array.from(values) };
  }
}`;

const NOT_DECOUPLED = `
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class NotDecoupled extends ModelServer {
  async *predict(): AsyncGenerator<PredictOutputs> {
    yield { OUT: new Int32Array([1]) };
  }
}`;

type Stream = ClientDuplexStream<ModelInferRequest, ModelStreamInferResponse>;

function param(value: InferParameter): InferParameter {
  return value;
}

function repeatRequest(id: string, values: readonly number[], options: { delayMs?: number; waitMs?: number; emptyFinal?: boolean } = {}): ModelInferRequest {
  const parameters = new Map<string, InferParameter>();
  if (options.emptyFinal !== undefined) parameters.set('triton_enable_empty_final_response', param({ boolParam: options.emptyFinal }));
  return {
    modelName: 'repeat_int32',
    modelVersion: '',
    id,
    parameters,
    inputs: [
      { name: 'IN', datatype: 'INT32', shape: [BigInt(values.length)], parameters: new Map(), contents: undefined },
      { name: 'DELAY', datatype: 'UINT32', shape: [BigInt(values.length)], parameters: new Map(), contents: undefined },
      { name: 'WAIT', datatype: 'UINT32', shape: [1n], parameters: new Map(), contents: undefined },
    ],
    outputs: [],
    rawInputContents: [
      Buffer.from(new Int32Array(values).buffer),
      Buffer.from(new Uint32Array(values.length).fill(options.delayMs ?? 0).buffer),
      Buffer.from(new Uint32Array([options.waitMs ?? 0]).buffer),
    ],
  };
}

function nRequest(model: string, id: string, n: number, parameters: Record<string, InferParameter> = {}): ModelInferRequest {
  return {
    modelName: model,
    modelVersion: '',
    id,
    parameters: new Map(Object.entries(parameters)),
    inputs: [{ name: 'N', datatype: 'INT32', shape: [1n], parameters: new Map(), contents: undefined }],
    outputs: [],
    rawInputContents: [Buffer.from(new Int32Array([n]).buffer)],
  };
}

const finalFlag = (response: ModelStreamInferResponse): boolean | undefined =>
  response.inferResponse?.parameters.get('triton_final_response')?.boolParam;

function outOf(response: ModelStreamInferResponse): number[] {
  return int32Output(response.inferResponse as ModelInferResponse, 'OUT');
}

describe('decoupled models over ModelStreamInfer', () => {
  let cli: RunningCli;
  const repo = tempRepository({
    repeat_int32: bundled('repeat_int32'),
    marks_last: { config: STREAM_CONFIG('marks_last'), versions: { '1': MARKS_LAST } },
    watched: { config: STREAM_CONFIG('watched'), versions: { '1': WATCHED } },
    fails_midway: { config: STREAM_CONFIG('fails_midway'), versions: { '1': FAILS_MIDWAY } },
    in_worker: { config: STREAM_CONFIG('in_worker', 'instance_group [ { count: 1 kind: KIND_CPU } ]'), versions: { '1': IN_WORKER } },
    relay: { config: STREAM_CONFIG('relay').replace('model_transaction_policy { decoupled: true }', ''), versions: { '1': RELAY } },
    not_decoupled: { config: STREAM_CONFIG('not_decoupled').replace('model_transaction_policy { decoupled: true }', ''), versions: { '1': NOT_DECOUPLED } },
    batched_stream: {
      config: STREAM_CONFIG('batched_stream').replace('max_batch_size: 0', 'max_batch_size: 4\ndynamic_batching { }'),
      versions: { '1': MARKS_LAST },
    },
  });

  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`, '--log-verbose=0', '--log-requests=true']);
    for (const model of ['repeat_int32', 'marks_last', 'watched', 'fails_midway', 'in_worker', 'relay']) await waitReady(cli, model);
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  test('repeat_int32: one response per element, in order, each flagged not final, and nothing more without the empty-final flag', async () => {
    const stream: Stream = cli.client.modelStreamInfer();
    const done = collect(stream);
    stream.write(repeatRequest('r1', [100, 101, 102, 103], { delayMs: 5 }));
    stream.end();
    const { responses, error } = await done;
    assert.equal(error, null);
    assert.deepEqual(responses.map((r) => r.errorMessage), ['', '', '', '']);
    assert.deepEqual(responses.map(outOf), [[100], [101], [102], [103]]);
    assert.deepEqual(responses.map((r) => int32Output(r.inferResponse!, 'IDX')), [[0], [1], [2], [3]]);
    assert.deepEqual(responses.map(finalFlag), [false, false, false, false]);
    for (const r of responses) {
      assert.equal(r.inferResponse?.id, 'r1');
      assert.equal(r.inferResponse?.modelName, 'repeat_int32');
      assert.equal(r.inferResponse?.modelVersion, '1');
    }
  });

  test('repeat_int32 with triton_enable_empty_final_response: one more response, empty and flagged final', async () => {
    const stream: Stream = cli.client.modelStreamInfer();
    const done = collect(stream);
    stream.write(repeatRequest('r2', [7, 8, 9], { emptyFinal: true }));
    stream.end();
    const { responses, error } = await done;
    assert.equal(error, null);
    assert.deepEqual(responses.map(finalFlag), [false, false, false, true]);
    assert.deepEqual(responses.slice(0, 3).map(outOf), [[7], [8], [9]]);
    const last = responses[3]!.inferResponse!;
    assert.equal(last.outputs.length, 0);
    assert.equal(last.id, 'r2');
    assert.equal(last.modelName, 'repeat_int32');
  });

  test('repeat_int32 with zero elements: nothing, or exactly the empty final response when asked', async () => {
    const stream: Stream = cli.client.modelStreamInfer();
    const done = collect(stream);
    stream.write(repeatRequest('none', []));
    stream.write(repeatRequest('none-asked', [], { emptyFinal: true }));
    stream.end();
    const { responses, error } = await done;
    assert.equal(error, null);
    assert.equal(responses.length, 1);
    assert.equal(responses[0]!.inferResponse?.id, 'none-asked');
    assert.equal(finalFlag(responses[0]!), true);
    assert.equal(responses[0]!.inferResponse?.outputs.length, 0);
  });

  test('a model that returns its last response: that response is flagged final, and no empty one follows even when asked', async () => {
    const stream: Stream = cli.client.modelStreamInfer();
    const done = collect(stream);
    stream.write(nRequest('marks_last', 'm', 3, { triton_enable_empty_final_response: { boolParam: true } }));
    stream.end();
    const { responses } = await done;
    assert.deepEqual(responses.map(outOf), [[0], [1], [2]]);
    assert.deepEqual(responses.map(finalFlag), [false, false, true]);
  });

  test('two requests on one stream interleave: each response as its model makes it', async () => {
    const stream: Stream = cli.client.modelStreamInfer();
    const done = collect(stream);
    // Responses at 200, 400, 600 ms and at 300, 500, 700 ms from the start: they alternate,
    // 100 ms apart.
    stream.write(repeatRequest('a', [1, 2, 3], { delayMs: 200 }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    stream.write(repeatRequest('b', [4, 5, 6], { delayMs: 200 }));
    stream.end();
    const { responses, error } = await done;
    assert.equal(error, null);
    const order = responses.map((r) => r.inferResponse!.id);
    assert.deepEqual(order, ['a', 'b', 'a', 'b', 'a', 'b']);
    assert.deepEqual(responses.filter((r) => r.inferResponse!.id === 'b').map(outOf), [[4], [5], [6]]);
  });

  test('a model failing mid-stream: its responses so far, then an error_message for it, and the stream goes on', async () => {
    const stream: Stream = cli.client.modelStreamInfer();
    const done = collect(stream);
    stream.write(nRequest('fails_midway', 'f', 0));
    stream.write(repeatRequest('after', [5]));
    stream.end();
    const { responses, error } = await done;
    assert.equal(error, null);
    const failing = responses.filter((r) => r.inferResponse?.id === 'f');
    assert.deepEqual(failing.slice(0, 2).map(outOf), [[1], [2]]);
    assert.equal(failing.length, 3);
    assert.match(failing[2]!.errorMessage, /broke after two/);
    assert.equal(finalFlag(failing[2]!), true);
    assert.deepEqual(responses.filter((r) => r.inferResponse?.id === 'after').map(outOf), [[5]]);
  });

  test('cancelling the stream mid-way fires the model\'s signal, and the instance takes the next request', async () => {
    const stream: Stream = cli.client.modelStreamInfer();
    stream.on('error', () => undefined);
    stream.write(nRequest('watched', 'cancel-me', 0));
    await nextResponses(stream, 3);
    const ended = cli.waitForLog((l) => l['msg'] === 'watched ended' && l['id'] === 'cancel-me', 5000);
    stream.cancel();
    const line = await ended;
    assert.equal(line['aborted'], true);
    const next: Stream = cli.client.modelStreamInfer();
    const done = collect(next);
    next.write(nRequest('watched', 'after-cancel', 2));
    next.end();
    const { responses } = await done;
    assert.equal(responses.length, 2);
  });

  test('a slow reader: the model\'s yields wait instead of the server buffering its responses', async () => {
    // A TCP proxy that stops reading from the server stands for a client that stops reading
    // (grpc-js itself keeps taking data off the socket into its buffers).
    let upstream: Socket | undefined;
    const sockets: Socket[] = [];
    const proxy = createServer((downstream) => {
      upstream = connect(cli.port, '127.0.0.1');
      sockets.push(downstream, upstream);
      downstream.pipe(upstream);
      upstream.pipe(downstream);
      downstream.on('error', () => undefined);
      upstream.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const client = new GRPCInferenceServiceClient(`127.0.0.1:${(proxy.address() as AddressInfo).port}`, credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1,
    });
    const stream: Stream = client.modelStreamInfer();
    stream.on('error', () => undefined);
    try {
      const yields = (): number =>
        Math.max(0, ...cli.logs.filter((l) => l['msg'] === 'watched yielded' && l['id'] === 'slow').map((l) => l['yielded'] as number));
      const first = nextResponses(stream, 1);
      stream.write(nRequest('watched', 'slow', 0));
      await first;
      upstream!.unpipe();
      upstream!.pause();
      // 256 KiB responses, one per ms when nothing holds the model back: unread, it must stall.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const stalled = yields();
      await new Promise((resolve) => setTimeout(resolve, 800));
      const later = yields();
      assert.ok(stalled < 200, `the model made ${stalled} responses (${stalled / 4} MiB) for a reader that read none`);
      assert.equal(later, stalled, 'no more responses while the client reads none');
      const ended = cli.waitForLog((l) => l['msg'] === 'watched ended' && l['id'] === 'slow', 5000);
      upstream!.destroy();
      const line = await ended;
      assert.equal(line['aborted'], true);
    } finally {
      // The call never got its status through the stalled proxy: nothing may keep the test process alive.
      stream.cancel();
      client.close();
      for (const socket of sockets) socket.destroy();
      proxy.close();
    }
  });

  test('a decoupled model in a worker thread streams: its responses cross as made, and a cancel reaches it', async () => {
    const stream: Stream = cli.client.modelStreamInfer();
    const done = collect(stream);
    stream.write(nRequest('in_worker', 'w', 3));
    stream.end();
    const { responses } = await done;
    assert.deepEqual(responses.map((r) => outOf(r)[0]), [0, 1, 2]);
    assert.notEqual(outOf(responses[0]!)[1], 0, 'it ran in a worker thread');
    // The model waits after its first response: that response can only have crossed alone.
    const waiting: Stream = cli.client.modelStreamInfer();
    waiting.on('error', () => undefined);
    const first = nextResponses(waiting, 1);
    waiting.write(nRequest('in_worker', 'w-cancel', 0));
    assert.equal(outOf((await first)[0]!)[0], 0);
    const ended = cli.waitForLog((l) => l['msg'] === 'in_worker ended' && l['id'] === 'w-cancel', 5000);
    waiting.cancel();
    assert.equal((await ended)['aborted'], true);
  });

  test('in-process: a model reads a decoupled model\'s responses with inferStream; infer() on it is refused', async () => {
    const answer = await call(cli.client, cli.client.modelInfer, nRequest('relay', 'relay', 4));
    assert.deepEqual(int32Output(answer, 'OUT'), [0, 10, 20, 30]);
    await assert.rejects(call(cli.client, cli.client.modelInfer, nRequest('relay', 'relay-unary', 2, { unary: { boolParam: true } })), (err: ServiceError) => {
      assert.match(err.details, /model 'repeat_int32' is decoupled .*inferStream\(\)/);
      return true;
    });
  });

  test('a streamed request counts once in the statistics, its responses in the metrics and in its request-log line', async () => {
    const scrape = async (): Promise<{ success: number; responses: number; first: number }> => {
      const text = await (await fetch(cli.metrics!)).text();
      const value = (name: string): number =>
        Number(text.split('\n').find((l) => l.startsWith(`${name}{model="repeat_int32",version="1"}`))?.split(' ')[1] ?? 0);
      return {
        success: value('nv_inference_request_success'),
        responses: value('v2serve_inference_responses_total'),
        first: value('nv_inference_first_response_histogram_ms_count'),
      };
    };
    const statistics = async (): Promise<number> => {
      const stats = await call(cli.client, cli.client.modelStatistics, { name: 'repeat_int32', version: '1' });
      return Number(stats.modelStats[0]?.inferenceStats?.success?.count ?? 0);
    };
    const before = await scrape();
    const successBefore = await statistics();
    const stream: Stream = cli.client.modelStreamInfer();
    const done = collect(stream);
    stream.write(repeatRequest('counted', [1, 2, 3, 4, 5]));
    stream.end();
    assert.equal((await done).responses.length, 5);
    const line = await cli.waitForLog((l) => l['msg'] === 'request' && l['requestId'] === 'counted');
    assert.equal(line['operation'], 'ModelStreamInfer');
    assert.equal(line['responses'], 5);
    const after = await scrape();
    assert.equal(after.success - before.success, 1);
    assert.equal(after.responses - before.responses, 5);
    assert.equal(after.first - before.first, 1);
    assert.equal((await statistics()) - successBefore, 1);
  });

  test('unary ModelInfer on a decoupled model: UNIMPLEMENTED, in Triton\'s words', async () => {
    await assert.rejects(call(cli.client, cli.client.modelInfer, repeatRequest('u', [1])), (err: ServiceError) => {
      assert.equal(err.code, status.UNIMPLEMENTED);
      assert.equal(err.details, "ModelInfer RPC doesn't support models with decoupled transaction policy");
      return true;
    });
  });

  test('REST infer on a decoupled model: 501, in Triton\'s words', async () => {
    const response = await fetch(`${cli.http}/v2/models/repeat_int32/infer`, {
      method: 'POST',
      body: JSON.stringify({
        inputs: [
          { name: 'IN', datatype: 'INT32', shape: [1], data: [1] },
          { name: 'DELAY', datatype: 'UINT32', shape: [1], data: [0] },
          { name: 'WAIT', datatype: 'UINT32', shape: [1], data: [0] },
        ],
      }),
    });
    assert.equal(response.status, 501);
    assert.deepEqual(await response.json(), { error: "HTTP end point doesn't support models with decoupled transaction policy" });
  });

  test('a model that streams without the config field, and a decoupled one with dynamic_batching, fail to load naming the field', async () => {
    const index = await fetch(`${cli.http}/v2/repository/index`, { method: 'POST', body: '{}' });
    const models = (await index.json()) as { name: string; state: string; reason: string }[];
    const notDecoupled = models.find((m) => m.name === 'not_decoupled');
    assert.equal(notDecoupled?.state, 'UNAVAILABLE');
    assert.match(notDecoupled.reason, /model_transaction_policy\.decoupled/);
    const batched = models.find((m) => m.name === 'batched_stream');
    assert.equal(batched?.state, 'UNAVAILABLE');
    assert.match(batched.reason, /model_transaction_policy\.decoupled.*dynamic_batching/);
  });
});
