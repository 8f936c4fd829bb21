// The scenario table. A scenario is one request, sent pre-encoded to several server
// variants that are measured alternately (A/B/A/B) in the same run; ratios compare
// variants. New features add rows here:
// - monitoring on/off: v2serve variants with extra flags and `needsNats` (below);
// - dynamic batching on/off, worker instances: v2serve variants whose `repository`
//   hook writes a temporary model repository (config.pbtxt with dynamic_batching /
//   instance_group) or that pass the flag once the CLI has one;
// - anything the CLI does not know yet: list its flags in `requiresFlags`, and the
//   variant is skipped with a note until `v2serve --help` shows them.
import { appendFileSync, cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelInferRequest, type DeepPartial } from '../generated/grpc_service.js';
import { mlpModel } from '../test/onnx/onnx-fixtures.js';
import { PROJECT_ROOT } from './processes.js';

export type ServerKind = 'v2serve' | 'baseline-a' | 'baseline-b' | 'onnx-direct';

export interface ServerVariant {
  /** Column label and key in the JSON. */
  readonly id: string;
  readonly kind: ServerKind;
  readonly description: string;
  /** Extra v2serve flags; `{nats}` is replaced by the URL of the run's nats-server. */
  readonly args?: readonly string[];
  /** Start a local nats-server (JetStream, temp store) for this variant. */
  readonly needsNats?: boolean;
  /** Flags that `v2serve --help` must list; otherwise the variant is skipped, with a note. */
  readonly requiresFlags?: readonly string[];
  /**
   * Writes a model repository into `dir` (an empty temp dir) and returns the path to
   * pass as --model-repository. Without it the bundled models/ are served. An onnx-direct
   * baseline serves the ONNX models of the repository it writes.
   */
  readonly repository?: (dir: string) => string;
}

export interface Ratio {
  /** e.g. 'v2serve/baseline-a' */
  readonly label: string;
  readonly numerator: string;
  readonly denominator: string;
  /** The acceptance target for this ratio, checked at `targetConcurrency`. */
  readonly target?: number;
  readonly targetConcurrency?: number;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly request: () => ModelInferRequest;
  /**
   * Measured in this order, every round. The first v2serve variant is the reference:
   * its response to the request is what the baselines return.
   */
  readonly variants: readonly ServerVariant[];
  readonly ratios: readonly Ratio[];
  /** Multiplies the measured time of each run, for requests so large that a run holds few of them. */
  readonly timeScale?: number;
}

export const BASELINE_A: ServerVariant = {
  id: 'baseline-a',
  kind: 'baseline-a',
  description: 'grpc-js + generated GRPCInferenceServiceService; returns a precomputed response (ts-proto decode + encode only)',
};

export const BASELINE_B: ServerVariant = {
  id: 'baseline-b',
  kind: 'baseline-b',
  description: 'grpc-js, identity (de)serializers on the ModelInfer path; echoes precomputed response bytes (transport ceiling)',
};

export const V2SERVE: ServerVariant = { id: 'v2serve', kind: 'v2serve', description: 'bin/v2serve.js, bundled models/' };

/** v2serve against both ceilings; `target` is the floor for v2serve/baseline-a at concurrency 64. */
function againstBaselines(target: number): Pick<Scenario, 'variants' | 'ratios'> {
  return {
    variants: [BASELINE_A, V2SERVE, BASELINE_B],
    ratios: [
      { label: 'v2serve/baseline-a', numerator: 'v2serve', denominator: 'baseline-a', target, targetConcurrency: 64 },
      { label: 'v2serve/baseline-b', numerator: 'v2serve', denominator: 'baseline-b' },
    ],
  };
}

function int32Le(values: ArrayLike<number>): Buffer {
  const buf = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) buf.writeInt32LE(values[i] as number, i * 4);
  return buf;
}

/** BYTES tensor on the wire: each element a 4-byte LE length, then its bytes. */
function bytesTensor(elements: readonly string[]): Buffer {
  return Buffer.concat(
    elements.flatMap((s) => {
      const body = Buffer.from(s, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(body.length);
      return [len, body];
    }),
  );
}

const SIXTEEN = Array.from({ length: 16 }, (_, i) => i);
const ONES = Array.from({ length: 16 }, () => 1);

function simple(overrides: DeepPartial<ModelInferRequest>): ModelInferRequest {
  return ModelInferRequest.fromPartial({
    modelName: 'simple',
    id: 'bench',
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n] },
      { name: 'INPUT1', datatype: 'INT32', shape: [1n, 16n] },
    ],
    ...overrides,
  });
}

export const FP32_ELEMENTS = 1 << 20; // 4 MiB of FP32

const BATCHING = 'dynamic_batching { max_queue_delay_microseconds: 500 }';
const ONE_WORKER = 'instance_group [ { count: 1 kind: KIND_CPU } ]';

/**
 * A repository holding a copy of one model (`models/<name>` or another directory of this
 * project) with `config` appended to its config.pbtxt. The model imports 'v2serve' through
 * node_modules/v2serve, a link to this project, as it would with v2serve installed.
 */
function modelCopy(config: string, name = 'simple', from = 'models'): (dir: string) => string {
  return (dir) => {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(PROJECT_ROOT, join(dir, 'node_modules', 'v2serve'), 'dir');
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    const root = join(dir, 'repository');
    cpSync(join(PROJECT_ROOT, from, name), join(root, name), { recursive: true });
    appendFileSync(join(root, name, 'config.pbtxt'), config);
    return root;
  };
}

/** A repository of one zero-code ONNX model: config.pbtxt and 1/model.onnx. */
function onnxRepository(name: string, model: () => Uint8Array, config: string): (dir: string) => string {
  return (dir) => {
    const root = join(dir, 'repository');
    mkdirSync(join(root, name, '1'), { recursive: true });
    writeFileSync(join(root, name, 'config.pbtxt'), `name: "${name}"\n${config}`);
    writeFileSync(join(root, name, '1', 'model.onnx'), model());
    return root;
  };
}

/** A copy of models/iris whose config.pbtxt has `line` in place of `bundled`. */
function bundledIrisWith(bundled: string, line: string): (dir: string) => string {
  return (dir) => {
    const root = modelCopy('', 'iris')(dir);
    const file = join(root, 'iris', 'config.pbtxt');
    const config = readFileSync(file, 'utf8');
    if (!config.includes(bundled)) throw new Error(`models/iris/config.pbtxt no longer has '${bundled}'`);
    writeFileSync(file, config.replace(bundled, line));
    return root;
  };
}

/**
 * The "~1 ms MLP": 768 → 1536 → 1536 → 1536 → 16 float32 (5.9 M weights, 24 MB), one intra-op
 * thread. A single row reads every weight for ~1 ms of work; a batch reads them once for all
 * its rows, which is what dynamic batching can win. Built once per run (fixed seed).
 */
const MLP_WIDTHS = [768, 1536, 1536, 1536, 16];
let mlpBytes: Uint8Array | undefined;
const mlp = (): Uint8Array => (mlpBytes ??= mlpModel(MLP_WIDTHS));
const MLP_CONFIG = `platform: "onnxruntime_onnx"
max_batch_size: 64
input [ { name: "x" data_type: TYPE_FP32 dims: [ ${MLP_WIDTHS[0]} ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ ${MLP_WIDTHS.at(-1)} ] } ]
parameters { key: "intra_op_thread_count" value: { string_value: "1" } }
`;

function onnxRow(model: string, name: string, values: Float32Array): ModelInferRequest {
  return ModelInferRequest.fromPartial({
    modelName: model,
    id: 'bench',
    inputs: [{ name, datatype: 'FP32', shape: [1n, BigInt(values.length)] }],
    rawInputContents: [Buffer.from(values.buffer)],
  });
}

const WORKER_FIXTURES = join('test', 'fixtures', 'worker-models');
const MATMUL_SIZE = 128;

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'simple-raw',
    description: 'simple, 2×[1,16] INT32 in raw_input_contents',
    request: () => simple({ rawInputContents: [int32Le(SIXTEEN), int32Le(ONES)] }),
    ...againstBaselines(0.9),
  },
  {
    name: 'simple-typed',
    description: 'simple, 2×[1,16] INT32 in typed contents (int_contents)',
    request: () =>
      simple({
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n], contents: { intContents: SIXTEEN } },
          { name: 'INPUT1', datatype: 'INT32', shape: [1n, 16n], contents: { intContents: ONES } },
        ],
      }),
    ...againstBaselines(0.9),
  },
  {
    name: 'identity-fp32-4mib',
    description: `identity_fp32, FP32 [${FP32_ELEMENTS}] (4 MiB) in raw_input_contents`,
    request: () => {
      const values = new Float32Array(FP32_ELEMENTS);
      for (let i = 0; i < values.length; i++) values[i] = i * 0.5;
      return ModelInferRequest.fromPartial({
        modelName: 'identity_fp32',
        id: 'bench',
        inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [BigInt(FP32_ELEMENTS)] }],
        rawInputContents: [Buffer.from(values.buffer)],
      });
    },
    ...againstBaselines(0.95),
    // At concurrency 64 one request takes seconds: a longer run still ends with a few waves.
    timeScale: 2,
  },
  {
    name: 'simple-string',
    description: 'simple_string, 2×[1,16] BYTES (decimal strings) in raw_input_contents',
    request: () =>
      ModelInferRequest.fromPartial({
        modelName: 'simple_string',
        id: 'bench',
        inputs: [
          { name: 'INPUT0', datatype: 'BYTES', shape: [1n, 16n] },
          { name: 'INPUT1', datatype: 'BYTES', shape: [1n, 16n] },
        ],
        rawInputContents: [bytesTensor(SIXTEEN.map(String)), bytesTensor(ONES.map(String))],
      }),
    ...againstBaselines(0.9),
  },
  {
    // Every variant serves its own copy of `simple` (max_batch_size 8); only config.pbtxt differs.
    // On the main thread an execution of `simple` costs next to nothing, so batching saves
    // little; with a worker instance it saves a thread crossing per request. At concurrency 1
    // every request waits out the delay (setTimeout: at least 1 ms).
    name: 'simple-dynamic-batching',
    description: 'simple raw [1,16]; dynamic batching (max_queue_delay_microseconds 500, batches up to 8) off vs on, main thread and 1 worker instance',
    request: () => simple({ rawInputContents: [int32Le(SIXTEEN), int32Le(ONES)] }),
    variants: [
      { id: 'batching-off', kind: 'v2serve', description: 'copy of simple, no dynamic_batching', repository: modelCopy('') },
      {
        id: 'batching-on',
        kind: 'v2serve',
        description: 'copy of simple with dynamic_batching { max_queue_delay_microseconds: 500 }',
        repository: modelCopy(`${BATCHING}\n`),
      },
      { id: 'worker-off', kind: 'v2serve', description: 'copy of simple in 1 worker instance', repository: modelCopy(`${ONE_WORKER}\n`) },
      {
        id: 'worker-on',
        kind: 'v2serve',
        description: 'copy of simple in 1 worker instance, with dynamic_batching',
        repository: modelCopy(`${ONE_WORKER}\n${BATCHING}\n`),
      },
    ],
    ratios: [
      { label: 'batching-on/off', numerator: 'batching-on', denominator: 'batching-off' },
      { label: 'worker batching-on/off', numerator: 'worker-on', denominator: 'worker-off' },
    ],
  },
  {
    // Issue 8: CPU-bound pure-JS work, one instance on the main thread vs two worker threads.
    name: 'matmul-workers',
    description: `worker_matmul, FP32 [${MATMUL_SIZE},${MATMUL_SIZE}] × W in plain JS; in-process vs 2 worker instances`,
    request: () => {
      const a = new Float32Array(MATMUL_SIZE * MATMUL_SIZE);
      for (let i = 0; i < a.length; i++) a[i] = (i % 17) / 16;
      return ModelInferRequest.fromPartial({
        modelName: 'worker_matmul',
        id: 'bench',
        inputs: [{ name: 'A', datatype: 'FP32', shape: [BigInt(MATMUL_SIZE), BigInt(MATMUL_SIZE)] }],
        rawInputContents: [Buffer.from(a.buffer)],
      });
    },
    variants: [
      { id: 'in-process', kind: 'v2serve', description: 'worker_matmul on the main thread', repository: modelCopy('', 'worker_matmul', WORKER_FIXTURES) },
      {
        id: 'workers-2',
        kind: 'v2serve',
        description: 'worker_matmul with instance_group [ { count: 2 kind: KIND_CPU } ]',
        repository: modelCopy('instance_group [ { count: 2 kind: KIND_CPU } ]\n', 'worker_matmul', WORKER_FIXTURES),
      },
    ],
    ratios: [{ label: 'workers-2/in-process', numerator: 'workers-2', denominator: 'in-process', target: 1.7, targetConcurrency: 16 }],
  },
  {
    // Issue 8: what a worker instance costs a light model (in-process stays the default).
    name: 'simple-worker',
    description: 'simple raw [1,16]; in-process vs 1 worker instance',
    request: () => simple({ rawInputContents: [int32Le(SIXTEEN), int32Le(ONES)] }),
    variants: [
      { id: 'in-process', kind: 'v2serve', description: 'copy of simple, main thread', repository: modelCopy('') },
      {
        id: 'worker-1',
        kind: 'v2serve',
        description: 'copy of simple with instance_group [ { count: 1 kind: KIND_CPU } ]',
        repository: modelCopy('instance_group [ { count: 1 kind: KIND_CPU } ]\n'),
      },
    ],
    ratios: [{ label: 'worker-1/in-process', numerator: 'worker-1', denominator: 'in-process' }],
  },
  {
    // The monitoring targets: on (sample 1, batch 1) and on (batch 16) vs off,
    // each ≥ 0.97. Skipped, with a note, until the CLI lists the --monitoring-* flags.
    name: 'simple-raw-monitoring',
    description: 'simple raw; monitoring to a local nats-server off vs on (sample 1/batch 1, sample 1/batch 16)',
    request: () => simple({ rawInputContents: [int32Le(SIXTEEN), int32Le(ONES)] }),
    variants: [
      { ...V2SERVE, id: 'v2serve', description: 'monitoring off' },
      {
        id: 'v2serve-mon-b1',
        kind: 'v2serve',
        description: 'monitoring on: sample 1, batch 1',
        args: ['--monitoring-nats={nats}', '--monitoring-sample=1', '--monitoring-batch=1'],
        needsNats: true,
        requiresFlags: ['--monitoring-nats', '--monitoring-sample', '--monitoring-batch'],
      },
      {
        id: 'v2serve-mon-b16',
        kind: 'v2serve',
        description: 'monitoring on: sample 1, batch 16',
        args: ['--monitoring-nats={nats}', '--monitoring-sample=1', '--monitoring-batch=16'],
        needsNats: true,
        requiresFlags: ['--monitoring-nats', '--monitoring-sample', '--monitoring-batch'],
      },
    ],
    ratios: [
      { label: 'mon-b1/off', numerator: 'v2serve-mon-b1', denominator: 'v2serve', target: 0.97, targetConcurrency: 64 },
      { label: 'mon-b16/off', numerator: 'v2serve-mon-b16', denominator: 'v2serve', target: 0.97, targetConcurrency: 64 },
    ],
  },
  {
    // Issue 20: every event stored in a JetStream stream, each publish acknowledged
    // asynchronously, vs monitoring off; target ≥ 0.90 at 16 in flight. The nats-server
    // (file store) shares the machine with the servers and the load generator.
    name: 'simple-raw-monitoring-stream',
    description: 'simple raw; monitoring off vs to a JetStream stream on a local nats-server (sample 1, batch 1)',
    request: () => simple({ rawInputContents: [int32Le(SIXTEEN), int32Le(ONES)] }),
    variants: [
      { ...V2SERVE, id: 'v2serve', description: 'monitoring off' },
      {
        id: 'v2serve-stream-b1',
        kind: 'v2serve',
        description: 'monitoring to the JetStream stream V2SERVE_BENCH: sample 1, batch 1',
        args: ['--monitoring-nats={nats}', '--monitoring-stream=V2SERVE_BENCH', '--monitoring-sample=1', '--monitoring-batch=1'],
        needsNats: true,
        requiresFlags: ['--monitoring-nats', '--monitoring-stream'],
      },
    ],
    ratios: [{ label: 'stream-b1/off', numerator: 'v2serve-stream-b1', denominator: 'v2serve', target: 0.9, targetConcurrency: 16 }],
  },
  {
    // Issue 19: the bundled Iris graph (a Gemm and a Softmax, microseconds of work) as shipped
    // vs session.run called directly behind the same gRPC service (bench/onnx-direct-server.ts),
    // both from models/iris/config.pbtxt; and in one worker, the ONNX default, which it leaves.
    name: 'onnx-iris',
    description: 'iris, one flower FP32 [1,4]; v2serve as bundled vs session.run directly in the gRPC handler; in a worker',
    request: () => onnxRow('iris', 'input', Float32Array.from([6.3, 3.3, 6.0, 2.5])),
    variants: [
      { id: 'v2serve', kind: 'v2serve', description: 'models/iris as bundled: main thread, dynamic_batching { }', repository: modelCopy('', 'iris') },
      { id: 'direct', kind: 'onnx-direct', description: 'grpc-js + generated service, session.run in ModelInfer', repository: modelCopy('', 'iris') },
      {
        id: 'worker',
        kind: 'v2serve',
        description: 'models/iris in 1 worker instance (the ONNX default without instance_group)',
        repository: bundledIrisWith('instance_group [ { kind: KIND_MODEL } ]', 'instance_group [ { count: 1 kind: KIND_CPU } ]'),
      },
    ],
    ratios: [
      { label: 'v2serve/direct', numerator: 'v2serve', denominator: 'direct', target: 0.85, targetConcurrency: 16 },
      { label: 'worker/direct', numerator: 'worker', denominator: 'direct' },
    ],
  },
  {
    // Issue 19: a ~1 ms MLP served zero-code vs session.run called directly, and dynamic
    // batching on vs off. The direct baseline runs on its main thread; v2serve in its default
    // worker. With dynamic batching (what auto-complete gives a batchable graph) v2serve does
    // less work than the baseline's one run per request; batching-off/direct is the same work.
    name: 'onnx-mlp',
    description: `MLP ${MLP_WIDTHS.join('→')} FP32, one row; v2serve vs session.run directly; dynamic batching off vs on`,
    request: () => onnxRow('mlp', 'x', Float32Array.from({ length: MLP_WIDTHS[0]! }, (_, i) => ((i % 13) - 6) / 6)),
    variants: [
      { id: 'batching-off', kind: 'v2serve', description: 'mlp zero-code, no dynamic batching', repository: onnxRepository('mlp', mlp, MLP_CONFIG) },
      { id: 'direct', kind: 'onnx-direct', description: 'grpc-js + generated service, session.run in ModelInfer', repository: onnxRepository('mlp', mlp, MLP_CONFIG) },
      {
        id: 'batching-on',
        kind: 'v2serve',
        description: 'mlp zero-code with dynamic_batching { } (batches up to 64)',
        repository: onnxRepository('mlp', mlp, `${MLP_CONFIG}dynamic_batching { }\n`),
      },
    ],
    ratios: [
      { label: 'batching-on/direct', numerator: 'batching-on', denominator: 'direct', target: 0.85, targetConcurrency: 16 },
      { label: 'batching-off/direct', numerator: 'batching-off', denominator: 'direct' },
      { label: 'batching-on/off', numerator: 'batching-on', denominator: 'batching-off', target: 2, targetConcurrency: 64 },
    ],
  },
];

/** The memory soak: many `simple` raw requests at one concurrency against a fresh v2serve. */
export const SOAK = {
  scenario: 'simple-raw',
  concurrency: 16,
  /** RSS is read when this fraction of the requests has completed, and at the end. */
  checkpoint: 0.1,
  /** The target: RSS growth from the checkpoint to the end. */
  maxGrowthPct: 5,
} as const;
