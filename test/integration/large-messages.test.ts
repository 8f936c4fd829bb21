// Large messages and V8's garbage collector. A 4 MiB call allocates about 16 MiB of
// ArrayBuffers, which V8 counts against the old generation's limit; the server sets how far
// that limit grows (src/cli/gc-flags.ts) so that scavenges free them, not a full
// collection per call.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ModelInferRequest, ModelInferResponse } from '../../generated/grpc_service.js';
import { call, startCli, type RunningCli } from '../helpers/server.js';

const ELEMENTS = 1 << 20;
const CALLS = 20;
/** A --trace-gc line of a full collection: `[pid:isolate]  time ms: Mark-Compact ...`. */
const FULL_COLLECTION = /^\[\d+:(0x[0-9a-f]+)\]\s+[\d.]+ ms: Mark-Compact/;

function fp32Request(): ModelInferRequest {
  return {
    modelName: 'identity_fp32',
    modelVersion: '',
    id: 'gc',
    parameters: new Map(),
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [BigInt(ELEMENTS)], parameters: new Map(), contents: undefined }],
    outputs: [],
    rawInputContents: [Buffer.from(new Float32Array(ELEMENTS).fill(0.5).buffer)],
  };
}

async function infer(cli: RunningCli, request: ModelInferRequest, calls: number): Promise<void> {
  for (let i = 0; i < calls; i++) {
    const response: ModelInferResponse = await call(cli.client, cli.client.modelInfer, request);
    assert.equal(response.rawOutputContents[0]?.byteLength, ELEMENTS * 4);
  }
}

/** The full collections after log line `from` of the isolate that had the most (the one serving calls: other threads are idle). */
function fullCollections(cli: RunningCli, from: number): string[] {
  const byIsolate = new Map<string, string[]>();
  for (const line of cli.logs.slice(from)) {
    const text = String(line['msg']);
    const match = FULL_COLLECTION.exec(text);
    if (!match) continue;
    byIsolate.set(match[1]!, [...(byIsolate.get(match[1]!) ?? []), text]);
  }
  return [...byIsolate.values()].reduce((most, lines) => (lines.length > most.length ? lines : most), []);
}

describe('large messages', () => {
  test('gc - 4 MiB calls are freed by scavenges, not a full collection each, even where V8 would grow the heap by 30% at most', async (t) => {
    const cli = await startCli(
      ['--model-control-mode=explicit', '--load-model=identity_fp32', '--allow-http=false', '--allow-metrics=false'],
      20_000,
      // V8 optimizing for size grows the heap by 30% at most: it stands in for the small
      // growth V8 picks after its memory reducer ran, which takes seconds of quiet to come.
      ['--trace-gc', '--optimize-for-size'],
    );
    t.after(() => cli.stop());
    await cli.waitForLog((l) => l['model'] === 'identity_fp32' && l['msg'] === 'model loaded');
    const request = fp32Request();

    const from = cli.logs.length;
    await infer(cli, request, CALLS);
    const full = fullCollections(cli, from);
    // Observed: up to 2 with the server's growth, 13 to 20 without it.
    assert.ok(full.length <= CALLS / 4, `${full.length} full collections in ${CALLS} calls:\n${full.join('\n')}`);
  });
});
