// Connection management flags through the real CLI: the per-connection stream cap,
// max connection age, and Triton flags grpc-js cannot apply.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { connectivityState, credentials } from '@grpc/grpc-js';
import { GRPCInferenceServiceClient, type ModelInferRequest } from '../../generated/grpc_service.js';
import { call, PROJECT_ROOT, startCli, tempRepository } from '../helpers/server.js';

const CLI = join(PROJECT_ROOT, 'bin', 'v2serve.js');

const CONFIG = `
name: "counting"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 1 ] } ]
`;

// Answers with how many requests were running when it started (itself included).
const COUNTING = `
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
let running = 0;
export default class Counting extends ModelServer {
  load(): void {}
  async predict(_request: InferRequest): Promise<PredictOutputs> {
    running++;
    const seen = running;
    await new Promise((r) => setTimeout(r, 300));
    running--;
    return { OUTPUT0: new Int32Array([seen]) };
  }
}`;

function request(): ModelInferRequest {
  return {
    modelName: 'counting',
    modelVersion: '',
    id: '',
    parameters: new Map(),
    inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1n], parameters: new Map(), contents: undefined }],
    outputs: [],
    rawInputContents: [Buffer.from(new Int32Array([0]).buffer)],
  };
}

describe('connections', () => {
  test('connections - --grpc-max-concurrent-streams=2: six calls on one connection run two at a time and all succeed', async () => {
    const repo = tempRepository({ counting: { config: CONFIG, versions: { '1': COUNTING } } });
    const cli = await startCli([
      `--model-repository=${repo.root}`,
      '--grpc-max-concurrent-streams=2',
      '--grpc-keepalive-time=500',
      '--grpc-http2-max-ping-strikes=3',
    ]);
    try {
      await cli.waitForLog((l) => l['model'] === 'counting' && l['msg'] === 'model loaded');
      const started = Date.now();
      const responses = await Promise.all(Array.from({ length: 6 }, () => call(cli.client, cli.client.modelInfer, request())));
      const elapsed = Date.now() - started;
      const seen = responses.map((r) => new Int32Array(new Uint8Array(r.rawOutputContents[0]!).buffer)[0]!);
      assert.ok(Math.max(...seen) <= 2, `at most 2 running at once, saw ${seen.join(',')}`);
      assert.ok(elapsed >= 850, `three rounds of 300 ms, took ${elapsed} ms`);
      // Keepalive pings every 500 ms are answered by the client; the connection stays up.
      await new Promise((r) => setTimeout(r, 1200));
      assert.equal((await call(cli.client, cli.client.serverLive, {})).live, true);
      const warning = await cli.waitForLog((l) => String(l['msg']).startsWith('accepted for Triton compatibility but not applied'));
      assert.deepEqual(warning['options'], ['grpc.http2.max_ping_strikes']);
    } finally {
      await cli.stop();
      repo.remove();
    }
  });

  test('connections - --grpc-max-connection-age: the server sends GOAWAY, the client reconnects and calls go on', async () => {
    const cli = await startCli(['--grpc-max-connection-age=400', '--grpc-max-connection-age-grace=1000']);
    const client = new GRPCInferenceServiceClient(cli.address, credentials.createInsecure());
    try {
      assert.equal((await call(client, client.serverLive, {})).live, true);
      assert.equal(client.getChannel().getConnectivityState(false), connectivityState.READY);
      // GOAWAY after 400 ms (±10% jitter): the channel drops to IDLE until the next call.
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(client.getChannel().getConnectivityState(false), connectivityState.IDLE);
      assert.equal((await call(client, client.serverLive, {})).live, true);
    } finally {
      client.close();
      await cli.stop();
    }
  });

  test('connections - a bad keepalive value exits 2 naming the flag', () => {
    const result = spawnSync(process.execPath, [CLI, '--grpc-keepalive-time=soon'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--grpc-keepalive-time must be an integer/);
  });
});
