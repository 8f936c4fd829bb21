// Poll mode through the real CLI: model directories added, removed and edited while
// the server runs, with a 1 s poll period.
import assert from 'node:assert/strict';
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { call, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import {
  ADDER_CONFIG,
  adderRequest,
  adderSource,
  grpcError,
  index,
  infer,
  modelReady,
  outValue,
  waitUntil,
} from './repository-fixtures.js';

const POLL_MS = 1000;

describe('repository - poll mode', () => {
  let cli: RunningCli;
  const repo = tempRepository({
    edited: { config: ADDER_CONFIG, versions: { '1': adderSource(100, 300) } },
    doomed: { config: ADDER_CONFIG, versions: { '1': adderSource(1) } },
    configured: { config: ADDER_CONFIG, versions: { '1': adderSource(2) } },
    fragile: { config: ADDER_CONFIG, versions: { '1': adderSource(3) } },
  });

  /** The next log line matching `predicate` that is written from now on. */
  const nextLog = (predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 4 * POLL_MS) => {
    const from = cli.logs.length;
    return cli.waitForLog((line) => cli.logs.indexOf(line) >= from && predicate(line), timeoutMs);
  };
  const pollLoaded = (model: string) =>
    nextLog((l) => l['model'] === model && (l['msg'] === 'poll: model loaded' || l['msg'] === 'poll: model failed to load'));

  before(async () => {
    cli = await startCli([
      `--model-repository=${repo.root}`,
      '--model-control-mode=poll',
      `--repository-poll-secs=${POLL_MS / 1000}`,
    ]);
    await waitUntil('all models ready', async () => (await call(cli.client, cli.client.serverReady, {})).ready);
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  test('poll - load and unload RPCs are refused with UNAVAILABLE naming the mode', async () => {
    const refused = grpcError(status.UNAVAILABLE, /not allowed.*'poll'/);
    await assert.rejects(call(cli.client, cli.client.repositoryModelLoad, { repositoryName: '', modelName: 'edited', parameters: new Map() }), refused);
    await assert.rejects(
      call(cli.client, cli.client.repositoryModelUnload, { repositoryName: '', modelName: 'edited', parameters: new Map() }),
      refused,
    );
    assert.equal(await modelReady(cli, 'edited'), true);
  });

  test('poll - a new model directory is READY within two poll periods', async () => {
    // Built next to the repository and moved in, as a deployment tool would.
    repo.write('../staging/added/config.pbtxt', ADDER_CONFIG);
    repo.write('../staging/added/1/model.ts', adderSource(7));
    renameSync(join(repo.root, '../staging/added'), join(repo.root, 'added'));
    const elapsed = await waitUntil('added is ready', () => modelReady(cli, 'added'), 3 * POLL_MS);
    assert.ok(elapsed <= 2 * POLL_MS, `ready after ${elapsed} ms`);
    assert.equal(outValue(await infer(cli, adderRequest('added', '', 1))), 8);
    assert.ok(cli.logs.some((l) => l['model'] === 'added' && l['msg'] === 'poll: new model directory; loading the model'));
  });

  test('poll - a model directory written file by file is loaded once it is complete', async () => {
    repo.write('piecemeal/config.pbtxt', ADDER_CONFIG);
    await new Promise((resolve) => setTimeout(resolve, 1.5 * POLL_MS));
    repo.write('piecemeal/1/model.ts', adderSource(9));
    await waitUntil('piecemeal is ready', () => modelReady(cli, 'piecemeal'), 3 * POLL_MS);
    assert.equal(outValue(await infer(cli, adderRequest('piecemeal', '', 1))), 10);
  });

  test('poll - removing a model directory unloads the model', async () => {
    assert.equal(await modelReady(cli, 'doomed'), true);
    const unloaded = nextLog((l) => l['model'] === 'doomed' && l['msg'] === 'poll: model unloaded');
    rmSync(join(repo.root, 'doomed'), { recursive: true });
    await unloaded;
    assert.equal(await modelReady(cli, 'doomed'), false);
    assert.ok(!(await index(cli)).some((m) => m.name === 'doomed'));
    await assert.rejects(infer(cli, adderRequest('doomed')), grpcError(status.NOT_FOUND, /Request for unknown model: 'doomed'/));
    assert.ok(cli.logs.some((l) => l['model'] === 'doomed' && l['msg'] === 'poll: model directory removed; unloading the model'));
    // The server stays ready: a removed model is no longer expected.
    assert.equal((await call(cli.client, cli.client.serverReady, {})).ready, true);
  });

  test('poll - editing model.ts reloads it with no failed request in a concurrent loop', async () => {
    assert.equal(outValue(await infer(cli, adderRequest('edited', '', 1))), 101);
    let ok = 0;
    let failed = 0;
    let sawNew = false;
    const errors: string[] = [];
    const values = new Set<number>();
    let extra = 0;
    const MAX_REQUESTS = 5000;
    // Four clients in a loop until 50 answers after the first new one (bounded).
    const worker = async () => {
      while (ok + failed < MAX_REQUESTS && extra < 50) {
        try {
          const value = outValue(await infer(cli, adderRequest('edited', '', 1, 5)));
          ok++;
          values.add(value);
          if (value === 201) sawNew = true;
          if (sawNew) extra++;
        } catch (err) {
          failed++;
          errors.push((err as Error).message);
        }
      }
    };
    const loop = Promise.all([worker(), worker(), worker(), worker()]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const reloaded = pollLoaded('edited');
    repo.write('edited/1/model.ts', adderSource(200, 300));
    const line = await reloaded;
    assert.equal(line['msg'], 'poll: model loaded');
    assert.equal(line['change'], 'modified');
    await loop;
    assert.equal(failed, 0, `failed requests: ${errors.slice(0, 3).join('; ')}`);
    assert.ok(sawNew, `never saw the new model; values ${[...values].join(',')}`);
    assert.deepEqual([...values].sort(), [101, 201]);
    assert.ok(ok > 50);
    // Every request after the swap goes to the new code.
    assert.equal(outValue(await infer(cli, adderRequest('edited', '', 1))), 201);
  });

  test('poll - editing config.pbtxt reloads the model with the new config', async () => {
    const reloaded = pollLoaded('configured');
    repo.write('configured/config.pbtxt', ADDER_CONFIG.replace('max_batch_size: 8', 'max_batch_size: 4'));
    assert.equal((await reloaded)['msg'], 'poll: model loaded');
    const { config } = await call(cli.client, cli.client.modelConfig, { name: 'configured', version: '' });
    assert.equal(config?.maxBatchSize, 4);
  });

  test('poll - a new version directory is served after the next poll', async () => {
    const reloaded = pollLoaded('configured');
    repo.write('configured/2/model.ts', adderSource(22));
    assert.equal((await reloaded)['msg'], 'poll: model loaded');
    const response = await infer(cli, adderRequest('configured', '', 1));
    assert.equal(response.modelVersion, '2');
    assert.equal(outValue(response), 23);
    const metadata = await call(cli.client, cli.client.modelMetadata, { name: 'configured', version: '' });
    assert.deepEqual(metadata.versions, ['2']);
  });

  test('poll - a model that fails to reload goes on serving its loaded version', async () => {
    const failedReload = pollLoaded('fragile');
    repo.write('fragile/1/model.ts', 'export default 42;\n');
    assert.equal((await failedReload)['msg'], 'poll: model failed to load');
    assert.equal(await modelReady(cli, 'fragile'), true);
    assert.equal(outValue(await infer(cli, adderRequest('fragile', '', 1))), 4);
    // Fixing the file loads it.
    const fixed = pollLoaded('fragile');
    repo.write('fragile/1/model.ts', adderSource(30));
    assert.equal((await fixed)['msg'], 'poll: model loaded');
    assert.equal(outValue(await infer(cli, adderRequest('fragile', '', 1))), 31);
  });

  test('poll - shutdown stops the poller and exits cleanly', async () => {
    const code = await cli.stop();
    assert.equal(code, 0);
    const stopped = cli.logs.findIndex((l) => l['msg'] === 'stopped');
    assert.ok(stopped >= 0);
    // Nothing is polled after shutdown began.
    const shutdown = cli.logs.findIndex((l) => l['msg'] === 'shutting down');
    assert.ok(!cli.logs.slice(shutdown).some((l) => String(l['msg']).startsWith('poll:')));
  });
});
