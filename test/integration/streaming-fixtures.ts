// Helpers for the Triton-tooling tests (streams, sequences, classification, shared memory).
import assert from 'node:assert/strict';
import type { ClientDuplexStream, ServiceError } from '@grpc/grpc-js';
import type { InferParameter, ModelInferRequest, ModelInferResponse, ModelStreamInferResponse } from '../../generated/grpc_service.js';
import { call, type RunningCli } from '../helpers/server.js';

export function int32Raw(values: readonly number[]): Buffer {
  return Buffer.from(new Int32Array(values).buffer);
}

export function int32Output(response: ModelInferResponse, name: string): number[] {
  const index = response.outputs.findIndex((o) => o.name === name);
  assert.ok(index >= 0, `output ${name} missing`);
  const raw = response.rawOutputContents[index] as Buffer;
  return [...new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))];
}

/** BYTES elements of a raw output: 4-byte LE length, then the bytes. */
export function bytesOutput(response: ModelInferResponse, name: string): string[] {
  const index = response.outputs.findIndex((o) => o.name === name);
  assert.ok(index >= 0, `output ${name} missing`);
  const raw = response.rawOutputContents[index] as Buffer;
  const values: string[] = [];
  for (let at = 0; at < raw.length; ) {
    const length = raw.readUInt32LE(at);
    values.push(raw.subarray(at + 4, at + 4 + length).toString('utf8'));
    at += 4 + length;
  }
  return values;
}

/** Triton's `simple`: INPUT0 = base..base+15, INPUT1 = ones. */
export function simpleRequest(id: string, base = 0, parameters: Record<string, InferParameter> = {}): ModelInferRequest {
  return {
    modelName: 'simple',
    modelVersion: '',
    id,
    parameters: new Map(Object.entries({ triton_enable_empty_final_response: { boolParam: false }, ...parameters })),
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n], parameters: new Map(), contents: undefined },
      { name: 'INPUT1', datatype: 'INT32', shape: [1n, 16n], parameters: new Map(), contents: undefined },
    ],
    outputs: [],
    rawInputContents: [int32Raw(Array.from({ length: 16 }, (_, i) => base + i)), int32Raw(new Array<number>(16).fill(1))],
  };
}

export function expectedSum(base: number): number[] {
  return Array.from({ length: 16 }, (_, i) => base + i + 1);
}

export interface StreamResult {
  readonly responses: ModelStreamInferResponse[];
  /** The status the stream ended with: null for OK. */
  readonly error: ServiceError | null;
}

/** Collects a stream's responses until it ends (or `timeoutMs`, which fails the test). */
export function collect(stream: ClientDuplexStream<ModelInferRequest, ModelStreamInferResponse>, timeoutMs = 15_000): Promise<StreamResult> {
  const responses: ModelStreamInferResponse[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stream did not end within ${timeoutMs} ms (${responses.length} responses)`)), timeoutMs);
    stream.on('data', (response: ModelStreamInferResponse) => responses.push(response));
    stream.on('error', (error: ServiceError) => {
      clearTimeout(timer);
      resolve({ responses, error });
    });
    stream.on('end', () => {
      clearTimeout(timer);
      resolve({ responses, error: null });
    });
  });
}

/** Resolves after `count` responses, without waiting for the stream to end. */
export function nextResponses(
  stream: ClientDuplexStream<ModelInferRequest, ModelStreamInferResponse>,
  count: number,
  timeoutMs = 15_000,
): Promise<ModelStreamInferResponse[]> {
  const responses: ModelStreamInferResponse[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.off('data', onData);
      reject(new Error(`${responses.length} of ${count} responses within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (response: ModelStreamInferResponse): void => {
      responses.push(response);
      if (responses.length === count) {
        clearTimeout(timer);
        stream.off('data', onData);
        resolve(responses);
      }
    };
    stream.on('data', onData);
  });
}

export async function waitReady(cli: Pick<RunningCli, 'client'>, model: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await call(cli.client, cli.client.modelReady, { name: model, version: '' })).ready) {
    if (Date.now() > deadline) throw new Error(`model ${model} never became ready`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
