// Sequences and Triton's request parameters through the real server: simple_sequence as
// Triton's sequence example clients drive it, a stateful accumulator over one stream, and
// the type checks of sequence_id / sequence_start / sequence_end / priority / timeout.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { InferParameter, ModelInferRequest } from '../../generated/grpc_service.js';
import { call, PROJECT_ROOT, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { collect, int32Output, int32Raw, waitReady } from './streaming-fixtures.js';

/** A running sum per sequence_id; answers after a random delay so that requests overtake each other. */
const ACCUMULATOR = `
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class Accumulator extends ModelServer {
  private readonly sums = new Map<string, number>();
  load(): void {}
  async predict(request: InferRequest): Promise<PredictOutputs> {
    await new Promise((r) => setTimeout(r, Math.random() * 10));
    const key = String(request.parameters['sequence_id']);
    const value = (request.tensors['INPUT']!.data as Int32Array)[0]!;
    const sum = (request.parameters['sequence_start'] === true ? 0 : (this.sums.get(key) ?? 0)) + value;
    if (request.parameters['sequence_end'] === true) this.sums.delete(key);
    else this.sums.set(key, sum);
    return { OUTPUT: new Int32Array([sum]) };
  }
  override postprocess(response: import('v2serve').InferResponse): import('v2serve').InferResponse {
    response.parameters['open_sequences'] = this.sums.size;
    return response;
  }
}`;

const ACCUMULATOR_CONFIG = `
name: "accumulator"
max_batch_size: 0
sequence_batching { }
input [ { name: "INPUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [ { name: "OUTPUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
`;

/** Echoes the request parameters it was given as response parameters. */
const ECHO = `
import { ModelServer, type InferRequest, type InferResponse, type PredictOutputs } from 'v2serve';
export default class Echo extends ModelServer {
  private seen: Record<string, unknown> = {};
  load(): void {}
  predict(request: InferRequest): PredictOutputs {
    this.seen = { ...request.parameters };
    return { OUTPUT0: request.tensors['INPUT0']!.data as Float32Array };
  }
  override postprocess(response: InferResponse): InferResponse {
    for (const [key, value] of Object.entries(this.seen)) response.parameters['seen_' + key] = value as string;
    return response;
  }
}`;

const ECHO_CONFIG = `
name: "echo"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
`;

function sequenceRequest(
  model: string,
  id: string,
  value: number,
  sequence: { id: number | string; start?: boolean; end?: boolean },
  shape: bigint[] = [1n, 1n],
): ModelInferRequest {
  const parameters: Record<string, InferParameter> = {
    sequence_id: typeof sequence.id === 'number' ? { int64Param: BigInt(sequence.id) } : { stringParam: sequence.id },
    sequence_start: { boolParam: sequence.start ?? false },
    sequence_end: { boolParam: sequence.end ?? false },
  };
  return {
    modelName: model,
    modelVersion: '',
    id,
    parameters: new Map(Object.entries(parameters)),
    inputs: [{ name: 'INPUT', datatype: 'INT32', shape, parameters: new Map(), contents: undefined }],
    outputs: [{ name: 'OUTPUT', parameters: new Map() }],
    rawInputContents: [int32Raw([value])],
  };
}

function echoRequest(parameters: Record<string, InferParameter>): ModelInferRequest {
  return {
    modelName: 'echo',
    modelVersion: '',
    id: 'echo',
    parameters: new Map(Object.entries(parameters)),
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1n], parameters: new Map(), contents: undefined }],
    outputs: [],
    rawInputContents: [Buffer.from(new Float32Array([1]).buffer)],
  };
}

describe('sequence', () => {
  const bundled = (model: string) => {
    const file = (path: string) => readFileSync(`${PROJECT_ROOT}/models/${model}/${path}`, 'utf8');
    return { config: file('config.pbtxt'), versions: { '1': file('1/model.ts') } };
  };
  const repo = tempRepository({
    simple_sequence: bundled('simple_sequence'),
    simple_dyna_sequence: bundled('simple_dyna_sequence'),
    simple_string_dyna_sequence: bundled('simple_string_dyna_sequence'),
    accumulator: { config: ACCUMULATOR_CONFIG, versions: { '1': ACCUMULATOR } },
    echo: { config: ECHO_CONFIG, versions: { '1': ECHO } },
  });
  let cli: RunningCli;
  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`]);
    for (const model of ['simple_sequence', 'simple_dyna_sequence', 'simple_string_dyna_sequence', 'accumulator', 'echo']) {
      await waitReady(cli, model);
    }
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  /** Sends the sequences interleaved on one stream, as Triton's example clients do; each sequence's outputs in order. */
  async function interleaved(sequences: readonly { id: number | string; model: string; inputs: readonly number[] }[]): Promise<Map<number | string, number[]>> {
    const length = sequences[0]!.inputs.length;
    const stream = cli.client.modelStreamInfer();
    const done = collect(stream);
    for (let i = 0; i < length; i++) {
      for (const s of sequences) {
        const sequence = { id: s.id, start: i === 0, end: i === length - 1 };
        stream.write(sequenceRequest(s.model, `${s.id}_${i + 1}`, s.inputs[i]!, sequence));
      }
    }
    stream.end();
    const { responses, error } = await done;
    assert.equal(error, null);
    assert.equal(responses.length, sequences.length * length);
    const outputs = new Map<number | string, number[]>();
    for (const s of sequences) {
      const got = responses
        .filter((r) => r.inferResponse!.id.startsWith(`${s.id}_`))
        .sort((a, b) => Number(a.inferResponse!.id.split('_')[1]) - Number(b.inferResponse!.id.split('_')[1]))
        .map((r) => {
          assert.equal(r.errorMessage, '');
          return int32Output(r.inferResponse!, 'OUTPUT')[0]!;
        });
      outputs.set(s.id, got);
    }
    return outputs;
  }

  // simple_grpc_sequence_stream_infer_client.py: ids 1000, 1001 and a string id.
  const VALUES = [11, 7, 5, 3, 2, 0, 1];

  test("simple_sequence - three interleaved sequences on one stream give Triton's example client results", async () => {
    const sequences = [
      { id: 1000, model: 'simple_sequence', inputs: [0, ...VALUES] },
      { id: 1001, model: 'simple_sequence', inputs: [100, ...VALUES.map((v) => 0 - v)] },
      { id: 'd6a0b5e4-sequence', model: 'simple_sequence', inputs: [20, ...VALUES.map((v) => 0 - v)] },
    ];
    const outputs = await interleaved(sequences);
    for (const s of sequences) {
      // Triton's client: START adds 1, then each output is its input.
      assert.deepEqual(outputs.get(s.id), [s.inputs[0]! + 1, ...s.inputs.slice(1)]);
    }
  });

  test("simple_dyna_sequence - the example client's --dyna results: START adds 1, END adds the correlation id; the string-id model accumulates", async () => {
    const sequences = [
      { id: 1000, model: 'simple_dyna_sequence', inputs: [0, ...VALUES] },
      { id: 1001, model: 'simple_dyna_sequence', inputs: [100, ...VALUES.map((v) => 0 - v)] },
      { id: '1002', model: 'simple_string_dyna_sequence', inputs: [20, ...VALUES.map((v) => 0 - v)] },
    ];
    const outputs = await interleaved(sequences);
    const last = VALUES.length;
    const withEnd = (expected: number[], id: number) => expected.map((value, i) => (i === last ? value + id : value));
    assert.deepEqual(outputs.get(1000), withEnd([1, ...VALUES], 1000));
    assert.deepEqual(outputs.get(1001), withEnd([101, ...VALUES.map((v) => 0 - v)], 1001));
    const running = [20];
    for (const v of VALUES) running.push(running[running.length - 1]! - v);
    assert.deepEqual(outputs.get('1002'), withEnd(running, 1002));
  });

  test('simple_sequence - a sequence must start with sequence_start; sequence_end forgets it', async () => {
    const request = (id: string, sequence: { start?: boolean; end?: boolean }) =>
      call(cli.client, cli.client.modelInfer, sequenceRequest('simple_sequence', id, 5, { id: 77, ...sequence }));
    await assert.rejects(request('unstarted', {}), { code: status.INVALID_ARGUMENT, details: /must specify the START flag/ });
    assert.deepEqual(int32Output(await request('first', { start: true }), 'OUTPUT'), [6]);
    assert.deepEqual(int32Output(await request('last', { end: true }), 'OUTPUT'), [5]);
    await assert.rejects(request('after-end', {}), { code: status.INVALID_ARGUMENT, details: /sequence 77/ });
  });

  test('simple_sequence - a request without sequence_id is INVALID_ARGUMENT (sequence_batching model)', async () => {
    const request = sequenceRequest('simple_sequence', 'none', 1, { id: 0, start: true });
    await assert.rejects(call(cli.client, cli.client.modelInfer, request), {
      code: status.INVALID_ARGUMENT,
      details: /must specify a non-zero or non-empty correlation ID/,
    });
  });

  test('sequence - two interleaved sequences over one stream each get their own running sum, in order', async () => {
    const a = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const b = [100, -1, -2, -3, -4, -5, -6, -7, -8, -9];
    const stream = cli.client.modelStreamInfer();
    const done = collect(stream);
    for (let i = 0; i < a.length; i++) {
      const flags = { start: i === 0, end: i === a.length - 1 };
      stream.write(sequenceRequest('accumulator', `a_${i}`, a[i]!, { id: 1, ...flags }, [1n]));
      stream.write(sequenceRequest('accumulator', `b_${i}`, b[i]!, { id: 'b', ...flags }, [1n]));
    }
    stream.end();
    const { responses, error } = await done;
    assert.equal(error, null);
    const sums = (prefix: string) =>
      responses
        .filter((r) => r.inferResponse!.id.startsWith(prefix))
        .sort((x, y) => Number(x.inferResponse!.id.slice(2)) - Number(y.inferResponse!.id.slice(2)))
        .map((r) => int32Output(r.inferResponse!, 'OUTPUT')[0]);
    const running = (values: number[]) => values.map((_, i) => values.slice(0, i + 1).reduce((x, y) => x + y, 0));
    assert.deepEqual(sums('a_'), running(a));
    assert.deepEqual(sums('b_'), running(b));
    // sequence_end dropped both states: whichever final request ran last saw none open.
    const open = responses
      .filter((r) => r.inferResponse!.id.endsWith('_9'))
      .map((r) => Number(r.inferResponse!.parameters.get('open_sequences')?.int64Param));
    assert.equal(Math.min(...open), 0);
  });

  test('parameters - priority, timeout and the sequence parameters reach the model with their types', async () => {
    const response = await call(
      cli.client,
      cli.client.modelInfer,
      echoRequest({
        priority: { uint64Param: 2n },
        timeout: { int64Param: 5_000_000n },
        sequence_id: { stringParam: 'corr-1' },
        sequence_start: { boolParam: true },
        sequence_end: { boolParam: false },
        custom: { doubleParam: 0.5 },
      }),
    );
    assert.equal(response.parameters.get('seen_priority')?.int64Param, 2n);
    assert.equal(response.parameters.get('seen_timeout')?.int64Param, 5_000_000n);
    assert.equal(response.parameters.get('seen_sequence_id')?.stringParam, 'corr-1');
    assert.equal(response.parameters.get('seen_sequence_start')?.boolParam, true);
    assert.equal(response.parameters.get('seen_sequence_end')?.boolParam, false);
    assert.equal(response.parameters.get('seen_custom')?.doubleParam, 0.5);
  });

  for (const [name, parameters, field] of [
    ['sequence_id as bool', { sequence_id: { boolParam: true } }, 'sequence_id'],
    ['sequence_id as double', { sequence_id: { doubleParam: 1 } }, 'sequence_id'],
    ['sequence_start as int64', { sequence_id: { int64Param: 5n }, sequence_start: { int64Param: 1n } }, 'sequence_start'],
    ['sequence_end as string', { sequence_id: { int64Param: 5n }, sequence_end: { stringParam: 'true' } }, 'sequence_end'],
    ['priority as string', { priority: { stringParam: '1' } }, 'priority'],
    ['negative priority', { priority: { int64Param: -1n } }, 'priority'],
    ['timeout as double', { timeout: { doubleParam: 1000 } }, 'timeout'],
    ['negative timeout', { timeout: { int64Param: -5n } }, 'timeout'],
    ['unknown triton_ key', { triton_made_up: { boolParam: true } }, 'triton_made_up'],
  ] as const) {
    test(`parameters - ${name} is INVALID_ARGUMENT naming the parameter`, async () => {
      await assert.rejects(call(cli.client, cli.client.modelInfer, echoRequest(parameters as Record<string, InferParameter>)), {
        code: status.INVALID_ARGUMENT,
        details: new RegExp(`'parameters\\.${field}'`),
      });
    });
  }

  test('parameters - triton_enable_empty_final_response (sent by the C++ client) is accepted', async () => {
    const response = await call(cli.client, cli.client.modelInfer, echoRequest({ triton_enable_empty_final_response: { boolParam: false } }));
    assert.equal(response.id, 'echo');
  });
});
