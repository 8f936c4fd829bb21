// Config auto-complete through the real server, with an Add/Sub graph of float32 [batch, 4]:
// Triton's filling rules as ModelConfig and ModelMetadata report them, the batching they turn
// on, --backend-config's default-max-batch-size, and --disable-auto-complete-config.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import { GRPCInferenceServiceClient, type ModelInferResponse } from '../../generated/grpc_service.js';
import { DataType } from '../../generated/model_config.js';
import { call, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { addSubModel } from '../onnx/onnx-fixtures.js';
import { inferRequest, rawBytes, settledModels, typedOutput } from './onnx-fixtures.js';

/** Row k: a = [k, k+1, k+2, k+3], b = [0.5, 1, 1.5, 2] · k. */
function addRows(model: string, first: number, rows: number) {
  const a = new Float32Array(rows * 4);
  const b = new Float32Array(rows * 4);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < 4; j++) {
      a[r * 4 + j] = first + r + j;
      b[r * 4 + j] = (first + r) * 0.5 * (j + 1);
    }
  }
  const tensor = (name: string, values: Float32Array) => ({ name, datatype: 'FP32', shape: [rows, 4], raw: rawBytes(values) });
  return { request: inferRequest(model, [tensor('a', a), tensor('b', b)]), a, b };
}

function checkAddRows(response: ModelInferResponse, a: Float32Array, b: Float32Array, label: string): void {
  assert.deepEqual([...typedOutput(response, 'sum', Float32Array)], [...a].map((x, i) => Math.fround(x + b[i]!)), label);
  assert.deepEqual([...typedOutput(response, 'difference', Float32Array)], [...a].map((x, i) => Math.fround(x - b[i]!)), label);
}

const DECLARED = `
platform: "onnxruntime_onnx"
max_batch_size: 4
output [ { name: "sum" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "difference" data_type: TYPE_FP32 dims: [ 4 ] } ]`;
const FULLY_DECLARED = `${DECLARED}
input [ { name: "a" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "b" data_type: TYPE_FP32 dims: [ 4 ] } ]`;

describe('onnx auto-complete', () => {
  const repo = tempRepository({});
  repo.write('add/1/model.onnx', addSubModel());
  let cli: RunningCli;
  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`]);
    const index = await settledModels(cli, ['add']);
    assert.equal(index.get('add')?.state, 'READY', index.get('add')?.reason);
  });
  after(async () => {
    await cli?.stop();
    repo.remove();
  });

  test('auto-complete - a symbolic first dimension makes the model batchable: max_batch_size 4, dynamic batching, dims without the batch', async () => {
    const { config } = await call(cli.client, cli.client.modelConfig, { name: 'add', version: '' });
    assert.equal(config?.maxBatchSize, 4);
    assert.ok(config?.dynamicBatching, 'dynamic_batching is filled in');
    const tensors = (list: readonly { name: string; dataType: DataType; dims: bigint[] }[]) =>
      list.map((t) => [t.name, t.dataType, t.dims.map(Number)]);
    assert.deepEqual(tensors(config!.input), [['a', DataType.TYPE_FP32, [4]], ['b', DataType.TYPE_FP32, [4]]]);
    assert.deepEqual(tensors(config!.output), [['sum', DataType.TYPE_FP32, [4]], ['difference', DataType.TYPE_FP32, [4]]]);
  });

  test('auto-complete - ModelMetadata shows the batch dimension as -1', async () => {
    const metadata = await call(cli.client, cli.client.modelMetadata, { name: 'add', version: '' });
    assert.deepEqual(
      metadata.inputs.map((t) => [t.name, t.datatype, t.shape.map(Number)]),
      [['a', 'FP32', [-1, 4]], ['b', 'FP32', [-1, 4]]],
    );
    assert.deepEqual(metadata.outputs.map((t) => t.shape.map(Number)), [[-1, 4], [-1, 4]]);
  });

  test('auto-complete - two clients sending single rows at once are batched (batches > 1), each getting its own rows back', async () => {
    const second = new GRPCInferenceServiceClient(cli.address, credentials.createInsecure());
    try {
      const before = await call(cli.client, cli.client.modelStatistics, { name: 'add', version: '' });
      const sends = Array.from({ length: 48 }, (_, k) => {
        const client = k % 2 === 0 ? cli.client : second;
        const { request, a, b } = addRows('add', k, 1);
        return call(client, client.modelInfer, request).then((response) => checkAddRows(response, a, b, `row ${k}`));
      });
      await Promise.all(sends);
      const stats = (await call(cli.client, cli.client.modelStatistics, { name: 'add', version: '' })).modelStats[0]!;
      const previous = before.modelStats[0]!;
      const inferences = stats.inferenceCount - previous.inferenceCount;
      const executions = stats.executionCount - previous.executionCount;
      assert.equal(inferences, 48n);
      assert.ok(executions < inferences, `${executions} executions for ${inferences} rows`);
      const batched = stats.batchStats.filter((batch) => batch.batchSize > 1n).map((batch) => Number(batch.batchSize));
      assert.ok(batched.length > 0, 'ModelStatistics lists batches of more than one row');
      assert.ok(Math.max(...batched) <= 4, `no batch exceeds max_batch_size 4: ${batched}`);
    } finally {
      second.close();
    }
  });

  test('auto-complete - a request of several rows is one batch, split back per request', async () => {
    const { request, a, b } = addRows('add', 100, 3);
    const response = await call(cli.client, cli.client.modelInfer, request);
    assert.deepEqual(response.outputs.map((o) => o.shape.map(Number)), [[3, 4], [3, 4]]);
    checkAddRows(response, a, b, 'three rows');
  });
});

describe('onnx --backend-config', () => {
  const repo = tempRepository({});
  repo.write('add/1/model.onnx', addSubModel());
  let cli: RunningCli;
  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`, '--backend-config=onnxruntime,default-max-batch-size=8']);
    await settledModels(cli, ['add']);
  });
  after(async () => {
    await cli?.stop();
    repo.remove();
  });

  test('backend-config - default-max-batch-size sets the max_batch_size auto-complete gives, and 8 rows run as one', async () => {
    const { config } = await call(cli.client, cli.client.modelConfig, { name: 'add', version: '' });
    assert.equal(config?.maxBatchSize, 8);
    const { request, a, b } = addRows('add', 0, 8);
    checkAddRows(await call(cli.client, cli.client.modelInfer, request), a, b, 'eight rows');
  });
});

describe('onnx --disable-auto-complete-config', () => {
  const repo = tempRepository({});
  repo.write('partial/config.pbtxt', DECLARED);
  repo.write('partial/1/model.onnx', addSubModel());
  repo.write('declared/config.pbtxt', FULLY_DECLARED);
  repo.write('declared/1/model.onnx', addSubModel());
  repo.write('bare/1/model.onnx', addSubModel());
  let cli: RunningCli;
  let index: Awaited<ReturnType<typeof settledModels>>;
  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`, '--disable-auto-complete-config']);
    index = await settledModels(cli, ['partial', 'declared', 'bare']);
  });
  after(async () => {
    await cli?.stop();
    repo.remove();
  });

  test('disable-auto-complete-config - a config without the inputs fails the load naming the input the model needs', () => {
    assert.equal(index.get('partial')?.state, 'UNAVAILABLE');
    assert.match(
      index.get('partial')?.reason ?? '',
      /input 'a': the model needs it \(TYPE_FP32 \[batch,4\]\), config\.pbtxt does not declare it \(declared: none\)/,
    );
  });

  test('disable-auto-complete-config - a fully declared config serves as declared, nothing filled in', async () => {
    assert.equal(index.get('declared')?.state, 'READY', index.get('declared')?.reason);
    const { config } = await call(cli.client, cli.client.modelConfig, { name: 'declared', version: '' });
    assert.equal(config?.dynamicBatching, undefined);
    const { request, a, b } = addRows('declared', 7, 2);
    checkAddRows(await call(cli.client, cli.client.modelInfer, request), a, b, 'two rows');
  });

  test('disable-auto-complete-config - a model file without config.pbtxt is not taken for ONNX', () => {
    assert.equal(index.get('bare')?.state, 'UNAVAILABLE');
    assert.match(index.get('bare')?.reason ?? '', /no model module/);
  });
});
