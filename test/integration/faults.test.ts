// Fault isolation: user model code that throws, rejects, returns wrong outputs, hangs,
// or leaves errors behind fails its own request (naming the model), is logged, and never
// disturbs the other models. A request loop on a healthy model runs throughout.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { ModelInferRequest } from '../../generated/grpc_service.js';
import { call, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { grpcError } from './repository-fixtures.js';

const CONFIG = (extra = '') => `backend: "nodejs"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
${extra}
`;

/** A model whose predict() body is `body` (it sees `request`). */
function model(body: string, returns = 'PredictOutputs | Promise<PredictOutputs>'): string {
  return `import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class Faulty extends ModelServer {
  load(): void {}
  predict(request: InferRequest): ${returns} {
    const input = request.tensors['INPUT0']!.data as Float32Array;
    ${body}
  }
}
`;
}

const MODELS = {
  good: model('return { OUTPUT0: input.map((v) => v * 2) };'),
  throws: model("if (input.length > 0) throw new Error('sync boom'); return { OUTPUT0: input };"),
  rejects: model("return Promise.resolve().then(() => { throw new TypeError('async boom'); });"),
  throws_string: model("if (input.length > 0) throw 'a plain string'; return { OUTPUT0: input };"),
  wrong_datatype: model("return { OUTPUT0: { data: new Int32Array(input.length), datatype: 'INT32' } };"),
  wrong_shape: model('return { OUTPUT0: { data: input, shape: [input.length + 1] } };'),
  wrong_value: model("return { OUTPUT0: ['not', 'numbers'] };"),
  too_many: model('return { OUTPUT0: input, EXTRA: input };'),
  too_few: model('return {};'),
  hangs: model('return new Promise(() => undefined);'),
  leaks: model("void Promise.reject(new Error('stray rejection')); return { OUTPUT0: input };"),
  timer_throws: model("setTimeout(() => { throw new Error('timer boom'); }, 0); return { OUTPUT0: input };"),
};

function request(modelName: string, values = [1, 2, 3]): ModelInferRequest {
  return {
    modelName,
    modelVersion: '',
    id: `req-${modelName}`,
    parameters: new Map(),
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [BigInt(values.length)], parameters: new Map(), contents: undefined }],
    outputs: [],
    rawInputContents: [Buffer.from(new Float32Array(values).buffer)],
  };
}

function values(raw: Uint8Array | undefined): number[] {
  assert.ok(raw);
  return [...new Float32Array(new Uint8Array(raw).buffer)];
}

describe('faults', () => {
  let cli: RunningCli;
  const repo = tempRepository({
    ...Object.fromEntries(
      Object.entries(MODELS).map(([name, source]) => [
        name,
        {
          config: CONFIG(name === 'hangs' ? 'parameters { key: "execution_timeout_ms" value: { string_value: "300" } }' : ''),
          versions: { '1': source },
        },
      ]),
    ),
    bad_timeout: {
      config: CONFIG('parameters { key: "execution_timeout_ms" value: { string_value: "soon" } }'),
      versions: { '1': MODELS.good },
    },
  });
  // The healthy model's loop: runs from before the first fault to after the last.
  let looping = true;
  const loop = { ok: 0, failed: [] as string[] };
  let loopDone: Promise<void> = Promise.resolve();

  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`]);
    await cli.waitForLog((l) => l['model'] === 'timer_throws' && l['msg'] === 'model loaded');
    await cli.waitForLog((l) => l['model'] === 'good' && l['msg'] === 'model loaded');
    const worker = async () => {
      // Bounded: stops when the tests are done, or after 200 000 requests at most.
      for (let i = 0; looping && i < 200_000; i++) {
        try {
          const response = await call(cli.client, cli.client.modelInfer, request('good', [i, 1]));
          assert.deepEqual(values(response.rawOutputContents[0]), [2 * i, 2]);
          loop.ok++;
        } catch (err) {
          loop.failed.push(String(err));
        }
      }
    };
    loopDone = Promise.all([worker(), worker(), worker()]).then(() => undefined);
  });
  after(async () => {
    looping = false;
    await loopDone;
    await cli.stop();
    repo.remove();
  });

  const internal = (modelName: string, detail: RegExp) =>
    grpcError(status.INTERNAL, new RegExp(`model '${modelName}' version 1 .*${detail.source}`));

  const logged = (modelName: string) =>
    cli.waitForLog((l) => l['level'] === 50 && String(l['msg']).includes(`model '${modelName}'`), 5000);

  test('faults - a hook that throws: INTERNAL naming the model and the error, logged', async () => {
    await assert.rejects(call(cli.client, cli.client.modelInfer, request('throws')), internal('throws', /sync boom/));
    await logged('throws');
  });

  test('faults - a hook that rejects: INTERNAL naming the model and the error, logged', async () => {
    await assert.rejects(call(cli.client, cli.client.modelInfer, request('rejects')), internal('rejects', /async boom/));
    await logged('rejects');
  });

  test('faults - a hook that throws a non-Error: INTERNAL naming the model', async () => {
    await assert.rejects(call(cli.client, cli.client.modelInfer, request('throws_string')), internal('throws_string', /a plain string/));
  });

  test('faults - outputs of the wrong datatype, shape or element type: INTERNAL naming the model and the output', async () => {
    await assert.rejects(
      call(cli.client, cli.client.modelInfer, request('wrong_datatype')),
      internal('wrong_datatype', /output 'OUTPUT0': datatype is 'INT32', but the model declares 'FP32'/),
    );
    await assert.rejects(call(cli.client, cli.client.modelInfer, request('wrong_shape')), internal('wrong_shape', /output 'OUTPUT0'.*shape/));
    await assert.rejects(call(cli.client, cli.client.modelInfer, request('wrong_value')), internal('wrong_value', /output 'OUTPUT0'/));
  });

  test('faults - too many or too few outputs: INTERNAL naming the model and the output', async () => {
    await assert.rejects(call(cli.client, cli.client.modelInfer, request('too_many')), internal('too_many', /output 'EXTRA': unexpected output/));
    await assert.rejects(
      call(cli.client, cli.client.modelInfer, request('too_few')),
      grpcError(status.INTERNAL, /model 'too_few' did not produce declared output 'OUTPUT0'/),
    );
  });

  test('faults - a hook that never resolves: DEADLINE_EXCEEDED after execution_timeout_ms, naming the model, logged', async () => {
    const started = Date.now();
    await assert.rejects(
      call(cli.client, cli.client.modelInfer, request('hangs')),
      grpcError(status.DEADLINE_EXCEEDED, /model 'hangs' version 1 did not answer within its execution timeout of 300 ms \(execution_timeout_ms\)/),
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 280 && elapsed < 3000, `answered after ${elapsed} ms`);
    const line = await cli.waitForLog((l) => l['model'] === 'hangs' && String(l['msg']).startsWith('model did not answer within its execution timeout'));
    assert.equal(line['requestId'], 'req-hangs');
  });

  test('faults - hung requests do not pile up: each one is released at the timeout', async () => {
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => call(cli.client, cli.client.modelInfer, request('hangs'))));
    assert.ok(results.every((r) => r.status === 'rejected' && (r.reason as { code: number }).code === status.DEADLINE_EXCEEDED));
  });

  test('faults - a promise rejection left unhandled: the request answers, the log names the model, the server goes on', async () => {
    const response = await call(cli.client, cli.client.modelInfer, request('leaks'));
    assert.deepEqual(values(response.rawOutputContents[0]), [1, 2, 3]);
    const line = await cli.waitForLog((l) => String(l['msg']).includes('left a promise rejection unhandled'));
    assert.equal(line['model'], 'leaks');
    assert.equal(line['version'], '1');
  });

  test('faults - a throw in a model timer: the log names the model, the process keeps serving', async () => {
    await call(cli.client, cli.client.modelInfer, request('timer_throws'));
    const line = await cli.waitForLog((l) => String(l['msg']).includes('threw outside a request'));
    assert.equal(line['model'], 'timer_throws');
    assert.equal(cli.process.exitCode, null);
    assert.equal((await call(cli.client, cli.client.serverLive, {})).live, true);
  });

  test('faults - an unusable execution_timeout_ms fails the load, naming the parameter', async () => {
    const index = await call(cli.client, cli.client.repositoryIndex, { repositoryName: '', ready: false });
    const entry = index.models.find((m) => m.name === 'bad_timeout');
    assert.equal(entry?.state, 'UNAVAILABLE');
    assert.match(entry?.reason ?? '', /parameters\.execution_timeout_ms' must be an integer number of milliseconds/);
  });

  test('faults - the healthy model answered every request of the loop throughout', async () => {
    looping = false;
    await loopDone;
    assert.deepEqual(loop.failed, []);
    assert.ok(loop.ok > 20, `the loop made ${loop.ok} requests`);
  });
});
