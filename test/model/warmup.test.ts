// Running warmup samples on a model server: each sample `count` times, in order, through the
// hooks; the first failure stops it, naming the sample and keeping the model's code.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { ModelServer, warmUp, type InferRequest, type PredictOutputs, type WarmupSample } from '../../src/model/index.js';
import { parseConfigText } from '../../src/repository/index.js';
import { InferenceError } from '../../src/errors.js';

class Counter extends ModelServer {
  readonly seen: number[] = [];

  override predict(request: InferRequest): PredictOutputs {
    const value = (request.tensors['X']!.data as Int32Array)[0]!;
    if (value < 0) throw new InferenceError('FAILED_PRECONDITION', 'negative');
    if (value === 0) throw new Error('zero');
    this.seen.push(value);
    return { Y: new Int32Array([value]) };
  }
}

/** A decoupled model: one response per unit of X, and a count of the responses it was let to make. */
class Repeater extends ModelServer {
  yielded = 0;

  override async *predict(request: InferRequest): AsyncGenerator<PredictOutputs> {
    const value = (request.tensors['X']!.data as Int32Array)[0]!;
    if (value < 0) throw new InferenceError('FAILED_PRECONDITION', 'negative');
    for (let i = 0; i < value; i++) {
      yield { Y: new Int32Array([i]) };
      this.yielded++;
    }
  }
}

function counter(): Counter {
  return make(Counter);
}

function make<M extends ModelServer>(Model: new (context: ConstructorParameters<typeof ModelServer>[0]) => M): M {
  return new Model({
    name: 'counter',
    version: '1',
    config: parseConfigText('name: "counter"', 'config.pbtxt'),
    io: { maxBatchSize: 0, inputs: [{ name: 'X', datatype: 'INT32', dims: [1] }], outputs: [{ name: 'Y', datatype: 'INT32', dims: [1] }] },
    parameters: {},
    serverParameters: {},
    versionPath: '/nonexistent',
    logger: pino({ level: 'silent' }),
  });
}

const sample = (name: string, value: number, count: number): WarmupSample => ({
  name,
  count,
  tensors: [{ name: 'X', datatype: 'INT32', shape: [1], data: new Int32Array([value]) }],
});

describe('warmUp', () => {
  test('runs each sample count times, in order', async () => {
    const model = counter();
    await warmUp(model, [sample('a', 1, 2), sample('b', 2, 1), sample('c', 3, 3)], false);
    assert.deepEqual(model.seen, [1, 1, 2, 3, 3, 3]);
  });

  test('the first failing sample stops the warmup, named, with the model code', async () => {
    const model = counter();
    await assert.rejects(warmUp(model, [sample('fine', 1, 1), sample('below zero', -1, 2), sample('never', 5, 1)], false), {
      code: 'FAILED_PRECONDITION',
      message: /^failed to run warmup sample 'below zero': model 'counter' version 1 operation 'infer': negative$/,
    });
    assert.deepEqual(model.seen, [1]);
  });

  test('a decoupled model streams its responses through the warmup, which drops them', async () => {
    const model = make(Repeater);
    await warmUp(model, [sample('three', 3, 2)], true);
    assert.equal(model.yielded, 6);
  });

  test('a decoupled model failing mid-warmup fails the sample', async () => {
    await assert.rejects(warmUp(make(Repeater), [sample('below zero', -1, 1)], true), {
      code: 'FAILED_PRECONDITION',
      message: /^failed to run warmup sample 'below zero': .*negative/,
    });
  });

  test('a plain error is INTERNAL', async () => {
    await assert.rejects(warmUp(counter(), [sample('nothing', 0, 1)], false), { code: 'INTERNAL', message: /^failed to run warmup sample 'nothing': .*zero/ });
  });
});
