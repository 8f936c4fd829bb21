// config.pbtxt `model_warmup` through the real CLI: every instance runs the samples `count`
// times before the version is READY (a model keeps what it was called with and tells it), data
// from the model's warmup/ folder, no statistics for warmup runs, and a failing sample leaves
// the version UNAVAILABLE naming the sample.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { ModelInferRequest, ModelInferResponse } from '../../generated/grpc_service.js';
import { call, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { grpcError, index, infer, modelReady, waitUntil } from './repository-fixtures.js';

const IO = `backend: "nodejs"
max_batch_size: 4
input [ { name: "IN" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [ { name: "HISTORY" data_type: TYPE_STRING dims: [ 1 ] } ]
`;

const SAMPLES = `model_warmup [
  { name: "zeros" batch_size: 2 count: 3 inputs { key: "IN" value: { data_type: TYPE_INT32 dims: [ 1 ] zero_data: true } } },
  { name: "from a file" batch_size: 1 inputs { key: "IN" value: { data_type: TYPE_INT32 dims: [ 1 ] input_data_file: "answer" } } }
]
`;

/**
 * HISTORY (per row): the calls this instance had before this one, as [shape, values]. The
 * request parameter delay_ms makes a call slow. IN values of 13 fail; a file "go" in the
 * version directory must exist before a call with IN 7 returns. Operation `exit` ends a worker.
 */
const RECORDER = `import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceError, ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';

export default class Recorder extends ModelServer {
  private readonly history: unknown[] = [];
  private readonly gate: string;

  constructor(context: ConstructorParameters<typeof ModelServer>[0]) {
    super(context);
    this.gate = join(context.versionPath, 'go');
  }

  async predict(request: InferRequest): Promise<PredictOutputs> {
    const input = request.tensors['IN']!;
    const values = [...(input.data as Int32Array)];
    if (values.includes(13)) throw new InferenceError('INVALID_ARGUMENT', 'thirteen is unlucky');
    while (values.includes(7) && !existsSync(this.gate)) await new Promise((resolve) => setTimeout(resolve, 20));
    const delay = Number(request.parameters['delay_ms'] ?? 0);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const before = JSON.stringify(this.history);
    this.history.push([input.shape, values]);
    return { HISTORY: values.map(() => [before]) };
  }

  /** Ends a worker instance's thread. */
  opExit(): PredictOutputs {
    process.exit(3);
  }
}
`;

const WORKERS = 'instance_group [ { count: 2 kind: KIND_CPU } ]\n';

function request(model: string, delayMs = 0): ModelInferRequest {
  return {
    modelName: model,
    modelVersion: '',
    id: '',
    parameters: new Map(delayMs > 0 ? [['delay_ms', { int64Param: BigInt(delayMs) }]] : []),
    inputs: [{ name: 'IN', datatype: 'INT32', shape: [1n, 1n], parameters: new Map(), contents: undefined }],
    outputs: [],
    rawInputContents: [Buffer.from(new Int32Array([5]).buffer)],
  };
}

/** The calls the answering instance had before this request. */
function history(response: ModelInferResponse): unknown {
  const raw = response.rawOutputContents[0] as Buffer;
  return JSON.parse(raw.subarray(4, 4 + raw.readUInt32LE(0)).toString());
}

const WARMED = [
  [[2, 1], [0, 0]],
  [[2, 1], [0, 0]],
  [[2, 1], [0, 0]],
  [[1, 1], [42]],
];

describe('model warmup', () => {
  let cli: RunningCli;
  const sample = (name: string, value: string) =>
    `model_warmup [ { name: "${name}" batch_size: 1 inputs { key: "IN" value: { data_type: TYPE_INT32 dims: [ 1 ] input_data_file: "${value}" } } } ]\n`;
  const repo = tempRepository({
    main: { config: `${IO}${SAMPLES}`, versions: { '1': RECORDER } },
    pool: { config: `${IO}${SAMPLES}${WORKERS}`, versions: { '1': RECORDER } },
    restarted: { config: `${IO}${SAMPLES}instance_group [ { count: 1 kind: KIND_CPU } ]\n`, versions: { '1': RECORDER } },
    unlucky: { config: `${IO}${sample('bad luck', 'thirteen')}`, versions: { '1': RECORDER } },
    unlucky_pool: { config: `${IO}${sample('bad luck', 'thirteen')}${WORKERS}`, versions: { '1': RECORDER } },
    gated: { config: `${IO}${sample('gate', 'seven')}`, versions: { '1': RECORDER } },
  });
  for (const model of ['main', 'pool', 'restarted']) repo.write(`${model}/warmup/answer`, new Uint8Array(new Int32Array([42]).buffer));
  for (const model of ['unlucky', 'unlucky_pool']) repo.write(`${model}/warmup/thirteen`, new Uint8Array(new Int32Array([13]).buffer));
  repo.write('gated/warmup/seven', new Uint8Array(new Int32Array([7]).buffer));

  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`, '--log-requests=true']);
    await waitUntil('the ungated models settled', async () => {
      const models = await index(cli);
      return models.filter((model) => model.name !== 'gated' && (model.state === 'READY' || model.state === 'UNAVAILABLE')).length === 5;
      // Five worker threads start, slow on a loaded machine.
    }, 30_000);
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  test('statistics - warmup runs count in no statistics and log no request', async () => {
    const { modelStats } = await call(cli.client, cli.client.modelStatistics, { name: 'main', version: '' });
    assert.equal(modelStats[0]?.inferenceCount, 0n);
    assert.equal(modelStats[0]?.executionCount, 0n);
    assert.deepEqual(modelStats[0]?.batchStats, []);
    assert.equal(cli.logs.filter((line) => line['msg'] === 'request' && line['operation'] === 'ModelInfer').length, 0);
  });

  test('main thread - every sample ran count times, in order, before the first request', async () => {
    assert.deepEqual(history(await infer(cli, request('main'))), WARMED);
    const warmed = cli.logs.findIndex((line) => line['model'] === 'main' && line['msg'] === 'model warmed up');
    const loaded = cli.logs.findIndex((line) => line['model'] === 'main' && line['msg'] === 'model loaded');
    assert.ok(warmed >= 0 && warmed < loaded, 'warmed up, then loaded');
    assert.deepEqual(cli.logs[warmed]!['warmupSamples'], ['zeros', 'from a file']);
    assert.equal(cli.logs[warmed]!['warmupRuns'], 4);
  });

  test('worker instances - each instance was warmed up', async () => {
    // Two slow requests at once: each runs on its own instance.
    const answers = await Promise.all([infer(cli, request('pool', 300)), infer(cli, request('pool', 300))]);
    assert.deepEqual(answers.map(history), [WARMED, WARMED]);
    assert.equal(cli.logs.filter((line) => line['model'] === 'pool' && line['msg'] === 'model warmed up').length, 2);
  });

  test('worker instances - a restarted instance is warmed up again before it serves', async () => {
    assert.deepEqual(history(await infer(cli, request('restarted'))), WARMED);
    const exit = { ...request('restarted'), parameters: new Map([['operation', { stringParam: 'exit' }]]) };
    await assert.rejects(infer(cli, exit), grpcError(status.UNAVAILABLE, /instance 0 failed/));
    await cli.waitForLog((line) => line['model'] === 'restarted' && line['msg'] === 'model instance restarted', 20_000);
    assert.equal(cli.logs.filter((line) => line['model'] === 'restarted' && line['msg'] === 'model warmed up').length, 2);
    assert.deepEqual(history(await infer(cli, request('restarted'))), WARMED);
  });

  test('a version is not READY while it warms up', async () => {
    assert.equal(await modelReady(cli, 'gated'), false);
    assert.equal((await index(cli)).find((model) => model.name === 'gated')?.state, 'LOADING');
    repo.write('gated/1/go', '');
    await waitUntil('gated is ready', () => modelReady(cli, 'gated'));
    assert.deepEqual(history(await infer(cli, request('gated'))), [[[1, 1], [7]]]);
  });

  for (const model of ['unlucky', 'unlucky_pool']) {
    test(`failing sample - ${model} stays UNAVAILABLE with the sample's name in the reason`, async () => {
      const reason = /failed to run warmup sample 'bad luck': model '\w+' version 1 operation 'infer': thirteen is unlucky/;
      assert.equal(await modelReady(cli, model), false);
      const entry = (await index(cli)).find((candidate) => candidate.name === model);
      assert.equal(entry?.state, 'UNAVAILABLE');
      assert.match(entry?.reason ?? '', reason);
      await assert.rejects(infer(cli, request(model)), grpcError(status.UNAVAILABLE, `Request for unknown model: '${model}' has no available versions`));
    });
  }
});

describe('model warmup - explicit load', () => {
  let cli: RunningCli;
  const repo = tempRepository({
    unlucky: {
      config: `${IO}model_warmup [ { name: "bad luck" batch_size: 1 inputs { key: "IN" value: { data_type: TYPE_INT32 dims: [ 1 ] input_data_file: "thirteen" } } } ]\n`,
      versions: { '1': RECORDER },
    },
  });
  repo.write('unlucky/warmup/thirteen', new Uint8Array(new Int32Array([13]).buffer));

  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`, '--model-control-mode=explicit']);
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  test('RepositoryModelLoad fails naming the failing sample', async () => {
    await assert.rejects(
      call(cli.client, cli.client.repositoryModelLoad, { repositoryName: '', modelName: 'unlucky', parameters: new Map() }),
      grpcError(status.INVALID_ARGUMENT, /^failed to load 'unlucky': failed to run warmup sample 'bad luck': .*thirteen is unlucky/),
    );
    assert.equal(await modelReady(cli, 'unlucky'), false);
  });
});
