// Config fields v2serve does not honor, through the real CLI: a GPU-only field loads the model
// with one log line naming it, a refused field leaves the model UNAVAILABLE naming it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { ADDER_CONFIG, adderRequest, adderSource, index, infer, modelReady, outValue, waitUntil } from './repository-fixtures.js';

describe('config fields - ignored and refused', () => {
  let cli: RunningCli;
  const repo = tempRepository({
    gpu_hints: {
      config: `${ADDER_CONFIG}optimization { cuda { graphs: true } }\ninstance_group [ { kind: KIND_MODEL gpus: [ 0 ] } ]\n`,
      versions: { '1': adderSource(10) },
    },
    operations: {
      config: `${ADDER_CONFIG}model_operations { op_library_filename: [ "libcustom.so" ] }\n`,
      versions: { '1': adderSource(20) },
    },
    gpu_kind: {
      config: `${ADDER_CONFIG}instance_group [ { kind: KIND_GPU count: 1 } ]\n`,
      versions: { '1': adderSource(40) },
    },
    plain: { config: ADDER_CONFIG, versions: { '1': adderSource(30) } },
  });

  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`]);
    await waitUntil('every model settled', async () => {
      const models = await index(cli);
      return models.every((model) => model.state === 'READY' || model.state === 'UNAVAILABLE') && models.length === 4;
      // gpu_kind starts a worker thread, slow on a loaded machine.
    }, 30_000);
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  test('load - a config with GPU-only fields loads and serves', async () => {
    assert.equal(await modelReady(cli, 'gpu_hints'), true);
    assert.equal(outValue(await infer(cli, adderRequest('gpu_hints', '', 5))), 15);
  });

  test('log - one warn line per load names the ignored fields, with why', () => {
    const lines = cli.logs.filter((line) => line['model'] === 'gpu_hints' && line['ignoredConfigFields'] !== undefined);
    assert.equal(lines.length, 1);
    const [line] = lines;
    assert.equal(line!['level'], 40);
    assert.equal(line!['msg'], 'config fields accepted and ignored: instance_group.gpus, optimization.cuda');
    assert.match(String((line!['ignoredConfigFields'] as Record<string, unknown>)['optimization.cuda']), /GPU-only/);
  });

  test('load - a KIND_GPU group runs as a worker instance, with one warn line naming instance_group.kind', async () => {
    assert.equal(await modelReady(cli, 'gpu_kind'), true);
    assert.equal(outValue(await infer(cli, adderRequest('gpu_kind', '', 5))), 45);
    const lines = cli.logs.filter((line) => line['model'] === 'gpu_kind' && line['ignoredConfigFields'] !== undefined);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!['msg'], 'config fields accepted and ignored: instance_group.kind');
    assert.match(String((lines[0]!['ignoredConfigFields'] as Record<string, unknown>)['instance_group.kind']), /^KIND_GPU: GPU-only/);
  });

  test('log - a config without such fields logs no such line', () => {
    assert.equal(cli.logs.filter((line) => line['model'] === 'plain' && line['ignoredConfigFields'] !== undefined).length, 0);
  });

  test('load - a refused field leaves the model UNAVAILABLE with a reason naming the field', async () => {
    assert.equal(await modelReady(cli, 'operations'), false);
    const entry = (await index(cli)).find((model) => model.name === 'operations');
    assert.equal(entry?.state, 'UNAVAILABLE');
    assert.match(entry?.reason ?? '', /^failed to load 'operations': config field 'model_operations' is not supported \(custom operation libraries/);
  });
});
