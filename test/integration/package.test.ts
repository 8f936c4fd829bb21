// The published package as a user gets it: npm pack, npm install of the tarball into an
// empty project, and `npx v2serve` serving a TypeScript model that imports 'v2serve'.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import { GRPCInferenceServiceClient } from '../../generated/grpc_service.js';
import { call, PROJECT_ROOT } from '../helpers/server.js';

const MODEL = `
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';

export default class Doubler extends ModelServer {
  predict(request: InferRequest): PredictOutputs {
    const input = request.tensors['INPUT0']!.data as Float32Array;
    return { OUTPUT0: input.map((v) => v * 2) };
  }
}
`;

const CONFIG = `
name: "doubler"
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
`;

// onnxruntime-node's install script downloads CUDA provider libraries on linux x64; a machine
// without internet access skips it, as the README tells users to (the CPU binaries are in the package).
const npm = (args: string[], cwd: string): string =>
  execFileSync('npm', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 300_000,
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
  });

describe('package', () => {
  const dir = mkdtempSync(join(tmpdir(), 'v2serve-package-'));
  let files: string[];
  let tarball: string;
  before(() => {
    // npm test has just built dist/; the pack takes it as it is.
    const packed = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], PROJECT_ROOT)) as {
      filename: string;
      files: { path: string }[];
    }[];
    tarball = join(dir, packed[0]!.filename);
    files = packed[0]!.files.map((f) => f.path);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('package - the tarball holds the build, the bundled models, the proto files and the docs the README links, no tests, fixtures or bench', () => {
    const onnx = ['dist/src/onnx/index.js', 'dist/src/onnx/index.d.ts', 'dist/src/onnx/zero-code-model.js', 'models/iris/labels.txt', 'models/iris/1/model.onnx', 'models/iris_hooks/1/model.ts'];
    const docs = ['README.md', ...readdirSync(join(PROJECT_ROOT, 'docs')).map((name) => `docs/${name}`)];
    for (const path of ['bin/v2serve.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/workers/worker-entry.js', 'models/simple/config.pbtxt', 'proto/grpc_service.proto', ...onnx, ...docs]) {
      assert.ok(files.includes(path), `${path} is missing from the tarball`);
    }
    const unwanted = files.filter((path) => /^(test|bench|src|tools)\//.test(path) || path.includes('.tsbuildinfo'));
    assert.deepEqual(unwanted, []);
  });

  test('package - installed into an empty project, npx v2serve serves a TypeScript model that imports v2serve', async (t) => {
    const project = join(dir, 'project');
    mkdirSync(join(project, 'repo', 'doubler', '1'), { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }));
    writeFileSync(join(project, 'repo', 'doubler', 'config.pbtxt'), CONFIG);
    writeFileSync(join(project, 'repo', 'doubler', '1', 'model.ts'), MODEL);
    npm(['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], project);

    // npx runs v2serve as its child: a process group of their own lets the test stop both.
    const server = spawn('npx', ['v2serve', '--model-repository', './repo', '--grpc-address=127.0.0.1', '--grpc-port=0', '--http-address=127.0.0.1', '--http-port=0', '--metrics-address=127.0.0.1', '--metrics-port=0'], {
      cwd: project,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const exited = new Promise((resolve) => server.on('exit', resolve));
    t.after(async () => {
      if (server.exitCode !== null || server.signalCode !== null) return;
      process.kill(-server.pid!, 'SIGTERM');
      const timer = setTimeout(() => process.kill(-server.pid!, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no 'listening' line within 60 s: ${out}`)), 60_000);
      server.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
        const line = out.split('\n').find((l) => l.includes('"msg":"listening"'));
        if (line) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { port: number }).port);
        }
      });
      server.on('exit', (code) => reject(new Error(`npx v2serve exited (${code}): ${out}`)));
    });
    const client = new GRPCInferenceServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
    t.after(() => client.close());
    const deadline = Date.now() + 30_000;
    while (!(await call(client, client.modelReady, { name: 'doubler', version: '' })).ready) {
      assert.ok(Date.now() < deadline, 'doubler never became ready');
      await new Promise((r) => setTimeout(r, 50));
    }
    const response = await call(client, client.modelInfer, {
      modelName: 'doubler',
      modelVersion: '',
      id: 'pack',
      parameters: new Map(),
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [3n], parameters: new Map(), contents: undefined }],
      outputs: [],
      rawInputContents: [Buffer.from(new Float32Array([1, 2.5, -4]).buffer)],
    });
    const out = response.rawOutputContents[0]!;
    assert.deepEqual([...new Float32Array(new Uint8Array(out).buffer)], [2, 5, -8]);
  });
});
