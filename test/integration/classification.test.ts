// The classification extension through the real server: top-k of a known vector, with and
// without a label file, for batching and non-batching models, and the rejections.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { InferParameter, ModelInferRequest } from '../../generated/grpc_service.js';
import { call, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { bytesOutput, waitReady } from './streaming-fixtures.js';

/** PROBS = INPUT0; COUNTS = round(INPUT0 · 100) as INT32; HALF = FP16 zeros. */
const SCORES = `
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class Scores extends ModelServer {
  load(): void {}
  predict(request: InferRequest): PredictOutputs {
    const x = request.tensors['INPUT0']!;
    const data = x.data as Float32Array;
    return {
      PROBS: { data, shape: x.shape },
      COUNTS: { data: Int32Array.from(data, (v) => Math.round(v * 100)), shape: x.shape },
      HALF: { data: new Uint16Array(data.length), shape: x.shape },
    };
  }
}`;

const CONFIG = (name: string, maxBatch: number, dims: string) => `
name: "${name}"
max_batch_size: ${maxBatch}
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ ${dims} ] } ]
output [
  { name: "PROBS" data_type: TYPE_FP32 dims: [ ${dims} ] label_filename: "labels.txt" },
  { name: "COUNTS" data_type: TYPE_INT32 dims: [ ${dims} ] },
  { name: "HALF" data_type: TYPE_FP16 dims: [ ${dims} ] }
]`;

function request(model: string, values: number[], shape: bigint[], outputs: [string, Record<string, InferParameter>][]): ModelInferRequest {
  return {
    modelName: model,
    modelVersion: '',
    id: 'cls',
    parameters: new Map(),
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape, parameters: new Map(), contents: undefined }],
    outputs: outputs.map(([name, parameters]) => ({ name, parameters: new Map(Object.entries(parameters)) })),
    rawInputContents: [Buffer.from(new Float32Array(values).buffer)],
  };
}

const top = (k: number): Record<string, InferParameter> => ({ classification: { int64Param: BigInt(k) } });

describe('classification', () => {
  const repo = tempRepository({
    scores: { config: CONFIG('scores', 0, '-1'), versions: { '1': SCORES } },
    batched: { config: CONFIG('batched', 4, '4'), versions: { '1': SCORES } },
  });
  repo.write('scores/labels.txt', 'cat\ndog\nbird\nfish\n');
  repo.write('batched/labels.txt', 'cat\ndog\nbird\nfish\n');
  let cli: RunningCli;
  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`]);
    await waitReady(cli, 'scores');
    await waitReady(cli, 'batched');
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  test('classification - top-2 with labels gives "value:index:label" as BYTES [2]', async () => {
    const response = await call(cli.client, cli.client.modelInfer, request('scores', [0.1, 0.7, 0.15, 0.05], [4n], [['PROBS', top(2)]]));
    assert.equal(response.outputs[0]?.datatype, 'BYTES');
    assert.deepEqual(response.outputs[0]?.shape, [2n]);
    assert.deepEqual(bytesOutput(response, 'PROBS'), ['0.700000:1:dog', '0.150000:2:bird']);
  });

  test('classification - top-2 without a label file gives "value:index", integers plainly', async () => {
    const response = await call(
      cli.client,
      cli.client.modelInfer,
      request('scores', [0.1, 0.7, 0.15, 0.05], [4n], [['COUNTS', top(2)], ['PROBS', {}]]),
    );
    assert.deepEqual(bytesOutput(response, 'COUNTS'), ['70:1', '15:2']);
    // The output asked for without the parameter stays a tensor.
    assert.equal(response.outputs[1]?.datatype, 'FP32');
    assert.deepEqual(response.outputs[1]?.shape, [4n]);
  });

  test('classification - a batching model classifies each batch item: shape [batch, k]', async () => {
    const response = await call(
      cli.client,
      cli.client.modelInfer,
      request('batched', [0.1, 0.7, 0.15, 0.05, 0.4, 0.3, 0.2, 0.1], [2n, 4n], [['PROBS', top(2)]]),
    );
    assert.deepEqual(response.outputs[0]?.shape, [2n, 2n]);
    assert.deepEqual(bytesOutput(response, 'PROBS'), ['0.700000:1:dog', '0.150000:2:bird', '0.400000:0:cat', '0.300000:1:dog']);
  });

  test('classification - an FP16 output is INVALID_ARGUMENT before the model runs', async () => {
    await assert.rejects(call(cli.client, cli.client.modelInfer, request('scores', [0.5], [1n], [['HALF', top(1)]])), {
      code: status.INVALID_ARGUMENT,
      details: /class result not available for output 'HALF'.*FP16/,
    });
  });

  for (const [name, parameter] of [
    ['k = 0', { int64Param: 0n }],
    ['a string k', { stringParam: '2' }],
  ] as const) {
    test(`classification - ${name} is INVALID_ARGUMENT naming the parameter`, async () => {
      await assert.rejects(
        call(cli.client, cli.client.modelInfer, request('scores', [0.5], [1n], [['PROBS', { classification: parameter }]])),
        { code: status.INVALID_ARGUMENT, details: /'outputs\[0\]\.parameters\.classification' must be an integer > 0/ },
      );
    });
  }
});
