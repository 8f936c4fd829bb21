// Server reflection as a client that knows nothing but the server's address uses it: list the
// services, fetch the descriptors, build a descriptor pool, and call ModelInfer with messages
// made from the reflected descriptors alone.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { credentials, Metadata, type Client, type ClientDuplexStream } from '@grpc/grpc-js';
import { create, createFileRegistry, fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import {
  FileDescriptorProtoSchema,
  type DescriptorProto,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import { DESCRIPTOR_SET_BASE64 } from '../../generated/descriptor_set.js';
import {
  ServerReflectionClient as ReflectionV1Client,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from '../../generated/grpc/reflection/v1/reflection.js';
import { ServerReflectionClient as ReflectionV1AlphaClient } from '../../generated/grpc/reflection/v1alpha/reflection.js';
import { startCli, type RunningCli } from '../helpers/server.js';

const COMPILED_FILES = [
  'grpc_service.proto',
  'model_config.proto',
  'grpc/health/v1/health.proto',
  'grpc/reflection/v1/reflection.proto',
  'grpc/reflection/v1alpha/reflection.proto',
];

/** Each file of the committed descriptor set, as the bytes buf wrote. */
function compiledFiles(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const reader = new BinaryReader(Buffer.from(DESCRIPTOR_SET_BASE64, 'base64'));
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field !== 1) {
      reader.skip(wireType);
      continue;
    }
    const bytes = Buffer.from(reader.bytes());
    files.set(fromBinary(FileDescriptorProtoSchema, bytes).name, bytes);
  }
  return files;
}

type ReflectionStream = ClientDuplexStream<ServerReflectionRequest, ServerReflectionResponse>;

/** Sends one request on an open reflection stream and waits for its answer. */
function ask(stream: ReflectionStream, request: Partial<ServerReflectionRequest>): Promise<ServerReflectionResponse> {
  return new Promise((resolve, reject) => {
    stream.once('data', resolve);
    stream.once('error', reject);
    stream.write({ host: '', ...request });
  });
}

function open(client: InstanceType<typeof ReflectionV1Client>): ReflectionStream {
  return client.serverReflectionInfo();
}

function mapEntryProblems(file: FileDescriptorProto): string[] {
  const problems: string[] = [];
  const visit = (message: DescriptorProto, scope: string): void => {
    const name = `${scope}.${message.name}`;
    for (const field of message.field) {
      const entry = message.nestedType.find((nested) => field.typeName === `${name}.${nested.name}` && nested.options?.mapEntry);
      if (!entry) continue;
      const expected = field.name.split('_').map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('') + 'Entry';
      if (entry.name !== expected) problems.push(`${name}.${field.name}: entry '${entry.name}', expected '${expected}'`);
    }
    for (const nested of message.nestedType) visit(nested, name);
  };
  for (const message of file.messageType) visit(message, file.package ? `.${file.package}` : '');
  return problems;
}

describe('reflection', () => {
  let cli: RunningCli;
  let client: InstanceType<typeof ReflectionV1Client>;
  let stream: ReflectionStream;
  before(async () => {
    cli = await startCli();
    client = new ReflectionV1Client(cli.address, credentials.createInsecure());
    stream = open(client);
  });
  after(async () => {
    stream.end();
    client.close();
    await cli.stop();
  });

  test('reflection - list_services names the inference, health and both reflection services', async () => {
    const response = await ask(stream, { listServices: '' });
    assert.deepEqual(response.listServicesResponse?.service.map((s) => s.name).sort(), [
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      'inference.GRPCInferenceService',
    ]);
  });

  test('reflection - each file is served under its own name with exactly the compiled bytes', async () => {
    const compiled = compiledFiles();
    assert.deepEqual([...compiled.keys()].sort(), [...COMPILED_FILES].sort());
    const fresh = open(client);
    try {
      for (const name of COMPILED_FILES) {
        const response = await ask(fresh, { fileByFilename: name });
        const served = response.fileDescriptorResponse?.fileDescriptorProto[0];
        assert.ok(served, `no descriptor for ${name}`);
        assert.ok(Buffer.from(served).equals(compiled.get(name)!), `${name}: served bytes differ from the compiled ones`);
      }
    } finally {
      fresh.end();
    }
  });

  test('reflection - every map field has a <Field>Entry type with a fully-qualified name', async () => {
    const fresh = open(client);
    try {
      const response = await ask(fresh, { fileContainingSymbol: 'inference.GRPCInferenceService' });
      const files = response.fileDescriptorResponse!.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
      assert.deepEqual(files.map((f) => f.name), ['grpc_service.proto', 'model_config.proto'], 'the file, then what it imports');
      const maps = files.flatMap((f) => f.messageType).filter((m) => m.nestedType.some((n) => n.options?.mapEntry));
      assert.ok(maps.length >= 5, 'grpc_service.proto and model_config.proto declare map fields');
      for (const file of files) assert.deepEqual(mapEntryProblems(file), [], file.name);
      const request = files[0]!.messageType.find((m) => m.name === 'ModelInferRequest')!;
      assert.equal(request.field.find((f) => f.name === 'parameters')?.typeName, '.inference.ModelInferRequest.ParametersEntry');
    } finally {
      fresh.end();
    }
  });

  test('reflection - a client knowing only reflection builds ModelInfer for simple and reads the sums', async () => {
    const fresh = open(client);
    let files: FileDescriptorProto[];
    try {
      const response = await ask(fresh, { fileContainingSymbol: 'inference.GRPCInferenceService.ModelInfer' });
      files = response.fileDescriptorResponse!.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
    } finally {
      fresh.end();
    }
    const registry = createFileRegistry(files[0]!, (name) => files.find((file) => file.name === name));
    const service = registry.getService('inference.GRPCInferenceService');
    const method = service?.methods.find((m) => m.name === 'ModelInfer');
    assert.ok(method, 'ModelInfer resolved from reflection');
    const input: DescMessage = method.input;
    const output: DescMessage = method.output;
    const int32s = (values: number[]) => new Uint8Array(new Int32Array(values).buffer);
    const request = create(input, {
      modelName: 'simple',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n] },
        { name: 'INPUT1', datatype: 'INT32', shape: [1n, 16n] },
      ],
      rawInputContents: [int32s(Array.from({ length: 16 }, (_, i) => i)), int32s(new Array<number>(16).fill(3))],
    });
    const infer = new (ReflectionV1Client as unknown as new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => Client)(
      cli.address,
      credentials.createInsecure(),
    );
    try {
      const reply = await new Promise<Record<string, unknown>>((resolve, reject) => {
        infer.makeUnaryRequest(
          `/${service!.typeName}/${method.name}`,
          (message: typeof request) => Buffer.from(toBinary(input, message)),
          (bytes: Buffer) => fromBinary(output, bytes) as unknown as Record<string, unknown>,
          request,
          new Metadata(),
          {},
          (err, value) => (err ? reject(err) : resolve(value!)),
        );
      });
      const raw = reply['rawOutputContents'] as Uint8Array[];
      const view = (bytes: Uint8Array) => [...new Int32Array(new Uint8Array(bytes).buffer)]; // a copy: Buffer#slice would be a view
      assert.deepEqual(view(raw[0]!), Array.from({ length: 16 }, (_, i) => i + 3));
      assert.deepEqual(view(raw[1]!), Array.from({ length: 16 }, (_, i) => i - 3));
    } finally {
      infer.close();
    }
  });

  test('reflection - imports already sent on a stream are not sent again; the requested file always is', async () => {
    const fresh = open(client);
    try {
      const first = await ask(fresh, { fileByFilename: 'grpc_service.proto' });
      assert.equal(first.fileDescriptorResponse?.fileDescriptorProto.length, 2);
      const again = await ask(fresh, { fileByFilename: 'grpc_service.proto' });
      assert.equal(again.fileDescriptorResponse?.fileDescriptorProto.length, 1);
      const imported = await ask(fresh, { fileByFilename: 'model_config.proto' });
      assert.equal(imported.fileDescriptorResponse?.fileDescriptorProto.length, 1);
    } finally {
      fresh.end();
    }
  });

  test('reflection - symbols of every kind resolve: method, nested message, field, enum value, health service', async () => {
    const cases: [string, string][] = [
      ['inference.GRPCInferenceService.ModelInfer', 'grpc_service.proto'],
      ['inference.ModelInferRequest.InferInputTensor', 'grpc_service.proto'],
      ['inference.ModelInferRequest.model_name', 'grpc_service.proto'],
      ['.inference.ModelConfig', 'model_config.proto'],
      ['inference.TYPE_FP32', 'model_config.proto'],
      ['grpc.health.v1.Health', 'grpc/health/v1/health.proto'],
      ['grpc.health.v1.HealthCheckResponse.SERVING', 'grpc/health/v1/health.proto'],
    ];
    for (const [symbol, file] of cases) {
      const response = await ask(stream, { fileContainingSymbol: symbol });
      const first = response.fileDescriptorResponse?.fileDescriptorProto[0];
      assert.ok(first, `${symbol}: ${response.errorResponse?.errorMessage}`);
      assert.equal(fromBinary(FileDescriptorProtoSchema, first).name, file, symbol);
    }
  });

  test('reflection - unknown names answer NOT_FOUND in the response and the stream goes on', async () => {
    const unknown: Partial<ServerReflectionRequest>[] = [
      { fileByFilename: 'nope.proto' },
      { fileContainingSymbol: 'inference.Nope' },
      { fileContainingSymbol: '__proto__' },
      { fileContainingExtension: { containingType: 'inference.ModelConfig', extensionNumber: 1000 } },
      { allExtensionNumbersOfType: 'toString' },
    ];
    for (const request of unknown) {
      const response = await ask(stream, request);
      assert.equal(response.errorResponse?.errorCode, 5, JSON.stringify(request));
    }
    const numbers = await ask(stream, { allExtensionNumbersOfType: 'inference.ModelConfig' });
    assert.deepEqual(numbers.allExtensionNumbersResponse, { baseTypeName: 'inference.ModelConfig', extensionNumber: [] });
    const listed = await ask(stream, { listServices: '*' });
    assert.ok(listed.listServicesResponse);
  });

  test('reflection - v1alpha answers as v1 does', async () => {
    const alpha = new ReflectionV1AlphaClient(cli.address, credentials.createInsecure());
    const alphaStream = alpha.serverReflectionInfo();
    try {
      const response = await new Promise<ServerReflectionResponse>((resolve, reject) => {
        alphaStream.once('data', resolve);
        alphaStream.once('error', reject);
        alphaStream.write({ host: '', fileByFilename: 'grpc_service.proto' });
      });
      const served = response.fileDescriptorResponse?.fileDescriptorProto[0];
      assert.ok(served && Buffer.from(served).equals(compiledFiles().get('grpc_service.proto')!));
    } finally {
      alphaStream.end();
      alpha.close();
    }
  });
});
