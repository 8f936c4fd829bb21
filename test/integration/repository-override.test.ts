// RepositoryModelLoad with `file:` parameters: the files sent with the request form the
// model's directory for that load; no name in them reaches outside it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { ModelRepositoryParameter } from '../../generated/grpc_service.js';
import { call, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { ADDER_CONFIG, adderRequest, adderSource, grpcError, infer, modelReady, outValue } from './repository-fixtures.js';

const CONFIG_JSON = JSON.stringify({
  backend: 'nodejs',
  max_batch_size: 8,
  input: [{ name: 'IN', data_type: 'TYPE_INT32', dims: ['1'] }],
  output: [{ name: 'OUT', data_type: 'TYPE_INT32', dims: ['1'] }],
});

function load(cli: RunningCli, model: string, parameters: Record<string, ModelRepositoryParameter>) {
  return call(cli.client, cli.client.repositoryModelLoad, { repositoryName: '', modelName: model, parameters: new Map(Object.entries(parameters)) });
}

const file = (text: string): ModelRepositoryParameter => ({ bytesParam: Buffer.from(text) });
const config: ModelRepositoryParameter = { stringParam: CONFIG_JSON };

describe('repository - file overrides', () => {
  let cli: RunningCli;
  let repo: ReturnType<typeof tempRepository>;
  before(async () => {
    repo = tempRepository({ adder: { config: ADDER_CONFIG, versions: { '1': adderSource(1) } } });
    cli = await startCli([`--model-repository=${repo.root}`, '--model-control-mode=explicit', '--load-model=adder']);
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  test('override - the model loads from the files sent with the request, and back from the repository', async () => {
    await load(cli, 'adder', { config, 'file:1/model.ts': file(adderSource(100)) });
    assert.equal(outValue(await infer(cli, adderRequest('adder', '', 1))), 101);
    await load(cli, 'adder', {});
    assert.equal(outValue(await infer(cli, adderRequest('adder', '', 1))), 2);
  });

  test('override - a model that is not in the repository loads from its files', async () => {
    await load(cli, 'sent', { config, 'file:3/model.ts': file(adderSource(30)) });
    assert.equal(await modelReady(cli, 'sent', '3'), true);
    assert.equal(outValue(await infer(cli, adderRequest('sent', '3', 1))), 31);
    await call(cli.client, cli.client.repositoryModelUnload, { repositoryName: '', modelName: 'sent', parameters: new Map() });
    assert.equal(await modelReady(cli, 'sent'), false);
  });

  test('override - file parameters without config are INVALID_ARGUMENT', async () => {
    await assert.rejects(load(cli, 'adder', { 'file:1/model.ts': file(adderSource(5)) }), grpcError(status.INVALID_ARGUMENT, /'config'/));
  });

  test('override - a file parameter that is not bytes_param is INVALID_ARGUMENT', async () => {
    await assert.rejects(
      load(cli, 'adder', { config, 'file:1/model.ts': { stringParam: 'x' } }),
      grpcError(status.INVALID_ARGUMENT, /expected bytes_param/),
    );
  });

  for (const path of ['../escape.ts', '1/../../escape.ts', '/etc/passwd', '1/./model.ts', '1//model.ts', '1\\..\\x', 'x/model.ts', '1', '1/a\0b']) {
    test(`override - the path '${path.replace('\0', '\\0')}' is refused with INVALID_ARGUMENT`, async () => {
      await assert.rejects(load(cli, 'adder', { config, [`file:${path}`]: file('x') }), grpcError(status.INVALID_ARGUMENT, /file:/));
      assert.equal(outValue(await infer(cli, adderRequest('adder', '', 1))), 2);
    });
  }

  test('override - a name longer than NAME_MAX fails INTERNAL as Triton answers, and the server stays live', async () => {
    await assert.rejects(
      load(cli, 'adder', { config: { stringParam: '{}' }, [`file:${'A'.repeat(256)}`]: file('a') }),
      grpcError(status.INTERNAL, /failed to poll from model repository/),
    );
    assert.equal((await call(cli.client, cli.client.serverLive, {})).live, true);
  });
});
