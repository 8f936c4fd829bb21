// A repository for the HTTP tests: `echo` returns each input X_<TYPE> as Y_<TYPE> for every
// datatype, with an `explain` and a custom operation; `slow` takes a while to load.
import { after, before } from 'node:test';
import { startCli, tempRepository, type RunningCli } from '../helpers/server.js';

export const TYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BF16', 'BYTES'] as const;

const configType = (t: string) => (t === 'BYTES' ? 'TYPE_STRING' : `TYPE_${t}`);

const ECHO_CONFIG = `
name: "echo"
backend: "nodejs"
max_batch_size: 0
input [ ${TYPES.map((t) => `{ name: "X_${t}" data_type: ${configType(t)} dims: [ -1 ] optional: true }`).join(', ')} ]
output [ ${TYPES.map((t) => `{ name: "Y_${t}" data_type: ${configType(t)} dims: [ -1 ] }`).join(', ')} ]
`;

const ECHO = `
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
// Every declared output must be produced: those without an input answer empty.
const EMPTY = {
  BOOL: Uint8Array, UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array, UINT64: BigUint64Array,
  INT8: Int8Array, INT16: Int16Array, INT32: Int32Array, INT64: BigInt64Array,
  FP16: Uint16Array, FP32: Float32Array, FP64: Float64Array, BF16: Uint16Array,
};
function outputs(given: Record<string, unknown>): PredictOutputs {
  const out: Record<string, unknown> = {};
  for (const [type, Ctor] of Object.entries(EMPTY)) out['Y_' + type] = given['Y_' + type] ?? new Ctor(0);
  out['Y_BYTES'] = given['Y_BYTES'] ?? [];
  return out as PredictOutputs;
}
export default class Echo extends ModelServer {
  load(): void {}
  predict(request: InferRequest): PredictOutputs {
    const out: Record<string, unknown> = {};
    for (const [name, tensor] of Object.entries(request.tensors)) out['Y_' + name.slice(2)] = tensor.data;
    return outputs(out);
  }
  explain(request: InferRequest): PredictOutputs {
    return outputs({ Y_BYTES: ['explained ' + String(request.tensors['X_FP32']?.data.length)] });
  }
  opDouble(request: InferRequest): PredictOutputs {
    return outputs({ Y_FP32: Float32Array.from(request.tensors['X_FP32']!.data as Float32Array, (v) => v * 2) });
  }
}`;

/** `slow`, an FP32 identity X → Y whose load() takes `loadMs`: a model to watch loading. */
export function slowModel(loadMs: number): { config: string; versions: Record<string, string> } {
  const config = `
name: "slow"
backend: "nodejs"
max_batch_size: 0
input [ { name: "X" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "Y" data_type: TYPE_FP32 dims: [ -1 ] } ]
`;
  const source = `
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class Slow extends ModelServer {
  async load(): Promise<void> { await new Promise((r) => setTimeout(r, ${loadMs})); }
  predict(request: InferRequest): PredictOutputs { return { Y: request.tensors['X']!.data }; }
}`;
  return { config, versions: { '1': source } };
}

export function httpRepository() {
  return tempRepository({
    echo: { config: ECHO_CONFIG, versions: { '1': ECHO } },
    slow: slowModel(4000),
  });
}

/** A suite's server: the CLI on the http repository, started before its tests and stopped after; `base` is its HTTP URL. */
export function httpSuite(): { readonly cli: RunningCli; readonly base: string } {
  const repo = httpRepository();
  const suite: { cli?: RunningCli; base?: string } = {};
  before(async () => {
    suite.cli = await startCli([`--model-repository=${repo.root}`]);
    suite.base = suite.cli.http as string;
    await suite.cli.waitForLog((l) => l['model'] === 'echo' && l['msg'] === 'model loaded');
  });
  after(async () => {
    await suite.cli?.stop();
    repo.remove();
  });
  return {
    get cli() {
      return suite.cli as RunningCli;
    },
    get base() {
      return suite.base as string;
    },
  };
}

/** GET or POST a JSON body; answers the status, headers and text. */
export async function request(base: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body) }),
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  const text = Buffer.from(bytes).toString('utf8');
  return { status: response.status, headers: response.headers, bytes, text, json: () => JSON.parse(text) as Record<string, unknown> };
}
