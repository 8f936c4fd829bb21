// Simple feeding simple, three ways, from one grpc-js client at 16 requests in flight:
//   ensemble          one ModelInfer to a Triton ensemble (the steps run inside the server)
//   model-calls       one ModelInfer to a model making the two calls itself (this.infer)
//   client-two-calls  the client calls simple, then calls it again with the answer
// h2load sends one fixed request and cannot feed an answer into the next one, so this
// driver measures all three with the same client, rounds alternating (A/B/C/A/B/C), the
// medians reported. Client and server share the machine (no pinning): the client's own
// protobuf work counts in every figure, twice per logical request for client-two-calls.
//   node --import tsx bench/pipeline.bench.ts [--quick] [--rounds=N] [--seconds=S] [--concurrency=N]
// Writes bench/results/pipeline.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { GRPCInferenceServiceClient, ModelInferRequest, type ModelInferResponse } from '../generated/grpc_service.js';
import { CLI, PROJECT_ROOT, spawnServer, V2SERVE_PORTS } from './processes.js';
import { pairRepository } from './scenarios.js';
import { subBenchSettings } from './sub-bench-settings.js';
import { fmtFixed, fmtInt, median } from './stats.js';

const SETTINGS = subBenchSettings();
const { rounds: ROUNDS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS } = SETTINGS;
const IN_FLIGHT = Number(SETTINGS.concurrency ?? 16);

const A = Int32Array.from({ length: 16 }, (_, i) => i);
const B = Int32Array.from({ length: 16 }, () => 1);

function request(model: string, first: Buffer, second: Buffer): ModelInferRequest {
  return ModelInferRequest.fromPartial({
    modelName: model,
    id: 'bench',
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n] },
      { name: 'INPUT1', datatype: 'INT32', shape: [1n, 16n] },
    ],
    rawInputContents: [first, second],
  });
}

const bytes = (values: Int32Array): Buffer => Buffer.from(values.buffer, values.byteOffset, values.byteLength);

function infer(client: GRPCInferenceServiceClient, req: ModelInferRequest): Promise<ModelInferResponse> {
  return new Promise((resolve, reject) => client.modelInfer(req, (err, res) => (err ? reject(err) : resolve(res))));
}

type Logical = (client: GRPCInferenceServiceClient) => Promise<ModelInferResponse>;

const WAYS: readonly { readonly name: string; readonly run: Logical }[] = [
  { name: 'ensemble', run: (client) => infer(client, request('pair', bytes(A), bytes(B))) },
  { name: 'model-calls', run: (client) => infer(client, request('pair_calls', bytes(A), bytes(B))) },
  {
    name: 'client-two-calls',
    run: async (client) => {
      const first = await infer(client, request('simple', bytes(A), bytes(B)));
      return infer(client, request('simple', first.rawOutputContents[0]!, first.rawOutputContents[1]!));
    },
  },
];

/** simple feeding simple doubles both inputs. */
function check(name: string, response: ModelInferResponse): void {
  const values = response.rawOutputContents.map((raw) => [...new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))]);
  const expected = [[...A].map((x) => 2 * x), [...B].map((x) => 2 * x)];
  if (JSON.stringify(values) !== JSON.stringify(expected)) throw new Error(`${name} answered ${JSON.stringify(values)}`);
}

/** `inFlight` loops, each sending its next logical request when the last is answered. */
async function measure(client: GRPCInferenceServiceClient, run: Logical, seconds: number): Promise<{ throughput: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (process.hrtime.bigint() < end) {
        const t0 = process.hrtime.bigint();
        await run(client);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { throughput: latencies.length / elapsed, p50: at(0.5), p99: at(0.99) };
}

const dir = mkdtempSync(join(tmpdir(), 'v2serve-pipeline-bench-'));
const server = await spawnServer([], CLI, [...V2SERVE_PORTS, `--model-repository=${pairRepository(dir)}`]);
const client = new GRPCInferenceServiceClient(server.address, credentials.createInsecure());
try {
  for (let deadline = Date.now() + 30_000; ; ) {
    const ready = await new Promise<boolean>((resolve) => client.serverReady({}, (err, res) => resolve(!err && res.ready)));
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`v2serve not ready:\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const way of WAYS) check(way.name, await way.run(client));
  for (const way of WAYS) await measure(client, way.run, WARMUP_SECONDS);
  const runs = new Map<string, { throughput: number; p50: number; p99: number }[]>(WAYS.map((way) => [way.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const way of WAYS) runs.get(way.name)!.push(await measure(client, way.run, SECONDS));
  }
  const summary = WAYS.map((way) => {
    const cells = runs.get(way.name)!;
    return {
      name: way.name,
      throughput: median(cells.map((c) => c.throughput)),
      p50Ms: median(cells.map((c) => c.p50)),
      p99Ms: median(cells.map((c) => c.p99)),
    };
  });
  const baseline = summary.find((row) => row.name === 'client-two-calls')!;
  console.log(`simple feeding simple, ${IN_FLIGHT} in flight, ${ROUNDS} rounds × ${SECONDS} s, one grpc-js client (${cpus()[0]?.model ?? 'cpu'} × ${cpus().length})`);
  console.log(`${'way'.padEnd(18)}${'req/s'.padStart(10)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}${'× client-two-calls'.padStart(20)}`);
  for (const row of summary) {
    console.log(
      `${row.name.padEnd(18)}${fmtInt(row.throughput).padStart(10)}${fmtFixed(row.p50Ms, 2).padStart(10)}${fmtFixed(row.p99Ms, 2).padStart(10)}${fmtFixed(row.throughput / baseline.throughput, 2).padStart(20)}`,
    );
  }
  const results = { inFlight: IN_FLIGHT, rounds: ROUNDS, seconds: SECONDS, node: process.version, cpu: cpus()[0]?.model, cpus: cpus().length, summary };
  for (const row of summary) console.log(JSON.stringify({ ...row, ratioToClientTwoCalls: row.throughput / baseline.throughput }));
  mkdirSync(join(PROJECT_ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(PROJECT_ROOT, 'bench', 'results', 'pipeline.json'), `${JSON.stringify(results, null, 2)}\n`);
} finally {
  client.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
