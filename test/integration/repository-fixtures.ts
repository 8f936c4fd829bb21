// Models and requests shared by the repository, poll and statistics integration tests.
import assert from 'node:assert/strict';
import type { ServiceError } from '@grpc/grpc-js';
import type { ModelInferRequest, ModelInferResponse } from '../../generated/grpc_service.js';
import { call, type RunningCli } from '../helpers/server.js';

/** A batching model with one INT32 input IN and one output OUT. */
export const ADDER_CONFIG = `backend: "nodejs"
max_batch_size: 8
input [ { name: "IN" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [ { name: "OUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
`;

/**
 * OUT = IN + offset, so a response tells which model source answered. The request
 * parameter `delay_ms` makes predict() slow; `loadMs` makes load() slow.
 */
export function adderSource(offset: number, loadMs = 0): string {
  return `import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';

export default class Adder extends ModelServer {
  async load(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ${loadMs}));
  }

  async predict(request: InferRequest): Promise<PredictOutputs> {
    const delay = Number(request.parameters['delay_ms'] ?? 0);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const input = request.tensors['IN']?.data as Int32Array;
    return { OUT: input.map((v) => v + ${offset}) };
  }
}
`;
}

export function adderRequest(model: string, version = '', value = 1, delayMs = 0): ModelInferRequest {
  return {
    modelName: model,
    modelVersion: version,
    id: '',
    parameters: new Map(delayMs > 0 ? [['delay_ms', { int64Param: BigInt(delayMs) }]] : []),
    inputs: [{ name: 'IN', datatype: 'INT32', shape: [1n, 1n], parameters: new Map(), contents: undefined }],
    outputs: [],
    rawInputContents: [Buffer.from(new Int32Array([value]).buffer)],
  };
}

/** The single INT32 value of output OUT. */
export function outValue(response: ModelInferResponse): number {
  const raw = response.rawOutputContents[0];
  assert.ok(raw, 'no raw output');
  return new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))[0] as number;
}

export function infer(cli: RunningCli, request: ModelInferRequest): Promise<ModelInferResponse> {
  return call(cli.client, cli.client.modelInfer, request);
}

/** A predicate for assert.rejects: the gRPC code and a pattern for the details. */
export function grpcError(code: number, details: RegExp | string): (err: ServiceError) => boolean {
  return (err) => {
    assert.equal(err.code, code, `code ${err.code} (${err.details})`);
    if (typeof details === 'string') assert.equal(err.details, details);
    else assert.match(err.details, details);
    return true;
  };
}

/** Polls `check` until it returns true; fails naming `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not true within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export async function modelReady(cli: RunningCli, name: string, version = ''): Promise<boolean> {
  return (await call(cli.client, cli.client.modelReady, { name, version })).ready;
}

export async function index(cli: RunningCli, ready = false): Promise<{ name: string; version: string; state: string; reason: string }[]> {
  return (await call(cli.client, cli.client.repositoryIndex, { repositoryName: '', ready })).models;
}
