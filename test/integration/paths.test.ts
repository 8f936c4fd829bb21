// Path safety: model names from clients never reach outside the repository; tensor data
// and secrets never reach the log.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Metadata, status } from '@grpc/grpc-js';
import type { ModelInferRequest } from '../../generated/grpc_service.js';
import { call, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { ADDER_CONFIG, adderRequest, adderSource, grpcError, modelReady, outValue } from './repository-fixtures.js';

/** A model outside the repository that records being loaded. */
function markerSource(marker: string): string {
  return `import { writeFileSync } from 'node:fs';
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class Outside extends ModelServer {
  load(): void { writeFileSync(${JSON.stringify(marker)}, 'loaded'); }
  predict(request: InferRequest): PredictOutputs { return { OUT: request.tensors['IN']!.data as Int32Array }; }
}
`;
}

describe('paths', () => {
  let cli: RunningCli;
  const repo = tempRepository({ adder: { config: ADDER_CONFIG, versions: { '1': adderSource(1) } } });
  const outside = join(repo.dir, 'outside');
  const marker = join(repo.dir, 'outside-was-loaded');
  const load = (modelName: string) => call(cli.client, cli.client.repositoryModelLoad, { repositoryName: '', modelName, parameters: new Map() });
  const unload = (modelName: string) => call(cli.client, cli.client.repositoryModelUnload, { repositoryName: '', modelName, parameters: new Map() });
  const invalid = grpcError(status.INVALID_ARGUMENT, /model_name/);

  before(async () => {
    mkdirSync(join(outside, '1'), { recursive: true });
    writeFileSync(join(outside, 'config.pbtxt'), ADDER_CONFIG);
    writeFileSync(join(outside, '1', 'model.ts'), markerSource(marker));
    // The repository's own view of the same model, by a relative path: a name a client might try.
    symlinkSync(outside, join(repo.root, 'escape'), 'dir');
    symlinkSync('../outside', join(repo.root, 'escape-relative'), 'dir');
    symlinkSync(join(repo.root, 'adder'), join(repo.root, 'alias'), 'dir');
    cli = await startCli([`--model-repository=${repo.root}`, '--model-control-mode=explicit', '--load-model=adder', '--log-verbose=1']);
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  const FORMS: readonly [string, string][] = [
    ['parent directory', '..'],
    ['parent then name', '../outside'],
    ['absolute path', outside],
    ['absolute system path', '/etc'],
    ['a/../b', 'adder/../adder'],
    ['trailing separator', 'adder/'],
    ['percent-encoded ../', '%2e%2e%2foutside'],
    ['double-encoded ../', '%252e%252e%252foutside'],
    ['backslash', '..\\outside'],
    ['NUL byte', 'adder\0../../etc'],
    ['hidden name', '.adder'],
    ['empty name', ''],
    ['fullwidth dots and slash', '\uff0e\uff0e\uff0foutside'],
  ];

  for (const [form, name] of FORMS) {
    test(`paths - RepositoryModelLoad refuses ${form} with INVALID_ARGUMENT`, async () => {
      await assert.rejects(load(name), invalid);
    });
  }

  test('paths - RepositoryModelUnload refuses the same forms', async () => {
    for (const [, name] of FORMS) await assert.rejects(unload(name), invalid);
  });

  test('paths - a model directory symlinked outside the repository is refused and never loaded', async () => {
    await assert.rejects(load('escape'), grpcError(status.INVALID_ARGUMENT, /'escape' resolves to a directory outside the model repository/));
    await assert.rejects(load('escape-relative'), grpcError(status.INVALID_ARGUMENT, /outside the model repository/));
    assert.equal(existsSync(marker), false, 'the outside model was never imported');
    assert.equal(await modelReady(cli, 'escape'), false);
  });

  test('paths - a symlink to a directory inside the repository is allowed', async () => {
    await load('alias');
    assert.equal(outValue(await call(cli.client, cli.client.modelInfer, adderRequest('alias', '', 5))), 6);
  });

  test('paths - inference and metadata only look names up: traversal names are unknown models', async () => {
    for (const name of ['../outside', outside, 'adder/../adder']) {
      await assert.rejects(call(cli.client, cli.client.modelInfer, adderRequest(name)), grpcError(status.NOT_FOUND, /Request for unknown model/));
      await assert.rejects(call(cli.client, cli.client.modelMetadata, { name, version: '' }), grpcError(status.NOT_FOUND, /Request for unknown model/));
      assert.equal(await modelReady(cli, name), false);
    }
  });

  test('paths - the server still serves after every refusal', async () => {
    assert.equal(outValue(await call(cli.client, cli.client.modelInfer, adderRequest('adder', '', 41))), 42);
  });
});

describe('logs', () => {
  test('logs - tensor data, restricted-header values and TLS keys never appear in the log, even at debug', async () => {
    const repo = tempRepository({ adder: { config: ADDER_CONFIG, versions: { '1': adderSource(1) } } });
    const secret = 'header-secret-7f3a';
    const cli = await startCli([
      `--model-repository=${repo.root}`,
      '--log-verbose=1',
      `--grpc-restricted-protocol=model-repository:admin=${secret}`,
    ]);
    try {
      await cli.waitForLog((l) => l['model'] === 'adder' && l['msg'] === 'model loaded');
      const marker = 0x5ec12e7;
      // A good request, one of the wrong datatype carrying text, one with a wrong shape.
      await call(cli.client, cli.client.modelInfer, adderRequest('adder', '', marker));
      const text = Buffer.from('tensor-text-9c1d');
      const bytes = Buffer.concat([Buffer.from([text.length, 0, 0, 0]), text]);
      const wrongType: ModelInferRequest = {
        ...adderRequest('adder'),
        inputs: [{ name: 'IN', datatype: 'BYTES', shape: [1n, 1n], parameters: new Map(), contents: undefined }],
        rawInputContents: [bytes],
      };
      await assert.rejects(call(cli.client, cli.client.modelInfer, wrongType));
      const wrongShape: ModelInferRequest = { ...adderRequest('adder', '', marker), rawInputContents: [Buffer.from(new Int32Array([marker, marker]).buffer)] };
      await assert.rejects(call(cli.client, cli.client.modelInfer, wrongShape));
      const metadata = new Metadata();
      metadata.set('admin', 'wrong-secret-44b1');
      await assert.rejects(
        new Promise((resolve, reject) =>
          cli.client.repositoryIndex({ repositoryName: '', ready: false }, metadata, (err, res) => (err ? reject(err) : resolve(res))),
        ),
      );
      await cli.stop();
      const log = cli.logs.map((line) => JSON.stringify(line)).join('\n');
      assert.ok(cli.logs.some((l) => l['level'] === 20), 'debug lines were logged');
      for (const needle of [secret, 'wrong-secret-44b1', 'tensor-text-9c1d', String(marker), marker.toString(16)]) {
        assert.ok(!log.includes(needle), `the log contains '${needle}'`);
      }
      const raw = Buffer.from(new Int32Array([marker]).buffer).toString('base64');
      assert.ok(!log.includes(raw), 'the log contains the raw tensor bytes');
    } finally {
      await cli.stop();
      repo.remove();
    }
  });
});
