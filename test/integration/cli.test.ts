// The CLI as a user runs it: flags, a broken model beside good ones, graceful shutdown.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { GRPCInferenceServiceClient } from '../../generated/grpc_service.js';
import type { ModelInferRequest } from '../../generated/grpc_service.js';
import { call, PROJECT_ROOT, startCli, tempRepository } from '../helpers/server.js';

const CLI = join(PROJECT_ROOT, 'bin', 'v2serve.js');

const ECHO_CONFIG = (name: string) => `
name: "${name}"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
`;

const ECHO = (delayMs: number) => `
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class Echo extends ModelServer {
  load(): void {}
  async predict(request: InferRequest): Promise<PredictOutputs> {
    await new Promise((r) => setTimeout(r, ${delayMs}));
    return { OUTPUT0: request.tensors['INPUT0']!.data as Float32Array };
  }
}`;

function request(model: string): ModelInferRequest {
  return {
    modelName: model,
    modelVersion: '',
    id: 'x',
    parameters: new Map(),
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2n], parameters: new Map(), contents: undefined }],
    outputs: [],
    rawInputContents: [Buffer.from(new Float32Array([1, 2]).buffer)],
  };
}

function runCli(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
}

describe('cli', () => {
  test('flags - an unknown flag prints what is wrong and exits 2', () => {
    const result = runCli(['--no-such-flag']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /no-such-flag/);
    assert.match(result.stderr, /Usage: v2serve/);
  });

  test('flags - a bad value names the flag and exits 2', () => {
    const result = runCli(['--grpc-port=http']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--grpc-port must be an integer in 0\.\.65535, got 'http'/);
    assert.equal(runCli(['--model-control-mode=sometimes']).status, 2);
  });

  test('flags - --help and --version exit 0', () => {
    const help = runCli(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--model-repository/);
    const version = runCli(['--version']);
    assert.equal(version.status, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  });

  test('start - `npm start` serves the bundled example repository', async () => {
    const child = spawn('npm', ['start', '--silent', '--', '--grpc-address=127.0.0.1', '--grpc-port=0', '--http-address=127.0.0.1', '--http-port=0', '--metrics-address=127.0.0.1', '--metrics-port=0'], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      // Its own process group, so that the server npm started is stopped with it.
      detached: true,
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          out += chunk;
          const line = out.split('\n').find((l) => l.includes('"msg":"listening"'));
          if (line) resolve((JSON.parse(line) as { port: number }).port);
        });
        child.once('exit', (code) => reject(new Error(`npm start exited (${code}) before listening`)));
      });
      const client = new GRPCInferenceServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
      try {
        const deadline = Date.now() + 15_000;
        while (!(await call(client, client.serverReady, {})).ready) {
          assert.ok(Date.now() < deadline, 'not ready within 15 s');
          await new Promise((r) => setTimeout(r, 50));
        }
        const index = await call(client, client.repositoryIndex, { repositoryName: '', ready: true });
        for (const model of ['identity_fp32', 'simple', 'simple_identity', 'simple_string']) {
          assert.ok(index.models.some((m) => m.name === model), `${model} is not ready`);
        }
      } finally {
        client.close();
      }
    } finally {
      process.kill(-(child.pid as number), 'SIGTERM');
      await exited;
    }
  });

  test('repository - a malformed config.pbtxt is reported with line:col and the other models serve', async () => {
    const repo = tempRepository({
      good: { config: ECHO_CONFIG('good'), versions: { '1': ECHO(0) } },
      broken: {
        config: 'name: "broken"\nmax_batch_size: 0\ninput [ { name: "INPUT0" data_type: TYPE_NOPE dims: [ -1 ] } ]\n',
        versions: { '1': ECHO(0) },
      },
    });
    const cli = await startCli([`--model-repository=${repo.root}`]);
    try {
      const failure = await cli.waitForLog((l) => l['model'] === 'broken' && l['msg'] === 'model failed to load');
      assert.match(String(failure['reason']), /config\.pbtxt:3:\d+: .*TYPE_NOPE/);
      const index = await call(cli.client, cli.client.repositoryIndex, { repositoryName: '', ready: false });
      const broken = index.models.find((m) => m.name === 'broken');
      assert.equal(broken?.state, 'UNAVAILABLE');
      assert.match(broken?.reason ?? '', /config\.pbtxt:3:\d+/);
      await cli.waitForLog((l) => l['model'] === 'good' && l['msg'] === 'model loaded');
      assert.equal((await call(cli.client, cli.client.modelReady, { name: 'good', version: '' })).ready, true);
      const response = await call(cli.client, cli.client.modelInfer, request('good'));
      assert.equal(response.outputs[0]?.name, 'OUTPUT0');
    } finally {
      await cli.stop();
      repo.remove();
    }
  });

  test('lifecycle - SIGTERM lets a slow request finish, refuses new calls, and exits 0', async () => {
    const repo = tempRepository({ slow: { config: ECHO_CONFIG('slow'), versions: { '1': ECHO(1500) } } });
    const cli = await startCli([`--model-repository=${repo.root}`, '--exit-timeout-secs=10']);
    try {
      await cli.waitForLog((l) => l['model'] === 'slow' && l['msg'] === 'model loaded');
      const inFlight = call(cli.client, cli.client.modelInfer, request('slow'));
      await new Promise((r) => setTimeout(r, 300));
      cli.process.kill('SIGTERM');
      await cli.waitForLog((l) => l['msg'] === 'shutting down');
      await assert.rejects(call(cli.client, cli.client.modelInfer, request('slow')), (err: ServiceError) => {
        assert.equal(err.code, status.UNAVAILABLE);
        return true;
      });
      const response = await inFlight;
      assert.deepEqual(response.outputs.map((o) => o.name), ['OUTPUT0']);
      assert.equal(await cli.exited, 0);
      assert.ok(cli.logs.some((l) => l['msg'] === 'stopped'));
    } finally {
      await cli.stop();
      repo.remove();
    }
  });
});
