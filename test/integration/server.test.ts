// The wire contract end to end: the real CLI, a client built from our generated stubs.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { HealthCheckResponse_ServingStatus, HealthClient, type HealthCheckResponse } from '../../generated/grpc/health/v1/health.js';
import {
  ServerReflectionClient,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from '../../generated/grpc/reflection/v1/reflection.js';
import type { ModelInferRequest, ModelInferResponse } from '../../generated/grpc_service.js';
import { call, startCli, type RunningCli } from '../helpers/server.js';

function int32Raw(values: number[]): Buffer {
  return Buffer.from(new Int32Array(values).buffer);
}

/** InferTensorContents with only int_contents set, as clients send INT8/16/32 typed. */
function intContents(values: number[]) {
  return {
    boolContents: [],
    intContents: values,
    int64Contents: [],
    uintContents: [],
    uint64Contents: [],
    fp32Contents: [],
    fp64Contents: [],
    bytesContents: [],
  };
}

function simpleRequest(overrides: Partial<ModelInferRequest> = {}): ModelInferRequest {
  return {
    modelName: 'simple',
    modelVersion: '',
    id: 'req-1',
    parameters: new Map(Object.entries({ triton_enable_empty_final_response: { boolParam: false } })),
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n], parameters: new Map(), contents: undefined },
      { name: 'INPUT1', datatype: 'INT32', shape: [1n, 16n], parameters: new Map(), contents: undefined },
    ],
    outputs: [],
    rawInputContents: [
      int32Raw(Array.from({ length: 16 }, (_, i) => i)),
      int32Raw(Array.from({ length: 16 }, () => 1)),
    ],
    ...overrides,
  };
}

function outputInt32(response: ModelInferResponse, name: string): number[] {
  const index = response.outputs.findIndex((o) => o.name === name);
  assert.ok(index >= 0, `output ${name} missing`);
  const raw = response.rawOutputContents[index] as Buffer;
  return [...new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))];
}

describe('server', () => {
  let cli: RunningCli;
  before(async () => {
    cli = await startCli(['--log-verbose=0']);
    // Models load asynchronously: wait for readiness.
    const deadline = Date.now() + 15_000;
    while (!(await call(cli.client, cli.client.serverReady, {})).ready) {
      if (Date.now() > deadline) throw new Error('server never became ready');
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  after(async () => {
    await cli.stop();
  });

  test('health - ServerLive and ServerReady are true', async () => {
    assert.equal((await call(cli.client, cli.client.serverLive, {})).live, true);
    assert.equal((await call(cli.client, cli.client.serverReady, {})).ready, true);
  });

  test('metadata - ServerMetadata names the server, its version and extensions', async () => {
    const metadata = await call(cli.client, cli.client.serverMetadata, {});
    assert.equal(metadata.name, 'v2serve');
    assert.match(metadata.version, /^\d+\.\d+\.\d+/);
    assert.ok(metadata.extensions.includes('model_repository'));
    assert.ok(metadata.extensions.includes('statistics'));
  });

  test('health - ModelReady(simple) is true, unknown model is false with OK status', async () => {
    assert.equal((await call(cli.client, cli.client.modelReady, { name: 'simple', version: '' })).ready, true);
    assert.equal((await call(cli.client, cli.client.modelReady, { name: 'nope', version: '' })).ready, false);
  });

  test('metadata - ModelMetadata(simple) lists INT32 inputs and outputs of shape [-1,16]', async () => {
    const metadata = await call(cli.client, cli.client.modelMetadata, { name: 'simple', version: '' });
    assert.equal(metadata.name, 'simple');
    assert.deepEqual(metadata.versions, ['1']);
    assert.deepEqual(
      metadata.inputs.map((t) => [t.name, t.datatype, t.shape]),
      [
        ['INPUT0', 'INT32', [-1n, 16n]],
        ['INPUT1', 'INT32', [-1n, 16n]],
      ],
    );
    assert.deepEqual(
      metadata.outputs.map((t) => t.name),
      ['OUTPUT0', 'OUTPUT1'],
    );
  });

  test('infer - raw inputs give sums and differences as raw outputs, id echoed', async () => {
    const response = await call(cli.client, cli.client.modelInfer, simpleRequest());
    assert.equal(response.id, 'req-1');
    assert.equal(response.modelName, 'simple');
    assert.equal(response.modelVersion, '1');
    assert.deepEqual(outputInt32(response, 'OUTPUT0'), Array.from({ length: 16 }, (_, i) => i + 1));
    assert.deepEqual(outputInt32(response, 'OUTPUT1'), Array.from({ length: 16 }, (_, i) => i - 1));
    for (const output of response.outputs) {
      assert.equal(output.datatype, 'INT32');
      assert.deepEqual(output.shape, [1n, 16n]);
    }
  });

  test('infer - typed contents give the same results, in raw_output_contents', async () => {
    const request = simpleRequest({
      id: 'typed',
      rawInputContents: [],
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n], parameters: new Map(), contents: intContents(Array(16).fill(5)) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1n, 16n], parameters: new Map(), contents: intContents(Array(16).fill(2)) },
      ],
      outputs: [{ name: 'OUTPUT1', parameters: new Map() }],
    });
    const response = await call(cli.client, cli.client.modelInfer, request);
    assert.equal(response.id, 'typed');
    assert.deepEqual(
      response.outputs.map((o) => o.name),
      ['OUTPUT1'],
    );
    assert.equal(response.rawOutputContents.length, 1);
    assert.deepEqual(outputInt32(response, 'OUTPUT1'), Array(16).fill(3));
  });

  test('simple_int8 - typed int_contents, as grpc_explicit_int8_content_client sends them, give INT8 sums and differences', async () => {
    const ramp = Array.from({ length: 16 }, (_, i) => i);
    const response = await call(cli.client, cli.client.modelInfer, {
      modelName: 'simple_int8',
      modelVersion: '',
      id: 'int8',
      parameters: new Map(),
      inputs: [
        { name: 'INPUT0', datatype: 'INT8', shape: [1n, 16n], parameters: new Map(), contents: intContents(ramp) },
        { name: 'INPUT1', datatype: 'INT8', shape: [1n, 16n], parameters: new Map(), contents: intContents(Array(16).fill(1)) },
      ],
      outputs: [],
      rawInputContents: [],
    });
    assert.deepEqual(response.outputs.map((o) => [o.name, o.datatype, o.shape]), [
      ['OUTPUT0', 'INT8', [1n, 16n]],
      ['OUTPUT1', 'INT8', [1n, 16n]],
    ]);
    const int8 = (bytes: Buffer) => [...new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)];
    assert.deepEqual(int8(response.rawOutputContents[0]!), ramp.map((v) => v + 1));
    assert.deepEqual(int8(response.rawOutputContents[1]!), ramp.map((v) => v - 1));
  });

  test('infer - unknown model is NOT_FOUND with Triton\'s message', async () => {
    await assert.rejects(call(cli.client, cli.client.modelInfer, simpleRequest({ modelName: 'wrong_model_name' })), {
      code: status.NOT_FOUND,
      details: "Request for unknown model: 'wrong_model_name' is not found",
    });
    await assert.rejects(call(cli.client, cli.client.modelMetadata, { name: 'wrong_model_name', version: '' }), (err: ServiceError) => {
      assert.equal(err.code, status.NOT_FOUND);
      assert.match(err.details, /Request for unknown model/);
      return true;
    });
  });

  test('infer - unknown version is NOT_FOUND naming model and version', async () => {
    await assert.rejects(call(cli.client, cli.client.modelInfer, simpleRequest({ modelVersion: '7' })), {
      code: status.NOT_FOUND,
      details: "Request for unknown model: 'simple' version 7 is not found",
    });
  });

  test('rpc - a not yet implemented RPC answers UNIMPLEMENTED naming it', async () => {
    await assert.rejects(call(cli.client, cli.client.traceSetting, { settings: new Map(), modelName: '' }), (err: ServiceError) => {
      assert.equal(err.code, status.UNIMPLEMENTED);
      assert.match(err.details, /TraceSetting/);
      return true;
    });
  });

  test('health - grpc.health.v1 Check answers SERVING for the server, the service and a ready model', async () => {
    const health = new HealthClient(cli.address, credentials.createInsecure());
    const check = (service: string) =>
      new Promise<HealthCheckResponse>((resolve, reject) =>
        health.check({ service }, (err, response) => (err ? reject(err) : resolve(response))),
      );
    assert.equal((await check('')).status, HealthCheckResponse_ServingStatus.SERVING);
    assert.equal((await check('inference.GRPCInferenceService')).status, HealthCheckResponse_ServingStatus.SERVING);
    assert.equal((await check('simple')).status, HealthCheckResponse_ServingStatus.SERVING);
    health.close();
  });

  test('reflection - lists the services and resolves the service file descriptor', async () => {
    const reflection = new ServerReflectionClient(cli.address, credentials.createInsecure());
    const ask = (request: Partial<ServerReflectionRequest>) =>
      new Promise<ServerReflectionResponse>((resolve, reject) => {
        const stream = reflection.serverReflectionInfo();
        stream.on('data', (response: ServerReflectionResponse) => {
          resolve(response);
          stream.end();
        });
        stream.on('error', reject);
        stream.write({ host: '', ...request });
      });
    const listed = await ask({ listServices: '' });
    const names = listed.listServicesResponse!.service.map((s) => s.name);
    assert.ok(names.includes('inference.GRPCInferenceService'), names.join(','));
    assert.ok(names.includes('grpc.health.v1.Health'), names.join(','));
    const described = await ask({ fileContainingSymbol: 'inference.GRPCInferenceService' });
    const files = described.fileDescriptorResponse!.fileDescriptorProto.map((bytes) =>
      fromBinary(FileDescriptorProtoSchema, bytes),
    );
    const service = files.find((f) => f.service.some((s) => s.name === 'GRPCInferenceService'));
    assert.ok(service, `no descriptor among ${files.map((f) => f.name).join(',')} declares the service`);
    assert.equal(service.package, 'inference');
    assert.ok(service.service.some((s) => s.name === 'GRPCInferenceService' && s.method.some((m) => m.name === 'ModelInfer')));
    reflection.close();
  });
});
