// OnnxModel as the repository will create it: a ModelContext in, the hook runner around it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { dictionary } from '../../src/dictionary.js';
import type { ModelConfig } from '../../generated/model_config.js';
import { parseConfigText } from '../../src/repository/index.js';
import { runHooks, type ExecutionJob, type InferRequest, type ModelContext, type PredictOutputs } from '../../src/model/index.js';
import {
  OnnxModel,
  autoCompleteConfig,
  encodeOnnxModel,
  readOnnxSignature,
  type OnnxSignature,
} from '../../src/onnx/index.js';
import { CONFIG_TO_DATATYPE, modelView, type IOSpec, type Tensor, type TensorSpec } from '../../src/tensor/index.js';
import { addSubModel, identityModel, scratchDir, writeModel } from './onnx-fixtures.js';

let scratch: ReturnType<typeof scratchDir>;
before(() => {
  scratch = scratchDir();
});
after(() => scratch.cleanup());

/** The model's view of a config, as the repository derives it: a reshaped tensor in its reshape shape. */
function ioOf(config: ModelConfig): IOSpec {
  const specs = (tensors: readonly { name: string; dataType: number; dims: bigint[]; reshape?: { shape: bigint[] } | undefined }[]): TensorSpec[] =>
    tensors.map((t) => ({
      name: t.name,
      datatype: CONFIG_TO_DATATYPE[t.dataType]!,
      dims: t.dims.map(Number),
      ...(t.reshape ? { reshape: t.reshape.shape.map(Number) } : {}),
    }));
  return modelView({ modelName: config.name, maxBatchSize: config.maxBatchSize, inputs: specs(config.input), outputs: specs(config.output) });
}

let versions = 0;

/** A version directory holding `files`, and the context of a model served from it. */
function context(config: ModelConfig, files: Record<string, Uint8Array>): ModelContext {
  const versionPath = join(scratch.dir, `model${++versions}`, '1');
  for (const [file, bytes] of Object.entries(files)) writeModel(versionPath, bytes, file);
  return {
    name: config.name,
    version: '1',
    config,
    io: ioOf(config),
    parameters: dictionary([...config.parameters].map(([key, value]) => [key, value.stringValue] as const)),
    serverParameters: {},
    versionPath,
    logger: pino({ level: 'silent' }),
  };
}

function config(text: string): ModelConfig {
  return parseConfigText(`name: "m"\nplatform: "onnxruntime_onnx"\n${text}`, 'config.pbtxt');
}

/** The config auto-complete gives a model file, as the repository will do it. */
async function completed(bytes: Uint8Array, text = ''): Promise<ModelConfig> {
  const path = writeModel(join(scratch.dir, `signature${++versions}`), bytes);
  return autoCompleteConfig(config(text), await readOnnxSignature(path));
}

function job(tensors: Tensor[], operation = 'infer', outputs: string[] = []): ExecutionJob {
  return { id: 'r1', tensors, parameters: {}, outputs: outputs.map((name) => ({ name, parameters: {} })), operation };
}

const signal = new AbortController().signal;

async function loaded<T extends OnnxModel>(Model: new (context: ModelContext) => T, modelContext: ModelContext): Promise<T> {
  const model = new Model(modelContext);
  await model.load();
  return model;
}

describe('OnnxModel - zero-code', () => {
  test('serves an identity model through the hooks, INT64 extremes exact', async () => {
    const model = await loaded(
      OnnxModel,
      context(config('input [ { name: "x" data_type: TYPE_INT64 dims: [ -1 ] } ]\noutput [ { name: "y" data_type: TYPE_INT64 dims: [ -1 ] } ]'), {
        'model.onnx': identityModel('INT64'),
      }),
    );
    try {
      const values = new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n]);
      const output = await runHooks(model, job([{ name: 'x', datatype: 'INT64', shape: [3], data: values }]), signal);
      assert.equal(output.outputs.length, 1);
      assert.equal(output.outputs[0]!.name, 'y');
      assert.equal(output.outputs[0]!.datatype, 'INT64');
      assert.deepEqual(output.outputs[0]!.shape, [3]);
      assert.deepEqual([...(output.outputs[0]!.data as BigInt64Array)], [...values]);
    } finally {
      await model.unload();
    }
  });

  test('an auto-completed batching model answers a batch row by row, and only the outputs asked for', async () => {
    const modelConfig = await completed(addSubModel());
    const model = await loaded(OnnxModel, context(modelConfig, { 'model.onnx': addSubModel() }));
    try {
      const a = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      const b = new Float32Array(12).fill(1);
      const tensors: Tensor[] = [
        { name: 'a', datatype: 'FP32', shape: [3, 4], data: a },
        { name: 'b', datatype: 'FP32', shape: [3, 4], data: b },
      ];
      const all = await runHooks(model, job(tensors), signal);
      assert.deepEqual(all.outputs.map((t) => [t.name, t.shape]), [['sum', [3, 4]], ['difference', [3, 4]]]);
      assert.deepEqual([...(all.outputs[0]!.data as Float32Array)], [...a].map((v) => v + 1));
      const asked = await runHooks(model, job(tensors, 'infer', ['difference']), signal);
      assert.deepEqual(asked.outputs.map((t) => t.name), ['difference']);
      assert.deepEqual([...(asked.outputs[0]!.data as Float32Array)], [...a].map((v) => v - 1));
    } finally {
      await model.unload();
    }
  });

  test('a scalar per row, declared [1] reshaped to [], is fed and answered as [rows] (the server reshapes from and to [rows, 1])', async () => {
    const bytes = encodeOnnxModel({
      graph: {
        name: 'negate',
        inputs: [{ name: 'x', elemType: 'FLOAT', shape: ['batch'] }],
        outputs: [{ name: 'y', elemType: 'FLOAT', shape: ['batch'] }],
        nodes: [{ opType: 'Neg', inputs: ['x'], outputs: ['y'] }],
      },
    });
    const modelConfig = await completed(bytes);
    assert.deepEqual(modelConfig.input[0]!.dims, [1n]);
    const model = await loaded(OnnxModel, context(modelConfig, { 'model.onnx': bytes }));
    try {
      const output = await runHooks(model, job([{ name: 'x', datatype: 'FP32', shape: [3], data: new Float32Array([1, -2, 3]) }]), signal);
      assert.deepEqual(output.outputs[0]!.shape, [3]);
      assert.deepEqual([...(output.outputs[0]!.data as Float32Array)], [-1, 2, -3]);
    } finally {
      await model.unload();
    }
  });

  test('a request the model cannot take is INVALID_ARGUMENT naming model and tensor', async () => {
    const model = await loaded(OnnxModel, context(await completed(addSubModel()), { 'model.onnx': addSubModel() }));
    try {
      const a: Tensor = { name: 'a', datatype: 'FP32', shape: [1, 4], data: new Float32Array(4) };
      await assert.rejects(runHooks(model, job([a]), signal), {
        code: 'INVALID_ARGUMENT',
        message: "model 'm' version 1 operation 'infer': input 'b' is missing; the model's inputs are 'a', 'b'",
      });
    } finally {
      await model.unload();
    }
  });

  test('after unload a request is UNAVAILABLE', async () => {
    const model = await loaded(OnnxModel, context(await completed(addSubModel()), { 'model.onnx': addSubModel() }));
    await model.unload();
    await assert.rejects(model.runModel({}), { code: 'UNAVAILABLE', message: /model 'm' has no open onnxruntime session/ });
  });
});

describe('OnnxModel - load', () => {
  const identityConfig = 'input [ { name: "x" data_type: TYPE_FP32 dims: [ -1 ] } ]\noutput [ { name: "y" data_type: TYPE_FP32 dims: [ -1 ] } ]';

  test('a config that contradicts the model fails the load naming the tensor and both types', async () => {
    const model = new OnnxModel(
      context(config('input [ { name: "x" data_type: TYPE_INT32 dims: [ -1 ] } ]\noutput [ { name: "y" data_type: TYPE_FP32 dims: [ -1 ] } ]'), {
        'model.onnx': identityModel('FLOAT'),
      }),
    );
    await assert.rejects(model.load(), {
      code: 'INVALID_ARGUMENT',
      message: "input 'x': config.pbtxt declares TYPE_INT32, the model has TYPE_FP32 (float32)",
    });
  });

  test('a BF16 model fails the load naming its tensors', async () => {
    const model = new OnnxModel(context(config(identityConfig), { 'model.onnx': identityModel('BFLOAT16') }));
    await assert.rejects(model.load(), { code: 'INVALID_ARGUMENT', message: /input 'x', output 'y' have ONNX type BFLOAT16/ });
  });

  test('default_model_filename chooses the file', async () => {
    const model = await loaded(
      OnnxModel,
      context(config(`default_model_filename: "classifier.onnx"\n${identityConfig}`), {
        'classifier.onnx': identityModel('FLOAT'),
        'model.onnx': identityModel('INT32'),
      }),
    );
    await model.unload();
  });

  test('a default_model_filename that is not there fails the load', async () => {
    const model = new OnnxModel(
      context(config(`default_model_filename: "missing.onnx"\n${identityConfig}`), { 'model.onnx': identityModel('FLOAT') }),
    );
    await assert.rejects(model.load(), { code: 'INVALID_ARGUMENT', message: "default_model_filename 'missing.onnx' is not a file of version 1" });
  });

  test('model.onnx wins over other .onnx files', async () => {
    const model = await loaded(
      OnnxModel,
      context(config(identityConfig), { 'a-draft.onnx': new TextEncoder().encode('not a model'), 'model.onnx': identityModel('FLOAT') }),
    );
    await model.unload();
  });

  test('a version without an .onnx file fails the load', async () => {
    const model = new OnnxModel(context(config(identityConfig), { 'notes.txt': new Uint8Array(1) }));
    await assert.rejects(model.load(), { code: 'INVALID_ARGUMENT', message: 'version 1 has no .onnx model file' });
  });

  test('thread counts and optimization level from the config open the session', async () => {
    const settings =
      'parameters { key: "intra_op_thread_count" value: { string_value: "1" } }\n' +
      'parameters { key: "inter_op_thread_count" value: { string_value: "1" } }\n' +
      'parameters { key: "execution_mode" value: { string_value: "1" } }\n' +
      'optimization { graph { level: 2 } }';
    const model = await loaded(OnnxModel, context(config(`${identityConfig}\n${settings}`), { 'model.onnx': identityModel('FLOAT') }));
    await model.unload();
  });

  test('a malformed setting fails the load naming the parameter', async () => {
    const model = new OnnxModel(
      context(config(`${identityConfig}\nparameters { key: "intra_op_thread_count" value: { string_value: "many" } }`), {
        'model.onnx': identityModel('FLOAT'),
      }),
    );
    await assert.rejects(model.load(), { code: 'INVALID_ARGUMENT', message: /'parameters.intra_op_thread_count'/ });
  });
});

/**
 * A model with hooks around the graph: takes text numbers, feeds floats, answers text.
 * It declares other tensors than the graph's, so it checks only what it relies on.
 */
class TextNegate extends OnnxModel {
  protected override checkModelSignature(signature: OnnxSignature): void {
    const input = signature.inputs[0];
    if (input?.datatype !== 'FP32') throw new Error(`the graph must take FP32, it takes ${input?.datatype}`);
  }

  override preprocess(request: InferRequest): InferRequest {
    const text = request.tensors['TEXT']!.data as Uint8Array[];
    const values = Float32Array.from(text, (element) => Number(new TextDecoder().decode(element)));
    return { ...request, tensors: { x: { name: 'x', datatype: 'FP32', shape: [values.length], data: values } } };
  }

  override async predict(request: InferRequest, signal: AbortSignal): Promise<PredictOutputs> {
    const { y } = await this.runModel(request.tensors, ['y'], signal);
    return { TEXT_OUT: [...(y!.data as Float32Array)].map(String) };
  }

  override explain(): PredictOutputs {
    return { TEXT_OUT: [`${this.signature.inputs[0]!.name} → ${this.signature.outputs[0]!.name}`] };
  }

  /** operation=shapes: the graph's shapes, without running it. */
  opShapes(): PredictOutputs {
    return { TEXT_OUT: this.signature.inputs.map((input) => `${input.name}${JSON.stringify(input.shape)}`) };
  }
}

describe('OnnxModel - subclass with hooks', () => {
  const negate = encodeOnnxModel({
    graph: {
      name: 'negate',
      inputs: [{ name: 'x', elemType: 'FLOAT', shape: ['n'] }],
      outputs: [{ name: 'y', elemType: 'FLOAT', shape: ['n'] }],
      nodes: [{ opType: 'Neg', inputs: ['x'], outputs: ['y'] }],
    },
  });
  const textConfig = () =>
    config('input [ { name: "TEXT" data_type: TYPE_STRING dims: [ -1 ] } ]\noutput [ { name: "TEXT_OUT" data_type: TYPE_STRING dims: [ -1 ] } ]');
  const text = (values: string[]): Tensor => ({
    name: 'TEXT',
    datatype: 'BYTES',
    shape: [values.length],
    data: values.map((value) => new TextEncoder().encode(value)),
  });
  const strings = (tensor: Tensor | undefined): string[] => (tensor!.data as Uint8Array[]).map((element) => new TextDecoder().decode(element));

  test('preprocess feeds the graph and predict turns its output into text', async () => {
    const model = await loaded(TextNegate, context(textConfig(), { 'model.onnx': negate }));
    try {
      const output = await runHooks(model, job([text(['1.5', '-2'])]), signal);
      assert.deepEqual(strings(output.outputs[0]), ['-1.5', '2']);
    } finally {
      await model.unload();
    }
  });

  test('explain and custom operations see the graph’s signature', async () => {
    const model = await loaded(TextNegate, context(textConfig(), { 'model.onnx': negate }));
    try {
      assert.deepEqual(strings((await runHooks(model, job([text(['1'])], 'explain'), signal)).outputs[0]), ['x → y']);
      assert.deepEqual(strings((await runHooks(model, job([text(['1'])], 'shapes'), signal)).outputs[0]), ['x["n"]']);
    } finally {
      await model.unload();
    }
  });

  test('its own signature check replaces the config check', async () => {
    const model = new TextNegate(context(textConfig(), { 'model.onnx': identityModel('INT32') }));
    await assert.rejects(model.load(), /the graph must take FP32, it takes INT32/);
  });
});
