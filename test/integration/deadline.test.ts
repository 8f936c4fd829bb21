// The `timeout` request parameter and gRPC deadlines: a request that expires (or is
// cancelled) while it still waits — for a loading model, behind an earlier request of its
// sequence, or in a worker pool's queue — answers DEADLINE_EXCEEDED and is never computed.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { InferParameter, ModelInferRequest } from '../../generated/grpc_service.js';
import { call, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { waitReady } from './streaming-fixtures.js';

/** Counts its predict() calls (operation `count` reads the counter); load and predict take their time. */
const COUNTING = (loadMs: number) => `
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class Counting extends ModelServer {
  private predictions = 0;
  async load(): Promise<void> { await new Promise((r) => setTimeout(r, ${loadMs})); }
  async predict(request: InferRequest): Promise<PredictOutputs> {
    this.predictions++;
    await new Promise((r) => setTimeout(r, Number(request.parameters['delay_ms'] ?? 0)));
    return { OUTPUT0: new Float32Array([this.predictions]) };
  }
  opCount(): PredictOutputs { return { OUTPUT0: new Float32Array([this.predictions]) }; }
}`;

const CONFIG = (name: string, extra = '') => `
name: "${name}"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
${extra}`;

function request(model: string, id: string, parameters: Record<string, InferParameter> = {}): ModelInferRequest {
  return {
    modelName: model,
    modelVersion: '',
    id,
    parameters: new Map(Object.entries(parameters)),
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1n], parameters: new Map(), contents: undefined }],
    outputs: [],
    rawInputContents: [Buffer.from(new Float32Array([1]).buffer)],
  };
}

async function predictions(cli: RunningCli, model: string): Promise<number> {
  const response = await call(cli.client, cli.client.modelInfer, request(model, 'count', { operation: { stringParam: 'count' } }));
  const raw = response.rawOutputContents[0] as Buffer;
  return raw.readFloatLE(0);
}

const timeoutUs = (us: number) => ({ timeout: { int64Param: BigInt(us) } });

describe('deadline', () => {
  const repo = tempRepository({
    loading: { config: CONFIG('loading'), versions: { '1': COUNTING(1500) } },
    counting: { config: CONFIG('counting'), versions: { '1': COUNTING(0) } },
    pooled: {
      config: CONFIG('pooled', 'instance_group [ { kind: KIND_CPU count: 1 } ]'),
      versions: { '1': COUNTING(0) },
    },
  });
  let cli: RunningCli;
  after(async () => {
    await cli?.stop();
    repo.remove();
  });

  test('deadline - timeout and gRPC deadline expiring while the model loads: DEADLINE_EXCEEDED, never computed', async () => {
    cli = await startCli([`--model-repository=${repo.root}`]);
    const started = Date.now();
    await Promise.all([
      assert.rejects(call(cli.client, cli.client.modelInfer, request('loading', 'by-timeout', timeoutUs(200_000))), {
        code: status.DEADLINE_EXCEEDED,
        details: /timeout of 200000 µs expired/,
      }),
      assert.rejects(call(cli.client, cli.client.modelInfer, request('loading', 'by-deadline'), { deadline: Date.now() + 200 }), {
        code: status.DEADLINE_EXCEEDED,
      }),
    ]);
    assert.ok(Date.now() - started < 1200, 'answered before the model finished loading');
    await waitReady(cli, 'loading');
    // Give a wrongly queued request time to run after the load.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await predictions(cli, 'loading'), 0);
    // A timeout long enough is no obstacle.
    await call(cli.client, cli.client.modelInfer, request('loading', 'in-time', timeoutUs(5_000_000)));
    assert.equal(await predictions(cli, 'loading'), 1);
  });

  test('deadline - a request expiring behind an earlier request of its sequence is never computed', async () => {
    await waitReady(cli, 'counting');
    const sequence = (start: boolean) => ({ sequence_id: { int64Param: 9n }, sequence_start: { boolParam: start } });
    const first = call(cli.client, cli.client.modelInfer, request('counting', 'first', { ...sequence(true), delay_ms: { int64Param: 500n } }));
    await new Promise((r) => setTimeout(r, 20));
    await assert.rejects(call(cli.client, cli.client.modelInfer, request('counting', 'second', { ...sequence(false), ...timeoutUs(100_000) })), {
      code: status.DEADLINE_EXCEEDED,
    });
    await first;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await predictions(cli, 'counting'), 1);
  });

  test('deadline - a request expiring in a busy worker pool queue is never computed', async () => {
    await waitReady(cli, 'pooled');
    const busy = call(cli.client, cli.client.modelInfer, request('pooled', 'busy', { delay_ms: { int64Param: 500n } }));
    await new Promise((r) => setTimeout(r, 20));
    await assert.rejects(call(cli.client, cli.client.modelInfer, request('pooled', 'queued', timeoutUs(100_000))), {
      code: status.DEADLINE_EXCEEDED,
    });
    await assert.rejects(call(cli.client, cli.client.modelInfer, request('pooled', 'queued-deadline'), { deadline: Date.now() + 100 }), {
      code: status.DEADLINE_EXCEEDED,
    });
    await busy;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await predictions(cli, 'pooled'), 1);
  });

  test('deadline - timeout 0 means none, as in Triton', async () => {
    const response = await call(cli.client, cli.client.modelInfer, request('counting', 'zero', timeoutUs(0)));
    assert.equal(response.id, 'zero');
  });
});
