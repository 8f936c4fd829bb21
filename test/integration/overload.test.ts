// Overload through the real CLI: the bounded queue per model version answers
// RESOURCE_EXHAUSTED at once, and a huge declared shape costs nothing.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { ModelInferRequest } from '../../generated/grpc_service.js';
import { call, startCli, tempRepository, type RunningCli } from '../helpers/server.js';

const SLOW_SOURCE = `import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class Slow extends ModelServer {
  load(): void {}
  async predict(request: InferRequest): Promise<PredictOutputs> {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return { OUTPUT0: request.tensors['INPUT0']!.data as Float64Array };
  }
}
`;

const config = (queue: string) => `backend: "nodejs"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP64 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP64 dims: [ -1 ] } ]
${queue}
`;

function request(model: string, elements = 1, shape: bigint[] = [BigInt(elements)]): ModelInferRequest {
  return {
    modelName: model,
    modelVersion: '',
    id: '',
    parameters: new Map(),
    inputs: [{ name: 'INPUT0', datatype: 'FP64', shape, parameters: new Map(), contents: undefined }],
    outputs: [],
    rawInputContents: [Buffer.alloc(elements * 8)],
  };
}

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) * 1024;
}

interface Outcome {
  readonly ok: boolean;
  readonly code?: number;
  readonly details?: string;
  readonly ms: number;
}

async function flood(cli: RunningCli, model: string, count: number, elements = 1): Promise<Outcome[]> {
  const started = Date.now();
  return Promise.all(
    Array.from({ length: count }, () =>
      call(cli.client, cli.client.modelInfer, request(model, elements)).then(
        () => ({ ok: true, ms: Date.now() - started }),
        (err: ServiceError) => ({ ok: false, code: err.code, details: err.details, ms: Date.now() - started }),
      ),
    ),
  );
}

describe('overload', () => {
  let cli: RunningCli;
  const repo = tempRepository({
    queued: { config: config('dynamic_batching { default_queue_policy { max_queue_size: 4 } }'), versions: { '1': SLOW_SOURCE } },
    defaulted: { config: config(''), versions: { '1': SLOW_SOURCE } },
  });
  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`, '--model-max-queue-size=2']);
    await cli.waitForLog((l) => l['model'] === 'queued' && l['msg'] === 'model loaded');
    await cli.waitForLog((l) => l['model'] === 'defaulted' && l['msg'] === 'model loaded');
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  test('overload - max_queue_size 4: of 32 concurrent requests 5 run (4 queued + 1 executing), 27 get RESOURCE_EXHAUSTED at once', async () => {
    const outcomes = await flood(cli, 'queued', 32);
    const ok = outcomes.filter((o) => o.ok);
    const refused = outcomes.filter((o) => !o.ok);
    assert.equal(ok.length, 5);
    assert.equal(refused.length, 27);
    for (const o of refused) {
      assert.equal(o.code, status.RESOURCE_EXHAUSTED, o.details);
      assert.match(o.details ?? '', /Exceeds maximum queue size: model 'queued' version 1 .*max_queue_size 4/);
      assert.ok(o.ms < 700, `refused after ${o.ms} ms, while the admitted ones take 1000 ms`);
    }
    for (const o of ok) assert.ok(o.ms >= 900);
  });

  test('overload - the queue frees up: the next burst is admitted again', async () => {
    const outcomes = await flood(cli, 'queued', 5);
    assert.equal(outcomes.filter((o) => o.ok).length, 5);
  });

  test('overload - --model-max-queue-size applies to a model without its own max_queue_size', async () => {
    const outcomes = await flood(cli, 'defaulted', 8);
    assert.equal(outcomes.filter((o) => o.ok).length, 3);
    const refused = outcomes.find((o) => !o.ok);
    assert.match(refused?.details ?? '', /model 'defaulted' version 1 .*max_queue_size 2/);
  });

  test('overload - 10 bursts of 32 one-megabyte requests: refused requests are not kept, RSS stays bounded', async () => {
    const pid = cli.process.pid as number;
    const before = rssBytes(pid);
    let peak = before;
    for (let round = 0; round < 10; round++) {
      const burst = flood(cli, 'queued', 32, 128 * 1024);
      const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 20);
      const outcomes = await burst;
      clearInterval(sampler);
      assert.equal(outcomes.filter((o) => o.ok).length, 5);
    }
    const growth = peak - before;
    // 320 MB were sent; what the server holds at once is one burst at most (32 MB), plus slack.
    assert.ok(growth < 160 * 2 ** 20, `RSS grew by ${(growth / 2 ** 20).toFixed(0)} MB`);
  });

  test('overload - a shape implying 10^12 elements with 8 bytes of data is INVALID_ARGUMENT without allocating', async () => {
    const pid = cli.process.pid as number;
    const before = rssBytes(pid);
    for (const shape of [[1_000_000_000_000n], [1_000_000n, 1_000_000n], [2n ** 62n, 4n]]) {
      await assert.rejects(call(cli.client, cli.client.modelInfer, request('queued', 1, shape)), (err: ServiceError) => {
        assert.equal(err.code, status.INVALID_ARGUMENT);
        assert.match(err.details, /INPUT0/);
        return true;
      });
    }
    assert.ok(rssBytes(pid) - before < 64 * 2 ** 20);
  });
});
