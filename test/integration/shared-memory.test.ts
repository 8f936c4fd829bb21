// System shared memory through the real server, the way simple_grpc_shm_client drives it:
// regions are files in /dev/shm, `simple` reads its inputs from one and writes its outputs to another.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { InferParameter, ModelInferRequest } from '../../generated/grpc_service.js';
import { call, startCli, type RunningCli } from '../helpers/server.js';
import { collect, expectedSum, int32Output, int32Raw, simpleRequest, waitReady } from './streaming-fixtures.js';

const INPUT_KEY = `/v2serve-test-${process.pid}-input`;
const OUTPUT_KEY = `/v2serve-test-${process.pid}-output`;
const file = (key: string) => `/dev/shm${key}`;

function placed(region: string, byteSize: number, offset = 0): Map<string, InferParameter> {
  return new Map(Object.entries({
    shared_memory_region: { stringParam: region },
    shared_memory_byte_size: { int64Param: BigInt(byteSize) },
    ...(offset !== 0 ? { shared_memory_offset: { int64Param: BigInt(offset) } } : {}),
  }));
}

/** INPUT0/INPUT1 at offsets 0/64 of input_data, OUTPUT0/OUTPUT1 at 0/64 of output_data; no raw entries. */
function shmRequest(overrides: { input0Offset?: number; outputRegion?: string; outputSize?: number } = {}): ModelInferRequest {
  const request = simpleRequest('shm');
  request.inputs[0]!.parameters = placed('input_data', 64, overrides.input0Offset ?? 0);
  request.inputs[1]!.parameters = placed('input_data', 64, 64);
  request.rawInputContents = [];
  const region = overrides.outputRegion ?? 'output_data';
  request.outputs = [
    { name: 'OUTPUT0', parameters: placed(region, overrides.outputSize ?? 64, 0) },
    { name: 'OUTPUT1', parameters: placed(region, overrides.outputSize ?? 64, 64) },
  ];
  return request;
}

function readInt32(key: string, offset: number, count: number): number[] {
  const bytes = readFileSync(file(key));
  return [...new Int32Array(bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + count * 4))];
}

describe('shared memory', () => {
  let cli: RunningCli;
  const register = (name: string, key: string, byteSize = 128, offset = 0) =>
    call(cli.client, cli.client.systemSharedMemoryRegister, { name, key, offset: BigInt(offset), byteSize: BigInt(byteSize) });

  before(async () => {
    writeFileSync(file(INPUT_KEY), Buffer.concat([int32Raw(Array.from({ length: 16 }, (_, i) => i)), int32Raw(new Array<number>(16).fill(1))]));
    writeFileSync(file(OUTPUT_KEY), Buffer.alloc(128));
    cli = await startCli(['--log-verbose=0']);
    await waitReady(cli, 'simple');
  });
  after(async () => {
    await cli.stop();
    rmSync(file(INPUT_KEY), { force: true });
    rmSync(file(OUTPUT_KEY), { force: true });
  });

  test('shm - unregister-all of system and CUDA regions succeeds with none registered', async () => {
    await call(cli.client, cli.client.systemSharedMemoryUnregister, { name: '' });
    await call(cli.client, cli.client.cudaSharedMemoryUnregister, { name: '' });
  });

  test('shm - registered regions are listed by status with key, offset and byte_size', async () => {
    await register('input_data', INPUT_KEY);
    await register('output_data', OUTPUT_KEY);
    const { regions } = await call(cli.client, cli.client.systemSharedMemoryStatus, { name: '' });
    assert.deepEqual([...regions.keys()].sort(), ['input_data', 'output_data']);
    assert.deepEqual(regions.get('input_data'), { name: 'input_data', key: INPUT_KEY, offset: 0n, byteSize: 128n });
    const one = await call(cli.client, cli.client.systemSharedMemoryStatus, { name: 'output_data' });
    assert.deepEqual([...one.regions.keys()], ['output_data']);
  });

  test('shm - simple reads its inputs from a region and writes its outputs into another', async () => {
    const response = await call(cli.client, cli.client.modelInfer, shmRequest());
    assert.deepEqual(
      response.outputs.map((o) => [o.name, o.datatype, o.shape]),
      [
        ['OUTPUT0', 'INT32', [1n, 16n]],
        ['OUTPUT1', 'INT32', [1n, 16n]],
      ],
    );
    // One (empty) raw entry per output, as Triton: C++ clients index it unchecked.
    assert.deepEqual(
      response.rawOutputContents.map((raw) => raw.length),
      [0, 0],
    );
    assert.deepEqual(readInt32(OUTPUT_KEY, 0, 16), expectedSum(0));
    assert.deepEqual(readInt32(OUTPUT_KEY, 64, 16), Array.from({ length: 16 }, (_, i) => i - 1));
  });

  test('shm - over REST, an output placed in a region is answered with its name, datatype and shape alone, as Triton', async () => {
    writeFileSync(file(OUTPUT_KEY), Buffer.alloc(128));
    const region = (name: string, byteSize: number, offset: number) => ({ shared_memory_region: name, shared_memory_byte_size: byteSize, shared_memory_offset: offset });
    const response = await fetch(`${cli.http as string}/v2/models/simple/infer`, {
      method: 'POST',
      body: JSON.stringify({
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: region('input_data', 64, 0) },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: region('input_data', 64, 64) },
        ],
        outputs: [
          { name: 'OUTPUT0', parameters: region('output_data', 64, 0) },
          { name: 'OUTPUT1', parameters: region('output_data', 64, 64) },
        ],
      }),
    });
    assert.equal(response.status, 200);
    const answer = (await response.json()) as { outputs: unknown[] };
    assert.deepEqual(answer.outputs, [
      { name: 'OUTPUT0', datatype: 'INT32', shape: [1, 16] },
      { name: 'OUTPUT1', datatype: 'INT32', shape: [1, 16] },
    ]);
    assert.deepEqual(readInt32(OUTPUT_KEY, 0, 16), expectedSum(0));
  });

  test('shm - a shared-memory input takes no raw entry: the other input keeps raw_input_contents[0]', async () => {
    const request = simpleRequest('mixed');
    request.inputs[0]!.parameters = placed('input_data', 64);
    request.rawInputContents = [int32Raw(new Array<number>(16).fill(10))];
    const response = await call(cli.client, cli.client.modelInfer, request);
    assert.deepEqual(int32Output(response, 'OUTPUT0'), Array.from({ length: 16 }, (_, i) => i + 10));
  });

  test('shm - works on a stream too', async () => {
    const stream = cli.client.modelStreamInfer();
    const done = collect(stream);
    stream.write(shmRequest());
    stream.end();
    const { responses, error } = await done;
    assert.equal(error, null);
    assert.equal(responses[0]?.errorMessage, '');
    assert.deepEqual(readInt32(OUTPUT_KEY, 0, 16), expectedSum(0));
  });

  test('shm - an offset past the region is INVALID_ARGUMENT naming the region and the offset', async () => {
    await assert.rejects(call(cli.client, cli.client.modelInfer, shmRequest({ input0Offset: 100 })), {
      code: status.INVALID_ARGUMENT,
      details: /'inputs\[0\]\.parameters\.shared_memory_offset' region 'input_data': offset 100 \+ byte_size 64 exceeds the region's 128 bytes/,
    });
  });

  test('shm - an output region too small for the result is INVALID_ARGUMENT', async () => {
    await assert.rejects(call(cli.client, cli.client.modelInfer, shmRequest({ outputSize: 32 })), {
      code: status.INVALID_ARGUMENT,
      details: /should be at least 64 bytes/,
    });
  });

  test('shm - an unknown region is NOT_FOUND "Unable to find shared memory region"', async () => {
    await assert.rejects(call(cli.client, cli.client.modelInfer, shmRequest({ outputRegion: 'nope' })), {
      code: status.NOT_FOUND,
      details: /Unable to find shared memory region: 'nope'/,
    });
  });

  test('shm - byte_size without a region, or of the wrong type, is INVALID_ARGUMENT', async () => {
    const request = simpleRequest('bad');
    request.inputs[0]!.parameters = new Map(Object.entries({ shared_memory_byte_size: { int64Param: 64n } }));
    await assert.rejects(call(cli.client, cli.client.modelInfer, request), { code: status.INVALID_ARGUMENT, details: /need 'shared_memory_region'/ });
    request.inputs[0]!.parameters = new Map(Object.entries({ shared_memory_region: { stringParam: 'input_data' }, shared_memory_byte_size: { stringParam: '64' } }));
    await assert.rejects(call(cli.client, cli.client.modelInfer, request), {
      code: status.INVALID_ARGUMENT,
      details: /'inputs\[0\]\.parameters\.shared_memory_byte_size' must be an int64_param/,
    });
  });

  test('shm - registering a name twice is ALREADY_EXISTS', async () => {
    await assert.rejects(register('input_data', INPUT_KEY), {
      code: status.ALREADY_EXISTS,
      details: "shared memory region 'input_data' already in manager",
    });
  });

  test('shm - a key that is a path, empty or missing is INVALID_ARGUMENT', async () => {
    for (const key of ['/../etc/passwd', '..', 'a/b', '', '/']) {
      await assert.rejects(register('evil', key), { code: status.INVALID_ARGUMENT, details: /'key' must be a shared memory object name/ }, key);
    }
    await assert.rejects(register('missing', `/v2serve-test-${process.pid}-absent`), {
      code: status.INVALID_ARGUMENT,
      details: /Unable to open shared memory region/,
    });
  });

  test('shm - a region larger than its shm object is INVALID_ARGUMENT', async () => {
    await assert.rejects(register('too_big', INPUT_KEY, 120, 16), { code: status.INVALID_ARGUMENT, details: /offset 16 \+ byte_size 120 exceeds the 128 bytes/ });
  });

  test('shm - CUDA: register is INVALID_ARGUMENT "GPUs not supported", status is empty', async () => {
    await assert.rejects(
      call(cli.client, cli.client.cudaSharedMemoryRegister, { name: 'gpu', rawHandle: Buffer.alloc(0), deviceId: 0n, byteSize: 64n }),
      { code: status.INVALID_ARGUMENT, details: /GPUs not supported/ },
    );
    assert.deepEqual((await call(cli.client, cli.client.cudaSharedMemoryStatus, { name: '' })).regions, new Map());
  });

  test('shm - unregister removes a region; unregister-all removes the rest', async () => {
    await call(cli.client, cli.client.systemSharedMemoryUnregister, { name: 'output_data' });
    const { regions } = await call(cli.client, cli.client.systemSharedMemoryStatus, { name: '' });
    assert.deepEqual([...regions.keys()], ['input_data']);
    await assert.rejects(call(cli.client, cli.client.modelInfer, shmRequest()), { code: status.NOT_FOUND });
    await assert.rejects(call(cli.client, cli.client.systemSharedMemoryStatus, { name: 'output_data' }), { code: status.NOT_FOUND });
    await call(cli.client, cli.client.systemSharedMemoryUnregister, { name: '' });
    assert.deepEqual((await call(cli.client, cli.client.systemSharedMemoryStatus, { name: '' })).regions, new Map());
    // The server never created or removed the objects: that is the client's business.
    assert.ok(existsSync(file(INPUT_KEY)));
  });
});
