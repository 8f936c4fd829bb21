// Triton ensembles (platform "ensemble", ensemble_scheduling) through the real CLI: composed
// results, concurrent branches, failing steps, configs refused at load, readiness following
// the step models, statistics, metadata, HTTP.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { ModelInferRequest, ModelInferResponse } from '../../generated/grpc_service.js';
import { call, PROJECT_ROOT, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { grpcError, index, infer, modelReady, waitUntil } from './repository-fixtures.js';

const SIMPLE_DIR = join(PROJECT_ROOT, 'models', 'simple');
const SIMPLE = {
  config: readFileSync(join(SIMPLE_DIR, 'config.pbtxt'), 'utf8'),
  versions: { '1': readFileSync(join(SIMPLE_DIR, '1', 'model.ts'), 'utf8') },
};

const IO = `max_batch_size: 8
input [ { name: "A" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "B" data_type: TYPE_INT32 dims: [ 16 ] } ]
output [ { name: "SUM" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "DIFF" data_type: TYPE_INT32 dims: [ 16 ] } ]
`;

type Maps = Record<string, string>;
const step = (model: string, inputs: Maps, outputs: Maps) =>
  `  step { model_name: "${model}" model_version: -1 ${Object.entries(inputs)
    .map(([k, v]) => `input_map { key: "${k}" value: "${v}" }`)
    .join(' ')} ${Object.entries(outputs)
    .map(([k, v]) => `output_map { key: "${k}" value: "${v}" }`)
    .join(' ')} }`;
const ensemble = (...steps: string[]) => ({ config: `platform: "ensemble"\n${IO}ensemble_scheduling {\n${steps.join('\n')}\n}\n` });

/** simple then simple: SUM = (a+b)+(a-b) = 2a, DIFF = (a+b)-(a-b) = 2b. */
const TWICE = [
  step('simple', { INPUT0: 'A', INPUT1: 'B' }, { OUTPUT0: 's', OUTPUT1: 'd' }),
  step('simple', { INPUT0: 's', INPUT1: 'd' }, { OUTPUT0: 'SUM', OUTPUT1: 'DIFF' }),
];

const BRANCH_CONFIG = `backend: "nodejs"
max_batch_size: 8
input [ { name: "X" data_type: TYPE_INT32 dims: [ 16 ] } ]
output [ { name: "Y" data_type: TYPE_INT32 dims: [ 16 ] } ]
`;

/**
 * Passes X through, but only once two requests are in flight at once: a barrier that opens
 * when the second arrives. Alone for 5 s, it fails, so a diamond whose branches ran one
 * after the other fails instead of hanging.
 */
const BARRIER = `import { InferenceError, ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';

export default class Barrier extends ModelServer {
  private inFlight = 0;
  private open: (() => void)[] = [];

  async predict(request: InferRequest): Promise<PredictOutputs> {
    this.inFlight++;
    try {
      if (this.inFlight >= 2) for (const release of this.open.splice(0)) release();
      else {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new InferenceError('DEADLINE_EXCEEDED', 'barrier: the other branch never ran at the same time')), 5000);
          this.open.push(() => { clearTimeout(timer); resolve(); });
        });
      }
      return { Y: (request.tensors['X']!.data as Int32Array).slice() };
    } finally {
      this.inFlight--;
    }
  }
}
`;

const FAILER = `import { ModelServer, type PredictOutputs } from 'v2serve';
export default class Failer extends ModelServer {
  predict(): PredictOutputs { throw new Error('boom'); }
}
`;

function request(model: string, a: number[], b: number[]): ModelInferRequest {
  const raw = (values: number[]) => Buffer.from(new Int32Array(values).buffer);
  return {
    modelName: model,
    modelVersion: '',
    id: 'r1',
    parameters: new Map(),
    inputs: ['A', 'B'].map((name) => ({ name, datatype: 'INT32', shape: [1n, 16n], parameters: new Map(), contents: undefined })),
    outputs: [],
    rawInputContents: [raw(a), raw(b)],
  };
}

function output(response: ModelInferResponse, name: string): number[] {
  const at = response.outputs.findIndex((o) => o.name === name);
  const raw = response.rawOutputContents[at] as Uint8Array;
  return [...new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))];
}

const A = Array.from({ length: 16 }, (_, i) => i);
const B = Array.from({ length: 16 }, (_, i) => 100 - i);

function repository() {
  return tempRepository({
    simple: SIMPLE,
    barrier: { config: BRANCH_CONFIG, versions: { '1': BARRIER } },
    failer: { config: BRANCH_CONFIG, versions: { '1': FAILER } },
    twice: ensemble(...TWICE),
    diamond: ensemble(
      step('simple', { INPUT0: 'A', INPUT1: 'B' }, { OUTPUT0: 's', OUTPUT1: 'd' }),
      step('barrier', { X: 's' }, { Y: 'left' }),
      step('barrier', { X: 'd' }, { Y: 'right' }),
      step('simple', { INPUT0: 'left', INPUT1: 'right' }, { OUTPUT0: 'SUM', OUTPUT1: 'DIFF' }),
    ),
    fail_middle: ensemble(
      step('simple', { INPUT0: 'A', INPUT1: 'B' }, { OUTPUT0: 's', OUTPUT1: 'DIFF' }),
      step('failer', { X: 's' }, { Y: 'SUM' }),
    ),
    missing_model: ensemble(step('ghost', { INPUT0: 'A', INPUT1: 'B' }, { OUTPUT0: 'SUM', OUTPUT1: 'DIFF' })),
    unmapped: ensemble(step('simple', { INPUT0: 'A', INPUT1: 'nowhere' }, { OUTPUT0: 'SUM', OUTPUT1: 'DIFF' })),
    loop_a: ensemble(step('loop_b', { A: 'A', B: 'B' }, { SUM: 'SUM', DIFF: 'DIFF' })),
    loop_b: ensemble(step('loop_a', { A: 'A', B: 'B' }, { SUM: 'SUM', DIFF: 'DIFF' })),
  });
}

/** tempRepository writes a version only with a module: an ensemble's version directory is empty. */
function withEmptyVersions(repo: ReturnType<typeof repository>, names: string[]): void {
  for (const name of names) repo.write(`${name}/1/.keep`, '');
}

const ENSEMBLES = ['twice', 'diamond', 'fail_middle', 'missing_model', 'unmapped', 'loop_a', 'loop_b'];

describe('ensembles', () => {
  let cli: RunningCli;
  const repo = repository();
  withEmptyVersions(repo, ENSEMBLES);

  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`]);
    await waitUntil('ensembles loaded', async () => (await index(cli)).filter((m) => ENSEMBLES.includes(m.name) && m.state !== 'LOADING' && m.state !== '').length === ENSEMBLES.length, 20_000);
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  test('ensemble - simple feeding simple returns the composed result', async () => {
    const response = await infer(cli, request('twice', A, B));
    assert.equal(response.modelName, 'twice');
    assert.deepEqual(output(response, 'SUM'), A.map((a) => 2 * a));
    assert.deepEqual(output(response, 'DIFF'), B.map((b) => 2 * b));
  });

  test('ensemble - a diamond runs its two branches at the same time', async () => {
    const response = await infer(cli, request('diamond', A, B));
    assert.deepEqual(output(response, 'SUM'), A.map((a) => 2 * a));
    assert.deepEqual(output(response, 'DIFF'), B.map((b) => 2 * b));
  });

  test('ensemble - a failing middle step fails the request naming the step and model', async () => {
    await assert.rejects(
      infer(cli, request('fail_middle', A, B)),
      grpcError(status.INTERNAL, /ensemble 'fail_middle' step 1 \(model 'failer'\) failed: .*boom/),
    );
  });

  test('ensemble - a step naming a missing model fails the load, saying so', async () => {
    const entry = (await index(cli)).find((m) => m.name === 'missing_model');
    assert.equal(entry?.state, 'UNAVAILABLE');
    assert.match(entry?.reason ?? '', /step 0 \(model 'ghost'\): model 'ghost' is not in the model repository/);
    assert.equal(await modelReady(cli, 'missing_model'), false);
  });

  test('ensemble - a step input no step or ensemble input produces fails the load, saying so', async () => {
    const entry = (await index(cli)).find((m) => m.name === 'unmapped');
    assert.equal(entry?.state, 'UNAVAILABLE');
    assert.match(entry?.reason ?? '', /step 0 \(model 'simple'\) input 'INPUT1' reads tensor 'nowhere', which no step produces/);
    assert.equal(await modelReady(cli, 'unmapped'), false);
  });

  test('ensemble - ensembles that contain each other fail to load instead of waiting for each other', async () => {
    const entries = await index(cli);
    for (const name of ['loop_a', 'loop_b']) {
      const entry = entries.find((m) => m.name === name);
      assert.equal(entry?.state, 'UNAVAILABLE', name);
      assert.match(entry?.reason ?? '', /ensembles contain each other \((loop_a → loop_b → loop_a|loop_b → loop_a → loop_b)\)/);
    }
  });

  test('ensemble - statistics count the ensemble and each step model', async () => {
    const stats = async (name: string) => {
      const { modelStats } = await call(cli.client, cli.client.modelStatistics, { name, version: '' });
      return Number(modelStats[0]?.inferenceStats?.success?.count ?? 0);
    };
    const [twice, simple] = [await stats('twice'), await stats('simple')];
    for (let i = 0; i < 3; i++) await infer(cli, request('twice', A, B));
    assert.equal(await stats('twice'), twice + 3);
    assert.equal(await stats('simple'), simple + 6);
  });

  test('ensemble - ModelMetadata and ModelConfig describe the ensemble', async () => {
    const metadata = await call(cli.client, cli.client.modelMetadata, { name: 'twice', version: '' });
    assert.equal(metadata.platform, 'ensemble');
    assert.deepEqual(metadata.inputs.map((t) => [t.name, t.datatype, t.shape]), [['A', 'INT32', [-1n, 16n]], ['B', 'INT32', [-1n, 16n]]]);
    const { config } = await call(cli.client, cli.client.modelConfig, { name: 'twice', version: '' });
    assert.deepEqual(config?.ensembleScheduling?.step.map((s) => s.modelName), ['simple', 'simple']);
    assert.deepEqual(config?.instanceGroup, [], 'an ensemble has no instances of its own');
  });

  test('ensemble - works over HTTP alike', async () => {
    const response = await fetch(`${cli.http}/v2/models/twice/infer`, {
      method: 'POST',
      body: JSON.stringify({
        inputs: [
          { name: 'A', datatype: 'INT32', shape: [1, 16], data: A },
          { name: 'B', datatype: 'INT32', shape: [1, 16], data: B },
        ],
      }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { outputs: { name: string; data: number[] }[] };
    assert.deepEqual(body.outputs.find((o) => o.name === 'SUM')?.data, A.map((a) => 2 * a));
  });
});

describe('ensembles in explicit mode', () => {
  let cli: RunningCli;
  const repo = repository();
  withEmptyVersions(repo, ENSEMBLES);

  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`, '--model-control-mode=explicit', '--load-model=twice']);
    await waitUntil('twice ready', () => modelReady(cli, 'twice'), 20_000);
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  test('explicit - loading an ensemble loads its step models', async () => {
    assert.equal(await modelReady(cli, 'simple'), true);
  });

  test('explicit - the ensemble is ready only while its step models are', async () => {
    await call(cli.client, cli.client.repositoryModelUnload, { repositoryName: '', modelName: 'simple', parameters: new Map() });
    assert.equal(await modelReady(cli, 'twice'), false);
    const entry = (await index(cli)).find((m) => m.name === 'twice');
    assert.match(entry?.reason ?? '', /step model 'simple' is not ready/);
    await assert.rejects(infer(cli, request('twice', A, B)), grpcError(status.UNAVAILABLE, /twice/));
    await call(cli.client, cli.client.repositoryModelLoad, { repositoryName: '', modelName: 'simple', parameters: new Map() });
    assert.equal(await modelReady(cli, 'twice'), true);
    assert.deepEqual(output(await infer(cli, request('twice', A, B)), 'SUM'), A.map((a) => 2 * a));
  });

  test('explicit - loading an ensemble whose step model is missing says what is missing', async () => {
    await assert.rejects(
      call(cli.client, cli.client.repositoryModelLoad, { repositoryName: '', modelName: 'missing_model', parameters: new Map() }),
      grpcError(status.INVALID_ARGUMENT, /model 'ghost' is not in the model repository/),
    );
  });

  test('explicit - unload_dependents unloads the step models with the ensemble; without it they stay', async () => {
    await call(cli.client, cli.client.repositoryModelUnload, { repositoryName: '', modelName: 'twice', parameters: new Map() });
    assert.equal(await modelReady(cli, 'twice'), false);
    assert.equal(await modelReady(cli, 'simple'), true);
    await call(cli.client, cli.client.repositoryModelLoad, { repositoryName: '', modelName: 'twice', parameters: new Map() });
    const response = await fetch(`${cli.http}/v2/repository/models/twice/unload`, {
      method: 'POST',
      body: JSON.stringify({ parameters: { unload_dependents: true } }),
    });
    assert.equal(response.status, 200);
    assert.equal(await modelReady(cli, 'twice'), false);
    assert.equal(await modelReady(cli, 'simple'), false);
  });
});
