// Helpers for the ONNX tests through the real server: requests with raw tensors, outputs
// read back as typed arrays or strings, and waiting until a repository's loads are over.
import assert from 'node:assert/strict';
import type { InferParameter, ModelInferRequest, ModelInferResponse } from '../../generated/grpc_service.js';
import type { RepositoryIndexResponse_ModelIndex } from '../../generated/grpc_service.js';
import { call, type RunningCli } from '../helpers/server.js';

export interface RawInput {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly raw: Uint8Array;
}

/** A ModelInferRequest with every input in raw_input_contents, as tritonclient sends them. */
export function inferRequest(
  model: string,
  inputs: readonly RawInput[],
  outputs: readonly { name: string; parameters?: Record<string, InferParameter> }[] = [],
  parameters: Record<string, InferParameter> = {},
): ModelInferRequest {
  return {
    modelName: model,
    modelVersion: '',
    id: `${model}-request`,
    parameters: new Map(Object.entries(parameters)),
    inputs: inputs.map((input) => ({
      name: input.name,
      datatype: input.datatype,
      shape: input.shape.map(BigInt),
      parameters: new Map(),
      contents: undefined,
    })),
    outputs: outputs.map((output) => ({ name: output.name, parameters: new Map(Object.entries(output.parameters ?? {})) })),
    rawInputContents: inputs.map((input) => Buffer.from(input.raw)),
  };
}

/** The bytes of a typed array, as raw_input_contents carries them (little-endian, like this machine). */
export function rawBytes(values: ArrayBufferView): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** BYTES on the wire: each element a 4-byte little-endian length, then its bytes. */
export function rawStrings(values: readonly string[]): Uint8Array {
  return Buffer.concat(
    values.flatMap((value) => {
      const body = Buffer.from(value, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(body.length);
      return [length, body];
    }),
  );
}

export function rawOutput(response: ModelInferResponse, name: string): { shape: number[]; datatype: string; raw: Buffer } {
  const index = response.outputs.findIndex((output) => output.name === name);
  assert.ok(index >= 0, `output ${name} missing (got ${response.outputs.map((o) => o.name).join(', ')})`);
  const output = response.outputs[index]!;
  const raw = response.rawOutputContents[index] as Buffer;
  return { shape: output.shape.map(Number), datatype: output.datatype, raw };
}

/** An output's bytes as `Type` (copied, so the view is aligned). */
export function typedOutput<T>(response: ModelInferResponse, name: string, Type: new (buffer: ArrayBuffer) => T): T {
  const { raw } = rawOutput(response, name);
  return new Type(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer);
}

export function stringOutput(response: ModelInferResponse, name: string): string[] {
  const { raw } = rawOutput(response, name);
  const values: string[] = [];
  for (let at = 0; at < raw.length; ) {
    const length = raw.readUInt32LE(at);
    values.push(raw.subarray(at + 4, at + 4 + length).toString('utf8'));
    at += 4 + length;
  }
  return values;
}

/**
 * Waits until none of `models` is loading any more and returns their index entries by name:
 * READY, or UNAVAILABLE with the reason.
 */
export async function settledModels(
  cli: Pick<RunningCli, 'client'>,
  models: readonly string[],
  timeoutMs = 60_000,
): Promise<Map<string, RepositoryIndexResponse_ModelIndex>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { models: index } = await call(cli.client, cli.client.repositoryIndex, { repositoryName: '', ready: false });
    const entries = new Map(index.filter((entry) => models.includes(entry.name)).map((entry) => [entry.name, entry]));
    const settled = models.every((name) => ['READY', 'UNAVAILABLE'].includes(entries.get(name)?.state ?? ''));
    if (settled) return entries;
    if (Date.now() > deadline) throw new Error(`models still loading after ${timeoutMs} ms: ${JSON.stringify([...entries.values()])}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
