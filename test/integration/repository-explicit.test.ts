// Explicit model control through the real CLI: RepositoryIndex, RepositoryModelLoad and
// RepositoryModelUnload as Triton's clients (simple_grpc_model_control) use them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { call, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import type { ModelRepositoryParameter } from '../../generated/grpc_service.js';
import {
  ADDER_CONFIG,
  adderRequest,
  adderSource,
  grpcError,
  index,
  infer,
  modelReady,
  outValue,
} from './repository-fixtures.js';

const BROKEN_SOURCE = `import { ModelServer } from 'v2serve';
export default class Broken extends ModelServer {
  load(): void { throw new Error('weights are missing'); }
  predict(): never { throw new Error('unreachable'); }
}
`;

/** RepositoryModelLoad's `config` parameter: a full ModelConfig in the proto3 JSON mapping. */
function configJson(maxBatchSize: number): string {
  return JSON.stringify({
    backend: 'nodejs',
    max_batch_size: String(maxBatchSize),
    input: [{ name: 'IN', data_type: 'TYPE_INT32', dims: ['1'] }],
    output: [{ name: 'OUT', data_type: 'TYPE_INT32', dims: ['1'] }],
  });
}

describe('repository - explicit mode', () => {
  let cli: RunningCli;
  const repo = tempRepository({
    adder: { config: ADDER_CONFIG, versions: { '1': adderSource(10) } },
    preloaded: { config: ADDER_CONFIG, versions: { '1': adderSource(20) } },
    slow: { config: ADDER_CONFIG, versions: { '1': adderSource(30) } },
    override: { config: ADDER_CONFIG, versions: { '1': adderSource(40) } },
    broken: { config: ADDER_CONFIG, versions: { '1': BROKEN_SOURCE } },
    never: { config: ADDER_CONFIG, versions: { '1': adderSource(50) } },
  });
  const load = (modelName: string, parameters: Record<string, ModelRepositoryParameter> = {}) =>
    call(cli.client, cli.client.repositoryModelLoad, { repositoryName: '', modelName, parameters: new Map(Object.entries(parameters)) });
  const unload = (modelName: string) =>
    call(cli.client, cli.client.repositoryModelUnload, { repositoryName: '', modelName, parameters: new Map() });

  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`, '--model-control-mode=explicit', '--load-model=preloaded']);
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  test('index - a model never loaded is listed by name only; a --load-model one is READY', async () => {
    // The startup load runs in the background; ask once it is over.
    await load('preloaded');
    const models = await index(cli);
    assert.deepEqual(
      models.find((m) => m.name === 'never'),
      { name: 'never', version: '', state: '', reason: '' },
    );
    assert.deepEqual(
      models.find((m) => m.name === 'preloaded'),
      { name: 'preloaded', version: '1', state: 'READY', reason: '' },
    );
    assert.deepEqual(
      models.map((m) => m.name),
      [...models.map((m) => m.name)].sort(),
    );
    assert.equal(await modelReady(cli, 'never'), false);
  });

  test('index - ready: true lists only READY versions', async () => {
    const models = await index(cli, true);
    assert.ok(models.length > 0);
    assert.ok(models.every((m) => m.state === 'READY'), JSON.stringify(models));
    assert.ok(!models.some((m) => m.name === 'never'));
  });

  test('index - a non-empty repository_name is UNIMPLEMENTED', async () => {
    await assert.rejects(
      call(cli.client, cli.client.repositoryIndex, { repositoryName: 'other', ready: false }),
      grpcError(status.UNIMPLEMENTED, /repository_name/),
    );
  });

  test('load/unload - a non-empty repository_name is UNIMPLEMENTED', async () => {
    const request = { repositoryName: 'other', modelName: 'adder', parameters: new Map() };
    await assert.rejects(call(cli.client, cli.client.repositoryModelLoad, request), grpcError(status.UNIMPLEMENTED, /repository_name/));
    await assert.rejects(call(cli.client, cli.client.repositoryModelUnload, request), grpcError(status.UNIMPLEMENTED, /repository_name/));
  });

  test('infer - a model that is not loaded is NOT_FOUND', async () => {
    await assert.rejects(infer(cli, adderRequest('never')), grpcError(status.NOT_FOUND, /Request for unknown model: 'never'/));
  });

  test('load - the model becomes READY and serves inferences', async () => {
    assert.equal(await modelReady(cli, 'adder'), false);
    await load('adder');
    assert.equal(await modelReady(cli, 'adder'), true);
    assert.deepEqual(
      (await index(cli)).filter((m) => m.name === 'adder'),
      [{ name: 'adder', version: '1', state: 'READY', reason: '' }],
    );
    const response = await infer(cli, adderRequest('adder', '', 5));
    assert.equal(outValue(response), 15);
    assert.equal(response.modelVersion, '1');
  });

  test('unload - a request in flight completes first; later requests fail', async () => {
    await load('slow');
    const order: string[] = [];
    const slow = infer(cli, adderRequest('slow', '', 1, 600)).then((response) => {
      order.push('request');
      return response;
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const unloading = unload('slow').then(() => order.push('unload'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    // While the version drains, new requests are turned away.
    await assert.rejects(infer(cli, adderRequest('slow')), (err: { code: number }) =>
      [status.NOT_FOUND, status.UNAVAILABLE].includes(err.code),
    );
    assert.equal(outValue(await slow), 31);
    await unloading;
    assert.deepEqual(order, ['request', 'unload']);
    await assert.rejects(
      infer(cli, adderRequest('slow')),
      grpcError(status.NOT_FOUND, "Request for unknown model: 'slow' has no available versions"),
    );
    await assert.rejects(infer(cli, adderRequest('slow', '1')), grpcError(status.UNAVAILABLE, /'slow' version 1 is not at ready state/));
  });

  test('unload - ModelReady is false with OK status and the index says unloaded', async () => {
    await load('slow');
    assert.equal(await modelReady(cli, 'slow'), true);
    await unload('slow');
    assert.equal(await modelReady(cli, 'slow'), false);
    assert.equal(await modelReady(cli, 'slow', '1'), false);
    assert.deepEqual(
      (await index(cli)).filter((m) => m.name === 'slow'),
      [{ name: 'slow', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' }],
    );
    assert.ok(!(await index(cli, true)).some((m) => m.name === 'slow'));
  });

  test('unload - an unknown model is OK, as in Triton', async () => {
    await unload('no_such_model');
  });

  test('load - a model unloaded earlier loads again', async () => {
    await load('slow');
    assert.equal(outValue(await infer(cli, adderRequest('slow', '', 2))), 32);
  });

  test('load - a config override changes max_batch_size as ModelConfig shows', async () => {
    await load('override', { config: { stringParam: configJson(16) } });
    const { config } = await call(cli.client, cli.client.modelConfig, { name: 'override', version: '' });
    assert.ok(config);
    assert.equal(config.maxBatchSize, 16);
    assert.equal(config.name, 'override');
    // The override replaces config.pbtxt for this load only.
    await load('override');
    const reloaded = await call(cli.client, cli.client.modelConfig, { name: 'override', version: '' });
    assert.equal(reloaded.config?.maxBatchSize, 8);
  });

  test('load - the short override {"max_batch_size":"16"} is accepted', async () => {
    await load('override', { config: { stringParam: '{"max_batch_size":"16"}' } });
    const { config } = await call(cli.client, cli.client.modelConfig, { name: 'override', version: '' });
    assert.equal(config?.maxBatchSize, 16);
    assert.equal(await modelReady(cli, 'override'), true);
  });

  test('load - malformed config JSON fails with "failed to load" and leaves the model as it was', async () => {
    await load('adder');
    await assert.rejects(
      load('adder', { config: { stringParam: '{"max_batch_size": ' } }),
      grpcError(status.INVALID_ARGUMENT, /failed to load/),
    );
    assert.equal(outValue(await infer(cli, adderRequest('adder', '', 1))), 11);
  });

  test('load - a config parameter that is not a string_param is INVALID_ARGUMENT', async () => {
    await assert.rejects(load('adder', { config: { boolParam: true } }), grpcError(status.INVALID_ARGUMENT, /string_param/));
  });

  test('load - an unrecognized parameter is INVALID_ARGUMENT', async () => {
    await assert.rejects(
      load('adder', { colour: { stringParam: 'red' } }),
      grpcError(status.INVALID_ARGUMENT, /unrecognized load parameter/),
    );
  });

  test('load - a model not in the repository fails with "failed to poll from model repository"', async () => {
    await assert.rejects(
      load('no_such_model'),
      grpcError(status.INTERNAL, "failed to load 'no_such_model', failed to poll from model repository"),
    );
    assert.equal((await call(cli.client, cli.client.serverLive, {})).live, true);
    assert.ok(!(await index(cli)).some((m) => m.name === 'no_such_model'));
  });

  test('load - a model whose load() throws fails with "failed to load"; the index gives the reason', async () => {
    await assert.rejects(load('broken'), grpcError(status.INVALID_ARGUMENT, /failed to load 'broken'.*weights are missing/));
    const [entry] = (await index(cli)).filter((m) => m.name === 'broken');
    assert.equal(entry?.state, 'UNAVAILABLE');
    assert.match(entry?.reason ?? '', /weights are missing/);
    assert.equal(await modelReady(cli, 'broken'), false);
  });
});
