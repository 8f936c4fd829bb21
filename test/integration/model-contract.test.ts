// The model-server contract through the real server: loading states, errors, operations,
// and the README's example model.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { InferParameter, ModelInferRequest } from '../../generated/grpc_service.js';
import { call, PROJECT_ROOT, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { waitReady } from './streaming-fixtures.js';

const FP32_CONFIG = (name: string, extra = '') => `
name: "${name}"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
${extra}`;

const SLOW_LOAD = (ms: number) => `
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class SlowLoad extends ModelServer {
  async load(): Promise<void> { await new Promise((r) => setTimeout(r, ${ms})); }
  predict(request: InferRequest): PredictOutputs { return { OUTPUT0: request.tensors['INPUT0']!.data as Float32Array }; }
}`;

const BROKEN_LOAD = `
import { ModelServer, type PredictOutputs } from 'v2serve';
export default class BrokenLoad extends ModelServer {
  load(): void { throw new Error('weights file is corrupt'); }
  predict(): PredictOutputs { return []; }
}`;

const NO_LOAD = `
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class NothingToLoad extends ModelServer {
  predict(request: InferRequest): PredictOutputs { return { OUTPUT0: request.tensors['INPUT0']!.data as Float32Array }; }
}`;

const NO_PREDICT = `
import { ModelServer } from 'v2serve';
export default class Forgetful extends ModelServer {}`;

const NOT_A_CLASS = `
export default { predict: () => [] };`;

const CONTRACT = `
import { InferenceError, ModelServer, type InferRequest, type InferResponse, type PredictOutputs } from 'v2serve';
export default class Contract extends ModelServer {
  private trail: string[] = [];
  load(): void {}
  override preprocess(request: InferRequest, op: string): InferRequest { this.trail = ['preprocess:' + op]; return request; }
  override validate(request: InferRequest, op: string): InferRequest { this.trail.push('validate:' + op); return request; }
  predict(request: InferRequest): PredictOutputs {
    if (request.parameters['fail'] === 'throw') throw new Error('predict exploded');
    if (request.parameters['fail'] === 'code') throw new InferenceError('FAILED_PRECONDITION', 'not today');
    this.trail.push('predict');
    return { OUTPUT0: request.tensors['INPUT0']!.data as Float32Array };
  }
  override explain(request: InferRequest): PredictOutputs {
    this.trail.push('explain');
    return { OUTPUT0: new Float32Array([request.inputs.length, 7]) };
  }
  override postprocess(response: InferResponse): InferResponse {
    this.trail.push('postprocess');
    response.parameters['trail'] = this.trail.join(',');
    return response;
  }
  opNegate(request: InferRequest): PredictOutputs {
    return { OUTPUT0: (request.tensors['INPUT0']!.data as Float32Array).map((v) => -v) };
  }
}`;

function readmeModel(): string {
  const readme = readFileSync(`${PROJECT_ROOT}/README.md`, 'utf8');
  const match = /<!-- readme-model:[^>]*-->\s*```ts\n([\s\S]*?)```/.exec(readme);
  assert.ok(match?.[1], 'README has no readme-model block');
  return match[1];
}

function fp32Request(model: string, values: number[], parameters: Record<string, InferParameter> = {}): ModelInferRequest {
  return {
    modelName: model,
    modelVersion: '',
    id: `${model}-req`,
    parameters: new Map(Object.entries(parameters)),
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [BigInt(values.length)], parameters: new Map(), contents: undefined }],
    outputs: [],
    rawInputContents: [Buffer.from(new Float32Array(values).buffer)],
  };
}

function fp32Output(raw: Buffer | undefined): number[] {
  assert.ok(raw);
  return [...new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))];
}

/**
 * How long a load may take before a test calls it stuck. Two worker instances of eight models
 * boot sixteen threads, each compiling its model module: on a loaded 2-core machine that alone
 * took over 30 s. A stuck load still fails, only later.
 */
const LOAD_BOUND_MS = 120_000;

/** The contract holds wherever the model runs: on the main thread or in worker instances. */
const MODES = [
  { name: 'in-process', instanceGroup: '' },
  { name: '2 worker instances', instanceGroup: 'instance_group [ { count: 2 kind: KIND_CPU } ]' },
] as const;

for (const mode of MODES) {
  describe(`model contract (${mode.name})`, () => {
    let cli: RunningCli;
    let repo: ReturnType<typeof tempRepository>;
    before(async () => {
      repo = tempRepository({
        slow_load: {
          // The bound is generous: worker instances boot (tsx, the model module) before load() runs.
          config: FP32_CONFIG(
            'slow_load',
            `parameters { key: "load_wait_ms" value: { string_value: "${LOAD_BOUND_MS}" } }\n${mode.instanceGroup}`,
          ),
          versions: { '1': SLOW_LOAD(1500) },
        },
        very_slow_load: {
          config: FP32_CONFIG(
            'very_slow_load',
            `parameters { key: "load_wait_ms" value: { string_value: "300" } }\n${mode.instanceGroup}`,
          ),
          versions: { '1': SLOW_LOAD(60_000) },
        },
        broken_load: { config: FP32_CONFIG('broken_load', mode.instanceGroup), versions: { '1': BROKEN_LOAD } },
        contract: { config: FP32_CONFIG('contract', mode.instanceGroup), versions: { '1': CONTRACT } },
        no_load: { config: FP32_CONFIG('no_load', mode.instanceGroup), versions: { '1': NO_LOAD } },
        no_predict: { config: FP32_CONFIG('no_predict', mode.instanceGroup), versions: { '1': NO_PREDICT } },
        not_a_class: { config: FP32_CONFIG('not_a_class', mode.instanceGroup), versions: { '1': NOT_A_CLASS } },
        scaler: {
          config: FP32_CONFIG(
            'scaler',
            `parameters { key: "factor" value: { string_value: "2" } }\nmetric_tags { key: "team" value: "vision" }\n${mode.instanceGroup}`,
          ),
          versions: { '1': readmeModel() },
        },
      });
      cli = await startCli([`--model-repository=${repo.root}`, '--exit-timeout-secs=1']);
    });
    after(async () => {
      await cli.stop();
      repo.remove();
    });

    const ready = (name: string) => call(cli.client, cli.client.modelReady, { name, version: '' }).then((r) => r.ready);
    const infer = (request: ModelInferRequest) => call(cli.client, cli.client.modelInfer, request);

    test('loading - a request during a slow load waits, then succeeds; ModelReady goes false → true', async () => {
      assert.equal(await ready('slow_load'), false);
      const response = await infer(fp32Request('slow_load', [1, 2]));
      assert.deepEqual(fp32Output(response.rawOutputContents[0]), [1, 2]);
      assert.equal(await ready('slow_load'), true);
    });

    test('loading - past the bounded wait a request fails UNAVAILABLE with the model state', async () => {
      const started = Date.now();
      await assert.rejects(infer(fp32Request('very_slow_load', [1])), (err: ServiceError) => {
        assert.equal(err.code, status.UNAVAILABLE);
        assert.match(err.details, /very_slow_load/);
        assert.match(err.details, /LOADING/);
        return true;
      });
      assert.ok(Date.now() - started < 5000);
      assert.equal(await ready('very_slow_load'), false);
    });

    test('loading - a throwing load() leaves the model not ready with its reason; others serve', async () => {
      await cli.waitForLog((l) => l['model'] === 'broken_load' && l['msg'] === 'model failed to load', LOAD_BOUND_MS);
      assert.equal(await ready('broken_load'), false);
      const index = await call(cli.client, cli.client.repositoryIndex, { repositoryName: '', ready: false });
      const entry = index.models.find((m) => m.name === 'broken_load');
      assert.equal(entry?.state, 'UNAVAILABLE');
      assert.match(entry?.reason ?? '', /weights file is corrupt/);
      await assert.rejects(infer(fp32Request('broken_load', [1])), { code: status.UNAVAILABLE });
      const response = await infer(fp32Request('contract', [3]));
      assert.deepEqual(fp32Output(response.rawOutputContents[0]), [3]);
    });

    test('loading - a class without load() serves; one without predict(), or a default export that is no class, fails naming model, file and what is missing', async () => {
      await waitReady(cli, 'no_load', LOAD_BOUND_MS);
      assert.deepEqual(fp32Output((await infer(fp32Request('no_load', [4]))).rawOutputContents[0]), [4]);
      const reasons = async () => {
        const index = await call(cli.client, cli.client.repositoryIndex, { repositoryName: '', ready: false });
        return new Map(index.models.map((m) => [m.name, m]));
      };
      const deadline = Date.now() + LOAD_BOUND_MS;
      let entries = await reasons();
      while (['no_predict', 'not_a_class'].some((m) => entries.get(m)?.state !== 'UNAVAILABLE') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        entries = await reasons();
      }
      assert.match(entries.get('no_predict')?.reason ?? '', /model 'no_predict': .*no_predict\/1\/model\.ts default-exports class 'Forgetful', which has no predict\(\) method/);
      assert.match(entries.get('not_a_class')?.reason ?? '', /model 'not_a_class': .*not_a_class\/1\/model\.ts must default-export a class extending ModelServer.*its default export is an object/);
    });

    test('errors - a throwing predict() is INTERNAL naming the model; the next request is fine', async () => {
      await assert.rejects(infer(fp32Request('contract', [1], { fail: { stringParam: 'throw' } })), (err: ServiceError) => {
        assert.equal(err.code, status.INTERNAL);
        assert.match(err.details, /model 'contract'/);
        assert.match(err.details, /predict exploded/);
        assert.doesNotMatch(err.details, /at .*model\.ts/);
        return true;
      });
      await assert.rejects(infer(fp32Request('contract', [1], { fail: { stringParam: 'code' } })), {
        code: status.FAILED_PRECONDITION,
      });
      const response = await infer(fp32Request('contract', [5]));
      assert.deepEqual(fp32Output(response.rawOutputContents[0]), [5]);
    });

    test('operations - infer runs the hooks in order', async () => {
      const response = await infer(fp32Request('contract', [1]));
      assert.equal(response.parameters.get('trail')?.stringParam, 'preprocess:infer,validate:infer,predict,postprocess');
    });

    test('operations - operation=explain reaches explain()', async () => {
      const response = await infer(fp32Request('contract', [1], { operation: { stringParam: 'explain' } }));
      assert.equal(response.parameters.get('trail')?.stringParam, 'preprocess:explain,validate:explain,explain,postprocess');
      assert.deepEqual(fp32Output(response.rawOutputContents[0]), [1, 7]);
    });

    test('operations - a custom operation reaches its op<Name> method', async () => {
      const response = await infer(fp32Request('contract', [1, -2], { operation: { stringParam: 'negate' } }));
      assert.deepEqual(fp32Output(response.rawOutputContents[0]), [-1, 2]);
    });

    test('operations - an unknown operation is INVALID_ARGUMENT listing the operations', async () => {
      await assert.rejects(infer(fp32Request('contract', [1], { operation: { stringParam: 'bogus' } })), (err: ServiceError) => {
        assert.equal(err.code, status.INVALID_ARGUMENT);
        assert.match(err.details, /'bogus'/);
        assert.match(err.details, /negate/);
        return true;
      });
    });

    test('readme - the README example model serves, with config and request parameters', async () => {
      const fromConfig = await infer(fp32Request('scaler', [1, 2.5]));
      assert.deepEqual(fp32Output(fromConfig.rawOutputContents[0]), [2, 5]);
      const fromRequest = await infer(fp32Request('scaler', [1, 2.5], { factor: { doubleParam: 3 } }));
      assert.deepEqual(fp32Output(fromRequest.rawOutputContents[0]), [3, 7.5]);
      const factor = await infer(fp32Request('scaler', [0], { operation: { stringParam: 'factor' } }));
      assert.deepEqual(fp32Output(factor.rawOutputContents[0]), [2]);
    });
  });
}
