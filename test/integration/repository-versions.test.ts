// Version policies and version routing through the real CLI, in the default control
// mode (none), which also refuses load and unload.
import assert from 'node:assert/strict';
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

const BROKEN_SOURCE = `import { ModelServer } from 'v2serve';
export default class Broken extends ModelServer {
  load(): void { throw new Error('version 3 is broken'); }
  predict(): never { throw new Error('unreachable'); }
}
`;

/** Versions 1..3 of an adder; version N adds N*100. */
const THREE_VERSIONS = { '1': adderSource(100), '2': adderSource(200), '3': adderSource(300) };

describe('repository - version policies (control mode none)', () => {
  let cli: RunningCli;
  const repo = tempRepository({
    latest_two: { config: `${ADDER_CONFIG}version_policy: { latest: { num_versions: 2 } }\n`, versions: THREE_VERSIONS },
    specific: { config: `${ADDER_CONFIG}version_policy: { specific: { versions: [1, 3] } }\n`, versions: THREE_VERSIONS },
    every: { config: `${ADDER_CONFIG}version_policy: { all: {} }\n`, versions: THREE_VERSIONS },
    default_policy: { config: ADDER_CONFIG, versions: THREE_VERSIONS },
    fallback: {
      config: `${ADDER_CONFIG}version_policy: { all: {} }\n`,
      versions: { '1': adderSource(100), '2': adderSource(200), '3': BROKEN_SOURCE },
    },
  });
  const versionsOf = async (name: string) =>
    (await index(cli))
      .filter((m) => m.name === name)
      .map((m) => `${m.version}:${m.state}`)
      .sort();
  const answer = async (name: string, version: string) => {
    const response = await infer(cli, adderRequest(name, version, 1));
    return `${response.modelVersion}:${outValue(response)}`;
  };

  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`]);
    await waitUntil('every load finished', async () => !(await index(cli)).some((m) => m.state === 'LOADING'));
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  test('versions - latest{num_versions: 2} serves the two highest versions', async () => {
    assert.deepEqual(await versionsOf('latest_two'), ['2:READY', '3:READY']);
    assert.equal(await answer('latest_two', '2'), '2:201');
    assert.equal(await answer('latest_two', '3'), '3:301');
    assert.equal(await modelReady(cli, 'latest_two', '1'), false);
    await assert.rejects(
      infer(cli, adderRequest('latest_two', '1')),
      grpcError(status.NOT_FOUND, "Request for unknown model: 'latest_two' version 1 is not found"),
    );
  });

  test('versions - specific{versions: [1, 3]} serves only those', async () => {
    assert.deepEqual(await versionsOf('specific'), ['1:READY', '3:READY']);
    assert.equal(await answer('specific', '1'), '1:101');
    assert.equal(await answer('specific', '3'), '3:301');
    await assert.rejects(
      infer(cli, adderRequest('specific', '2')),
      grpcError(status.NOT_FOUND, "Request for unknown model: 'specific' version 2 is not found"),
    );
  });

  test('versions - all{} serves every version directory', async () => {
    assert.deepEqual(await versionsOf('every'), ['1:READY', '2:READY', '3:READY']);
    assert.equal(await answer('every', '1'), '1:101');
    assert.equal(await answer('every', '2'), '2:201');
  });

  test('versions - the default policy is latest 1', async () => {
    assert.deepEqual(await versionsOf('default_policy'), ['3:READY']);
    const { config } = await call(cli.client, cli.client.modelConfig, { name: 'default_policy', version: '' });
    assert.equal(config?.versionPolicy?.latest?.numVersions, 1);
  });

  test('routing - an empty version goes to the highest READY version', async () => {
    assert.equal(await answer('every', ''), '3:301');
    assert.equal(await answer('specific', ''), '3:301');
    // fallback's version 3 failed to load: version 2 is the highest ready one.
    assert.equal(await answer('fallback', ''), '2:201');
  });

  test('routing - a version that failed to load is UNAVAILABLE, and the index says why', async () => {
    const entry = (await index(cli)).find((m) => m.name === 'fallback' && m.version === '3');
    assert.equal(entry?.state, 'UNAVAILABLE');
    assert.match(entry?.reason ?? '', /version 3 is broken/);
    await assert.rejects(infer(cli, adderRequest('fallback', '3')), grpcError(status.UNAVAILABLE, /'fallback' version 3 is not at ready state/));
    assert.equal(await modelReady(cli, 'fallback', '3'), false);
    assert.equal(await modelReady(cli, 'fallback', '2'), true);
  });

  test('routing - a version that is not a number is INVALID_ARGUMENT', async () => {
    await assert.rejects(infer(cli, adderRequest('every', 'latest')), grpcError(status.INVALID_ARGUMENT, /version string 'latest'/));
  });

  test('metadata - ModelMetadata lists the served versions, or the one asked for', async () => {
    const all = await call(cli.client, cli.client.modelMetadata, { name: 'latest_two', version: '' });
    assert.deepEqual([...all.versions].sort(), ['2', '3']);
    const one = await call(cli.client, cli.client.modelMetadata, { name: 'latest_two', version: '2' });
    assert.deepEqual(one.versions, ['2']);
    const ready = await call(cli.client, cli.client.modelMetadata, { name: 'fallback', version: '' });
    assert.deepEqual([...ready.versions].sort(), ['1', '2']);
    await assert.rejects(
      call(cli.client, cli.client.modelMetadata, { name: 'specific', version: '2' }),
      grpcError(status.NOT_FOUND, "Request for unknown model: 'specific' version 2 is not found"),
    );
  });

  test('control - none mode refuses load and unload with UNAVAILABLE naming the mode', async () => {
    const refused = grpcError(status.UNAVAILABLE, /not allowed.*'none'/);
    await assert.rejects(
      call(cli.client, cli.client.repositoryModelLoad, { repositoryName: '', modelName: 'every', parameters: new Map() }),
      refused,
    );
    await assert.rejects(
      call(cli.client, cli.client.repositoryModelUnload, { repositoryName: '', modelName: 'every', parameters: new Map() }),
      refused,
    );
    assert.equal(await modelReady(cli, 'every'), true);
  });
});
