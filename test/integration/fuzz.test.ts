// Fuzzing through the real server: mutated ModelInferRequests and random bytes as the
// message body. Every call must end with a gRPC status the server chose (no crash, no
// hang, no "internal error" from an unexpected exception), and a good request must still
// be answered correctly afterwards. The seed is fixed and printed: FUZZ_SEED=<n> replays a
// run, FUZZ_SEED=random explores a new one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import {
  ModelInferRequest,
  ModelInferResponse,
  type InferParameter,
  type InferTensorContents,
  type ModelInferRequest_InferInputTensor,
} from '../../generated/grpc_service.js';
import { call, startCli, type RunningCli } from '../helpers/server.js';

const FIXED_SEED = 0x5eed0014;
const SEED = fuzzSeed(process.env['FUZZ_SEED']);

function fuzzSeed(setting: string | undefined): number {
  if (setting === undefined || setting === '') return FIXED_SEED;
  if (setting === 'random') return Math.floor(Math.random() * 2 ** 31);
  const seed = Number(setting);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer or 'random', got '${setting}'`);
  return seed;
}
const MUTATED_RUNS = 2000;
const RANDOM_BODY_RUNS = 500;
/** Longer than any legitimate answer here: a call still open after this is a hang. */
const HANG_MS = 10_000;
const MODEL_INFER = '/inference.GRPCInferenceService/ModelInfer';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BF16', 'BYTES'];
const MODELS = ['simple', 'simple_string', 'simple_identity', 'identity_fp32', 'simple_sequence'];
const PARAMETER_KEYS = [
  'sequence_id',
  'sequence_start',
  'sequence_end',
  'priority',
  'timeout',
  'operation',
  'binary_data_output',
  'triton_enable_empty_final_response',
  'classification',
  'binary_data',
  'shared_memory_region',
  'shared_memory_offset',
  'shared_memory_byte_size',
];

const int32 = (values: number[]) => Buffer.from(new Int32Array(values).buffer);
const bytesTensor = (items: string[]) =>
  Buffer.concat(items.flatMap((s) => [Buffer.from(new Uint32Array([Buffer.byteLength(s)]).buffer), Buffer.from(s)]));

function tensor(name: string, datatype: string, shape: bigint[]): ModelInferRequest_InferInputTensor {
  return { name, datatype, shape, parameters: new Map(), contents: undefined };
}

function base(model: string): ModelInferRequest {
  const request = (inputs: ModelInferRequest_InferInputTensor[], raw: Buffer[], parameters = new Map<string, InferParameter>()): ModelInferRequest => ({
    modelName: model,
    modelVersion: '',
    id: 'fuzz',
    parameters,
    inputs,
    outputs: [],
    rawInputContents: raw,
  });
  const sixteen = Array.from({ length: 16 }, (_, i) => i);
  switch (model) {
    case 'simple':
      return request([tensor('INPUT0', 'INT32', [1n, 16n]), tensor('INPUT1', 'INT32', [1n, 16n])], [int32(sixteen), int32(sixteen)]);
    case 'simple_string': {
      const strings = sixteen.map(String);
      return request([tensor('INPUT0', 'BYTES', [1n, 16n]), tensor('INPUT1', 'BYTES', [1n, 16n])], [bytesTensor(strings), bytesTensor(strings)]);
    }
    case 'simple_identity':
      return request([tensor('INPUT0', 'BYTES', [1n, 2n])], [bytesTensor(['a\0b', ''])]);
    case 'identity_fp32':
      return request([tensor('INPUT0', 'FP32', [4n])], [Buffer.from(new Float32Array([1, 2, 3, 4]).buffer)]);
    default:
      return request(
        [tensor('INPUT', 'INT32', [1n, 1n])],
        [int32([7])],
        new Map(Object.entries({ sequence_id: { int64Param: 42n }, sequence_start: { boolParam: true }, sequence_end: { boolParam: true } })),
      );
  }
}

// ---- arbitraries -------------------------------------------------------------------

const anyString = fc.string({ maxLength: 12, unit: 'binary' });
const dim = fc.oneof(
  fc.bigInt({ min: -2n, max: 20n }),
  fc.constantFrom(0n, -1n, 16n, 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 62n, INT64_MAX, INT64_MIN),
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
);
const parameter: fc.Arbitrary<InferParameter> = fc.oneof(
  fc.record({ boolParam: fc.boolean() }),
  fc.record({ int64Param: fc.oneof(fc.bigInt({ min: -5n, max: 100n }), fc.bigInt({ min: INT64_MIN, max: INT64_MAX })) }),
  fc.record({ stringParam: fc.oneof(fc.constantFrom('', 'infer', 'explain', 'nope', 'region', '1'), anyString) }),
  fc.record({ doubleParam: fc.double() }),
  fc.record({ uint64Param: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
);
const parameters = fc.dictionary(fc.oneof(fc.constantFrom(...PARAMETER_KEYS), anyString), parameter, { maxKeys: 4 });
const contents: fc.Arbitrary<InferTensorContents> = fc.record({
  boolContents: fc.array(fc.boolean(), { maxLength: 20 }),
  intContents: fc.array(fc.integer(), { maxLength: 20 }),
  int64Contents: fc.array(fc.bigInt({ min: INT64_MIN, max: INT64_MAX }), { maxLength: 20 }),
  uintContents: fc.array(fc.nat(), { maxLength: 20 }),
  uint64Contents: fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { maxLength: 20 }),
  fp32Contents: fc.array(fc.float(), { maxLength: 20 }),
  fp64Contents: fc.array(fc.double(), { maxLength: 20 }),
  bytesContents: fc.array(fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)), { maxLength: 20 }),
});

type Edit =
  | { kind: 'model'; value: string }
  | { kind: 'version'; value: string }
  | { kind: 'id'; value: string }
  | { kind: 'name' | 'datatype'; index: number; value: string }
  | { kind: 'shape'; index: number; value: bigint[] }
  | { kind: 'drop-input' | 'duplicate-input'; index: number }
  | { kind: 'raw'; index: number; op: 'truncate' | 'extend' | 'replace' | 'drop' | 'add'; bytes: Uint8Array; at: number }
  | { kind: 'contents'; index: number; value: InferTensorContents }
  | { kind: 'parameters'; value: Record<string, InferParameter> }
  | { kind: 'input-parameters'; index: number; value: Record<string, InferParameter> }
  | { kind: 'outputs'; value: { name: string; parameters: Record<string, InferParameter> }[] };

const index = fc.nat({ max: 3 });
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('model' as const), value: fc.oneof(fc.constantFrom(...MODELS, '', 'nope', '../simple'), anyString) }),
  fc.record({ kind: fc.constant('version' as const), value: fc.oneof(fc.constantFrom('', '1', '2', '0', '-1', '01', 'x', '99999999999999999999'), anyString) }),
  fc.record({ kind: fc.constant('id' as const), value: anyString }),
  fc.record({ kind: fc.constantFrom('name' as const), index, value: fc.oneof(fc.constantFrom('INPUT0', 'INPUT1', 'INPUT', 'START', ''), anyString) }),
  fc.record({ kind: fc.constant('datatype' as const), index, value: fc.oneof(fc.constantFrom(...DATATYPES), anyString) }),
  fc.record({ kind: fc.constant('shape' as const), index, value: fc.array(dim, { maxLength: 6 }) }),
  fc.record({ kind: fc.constantFrom('drop-input' as const, 'duplicate-input' as const), index }),
  fc.record({
    kind: fc.constant('raw' as const),
    index,
    op: fc.constantFrom('truncate' as const, 'extend' as const, 'replace' as const, 'drop' as const, 'add' as const),
    bytes: fc.uint8Array({ maxLength: 70 }),
    at: fc.nat({ max: 80 }),
  }),
  fc.record({ kind: fc.constant('contents' as const), index, value: contents }),
  fc.record({ kind: fc.constant('parameters' as const), value: parameters }),
  fc.record({ kind: fc.constant('input-parameters' as const), index, value: parameters }),
  fc.record({
    kind: fc.constant('outputs' as const),
    value: fc.array(fc.record({ name: fc.oneof(fc.constantFrom('OUTPUT0', 'OUTPUT1', 'OUTPUT', ''), anyString), parameters }), { maxLength: 3 }),
  }),
);

function apply(request: ModelInferRequest, e: Edit): ModelInferRequest {
  const inputs = [...request.inputs];
  const raw = [...request.rawInputContents];
  const at = (i: number) => (inputs.length === 0 ? -1 : i % inputs.length);
  const setInput = (i: number, change: Partial<ModelInferRequest_InferInputTensor>) => {
    const k = at(i);
    if (k >= 0) inputs[k] = { ...(inputs[k] as ModelInferRequest_InferInputTensor), ...change };
  };
  switch (e.kind) {
    case 'model':
      return { ...request, modelName: e.value };
    case 'version':
      return { ...request, modelVersion: e.value };
    case 'id':
      return { ...request, id: e.value };
    case 'name':
      setInput(e.index, { name: e.value });
      break;
    case 'datatype':
      setInput(e.index, { datatype: e.value });
      break;
    case 'shape':
      setInput(e.index, { shape: e.value });
      break;
    case 'drop-input':
      if (at(e.index) >= 0) inputs.splice(at(e.index), 1);
      break;
    case 'duplicate-input':
      if (at(e.index) >= 0) inputs.push(inputs[at(e.index)] as ModelInferRequest_InferInputTensor);
      break;
    case 'contents':
      setInput(e.index, { contents: e.value });
      break;
    case 'input-parameters':
      setInput(e.index, { parameters: new Map(Object.entries(e.value)) });
      break;
    case 'parameters':
      return { ...request, parameters: new Map(Object.entries(e.value)) };
    case 'outputs':
      return { ...request, outputs: e.value.map((output) => ({ name: output.name, parameters: new Map(Object.entries(output.parameters)) })) };
    case 'raw': {
      const k = raw.length === 0 ? -1 : e.index % raw.length;
      const old = k >= 0 ? (raw[k] as Buffer) : Buffer.alloc(0);
      const bytes = Buffer.from(e.bytes);
      if (e.op === 'add' || k < 0) raw.push(bytes);
      else if (e.op === 'drop') raw.splice(k, 1);
      else if (e.op === 'truncate') raw[k] = old.subarray(0, Math.min(e.at, Math.max(0, old.length - 1)));
      else if (e.op === 'extend') raw[k] = Buffer.concat([old, bytes.length > 0 ? bytes : Buffer.alloc(1)]);
      else raw[k] = bytes;
      break;
    }
  }
  return { ...request, inputs, rawInputContents: raw };
}

type WireEdit = { op: 'none' } | { op: 'truncate'; at: number } | { op: 'flip'; at: number; byte: number } | { op: 'append'; bytes: Uint8Array };

const wireEdit: fc.Arbitrary<WireEdit> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ op: 'none' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('flip' as const), at: fc.nat(), byte: fc.nat({ max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
);

function encode(request: ModelInferRequest, wire: WireEdit): Buffer {
  const body = Buffer.from(ModelInferRequest.encode(request).finish());
  if (wire.op === 'truncate') return body.subarray(0, wire.at % Math.max(1, body.length));
  if (wire.op === 'flip' && body.length > 0) {
    const copy = Buffer.from(body);
    copy[wire.at % copy.length] = wire.byte;
    return copy;
  }
  if (wire.op === 'append') return Buffer.concat([body, Buffer.from(wire.bytes)]);
  return body;
}

// ---- the server ----------------------------------------------------------------------

interface Outcome {
  readonly code: number;
  readonly details: string;
  readonly ms: number;
}

function send(client: Client, body: Buffer): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      MODEL_INFER,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      new Metadata(),
      { deadline: Date.now() + HANG_MS },
      (err: ServiceError | null) => resolve({ code: err ? err.code : status.OK, details: err ? err.details : '', ms: Date.now() - started }),
    );
  });
}

/** What a fuzzed call may end with: any status the server chose, never a crash, hang or unexpected exception. */
function checkOutcome(outcome: Outcome): void {
  assert.ok(outcome.ms < HANG_MS - 500, `no answer within ${outcome.ms} ms (${outcome.code} ${outcome.details})`);
  assert.notEqual(outcome.code, status.UNKNOWN, `UNKNOWN: ${outcome.details}`);
  assert.notEqual(outcome.details, 'internal error', 'an unexpected exception reached toServiceError');
  if (outcome.code === status.UNAVAILABLE) {
    assert.match(outcome.details, /ready state|no available versions/, `connection-level UNAVAILABLE: ${outcome.details}`);
  }
  if (outcome.code === status.INTERNAL) {
    // Only a message that failed to parse, or a model's own error, may be INTERNAL.
    assert.match(outcome.details, /deserializ|model '/, `INTERNAL: ${outcome.details}`);
  }
}

describe('fuzz', () => {
  let cli: RunningCli;
  let client: Client;
  const codes = new Map<number, number>();
  const count = (outcome: Outcome) => codes.set(outcome.code, (codes.get(outcome.code) ?? 0) + 1);

  async function goodRequestStillAnswers(): Promise<void> {
    assert.equal(cli.process.exitCode, null, 'the server process exited');
    const response = await call(cli.client, cli.client.modelInfer, base('simple'), { deadline: Date.now() + HANG_MS });
    const out0 = response.rawOutputContents[0] as Buffer;
    const sums = [...new Int32Array(new Uint8Array(out0).buffer)];
    assert.deepEqual(sums, Array.from({ length: 16 }, (_, i) => 2 * i));
  }

  before(async () => {
    console.log(`fuzz seed: ${SEED} (replay with FUZZ_SEED=${SEED})`);
    cli = await startCli([]);
    client = new Client(cli.address, credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
    });
    const deadline = Date.now() + 15_000;
    while (!(await call(cli.client, cli.client.serverReady, {})).ready) {
      if (Date.now() > deadline) throw new Error('server never became ready');
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  after(async () => {
    console.log(`fuzz status codes (code: calls): ${JSON.stringify(Object.fromEntries([...codes].sort(([a], [b]) => a - b)))}`);
    client.close();
    await cli.stop();
  });

  test(`fuzz - ${MUTATED_RUNS} mutated ModelInferRequests each end with a status the server chose`, async () => {
    // The unmutated bases must pass, or the mutations prove nothing.
    for (const model of MODELS) {
      const outcome = await send(client, encode(base(model), { op: 'none' }));
      assert.equal(outcome.code, status.OK, `${model}: ${outcome.details}`);
    }
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...MODELS), fc.array(edit, { minLength: 1, maxLength: 4 }), wireEdit, async (model, edits, wire) => {
        const outcome = await send(client, encode(edits.reduce(apply, base(model)), wire));
        count(outcome);
        checkOutcome(outcome);
      }),
      { seed: SEED, numRuns: MUTATED_RUNS, endOnFailure: true },
    );
    await goodRequestStillAnswers();
  });

  test(`fuzz - ${RANDOM_BODY_RUNS} random message bodies each end with a status`, async () => {
    const valid = encode(base('simple'), { op: 'none' });
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 4096 }),
      // A valid prefix keeps the decoder going for a while before the garbage.
      fc.tuple(fc.nat({ max: valid.length }), fc.uint8Array({ maxLength: 256 })).map(([at, tail]) => Buffer.concat([valid.subarray(0, at), tail])),
    );
    await fc.assert(
      fc.asyncProperty(body, async (bytes) => {
        const outcome = await send(client, Buffer.from(bytes));
        count(outcome);
        checkOutcome(outcome);
      }),
      { seed: SEED + 1, numRuns: RANDOM_BODY_RUNS, endOnFailure: true },
    );
    await goodRequestStillAnswers();
  });

  test('fuzz - nothing reached the log as an unexpected error, and the server still serves', async () => {
    const unexpected = cli.logs.filter((l) => l['msg'] === 'unexpected error' || l['level'] === 60);
    assert.deepEqual(unexpected, []);
    await goodRequestStillAnswers();
    // The decoder of the client stubs agrees with what the server sends back.
    const response = await call(cli.client, cli.client.modelInfer, base('identity_fp32'));
    assert.deepEqual(ModelInferResponse.decode(ModelInferResponse.encode(response).finish()).outputs[0]?.shape, [4n]);
  });
});
