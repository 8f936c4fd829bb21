// --grpc-restricted-protocol and --grpc-reflection=false through the real CLI.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, credentials, Metadata, status, type CallOptions, type ServiceError } from '@grpc/grpc-js';
import type { GRPCInferenceServiceClient, ModelInferRequest } from '../../generated/grpc_service.js';
import { PROJECT_ROOT, startCli, type RunningCli } from '../helpers/server.js';

const CLI = join(PROJECT_ROOT, 'bin', 'v2serve.js');

type Method<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (err: ServiceError | null, response: Res) => void,
) => unknown;

/** A unary call with the given headers. */
function callWith<Req, Res>(
  client: GRPCInferenceServiceClient,
  method: Method<Req, Res>,
  request: Req,
  headers: Record<string, string> = {},
): Promise<Res> {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return new Promise((resolve, reject) => {
    method.call(client, request, metadata, {}, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

function restricted(header: string) {
  return (err: ServiceError) => {
    assert.equal(err.code, status.UNAVAILABLE);
    assert.equal(err.details, `This protocol is restricted, expecting header '${header}'`);
    return true;
  };
}

function simpleRequest(): ModelInferRequest {
  const raw = (values: number[]) => Buffer.from(new Int32Array(values).buffer);
  return {
    modelName: 'simple',
    modelVersion: '',
    id: '',
    parameters: new Map(),
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n], parameters: new Map(), contents: undefined },
      { name: 'INPUT1', datatype: 'INT32', shape: [1n, 16n], parameters: new Map(), contents: undefined },
    ],
    outputs: [],
    rawInputContents: [raw(Array.from({ length: 16 }, (_, i) => i)), raw(Array(16).fill(1))],
  };
}

async function ready(cli: RunningCli, headers: Record<string, string> = {}): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await callWith(cli.client, cli.client.serverReady, {}, headers)).ready) {
    if (Date.now() > deadline) throw new Error('server never became ready');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** ServerReflectionInfo with list_services (field 7, empty string), raw bytes both ways. */
function listServices(address: string): Promise<Buffer> {
  const client = new Client(address, credentials.createInsecure());
  const stream = client.makeBidiStreamRequest(
    '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
    (b: Buffer) => b,
    (b: Buffer) => b,
  );
  return new Promise<Buffer>((resolve, reject) => {
    stream.on('data', (response: Buffer) => {
      resolve(response);
      stream.end();
    });
    stream.on('error', reject);
    stream.write(Buffer.from([0x3a, 0x00]));
  }).finally(() => client.close());
}

describe('restricted protocol', () => {
  let cli: RunningCli;
  before(async () => {
    cli = await startCli([
      '--grpc-restricted-protocol=model-repository:Admin-Key=s3cret',
      '--grpc-restricted-protocol=statistics,model-config:stats-key=other',
      '--grpc-reflection=false',
    ]);
    await ready(cli);
  });
  after(async () => {
    await cli.stop();
  });

  test('restricted - RepositoryIndex without the header is UNAVAILABLE with Triton\'s text', async () => {
    await assert.rejects(callWith(cli.client, cli.client.repositoryIndex, { repositoryName: '', ready: false }), restricted('admin-key'));
  });

  test('restricted - a wrong value, or the value under another header, is refused too', async () => {
    const index = { repositoryName: '', ready: false };
    await assert.rejects(callWith(cli.client, cli.client.repositoryIndex, index, { 'admin-key': 's3cre' }), restricted('admin-key'));
    await assert.rejects(callWith(cli.client, cli.client.repositoryIndex, index, { 'stats-key': 's3cret' }), restricted('admin-key'));
  });

  test('restricted - RepositoryIndex with the header answers', async () => {
    const index = await callWith(cli.client, cli.client.repositoryIndex, { repositoryName: '', ready: false }, { 'admin-key': 's3cret' });
    assert.ok(index.models.some((m) => m.name === 'simple'));
  });

  test('restricted - load and unload are in the model-repository category', async () => {
    const load = { repositoryName: '', modelName: 'simple', parameters: new Map() };
    await assert.rejects(callWith(cli.client, cli.client.repositoryModelLoad, load), restricted('admin-key'));
    await assert.rejects(callWith(cli.client, cli.client.repositoryModelUnload, load), restricted('admin-key'));
  });

  test('restricted - a second restriction guards its own categories with its own header', async () => {
    await assert.rejects(callWith(cli.client, cli.client.modelConfig, { name: 'simple', version: '' }), restricted('stats-key'));
    await assert.rejects(callWith(cli.client, cli.client.modelStatistics, { name: 'simple', version: '' }), restricted('stats-key'));
    const config = await callWith(cli.client, cli.client.modelConfig, { name: 'simple', version: '' }, { 'stats-key': 'other' });
    assert.equal(config.config?.name, 'simple');
  });

  test('restricted - inference, health and metadata are unaffected', async () => {
    const response = await callWith(cli.client, cli.client.modelInfer, simpleRequest());
    assert.deepEqual(response.outputs.map((o) => o.name), ['OUTPUT0', 'OUTPUT1']);
    assert.equal((await callWith(cli.client, cli.client.serverLive, {})).live, true);
    assert.equal((await callWith(cli.client, cli.client.serverMetadata, {})).name, 'v2serve');
  });

  test('reflection - --grpc-reflection=false answers UNIMPLEMENTED', async () => {
    await assert.rejects(listServices(cli.address), (err: ServiceError) => {
      assert.equal(err.code, status.UNIMPLEMENTED);
      return true;
    });
  });
});

describe('restricted protocol - inference and health', () => {
  test('restricted - inference restricted: ModelInfer and ModelStreamInfer need the header, reflection stays on by default', async () => {
    const cli = await startCli(['--grpc-restricted-protocol=inference:infer-key=k']);
    try {
      await ready(cli);
      await assert.rejects(callWith(cli.client, cli.client.modelInfer, simpleRequest()), restricted('infer-key'));
      const ok = await callWith(cli.client, cli.client.modelInfer, simpleRequest(), { 'infer-key': 'k' });
      assert.equal(ok.outputs.length, 2);
      const stream = cli.client.modelStreamInfer();
      const ended = new Promise<ServiceError>((resolve) => stream.on('error', resolve));
      stream.on('data', () => assert.fail('a restricted stream must not answer'));
      stream.write(simpleRequest());
      restricted('infer-key')(await ended);
      const reflection = await listServices(cli.address);
      assert.ok(reflection.includes(Buffer.from('inference.GRPCInferenceService')));
    } finally {
      await cli.stop();
    }
  });

  test('restricted - health restricted: ServerLive, ModelReady and grpc.health.v1 Check need the header', async () => {
    const cli = await startCli(['--grpc-restricted-protocol=health:h=1']);
    try {
      await ready(cli, { h: '1' });
      await assert.rejects(callWith(cli.client, cli.client.serverLive, {}), restricted('h'));
      await assert.rejects(callWith(cli.client, cli.client.modelReady, { name: 'simple', version: '' }), restricted('h'));
      const health = new Client(cli.address, credentials.createInsecure());
      const check = (metadata: Metadata) =>
        new Promise<Buffer>((resolve, reject) =>
          health.makeUnaryRequest('/grpc.health.v1.Health/Check', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), metadata, (err, res) =>
            err ? reject(err) : resolve(res as Buffer),
          ),
        );
      await assert.rejects(check(new Metadata()), restricted('h'));
      const withHeader = new Metadata();
      withHeader.set('h', '1');
      assert.deepEqual([...(await check(withHeader))], [0x08, 0x01], 'SERVING');
      health.close();
    } finally {
      await cli.stop();
    }
  });
});

describe('restricted protocol - flags', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [CLI, '--grpc-port=0', ...args], { encoding: 'utf8', timeout: 20_000 });

  test('flags - an unknown category, a missing header or a category restricted twice exit 2 naming the flag', () => {
    const unknown = run(['--grpc-restricted-protocol=admin:k=v']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /--grpc-restricted-protocol: unknown category 'admin'/);
    const malformed = run(['--grpc-restricted-protocol=health']);
    assert.equal(malformed.status, 2);
    assert.match(malformed.stderr, /expected <categories>:<header>=<value>/);
    const twice = run(['--grpc-restricted-protocol=health:a=1', '--grpc-restricted-protocol=metadata,health:b=2']);
    assert.equal(twice.status, 2);
    assert.match(twice.stderr, /category 'health' is restricted more than once/);
  });
});
