// One ModelStreamInfer request answered by many responses: repeat_int32 with DELAY 0 and
// --responses elements (10,000), against a bare grpc-js bidi stream writing the same number
// of precomputed responses (bench/stream-floor-server.ts). One grpc-js client with identity
// deserializers reads both; rounds alternate floor/v2serve, medians reported. Figures:
// responses/s (first request byte to the stream's end) and server CPU per response
// (utime+stime from /proc, all threads), after 2 s of warm-up streams each. Target: v2serve ≥ 0.5× the floor's responses/s.
//   node --import tsx bench/stream.bench.ts [--quick] [--rounds=N] [--responses=N]
// Writes bench/results/stream.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, credentials } from '@grpc/grpc-js';
import { ModelInferRequest, ModelStreamInferResponse } from '../generated/grpc_service.js';
import { identity, MODEL_STREAM_INFER_PATH } from './grpc-raw.js';
import { CLI, PROJECT_ROOT, procCpuSeconds, spawnServer, V2SERVE_PORTS, type ServerProcess } from './processes.js';
import { fmtFixed, fmtInt, median } from './stats.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, rounds: { type: 'string' }, responses: { type: 'string' } }, strict: true });
const QUICK = values.quick === true;
const ROUNDS = Number(values.rounds ?? (QUICK ? 1 : 5));
const RESPONSES = Number(values.responses ?? (QUICK ? 1000 : 10_000));
const TARGET = 0.5;
const WARM_UP_MS = QUICK ? 200 : 2000;

const request = Buffer.from(
  ModelInferRequest.encode(
    ModelInferRequest.fromPartial({
      modelName: 'repeat_int32',
      id: 'bench',
      inputs: [
        { name: 'IN', datatype: 'INT32', shape: [BigInt(RESPONSES)] },
        { name: 'DELAY', datatype: 'UINT32', shape: [BigInt(RESPONSES)] },
        { name: 'WAIT', datatype: 'UINT32', shape: [1n] },
      ],
      rawInputContents: [
        Buffer.from(Int32Array.from({ length: RESPONSES }, (_, i) => i).buffer),
        Buffer.from(new Uint32Array(RESPONSES).buffer),
        Buffer.from(new Uint32Array(1).buffer),
      ],
    }),
  ).finish(),
);

interface Run {
  readonly responsesPerSecond: number;
  readonly cpuUsPerResponse: number;
}

/** One stream, one request, read to its end; the last response is checked. */
function streamOnce(client: Client, server: ServerProcess): Promise<Run> {
  return new Promise((resolve, reject) => {
    const cpu0 = procCpuSeconds(server.pid);
    const t0 = process.hrtime.bigint();
    let count = 0;
    let last: Buffer | undefined;
    const call = client.makeBidiStreamRequest(MODEL_STREAM_INFER_PATH, identity, identity);
    call.on('data', (message: Buffer) => {
      count++;
      last = message;
    });
    call.on('error', reject);
    call.on('end', () => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = procCpuSeconds(server.pid) - cpu0;
      if (count !== RESPONSES) return reject(new Error(`${count} responses, expected ${RESPONSES}:\n${server.output()}`));
      const response = ModelStreamInferResponse.decode(last!);
      const out = response.inferResponse?.rawOutputContents[0];
      if (response.errorMessage || !out || out.readInt32LE(0) !== RESPONSES - 1) return reject(new Error(`unexpected last response: ${JSON.stringify(response.errorMessage)}`));
      resolve({ responsesPerSecond: RESPONSES / seconds, cpuUsPerResponse: (cpu * 1e6) / RESPONSES });
    });
    call.write(request);
    call.end();
  });
}

const servers = {
  floor: await spawnServer(['--import', 'tsx'], join(PROJECT_ROOT, 'bench', 'stream-floor-server.ts'), [`--responses=${RESPONSES}`]),
  v2serve: await spawnServer([], CLI, [...V2SERVE_PORTS, '--log-verbose=0']),
};
const clients = Object.fromEntries(Object.entries(servers).map(([name, server]) => [name, new Client(server.address, credentials.createInsecure())])) as Record<keyof typeof servers, Client>;
try {
  const variants = Object.keys(servers) as (keyof typeof servers)[];
  // v2serve's first request also waits for the model to load.
  for (let deadline = Date.now() + 30_000; ; ) {
    try {
      await streamOnce(clients.v2serve, servers.v2serve);
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  // Warm-up as the h2load scenarios': streams for WARM_UP_MS each, so that the rounds measure
  // optimised code (one stream of 10,000 responses left v2serve's first rounds half as fast).
  for (const variant of Object.keys(servers) as (keyof typeof servers)[]) {
    for (const until = Date.now() + WARM_UP_MS; Date.now() < until; ) await streamOnce(clients[variant], servers[variant]);
  }
  const runs = new Map<string, Run[]>(variants.map((v) => [v, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const variant of variants) runs.get(variant)!.push(await streamOnce(clients[variant], servers[variant]));
  }
  const summary = variants.map((variant) => ({
    variant,
    responsesPerSecond: median(runs.get(variant)!.map((r) => r.responsesPerSecond)),
    cpuUsPerResponse: median(runs.get(variant)!.map((r) => r.cpuUsPerResponse)),
  }));
  const [floor, v2serve] = summary as [(typeof summary)[number], (typeof summary)[number]];
  const ratio = v2serve.responsesPerSecond / floor.responsesPerSecond;
  console.log(`one stream request of ${RESPONSES} responses (repeat_int32, DELAY 0), ${ROUNDS} rounds (${cpus()[0]?.model ?? 'cpu'} × ${cpus().length})`);
  console.log(`${'variant'.padEnd(10)}${'responses/s'.padStart(14)}${'CPU µs/response'.padStart(18)}`);
  for (const row of summary) console.log(`${row.variant.padEnd(10)}${fmtInt(row.responsesPerSecond).padStart(14)}${fmtFixed(row.cpuUsPerResponse, 2).padStart(18)}`);
  console.log(`v2serve/floor responses/s ${fmtFixed(ratio, 2)} (target ≥ ${TARGET}: ${ratio >= TARGET ? 'met' : 'NOT met'})`);
  const results = { responses: RESPONSES, rounds: ROUNDS, node: process.version, cpu: cpus()[0]?.model, cpus: cpus().length, summary, ratio, target: TARGET, met: ratio >= TARGET, runs: Object.fromEntries(runs) };
  console.log(JSON.stringify({ ratio, met: ratio >= TARGET }));
  mkdirSync(join(PROJECT_ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(PROJECT_ROOT, 'bench', 'results', 'stream.json'), `${JSON.stringify(results, null, 2)}\n`);
} finally {
  for (const client of Object.values(clients)) client.close();
  await Promise.all(Object.values(servers).map((server) => server.stop()));
}
