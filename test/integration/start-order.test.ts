// When the ports open: by default once the models at start have loaded or failed (Triton's
// order, which its CI scripts and probes assume: wait for the port, then call); with
// --serve-while-loading before, readiness following the loads.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import { GRPCInferenceServiceClient } from '../../generated/grpc_service.js';
import { call, LOOPBACK_ANY_PORT, PROJECT_ROOT, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { slowModel } from './http-fixtures.js';

const BROKEN_CONFIG = `
name: "broken"
backend: "nodejs"
max_batch_size: 0
input [ { name: "X" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "Y" data_type: TYPE_FP32 dims: [ -1 ] } ]
`;

const BROKEN = `
import { ModelServer, type PredictOutputs } from 'v2serve';
export default class Broken extends ModelServer {
  load(): void { throw new Error('weights are missing'); }
  predict(): PredictOutputs { return {}; }
}`;

/** One ServerReady on a client that has never connected: no retry, a wait-for-ready deadline. */
async function firstServerReady(cli: RunningCli): Promise<boolean> {
  const client = new GRPCInferenceServiceClient(cli.address, credentials.createInsecure());
  try {
    return (await call(client, client.serverReady, {}, { deadline: Date.now() + 5000 })).ready;
  } finally {
    client.close();
  }
}

describe('start order', () => {
  const slowOnly = tempRepository({ slow: slowModel(2000) });
  const withBroken = tempRepository({
    slow: slowModel(2000),
    broken: { config: BROKEN_CONFIG, versions: { '1': BROKEN } },
  });
  after(() => {
    slowOnly.remove();
    withBroken.remove();
  });

  test('start order - by default the first ServerReady on the first connection is true: the ports open after the loads', async () => {
    const cli = await startCli([`--model-repository=${slowOnly.root}`, '--serve-while-loading=false']);
    try {
      assert.equal(await firstServerReady(cli), true);
      const http = await fetch(`${cli.http as string}/v2/health/ready`);
      assert.equal(http.status, 200);
      const serving = await cli.waitForLog((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('serving'));
      assert.equal(serving['ready'], 1);
      assert.deepEqual(serving['failed'], []);
    } finally {
      await cli.stop();
    }
  });

  test('start order - with --serve-while-loading the port opens first: ServerReady false, then true once loaded', async () => {
    const cli = await startCli([`--model-repository=${slowOnly.root}`, '--serve-while-loading=true']);
    try {
      assert.equal(await firstServerReady(cli), false);
      await cli.waitForLog((l) => l['model'] === 'slow' && l['msg'] === 'model loaded');
      assert.equal(await firstServerReady(cli), true);
    } finally {
      await cli.stop();
    }
  });

  test('start order - a model that fails to load leaves the others served and is listed UNAVAILABLE with its reason', async () => {
    const cli = await startCli([`--model-repository=${withBroken.root}`, '--serve-while-loading=false']);
    try {
      const serving = await cli.waitForLog((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('serving'));
      assert.deepEqual(serving['failed'], ['broken']);
      assert.equal(serving['ready'], 1);
      const { ready } = await call(cli.client, cli.client.modelReady, { name: 'slow', version: '' });
      assert.equal(ready, true);
      const inferred = await fetch(`${cli.http as string}/v2/models/slow/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'X', datatype: 'FP32', shape: [2], data: [1, 2] }] }),
      });
      assert.equal(inferred.status, 200);
      const { models } = await call(cli.client, cli.client.repositoryIndex, { repositoryName: '', ready: false });
      const broken = models.find((m) => m.name === 'broken');
      assert.equal(broken?.state, 'UNAVAILABLE');
      assert.match(broken?.reason ?? '', /weights are missing/);
    } finally {
      await cli.stop();
    }
  });

  test('start order - with --exit-on-error a model that fails to load stops the start before any port opens, exit code 1', () => {
    const run = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'v2serve.js'), ...LOOPBACK_ANY_PORT, `--model-repository=${withBroken.root}`, '--exit-on-error=true'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(run.status, 1);
    assert.doesNotMatch(run.stdout, /"msg":"listening"/);
    assert.match(run.stdout, /--exit-on-error: 'broken' failed to load: .*weights are missing/);
  });
});
