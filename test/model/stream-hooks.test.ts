// A decoupled model's hooks without a server: preprocess and validate once, postprocess per
// response, the generator's return value as the last response, errors and aborts mid-stream.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { runHooks, ModelServer, type ExecutionJob, type InferRequest, type InferResponse, type PredictOutputs, type StreamedOutput } from '../../src/model/index.js';
import type { ModelContext } from '../../src/model/index.js';
import { parseConfigText } from '../../src/repository/index.js';
import { InferenceError } from '../../src/errors.js';

function context(decoupled: boolean): ModelContext {
  return {
    name: 'counter',
    version: '1',
    config: parseConfigText(`name: "counter" ${decoupled ? 'model_transaction_policy { decoupled: true }' : ''}`, 'config.pbtxt'),
    io: { maxBatchSize: 0, inputs: [{ name: 'N', datatype: 'INT32', dims: [1] }], outputs: [{ name: 'Y', datatype: 'INT32', dims: [1] }] },
    parameters: {},
    serverParameters: {},
    versionPath: '/nonexistent',
    logger: pino({ level: 'silent' }),
  };
}

/** Yields 0..N-1; with parameter `last`, returns N as a last response; with `fail`, throws after two. */
class Counter extends ModelServer {
  readonly calls: string[] = [];
  finallyRan = false;
  override preprocess(request: InferRequest): InferRequest {
    this.calls.push('preprocess');
    return request;
  }
  override validate(request: InferRequest, op: string): Promise<InferRequest> | InferRequest {
    this.calls.push('validate');
    return super.validate(request, op);
  }
  async *predict(request: InferRequest): AsyncGenerator<PredictOutputs, PredictOutputs | undefined> {
    const n = (request.tensors['N']!.data as Int32Array)[0]!;
    try {
      for (let i = 0; i < n; i++) {
        if (request.parameters['fail'] === true && i === 2) throw new InferenceError('FAILED_PRECONDITION', 'stopped at two');
        this.calls.push(`yield ${i}`);
        yield { Y: new Int32Array([i]) };
      }
    } finally {
      this.finallyRan = true;
    }
    return request.parameters['last'] === true ? { Y: new Int32Array([n]) } : undefined;
  }
  override postprocess(response: InferResponse): InferResponse {
    this.calls.push('postprocess');
    return response;
  }
}

function job(n: number, responses: StreamedOutput[] | undefined, parameters: Record<string, boolean> = {}): ExecutionJob {
  return {
    id: 'r1',
    tensors: [{ name: 'N', datatype: 'INT32', shape: [1], data: new Int32Array([n]) }],
    parameters,
    outputs: [],
    operation: 'infer',
    ...(responses ? { responses: (r: StreamedOutput) => void responses.push(r) } : {}),
  };
}

const values = (responses: readonly StreamedOutput[]): number[] => responses.map((r) => (r.outputs[0]!.data as Int32Array)[0]!);

describe('decoupled hooks', () => {
  test('preprocess and validate once, postprocess per response, each response handed on as made', async () => {
    const model = new Counter(context(true));
    const responses: StreamedOutput[] = [];
    const output = await runHooks(model, job(3, responses), new AbortController().signal);
    assert.deepEqual(values(responses), [0, 1, 2]);
    assert.deepEqual(responses.map((r) => r.final), [false, false, false]);
    assert.deepEqual(model.calls, ['preprocess', 'validate', 'yield 0', 'postprocess', 'yield 1', 'postprocess', 'yield 2', 'postprocess']);
    assert.equal(output.responseCount, 3);
    assert.deepEqual(output.outputs, []);
  });

  test('the value the generator returns is a last response, marked final', async () => {
    const responses: StreamedOutput[] = [];
    await runHooks(new Counter(context(true)), job(2, responses, { last: true }), new AbortController().signal);
    assert.deepEqual(values(responses), [0, 1, 2]);
    assert.deepEqual(responses.map((r) => r.final), [false, false, true]);
  });

  test('a throw mid-stream fails the request with the model\'s code, after the responses made', async () => {
    const responses: StreamedOutput[] = [];
    await assert.rejects(runHooks(new Counter(context(true)), job(5, responses, { fail: true }), new AbortController().signal), {
      code: 'FAILED_PRECONDITION',
      message: /model 'counter' version 1 operation 'infer': stopped at two/,
    });
    assert.deepEqual(values(responses), [0, 1]);
  });

  test('an abort while a response waits to be taken closes the generator (its finally runs) and fails CANCELLED', async () => {
    const model = new Counter(context(true));
    const controller = new AbortController();
    let taken = 0;
    const reason = new InferenceError('CANCELLED', 'client left');
    // The second response is never taken: the consumer leaves (as the response channel rejects a push then).
    const stalled: ExecutionJob = {
      ...job(10, undefined),
      responses: () => {
        taken++;
        if (taken < 2) return undefined;
        controller.abort(reason);
        return Promise.reject(reason);
      },
    };
    await assert.rejects(runHooks(model, stalled, controller.signal), { code: 'CANCELLED', message: 'client left' });
    assert.equal(model.finallyRan, true);
    assert.equal(taken, 2);
  });

  test('a model that is not decoupled and returns an async iterable fails, naming the config field', async () => {
    await assert.rejects(runHooks(new Counter(context(false)), job(1, undefined), new AbortController().signal), {
      code: 'INTERNAL',
      message: /model_transaction_policy\.decoupled/,
    });
  });
});
