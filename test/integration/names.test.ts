// A client may send any string as a name. Names that are JavaScript object internals
// ("__proto__", "constructor", "toString", …) must mean nothing special anywhere a client
// can put a name: they are unknown like any other unknown name, or stored like any other.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { HealthClient } from '../../generated/grpc/health/v1/health.js';
import type { InferParameter, ModelInferRequest } from '../../generated/grpc_service.js';
import { call, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { waitReady } from './streaming-fixtures.js';

const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'prototype'];

/** Answers, for each name the request lists in `names`, what getParam() found and whether a tensor of that name arrived. */
const PARAM_ECHO = `
import { ModelServer, type InferRequest, type InferResponse, type PredictOutputs } from 'v2serve';
export default class ParamEcho extends ModelServer {
  predict(request: InferRequest): PredictOutputs {
    const names = String(request.parameters['names'] ?? '').split(',');
    const seen = names.map((name) => {
      const value = this.getParam(name, 'absent', request);
      const tensor = Object.hasOwn(request.tensors, name) ? 'tensor' : 'no-tensor';
      return name + '=' + (typeof value === 'function' ? 'FUNCTION' : String(value)) + ':' + tensor + ':' + (this.labels[name] ?? 'no-label');
    });
    return { OUTPUT0: [seen.join('|')] };
  }
  override postprocess(response: InferResponse): InferResponse {
    for (const name of ['__proto__', 'toString']) response.parameters[name] = 'set-' + name;
    return response;
  }
}`;

const PARAM_ECHO_CONFIG = `
name: "param_echo"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_STRING dims: [ 1 ] } ]
parameters { key: "__proto__" value: { string_value: "config-proto" } }
parameters { key: "toString" value: { string_value: "config-tostring" } }
metric_tags { key: "constructor" value: "tag-constructor" }
`;

const SHM_KEY = `/v2serve-names-${process.pid}`;

function stringParameters(entries: Record<string, string>): Map<string, InferParameter> {
  return new Map(Object.entries(entries).map(([key, value]) => [key, { stringParam: value }]));
}

function echoRequest(parameters: Map<string, InferParameter>, inputName = 'INPUT0'): ModelInferRequest {
  return {
    modelName: 'param_echo',
    modelVersion: '',
    id: 'names',
    parameters,
    inputs: [{ name: inputName, datatype: 'FP32', shape: [1n], parameters: new Map(), contents: undefined }],
    outputs: [],
    rawInputContents: [Buffer.from(new Float32Array([1]).buffer)],
  };
}

/** The BYTES output's single element, as text. */
function echoed(raw: Buffer): Map<string, string> {
  const text = raw.subarray(4).toString('utf8');
  return new Map(text.split('|').map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
}

function rejectsWith(code: status) {
  return (err: ServiceError) => {
    assert.equal(err.code, code, `${status[err.code]}: ${err.details}`);
    return true;
  };
}

describe('names that are JavaScript object internals', () => {
  const repo = tempRepository({ param_echo: { config: PARAM_ECHO_CONFIG, versions: { '1': PARAM_ECHO } } });
  let cli: RunningCli;
  before(async () => {
    writeFileSync(`/dev/shm${SHM_KEY}`, Buffer.alloc(128));
    cli = await startCli([
      `--model-repository=${repo.root}`,
      '--model-control-mode=explicit',
      '--load-model=param_echo',
      '--log-verbose=0',
    ]);
    await waitReady(cli, 'param_echo');
  });
  after(async () => {
    await cli.stop();
    repo.remove();
    rmSync(`/dev/shm${SHM_KEY}`, { force: true });
  });

  test('names - request parameters with these names reach the model as plain values; config parameters and labels too', async () => {
    const sent = Object.fromEntries(NAMES.map((name) => [name, `request-${name}`]));
    const withRequest = await call(
      cli.client,
      cli.client.modelInfer,
      echoRequest(stringParameters({ ...sent, names: NAMES.join(',') })),
    );
    const fromRequest = echoed(withRequest.rawOutputContents[0]!);
    for (const name of NAMES) assert.match(fromRequest.get(name) ?? '', new RegExp(`^request-${name}:no-tensor:`), name);

    const withoutRequest = await call(cli.client, cli.client.modelInfer, echoRequest(stringParameters({ names: NAMES.join(',') })));
    const fromConfig = echoed(withoutRequest.rawOutputContents[0]!);
    assert.equal(fromConfig.get('__proto__'), 'config-proto:no-tensor:no-label');
    assert.equal(fromConfig.get('toString'), 'config-tostring:no-tensor:no-label');
    assert.equal(fromConfig.get('constructor'), 'absent:no-tensor:tag-constructor');
    for (const name of ['hasOwnProperty', 'valueOf', '__defineGetter__', 'prototype']) {
      assert.equal(fromConfig.get(name), 'absent:no-tensor:no-label', name);
    }
  });

  test('names - response parameters set by a model under these names reach the client', async () => {
    const response = await call(cli.client, cli.client.modelInfer, echoRequest(stringParameters({ names: '' })));
    assert.equal(response.parameters.get('__proto__')?.stringParam, 'set-__proto__');
    assert.equal(response.parameters.get('toString')?.stringParam, 'set-toString');
  });

  for (const name of NAMES) {
    test(`names - '${name}' as an input, output, model, region, log setting or load parameter is only an unknown name`, async () => {
      // Request, input and output parameters of that name are carried like any other.
      const echo = echoRequest(new Map([[name, { int64Param: 2n }], ['names', { stringParam: name }]]));
      echo.inputs[0]!.parameters.set(name, { boolParam: true });
      echo.outputs = [{ name: 'OUTPUT0', parameters: new Map([[name, { stringParam: 'x' }]]) }];
      const answered = echoed((await call(cli.client, cli.client.modelInfer, echo)).rawOutputContents[0]!);
      assert.match(answered.get(name) ?? '', /^2:no-tensor:/);

      // A tensor, model, version, region or setting of that name does not exist.
      await assert.rejects(call(cli.client, cli.client.modelInfer, echoRequest(new Map(), name)), rejectsWith(status.INVALID_ARGUMENT));
      const badOutput = echoRequest(new Map());
      badOutput.outputs = [{ name, parameters: new Map() }];
      await assert.rejects(call(cli.client, cli.client.modelInfer, badOutput), rejectsWith(status.INVALID_ARGUMENT));
      const badOperation = echoRequest(stringParameters({ operation: name }));
      await assert.rejects(call(cli.client, cli.client.modelInfer, badOperation), rejectsWith(status.INVALID_ARGUMENT));
      await assert.rejects(call(cli.client, cli.client.modelInfer, { ...echoRequest(new Map()), modelName: name }), rejectsWith(status.NOT_FOUND));
      await assert.rejects(call(cli.client, cli.client.modelInfer, { ...echoRequest(new Map()), modelVersion: name }), rejectsWith(status.INVALID_ARGUMENT));
      assert.equal((await call(cli.client, cli.client.modelReady, { name, version: '' })).ready, false);
      await assert.rejects(call(cli.client, cli.client.modelMetadata, { name, version: '' }), rejectsWith(status.NOT_FOUND));
      await assert.rejects(call(cli.client, cli.client.modelConfig, { name, version: '' }), rejectsWith(status.NOT_FOUND));
      await assert.rejects(call(cli.client, cli.client.modelStatistics, { name, version: '' }), rejectsWith(status.INVALID_ARGUMENT));
      await assert.rejects(call(cli.client, cli.client.systemSharedMemoryStatus, { name }), rejectsWith(status.NOT_FOUND));
      await assert.rejects(
        call(cli.client, cli.client.logSettings, { settings: new Map([[name, { boolParam: true }]]) }),
        rejectsWith(status.INVALID_ARGUMENT),
      );
      // Loading a name the repository lacks is INTERNAL with Triton's text, for every name (PROTOCOL.md).
      await assert.rejects(
        call(cli.client, cli.client.repositoryModelLoad, { repositoryName: '', modelName: name, parameters: new Map() }),
        { code: status.INTERNAL, details: `failed to load '${name}', failed to poll from model repository` },
      );
      await assert.rejects(
        call(cli.client, cli.client.repositoryModelLoad, {
          repositoryName: '',
          modelName: 'param_echo',
          parameters: new Map([[name, { stringParam: 'x' }]]),
        }),
        rejectsWith(status.INVALID_ARGUMENT),
      );
      const health = new HealthClient(cli.address, credentials.createInsecure());
      try {
        await assert.rejects(
          new Promise((resolve, reject) => health.check({ service: name }, (err, r) => (err ? reject(err) : resolve(r)))),
          rejectsWith(status.NOT_FOUND),
        );
      } finally {
        health.close();
      }
    });

    test(`names - a region named '${name}' registers, lists and unregisters like any other`, async () => {
      await call(cli.client, cli.client.systemSharedMemoryRegister, { name, key: SHM_KEY, offset: 0n, byteSize: 128n });
      const { regions } = await call(cli.client, cli.client.systemSharedMemoryStatus, { name: '' });
      assert.deepEqual([...regions.keys()], [name]);
      assert.equal(regions.get(name)?.key, SHM_KEY);
      await call(cli.client, cli.client.systemSharedMemoryUnregister, { name });
      assert.equal((await call(cli.client, cli.client.systemSharedMemoryStatus, { name: '' })).regions.size, 0);
    });
  }

  test('names - after all of it the server logged no unexpected error and still serves', async () => {
    const response = await call(cli.client, cli.client.modelInfer, echoRequest(stringParameters({ names: 'x' })));
    assert.equal(echoed(response.rawOutputContents[0]!).get('x'), 'absent:no-tensor:no-label');
    const unexpected = cli.logs.filter((line) => /unexpected|uncaught|unhandled/i.test(String(line['msg'])));
    assert.deepEqual(unexpected, []);
  });
});
