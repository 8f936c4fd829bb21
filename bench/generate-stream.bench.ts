// Time to first token over REST: the bundled text_generator answering POST …/generate_stream
// (Server-Sent Events, one token per event), from node:http clients on keep-alive
// connections, each sending its next request when the last stream ended. Per request: the
// time to the first whole event (time to first token) and to the end of the stream. Client
// and server share the machine (no pinning); the client parses every event.
//   node --import tsx bench/generate-stream.bench.ts [--quick] [--rounds=N] [--seconds=S] [--concurrency=1,8]
// Writes bench/results/generate-stream.json.
import { Agent, request as httpRequest } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { CLI, PROJECT_ROOT, spawnServer, V2SERVE_HTTP_PORTS } from './processes.js';
import { subBenchSettings } from './sub-bench-settings.js';
import { fmtFixed, fmtInt, median, percentile, round } from './stats.js';

const SETTINGS = subBenchSettings();
const { rounds: ROUNDS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS } = SETTINGS;
const CONCURRENCY = (SETTINGS.concurrency ?? '1,8').split(',').map(Number);

const TOKENS = 32;
const BODY = JSON.stringify({ text_input: 'We hold these truths', max_tokens: TOKENS, temperature: 0, stream: true });
const PATH = '/v2/models/text_generator/generate_stream';

interface Timing {
  readonly firstMs: number;
  readonly totalMs: number;
  readonly tokens: string[];
}

/** One stream: the time to its first whole event, to its end, and the tokens it carried. */
function stream(port: number, agent: Agent): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let firstMs = NaN;
    let buffered = '';
    const tokens: string[] = [];
    const outgoing = httpRequest({ host: '127.0.0.1', port, path: PATH, method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(BODY) } }, (response) => {
      if (response.statusCode !== 200) reject(new Error(`generate_stream answered ${response.statusCode}`));
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffered += chunk;
        let end: number;
        while ((end = buffered.indexOf('\n\n')) !== -1) {
          if (tokens.length === 0) firstMs = Number(process.hrtime.bigint() - t0) / 1e6;
          const event = JSON.parse(buffered.slice('data: '.length, end)) as { text_output?: string; error?: string };
          if (event.error !== undefined) reject(new Error(event.error));
          tokens.push(String(event.text_output));
          buffered = buffered.slice(end + 2);
        }
      });
      response.on('end', () => resolve({ firstMs, totalMs: Number(process.hrtime.bigint() - t0) / 1e6, tokens }));
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(BODY);
  });
}

interface Run {
  readonly streams: number;
  readonly streamsPerSecond: number;
  readonly tokensPerSecond: number;
  readonly firstTokenP50Ms: number;
  readonly firstTokenP99Ms: number;
  readonly totalP50Ms: number;
  readonly totalP99Ms: number;
}

/** `inFlight` clients, each on its own connection, streaming one request after another for `seconds`. */
async function measure(port: number, inFlight: number, seconds: number): Promise<Run> {
  const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
  const first: number[] = [];
  const total: number[] = [];
  let tokens = 0;
  const started = process.hrtime.bigint();
  const end = started + BigInt(Math.round(seconds * 1e9));
  try {
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (process.hrtime.bigint() < end) {
          const timing = await stream(port, agent);
          first.push(timing.firstMs);
          total.push(timing.totalMs);
          tokens += timing.tokens.length;
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  first.sort((a, b) => a - b);
  total.sort((a, b) => a - b);
  return {
    streams: total.length,
    streamsPerSecond: total.length / elapsed,
    tokensPerSecond: tokens / elapsed,
    firstTokenP50Ms: percentile(first, 50),
    firstTokenP99Ms: percentile(first, 99),
    totalP50Ms: percentile(total, 50),
    totalP99Ms: percentile(total, 99),
  };
}

const server = await spawnServer([], CLI, [...V2SERVE_HTTP_PORTS, '--model-repository=models', '--model-control-mode=explicit', '--load-model=text_generator'], { transport: 'http' });
try {
  for (let deadline = Date.now() + 30_000; ; ) {
    const ready = await fetch(`http://127.0.0.1:${server.port}/v2/models/text_generator/ready`).then((r) => r.status === 200, () => false);
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`text_generator not ready:\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // One check before measuring: every token is an event, and together they are generate's one answer.
  const checkAgent = new Agent({ keepAlive: false });
  const checked = await stream(server.port, checkAgent);
  const whole = (await (await fetch(`http://127.0.0.1:${server.port}/v2/models/text_generator/generate`, { method: 'POST', body: BODY.replace('"stream":true', '"stream":false') })).json()) as { text_output: string };
  if (checked.tokens.length !== TOKENS || checked.tokens.join('') !== whole.text_output) {
    throw new Error(`generate_stream gave ${checked.tokens.length} tokens '${checked.tokens.join('')}', generate '${whole.text_output}'`);
  }

  const summary = [];
  for (const inFlight of CONCURRENCY) {
    await measure(server.port, inFlight, WARMUP_SECONDS);
    const runs: Run[] = [];
    for (let r = 0; r < ROUNDS; r++) runs.push(await measure(server.port, inFlight, SECONDS));
    const mid = (key: keyof Run): number => round(median(runs.map((run) => run[key])), 3);
    summary.push({
      inFlight,
      streams: runs.reduce((n, run) => n + run.streams, 0),
      streamsPerSecond: mid('streamsPerSecond'),
      tokensPerSecond: mid('tokensPerSecond'),
      firstTokenP50Ms: mid('firstTokenP50Ms'),
      firstTokenP99Ms: mid('firstTokenP99Ms'),
      totalP50Ms: mid('totalP50Ms'),
      totalP99Ms: mid('totalP99Ms'),
    });
  }
  console.log(`text_generator over REST generate_stream, ${TOKENS} tokens per stream, ${ROUNDS} rounds × ${SECONDS} s (${cpus()[0]?.model ?? 'cpu'} × ${cpus().length})`);
  console.log(`${'in flight'.padEnd(10)}${'streams/s'.padStart(11)}${'tokens/s'.padStart(11)}${'TTFT p50'.padStart(10)}${'TTFT p99'.padStart(10)}${'total p50'.padStart(11)}${'total p99'.padStart(11)}  (ms)`);
  for (const row of summary) {
    console.log(
      `${String(row.inFlight).padEnd(10)}${fmtInt(row.streamsPerSecond).padStart(11)}${fmtInt(row.tokensPerSecond).padStart(11)}` +
        `${fmtFixed(row.firstTokenP50Ms, 2).padStart(10)}${fmtFixed(row.firstTokenP99Ms, 2).padStart(10)}${fmtFixed(row.totalP50Ms, 2).padStart(11)}${fmtFixed(row.totalP99Ms, 2).padStart(11)}`,
    );
  }
  const results = { tokens: TOKENS, rounds: ROUNDS, seconds: SECONDS, node: process.version, cpu: cpus()[0]?.model, cpus: cpus().length, summary };
  mkdirSync(join(PROJECT_ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(PROJECT_ROOT, 'bench', 'results', 'generate-stream.json'), `${JSON.stringify(results, null, 2)}\n`);
} finally {
  await server.stop();
}
