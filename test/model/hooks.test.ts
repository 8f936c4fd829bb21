// The model-server contract without gRPC: hook order, operations, parameters, metrics.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { ModelConfig } from '../../generated/model_config.js';
import { runHooks, ModelServer, type ExecutionJob, type InferRequest, type InferResponse, type PredictOutputs } from '../../src/model/index.js';
import type { ModelContext } from '../../src/model/index.js';
import { hasUntouchedInputs } from '../../src/model/hook-request.js';
import { parseConfigText } from '../../src/repository/index.js';
import { Cancellation } from '../../src/cancellation.js';
import { InferenceError } from '../../src/errors.js';

const CONFIG = `
name: "recorder"
max_batch_size: 0
input [ { name: "X" data_type: TYPE_INT32 dims: [ -1 ] } ]
output [ { name: "Y" data_type: TYPE_INT32 dims: [ -1 ] } ]
parameters { key: "scale" value: { string_value: "config" } }
parameters { key: "only_config" value: { string_value: "c" } }
metric_tags { key: "team" value: "a" }
`;

function context(overrides: Partial<ModelContext> = {}): ModelContext {
  const config: ModelConfig = parseConfigText(CONFIG, 'config.pbtxt');
  return {
    name: 'recorder',
    version: '1',
    config,
    io: {
      maxBatchSize: 0,
      inputs: [{ name: 'X', datatype: 'INT32', dims: [-1] }],
      outputs: [{ name: 'Y', datatype: 'INT32', dims: [-1] }],
    },
    parameters: { scale: 'config', only_config: 'c' },
    serverParameters: { scale: 'server', only_server: 's' },
    versionPath: '/nonexistent',
    logger: pino({ level: 'silent' }),
    ...overrides,
  };
}

class Recorder extends ModelServer {
  readonly calls: string[] = [];
  override preprocess(request: InferRequest, op: string): InferRequest {
    this.calls.push(`preprocess:${op}`);
    return request;
  }
  override validate(request: InferRequest, op: string): Promise<InferRequest> | InferRequest {
    this.calls.push(`validate:${op}`);
    return super.validate(request, op);
  }
  predict(request: InferRequest): PredictOutputs {
    this.calls.push('predict');
    this.setMetric('seen', request.inputs.length);
    return [request.inputs[0] as number[]];
  }
  override explain(): PredictOutputs {
    this.calls.push('explain');
    return { Y: new Int32Array([42]) };
  }
  override postprocess(response: InferResponse): InferResponse {
    this.calls.push('postprocess');
    return response;
  }
  opDouble(request: InferRequest): PredictOutputs {
    this.calls.push('opDouble');
    const x = request.tensors['X']?.data as Int32Array;
    return { Y: x.map((v) => v * 2) };
  }
}

class Failing extends ModelServer {
  predict(request: InferRequest): PredictOutputs {
    if (request.parameters['code']) throw new InferenceError('FAILED_PRECONDITION', 'chosen by the model');
    throw new Error('boom');
  }
}

function job(operation = 'infer', parameters: Record<string, string> = {}): ExecutionJob {
  return {
    id: 'r1',
    tensors: [{ name: 'X', datatype: 'INT32', shape: [3], data: new Int32Array([1, 2, 3]) }],
    parameters,
    outputs: [],
    operation,
  };
}

const signal = new AbortController().signal;

describe('runHooks', () => {
  test('infer runs preprocess → validate → predict → postprocess', async () => {
    const model = new Recorder(context());
    const output = await runHooks(model, job('infer'), signal);
    assert.deepEqual(model.calls, ['preprocess:infer', 'validate:infer', 'predict', 'postprocess']);
    assert.deepEqual([...(output.outputs[0]?.data as Int32Array)], [1, 2, 3]);
  });

  test('explain runs preprocess → validate → explain → postprocess', async () => {
    const model = new Recorder(context());
    const output = await runHooks(model, job('explain'), signal);
    assert.deepEqual(model.calls, ['preprocess:explain', 'validate:explain', 'explain', 'postprocess']);
    assert.deepEqual([...(output.outputs[0]?.data as Int32Array)], [42]);
  });

  test('a custom operation reaches its op<Name> method', async () => {
    const model = new Recorder(context());
    const output = await runHooks(model, job('double'), signal);
    assert.deepEqual(model.calls, ['opDouble']);
    assert.deepEqual([...(output.outputs[0]?.data as Int32Array)], [2, 4, 6]);
  });

  test('an unknown operation is INVALID_ARGUMENT listing the operations', async () => {
    const model = new Recorder(context());
    await assert.rejects(runHooks(model, job('nope'), signal), (err: InferenceError) => {
      assert.equal(err.code, 'INVALID_ARGUMENT');
      assert.match(err.message, /'nope'/);
      assert.match(err.message, /infer, predict, explain, double/);
      return true;
    });
  });

  test('getParam looks in the request, then config.pbtxt, then the server', () => {
    const model = new Recorder(context());
    const request = { parameters: { scale: 'request' } } as unknown as InferRequest;
    assert.equal(model.getParam('scale', 'default', request), 'request');
    assert.equal(model.getParam('scale', 'default'), 'config');
    assert.equal(model.getParam('only_config', 'default', request), 'c');
    assert.equal(model.getParam('only_server', 'default', request), 's');
    assert.equal(model.getParam('missing', 'default', request), 'default');
  });

  test('setMetric and labels reach the execution output for monitoring', async () => {
    const model = new Recorder(context());
    model.labels['stage'] = 'test';
    const output = await runHooks(model, job('infer'), signal);
    assert.deepEqual({ ...output.metrics }, { seen: 1 });
    assert.deepEqual({ ...output.labels }, { team: 'a', stage: 'test' });
  });

  test('a throwing predict becomes INTERNAL naming model and operation', async () => {
    await assert.rejects(runHooks(new Failing(context()), job('infer'), signal), (err: InferenceError) => {
      assert.equal(err.code, 'INTERNAL');
      assert.match(err.message, /model 'recorder' version 1 operation 'infer' failed: boom/);
      return true;
    });
  });

  test('an InferenceError thrown by a hook keeps its code', async () => {
    await assert.rejects(runHooks(new Failing(context()), job('infer', { code: 'yes' }), signal), {
      code: 'FAILED_PRECONDITION',
      message: /chosen by the model/,
    });
  });

  test('the list form is built only when read', async () => {
    let built = false;
    class TypedOnly extends ModelServer {
      override load(): void {}
      predict(request: InferRequest): PredictOutputs {
        built = !hasUntouchedInputs(request);
        return { Y: request.tensors['X']?.data as Int32Array };
      }
    }
    await runHooks(new TypedOnly(context()), job('infer'), signal);
    assert.equal(built, false);
  });

  test('a preprocess hook returning a spread copy, as the seed does, carries the list form and the state on', async () => {
    let seen: { inputs: unknown; note: unknown; extra: unknown } | undefined;
    class Spreading extends ModelServer {
      override preprocess(request: InferRequest): InferRequest {
        request.state['note'] = 'kept';
        return { ...request, tensors: { ...request.tensors } };
      }
      predict(request: InferRequest): PredictOutputs {
        seen = { inputs: request.inputs, note: request.state['note'], extra: Object.keys(request).sort() };
        return { Y: request.tensors['X']?.data as Int32Array };
      }
    }
    await runHooks(new Spreading(context()), job('infer'), signal);
    assert.deepEqual(seen?.inputs, [[1, 2, 3]]);
    assert.equal(seen?.note, 'kept');
    assert.deepEqual(seen?.extra, ['id', 'inputs', 'outputs', 'parameters', 'state', 'tensors'], 'no internals leak into the copy');
  });
});

describe('the signal a hook is handed', () => {
  class Watching extends ModelServer {
    seen: AbortSignal | undefined;
    predict(_request: InferRequest, signal: AbortSignal): PredictOutputs {
      this.seen = signal;
      return { Y: new Int32Array([1]) };
    }
    opRest(...args: [InferRequest, AbortSignal]): PredictOutputs {
      this.seen = args[1];
      return { Y: new Int32Array([1]) };
    }
  }
  class Unwatching extends ModelServer {
    seen: unknown;
    predict(request: InferRequest): PredictOutputs {
      // eslint-disable-next-line prefer-rest-params
      this.seen = arguments[1];
      return { Y: new Int32Array(request.inputs.length) };
    }
  }

  test('a hook that declares a signal gets the request\'s own, which fires with the cancellation\'s reason', async () => {
    const model = new Watching(context());
    const cancellation = new Cancellation();
    await runHooks(model, job(), cancellation);
    assert.ok(model.seen instanceof AbortSignal);
    assert.equal(model.seen, cancellation.signal, 'the same signal, made once');
    assert.equal(model.seen.aborted, false);
    const reason = new InferenceError('CANCELLED', 'client left');
    cancellation.abort(reason);
    assert.equal(model.seen.aborted, true);
    assert.equal(model.seen.reason, reason);
  });

  test('rest parameters count as declaring one; a real AbortSignal passes through as it is', async () => {
    const model = new Watching(context());
    const cancellation = new Cancellation();
    await runHooks(model, job('rest'), cancellation);
    assert.equal(model.seen, cancellation.signal);
    const controller = new AbortController();
    await runHooks(model, job(), controller.signal);
    assert.equal(model.seen, controller.signal);
  });

  test('a hook declared with the request alone is handed a shared signal that never fires, and none is made for it', async () => {
    const model = new Unwatching(context());
    const cancellation = new Cancellation();
    let made = false;
    Object.defineProperty(cancellation, 'signal', { get: () => ((made = true), new AbortController().signal) });
    await runHooks(model, job(), cancellation);
    assert.equal(made, false);
    assert.ok(model.seen instanceof AbortSignal);
    cancellation.abort(new Error('gone'));
    assert.equal((model.seen as AbortSignal).aborted, false);
  });
});
