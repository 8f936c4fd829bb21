// Models calling models in-process (ModelServer.infer) through the real CLI: the callee's
// answer comes back as tensors, its statistics count the call, the caller's deadline and
// cancellation reach it, cycles and bad calls are refused with the wire path's errors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import type { ModelInferRequest, ModelInferResponse } from '../../generated/grpc_service.js';
import { call, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { ADDER_CONFIG, adderRequest, adderSource, grpcError, infer, outValue, waitUntil } from './repository-fixtures.js';

/** Calls the model named by request parameter `target` (default: config parameter `target`, else `adder`) with its input IN. */
const CALLER = `import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';

export default class Caller extends ModelServer {
  async predict(request: InferRequest, signal: AbortSignal): Promise<PredictOutputs> {
    const target = this.getParam('target', 'adder', request);
    const result = await this.infer(target, [request.tensors['IN']!], { signal });
    return { OUT: result.tensors['OUT']!.data };
  }
}
`;

/**
 * Waits for its signal (at most 10 s), says so in the log, and fails with the signal's reason.
 * Its log lines carry the input value, so that each test waits for its own call's lines (a
 * call aborted by the previous test may still be waking).
 */
const SLEEPER = `import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';

export default class Sleeper extends ModelServer {
  async predict(request: InferRequest, signal: AbortSignal): Promise<PredictOutputs> {
    const value = Number(request.tensors['IN']!.data[0]);
    this.log.info({ value }, 'sleeper started');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
    });
    this.log.info({ value, aborted: signal.aborted, reason: String((signal.reason as Error | undefined)?.message) }, 'sleeper woke');
    if (signal.aborted) throw signal.reason;
    return { OUT: request.tensors['IN']!.data };
  }
}
`;

const FP32_CONFIG = `backend: "nodejs"
max_batch_size: 8
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 1 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 1 ] } ]
`;

const targeted = (target: string) => `${ADDER_CONFIG}parameters { key: "target" value: { string_value: "${target}" } }\n`;

/** The sleeper's log line `sleeper <what>` of the call whose input was `value`. */
function sleeperLine(line: Record<string, unknown>, what: 'started' | 'woke', value: number): boolean {
  return line['msg'] === `sleeper ${what}` && line['value'] === value;
}

function callerRequest(target: string, value = 1, extra: [string, { int64Param?: bigint; stringParam?: string }][] = []): ModelInferRequest {
  const request = adderRequest('caller', '', value);
  return { ...request, parameters: new Map([['target', { stringParam: target }], ...extra]) } as ModelInferRequest;
}

describe('model calls', () => {
  let cli: RunningCli;
  const repo = tempRepository({
    adder: { config: ADDER_CONFIG, versions: { '1': adderSource(100) } },
    caller: { config: ADDER_CONFIG, versions: { '1': CALLER } },
    ping: { config: targeted('pong'), versions: { '1': CALLER } },
    pong: { config: targeted('ping'), versions: { '1': CALLER } },
    sleeper: { config: ADDER_CONFIG, versions: { '1': SLEEPER } },
    typed: { config: FP32_CONFIG, versions: { '1': adderSource(0) } },
    worker_caller: { config: `${ADDER_CONFIG}instance_group [ { count: 1 kind: KIND_CPU } ]\n`, versions: { '1': CALLER } },
  });

  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`]);
    await waitUntil('server ready', async () => (await call(cli.client, cli.client.serverReady, {})).ready, 20_000);
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  test('calls - a model calling another gets its output tensors back', async () => {
    assert.equal(outValue(await infer(cli, callerRequest('adder', 5))), 105);
  });

  test('calls - the callee counts the calls in its ModelStatistics', async () => {
    const before = await call(cli.client, cli.client.modelStatistics, { name: 'adder', version: '' });
    const count = Number(before.modelStats[0]?.inferenceStats?.success?.count ?? 0);
    for (let i = 0; i < 3; i++) await infer(cli, callerRequest('adder', i));
    const after = await call(cli.client, cli.client.modelStatistics, { name: 'adder', version: '' });
    assert.equal(Number(after.modelStats[0]?.inferenceStats?.success?.count), count + 3);
    assert.equal(Number(after.modelStats[0]?.inferenceCount), Number(before.modelStats[0]?.inferenceCount ?? 0) + 3);
  });

  test('calls - a model calling itself is refused, naming the chain', async () => {
    await assert.rejects(infer(cli, callerRequest('caller')), grpcError(status.FAILED_PRECONDITION, /call cycle refused: caller → caller/));
  });

  test('calls - a cycle through two models is refused, naming the chain', async () => {
    await assert.rejects(
      infer(cli, { ...adderRequest('ping'), parameters: new Map() }),
      grpcError(status.FAILED_PRECONDITION, /call cycle refused: ping → pong → ping/),
    );
  });

  test('calls - an unknown callee is NOT_FOUND naming it', async () => {
    await assert.rejects(infer(cli, callerRequest('nope')), grpcError(status.NOT_FOUND, /Request for unknown model: 'nope' is not found/));
  });

  test('calls - inputs the callee does not take get the wire path\'s error', async () => {
    await assert.rejects(
      infer(cli, callerRequest('typed')),
      grpcError(status.INVALID_ARGUMENT, /inference input 'IN' data-type is 'INT32', but model 'typed' expects 'FP32'/),
    );
  });

  test('calls - a deadline that expires inside the callee answers DEADLINE_EXCEEDED', async () => {
    const started = Date.now();
    await assert.rejects(
      infer(cli, callerRequest('sleeper', 1, [['timeout', { int64Param: 200_000n }]])),
      grpcError(status.DEADLINE_EXCEEDED, /timeout of 200000 µs expired/),
    );
    assert.ok(Date.now() - started < 8_000, 'the callee was not stopped by the deadline');
  });

  test('calls - a client cancelling the caller aborts the callee\'s signal', async () => {
    const seen = cli.logs.length;
    const pending = new Promise<ServiceError | null>((resolve) => {
      const stream = cli.client.modelInfer(callerRequest('sleeper', 2), new Metadata(), (err: ServiceError | null, _res?: ModelInferResponse) => resolve(err));
      void cli.waitForLog((l) => cli.logs.indexOf(l) >= seen && sleeperLine(l, 'started', 2)).then(() => stream.cancel());
    });
    const err = await pending;
    assert.equal(err?.code, status.CANCELLED);
    const woke = await cli.waitForLog((l) => cli.logs.indexOf(l) >= seen && sleeperLine(l, 'woke', 2), 5_000);
    assert.equal(woke['aborted'], true);
    assert.equal(woke['reason'], 'the client cancelled the call');
  });

  test('calls - a client closing its HTTP connection aborts the callee\'s signal', async () => {
    const seen = cli.logs.length;
    const client = new AbortController();
    void cli.waitForLog((l) => cli.logs.indexOf(l) >= seen && sleeperLine(l, 'started', 3)).then(() => client.abort());
    const request = fetch(`${cli.http}/v2/models/caller/infer`, {
      method: 'POST',
      body: JSON.stringify({ parameters: { target: 'sleeper' }, inputs: [{ name: 'IN', datatype: 'INT32', shape: [1, 1], data: [3] }] }),
      signal: client.signal,
    });
    await assert.rejects(request, { name: 'AbortError' });
    const woke = await cli.waitForLog((l) => cli.logs.indexOf(l) >= seen && sleeperLine(l, 'woke', 3), 5_000);
    assert.equal(woke['aborted'], true);
    assert.equal(woke['reason'], 'the client closed the connection');
  });

  test('calls - a model in a worker instance calls another through its pool', async () => {
    const request = { ...callerRequest('adder', 9), modelName: 'worker_caller' };
    assert.equal(outValue(await infer(cli, request)), 109);
  });

  test('calls - a model in a worker instance calling itself is refused, naming the chain', async () => {
    const request = { ...callerRequest('worker_caller'), modelName: 'worker_caller' };
    await assert.rejects(infer(cli, request), grpcError(status.FAILED_PRECONDITION, /call cycle refused: worker_caller → worker_caller/));
  });

  test('calls - a deadline reaches the callee of a worker instance', async () => {
    const request = { ...callerRequest('sleeper', 4, [['timeout', { int64Param: 200_000n }]]), modelName: 'worker_caller' };
    const seen = cli.logs.length;
    await assert.rejects(infer(cli, request), grpcError(status.DEADLINE_EXCEEDED, /timeout of 200000 µs expired/));
    const woke = await cli.waitForLog((l) => cli.logs.indexOf(l) >= seen && sleeperLine(l, 'woke', 4), 5_000);
    assert.equal(woke['aborted'], true);
  });

  test('calls - work over HTTP alike', async () => {
    const response = await fetch(`${cli.http}/v2/models/caller/infer`, {
      method: 'POST',
      body: JSON.stringify({ parameters: { target: 'adder' }, inputs: [{ name: 'IN', datatype: 'INT32', shape: [1, 1], data: [7] }] }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { outputs: { name: string; data: number[] }[] };
    assert.deepEqual(body.outputs[0]?.data, [107]);
  });
});
