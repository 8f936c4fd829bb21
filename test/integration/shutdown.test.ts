// SIGTERM under load through the real CLI: health first, new calls refused, every call in
// flight answered, open streams drained and closed with a status, exit 0 in time.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Client, credentials, Metadata, status, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import type { ModelInferRequest, ModelInferResponse, ModelStreamInferResponse } from '../../generated/grpc_service.js';
import { call, startCli, tempRepository, type RunningCli } from '../helpers/server.js';

const CONFIG = `backend: "nodejs"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
`;

// Logs when each request starts, so the test knows every request is in flight.
const slowSource = (delayMs: number | 'never') => `import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class Slow extends ModelServer {
  load(): void {}
  async predict(request: InferRequest): Promise<PredictOutputs> {
    this.log.info({ requestId: request.id }, 'request started');
    await new Promise((resolve) => ${delayMs === 'never' ? 'void resolve' : `setTimeout(resolve, ${delayMs})`});
    return { OUTPUT0: request.tensors['INPUT0']!.data as Float32Array };
  }
}
`;

function request(id: string, value = 1): ModelInferRequest {
  return {
    modelName: 'slow',
    modelVersion: '',
    id,
    parameters: new Map(),
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1n], parameters: new Map(), contents: undefined }],
    outputs: [],
    rawInputContents: [Buffer.from(new Float32Array([value]).buffer)],
  };
}

function output(response: ModelInferResponse | undefined): number {
  const raw = response?.rawOutputContents[0];
  assert.ok(raw, 'no output');
  return new Float32Array(new Uint8Array(raw).buffer)[0] as number;
}

/** grpc.health.v1.Health/Check for the whole server: 1 = SERVING, 2 = NOT_SERVING. */
function healthCheck(address: string): Promise<number> {
  const client = new Client(address, credentials.createInsecure());
  return new Promise<number>((resolve, reject) =>
    client.makeUnaryRequest('/grpc.health.v1.Health/Check', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), new Metadata(), (err, res) =>
      err ? reject(err) : resolve((res as Buffer)[1] ?? 0),
    ),
  ).finally(() => client.close());
}

interface StreamResult {
  readonly responses: ModelStreamInferResponse[];
  readonly status: Promise<{ code: number; details: string }>;
}

function openStream(cli: RunningCli): { stream: ClientDuplexStream<ModelInferRequest, ModelStreamInferResponse>; result: StreamResult } {
  const stream = cli.client.modelStreamInfer();
  const responses: ModelStreamInferResponse[] = [];
  stream.on('data', (r: ModelStreamInferResponse) => responses.push(r));
  const statusPromise = new Promise<{ code: number; details: string }>((resolve) => {
    stream.on('error', (err: ServiceError) => resolve({ code: err.code, details: err.details }));
    stream.on('status', (s: { code: number; details: string }) => s.code === status.OK && resolve(s));
  });
  return { stream, result: { responses, status: statusPromise } };
}

async function startedCount(cli: RunningCli, count: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (cli.logs.filter((l) => l['msg'] === 'request started').length < count) {
    if (Date.now() > deadline) throw new Error(`only ${cli.logs.filter((l) => l['msg'] === 'request started').length} of ${count} requests started`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('shutdown', () => {
  test('shutdown - SIGTERM with 64 unary calls and 4 streams in flight: 0 lost responses, streams closed with a status, exit 0', async () => {
    const repo = tempRepository({ slow: { config: CONFIG, versions: { '1': slowSource(1500) } } });
    const cli = await startCli([`--model-repository=${repo.root}`, '--exit-timeout-secs=15']);
    try {
      await cli.waitForLog((l) => l['model'] === 'slow' && l['msg'] === 'model loaded');
      assert.equal(await healthCheck(cli.address), 1);

      const unary = Array.from({ length: 64 }, (_, i) => call(cli.client, cli.client.modelInfer, request(`u${i}`, i)));
      const streams = Array.from({ length: 4 }, (_, s) => {
        const opened = openStream(cli);
        opened.stream.write(request(`s${s}-a`, 100 + s));
        opened.stream.write(request(`s${s}-b`, 200 + s));
        return opened;
      });
      await startedCount(cli, 64 + 8);

      const signalled = Date.now();
      cli.process.kill('SIGTERM');
      await cli.waitForLog((l) => l['msg'] === 'shutting down');

      // Health goes NOT_SERVING first; new calls are refused.
      assert.equal(await healthCheck(cli.address), 2);
      await assert.rejects(call(cli.client, cli.client.modelInfer, request('late')), (err: ServiceError) => {
        assert.equal(err.code, status.UNAVAILABLE);
        assert.match(err.details, /shutting down/);
        return true;
      });
      await assert.rejects(call(cli.client, cli.client.serverReady, {}), (err: ServiceError) => err.code === status.UNAVAILABLE);
      // A new request on an open stream is answered with an error, the pending ones still run.
      streams[0]!.stream.write(request('s0-late'));

      // Every unary call in flight is answered, with its own result.
      const answers = await Promise.allSettled(unary);
      const lost = answers.filter((a) => a.status === 'rejected');
      assert.equal(lost.length, 0, `lost: ${lost.map((a) => String((a as PromiseRejectedResult).reason)).join('; ')}`);
      answers.forEach((a, i) => assert.equal(output((a as PromiseFulfilledResult<ModelInferResponse>).value), i));

      // Each stream gets its pending responses, then ends with UNAVAILABLE.
      for (const [s, { result }] of streams.entries()) {
        const final = await result.status;
        assert.equal(final.code, status.UNAVAILABLE, final.details);
        assert.match(final.details, /shutting down/);
        const answered = result.responses.filter((r) => r.errorMessage === '');
        assert.deepEqual(answered.map((r) => output(r.inferResponse)).sort(), [100 + s, 200 + s]);
        if (s === 0) assert.ok(result.responses.some((r) => /shutting down/.test(r.errorMessage)), 'the late stream request was refused');
      }

      assert.equal(await cli.exited, 0);
      const took = Date.now() - signalled;
      assert.ok(took < 15_000, `exited ${took} ms after SIGTERM`);
      assert.ok(cli.logs.some((l) => l['msg'] === 'stopped'));
    } finally {
      await cli.stop();
      repo.remove();
    }
  });

  test('shutdown - SIGTERM with 4 HTTP requests in flight: each is answered with its own result, exit 0', async () => {
    const repo = tempRepository({ slow: { config: CONFIG, versions: { '1': slowSource(1500) } } });
    const cli = await startCli([`--model-repository=${repo.root}`, '--exit-timeout-secs=15']);
    try {
      await cli.waitForLog((l) => l['model'] === 'slow' && l['msg'] === 'model loaded');
      const infer = async (value: number): Promise<{ status: number; value: unknown }> => {
        const response = await fetch(`${cli.http}/v2/models/slow/infer`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1], data: [value] }] }),
        });
        const body = (await response.json()) as { outputs?: { data: unknown[] }[] };
        return { status: response.status, value: body.outputs?.[0]?.data[0] };
      };
      const inFlight = [1, 2, 3, 4].map(infer);
      await startedCount(cli, 4);
      cli.process.kill('SIGTERM');
      await cli.waitForLog((l) => l['msg'] === 'shutting down');
      assert.deepEqual(await Promise.all(inFlight), [1, 2, 3, 4].map((value) => ({ status: 200, value })));
      assert.equal(await cli.exited, 0);
    } finally {
      await cli.stop();
      repo.remove();
    }
  });

  test('shutdown - a second signal exits at once', async () => {
    const repo = tempRepository({ slow: { config: CONFIG, versions: { '1': slowSource(10_000) } } });
    const cli = await startCli([`--model-repository=${repo.root}`, '--exit-timeout-secs=30']);
    try {
      await cli.waitForLog((l) => l['model'] === 'slow' && l['msg'] === 'model loaded');
      const inFlight = call(cli.client, cli.client.modelInfer, request('long')).catch(() => undefined);
      await startedCount(cli, 1);
      cli.process.kill('SIGTERM');
      await cli.waitForLog((l) => l['msg'] === 'shutting down');
      const signalled = Date.now();
      cli.process.kill('SIGTERM');
      assert.equal(await cli.exited, 1);
      assert.ok(Date.now() - signalled < 2000);
      assert.ok(cli.logs.some((l) => l['msg'] === 'second signal: exiting at once'));
      await inFlight;
    } finally {
      await cli.stop();
      repo.remove();
    }
  });

  test('shutdown - a model that never returns cannot hold the process past --exit-timeout-secs', async () => {
    const repo = tempRepository({ slow: { config: CONFIG, versions: { '1': slowSource('never') } } });
    const cli = await startCli([`--model-repository=${repo.root}`, '--exit-timeout-secs=1']);
    try {
      await cli.waitForLog((l) => l['model'] === 'slow' && l['msg'] === 'model loaded');
      const inFlight = call(cli.client, cli.client.modelInfer, request('stuck')).catch((err: ServiceError) => err);
      await startedCount(cli, 1);
      const signalled = Date.now();
      cli.process.kill('SIGTERM');
      const code = await cli.exited;
      const took = Date.now() - signalled;
      assert.ok(took < 4000, `exited ${took} ms after SIGTERM`);
      assert.equal(code, 1);
      assert.ok(cli.logs.some((l) => String(l['msg']).startsWith('shutdown did not finish in time')));
      const err = await inFlight;
      assert.equal((err as ServiceError).code, status.UNAVAILABLE);
    } finally {
      await cli.stop();
      repo.remove();
    }
  });
});
