// Zero-code ONNX models through the real server: a version directory with a model file and no
// model.ts, with or without config.pbtxt. Every datatype onnxruntime-node supports comes back
// value by value; BF16, and configs that contradict the model, fail the load naming the tensor.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { ModelInstanceGroup_Kind } from '../../generated/model_config.js';
import { ONNX_TYPES, type OnnxElemType } from '../../src/onnx/index.js';
import { call, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { addSubModel, identityAllModel, identityModel } from '../onnx/onnx-fixtures.js';
import { inferRequest, rawBytes, rawStrings, settledModels, stringOutput, typedOutput } from './onnx-fixtures.js';

const SHAPE = [2, 3];

/** Six values per type, its extremes among them; FP16 as raw bits: 0, -0, 1, -2, 65504, the smallest subnormal. */
const VALUES: Readonly<Record<string, ArrayBufferView | string[]>> = {
  BOOL: Uint8Array.from([1, 0, 0, 1, 1, 0]),
  UINT8: Uint8Array.from([0, 1, 127, 128, 254, 255]),
  UINT16: Uint16Array.from([0, 1, 255, 256, 65534, 65535]),
  UINT32: Uint32Array.from([0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1]),
  UINT64: BigUint64Array.from([0n, 1n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 2n, 2n ** 64n - 1n]),
  INT8: Int8Array.from([-128, -1, 0, 1, 126, 127]),
  INT16: Int16Array.from([-32768, -1, 0, 1, 32766, 32767]),
  INT32: Int32Array.from([-(2 ** 31), -1, 0, 1, 2 ** 31 - 2, 2 ** 31 - 1]),
  INT64: BigInt64Array.from([-(2n ** 63n), -1n, 0n, 2n ** 53n + 1n, 2n ** 63n - 2n, 2n ** 63n - 1n]),
  FP16: Uint16Array.from([0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x0001]),
  FP32: Float32Array.from([0, -0, 1.5, -3.4028234663852886e38, 1.401298464324817e-45, Infinity]),
  FP64: Float64Array.from([0, -0, Math.PI, -Number.MAX_VALUE, 5e-324, -Infinity]),
  BYTES: ['', 'a', 'héllo wörld', '\t"quoted"\n', '🚀', 'x'.repeat(300)],
};

const ELEM_TYPES: OnnxElemType[] = ONNX_TYPES.map((entry) => entry.onnx);
const tensorName = (prefix: string, elemType: OnnxElemType) => `${prefix}_${elemType.toLowerCase()}`;

const MISMATCHED = (a: string) => `
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ ${a}, { name: "b" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "sum" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "difference" data_type: TYPE_FP32 dims: [ 4 ] } ]`;

describe('onnx zero-code', () => {
  const repo = tempRepository({});
  // No config.pbtxt: auto-complete names the platform and declares every tensor.
  repo.write('identity_all/1/model.onnx', identityAllModel(ELEM_TYPES, SHAPE));
  repo.write('bf16/1/model.onnx', identityModel('BFLOAT16', [2]));
  // backend instead of platform, and a file that is not model.onnx.
  repo.write('named/config.pbtxt', 'backend: "onnxruntime"\ndefault_model_filename: "graph.onnx"\n');
  repo.write('named/1/graph.onnx', addSubModel());
  repo.write('named/1/model.onnx', identityModel('FLOAT', [2]));
  repo.write('wrong_shape/config.pbtxt', MISMATCHED('{ name: "a" data_type: TYPE_FP32 dims: [ 5 ] }'));
  repo.write('wrong_shape/1/model.onnx', addSubModel());
  repo.write('wrong_type/config.pbtxt', MISMATCHED('{ name: "a" data_type: TYPE_INT32 dims: [ 4 ] }'));
  repo.write('wrong_type/1/model.onnx', addSubModel());
  let cli: RunningCli;
  let index: Awaited<ReturnType<typeof settledModels>>;
  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`]);
    index = await settledModels(cli, ['identity_all', 'bf16', 'named', 'wrong_shape', 'wrong_type']);
  });
  after(async () => {
    await cli?.stop();
    repo.remove();
  });

  test('zero-code - an identity model of every supported datatype answers value by value', async () => {
    assert.equal(index.get('identity_all')?.state, 'READY', index.get('identity_all')?.reason);
    const inputs = ONNX_TYPES.map(({ datatype, onnx }) => {
      const values = VALUES[datatype]!;
      return { name: tensorName('in', onnx), datatype, shape: SHAPE, raw: Array.isArray(values) ? rawStrings(values) : rawBytes(values) };
    });
    const response = await call(cli.client, cli.client.modelInfer, inferRequest('identity_all', inputs));
    for (const { datatype, onnx, array } of ONNX_TYPES) {
      const name = tensorName('out', onnx);
      const output = response.outputs.find((o) => o.name === name);
      assert.equal(output?.datatype, datatype, name);
      assert.deepEqual(output?.shape.map(Number), SHAPE, name);
      const sent = VALUES[datatype]!;
      if (Array.isArray(sent)) {
        assert.deepEqual(stringOutput(response, name), sent, datatype);
      } else {
        const served = typedOutput(response, name, array as unknown as new (buffer: ArrayBuffer) => ArrayLike<number | bigint>);
        assert.deepEqual(Array.from(served), Array.from(sent as unknown as ArrayLike<number | bigint>), datatype);
      }
    }
  });

  test('zero-code - a BYTES element onnxruntime-node would cut short (a NUL byte) is INVALID_ARGUMENT naming it', async () => {
    const inputs = ONNX_TYPES.map(({ datatype, onnx }) => {
      const values = datatype === 'BYTES' ? ['a', 'b', 'zero\0byte', 'd', 'e', 'f'] : VALUES[datatype]!;
      return { name: tensorName('in', onnx), datatype, shape: SHAPE, raw: Array.isArray(values) ? rawStrings(values) : rawBytes(values) };
    });
    await assert.rejects(call(cli.client, cli.client.modelInfer, inferRequest('identity_all', inputs)), {
      code: status.INVALID_ARGUMENT,
      details: /input 'in_string' element 2 contains a NUL byte/,
    });
  });

  test('zero-code - ModelMetadata and ModelConfig report the completed config: platform, tensors, one worker instance', async () => {
    const metadata = await call(cli.client, cli.client.modelMetadata, { name: 'identity_all', version: '' });
    assert.equal(metadata.platform, 'onnxruntime_onnx');
    assert.deepEqual(
      metadata.inputs.map((input) => [input.name, input.datatype, input.shape.map(Number)]),
      ONNX_TYPES.map(({ datatype, onnx }) => [tensorName('in', onnx), datatype, SHAPE]),
    );
    const { config } = await call(cli.client, cli.client.modelConfig, { name: 'identity_all', version: '' });
    assert.equal(config?.platform, 'onnxruntime_onnx');
    assert.equal(config?.backend, 'onnxruntime');
    assert.equal(config?.maxBatchSize, 0, 'a fixed first dimension cannot batch');
    assert.deepEqual(config?.output.map((output) => output.name), ONNX_TYPES.map(({ onnx }) => tensorName('out', onnx)));
    assert.deepEqual(config?.instanceGroup.map((group) => [group.kind, group.count]), [[ModelInstanceGroup_Kind.KIND_CPU, 1]]);
  });

  test('zero-code - backend "onnxruntime" with default_model_filename serves that file', async () => {
    assert.equal(index.get('named')?.state, 'READY', index.get('named')?.reason);
    const a = Float32Array.from([1, 2, 3, 4]);
    const b = Float32Array.from([0.5, 0.25, -1, 8]);
    const row = (values: Float32Array, name: string) => ({ name, datatype: 'FP32', shape: [1, 4], raw: rawBytes(values) });
    const response = await call(cli.client, cli.client.modelInfer, inferRequest('named', [row(a, 'a'), row(b, 'b')]));
    assert.deepEqual([...typedOutput(response, 'sum', Float32Array)], [1.5, 2.25, 2, 12]);
    assert.deepEqual([...typedOutput(response, 'difference', Float32Array)], [0.5, 1.75, 4, -4]);
  });

  test('zero-code - a BF16 model fails the load naming its tensors', () => {
    const entry = index.get('bf16');
    assert.equal(entry?.state, 'UNAVAILABLE');
    assert.match(entry?.reason ?? '', /input 'x', output 'y' have ONNX type BFLOAT16, which onnxruntime-node cannot feed or read/);
  });

  test('zero-code - a declared shape the model contradicts fails the load naming the tensor and both shapes', () => {
    const entry = index.get('wrong_shape');
    assert.equal(entry?.state, 'UNAVAILABLE');
    assert.match(entry?.reason ?? '', /input 'a': config\.pbtxt declares dims \[5\] \(with the batch dimension: \[-1,5\]\), the model has shape \[batch,4\]/);
  });

  test('zero-code - a declared datatype the model contradicts fails the load naming the tensor and both types', () => {
    const entry = index.get('wrong_type');
    assert.equal(entry?.state, 'UNAVAILABLE');
    assert.match(entry?.reason ?? '', /input 'a': config\.pbtxt declares TYPE_INT32, the model has TYPE_FP32 \(float32\)/);
  });
});
