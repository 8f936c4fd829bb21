// LogSettings through the real server: the settings it reports, live changes seen in its
// stdout (from a model's logger created before the change), and the rejections.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { LogSettingsRequest_SettingValue, ModelInferRequest } from '../../generated/grpc_service.js';
import { call, startCli, tempRepository, type RunningCli } from '../helpers/server.js';
import { waitReady } from './streaming-fixtures.js';

/** Logs one line per level, each carrying the request's `marker` parameter. */
const CHATTY = `
import { ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';
export default class Chatty extends ModelServer {
  load(): void {}
  predict(request: InferRequest): PredictOutputs {
    const marker = request.parameters['marker'];
    this.log.debug({ marker }, 'chatty debug');
    this.log.info({ marker }, 'chatty info');
    this.log.warn({ marker }, 'chatty warn');
    return { OUTPUT0: request.tensors['INPUT0']!.data as Float32Array };
  }
}`;

const CONFIG = `
name: "chatty"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
`;

function chatty(marker: string): ModelInferRequest {
  return {
    modelName: 'chatty',
    modelVersion: '',
    id: marker,
    parameters: new Map(Object.entries({ marker: { stringParam: marker } })),
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1n], parameters: new Map(), contents: undefined }],
    outputs: [],
    rawInputContents: [Buffer.from(new Float32Array([1]).buffer)],
  };
}

describe('log settings', () => {
  const repo = tempRepository({ chatty: { config: CONFIG, versions: { '1': CHATTY } } });
  let cli: RunningCli;
  let markers = 0;
  const settings = (values: Record<string, LogSettingsRequest_SettingValue>) =>
    call(cli.client, cli.client.logSettings, { settings: new Map(Object.entries(values)) });

  /** Runs the model once; returns its lines, once the warn line (always on here) is in. */
  async function linesOfOneRequest(): Promise<Record<string, unknown>[]> {
    const marker = `m${markers++}`;
    await call(cli.client, cli.client.modelInfer, chatty(marker));
    await cli.waitForLog((line) => line['marker'] === marker && line['msg'] === 'chatty warn', 5_000);
    return cli.logs.filter((line) => line['marker'] === marker);
  }
  const messages = (lines: Record<string, unknown>[]) => lines.map((line) => line['msg']);

  before(async () => {
    cli = await startCli([`--model-repository=${repo.root}`, '--log-verbose=0']);
    await waitReady(cli, 'chatty');
  });
  after(async () => {
    await cli.stop();
    repo.remove();
  });

  test('log settings - an empty request gets every setting with its type', async () => {
    const { settings: current } = await settings({});
    assert.deepEqual([...current.keys()].sort(), ['log_error', 'log_file', 'log_format', 'log_info', 'log_verbose_level', 'log_warning']);
    assert.equal(current.get('log_verbose_level')?.uint32Param, 0);
    assert.equal(current.get('log_info')?.boolParam, true);
    assert.equal(current.get('log_warning')?.boolParam, true);
    assert.equal(current.get('log_error')?.boolParam, true);
    assert.equal(current.get('log_format')?.stringParam, 'default');
    assert.equal(current.get('log_file')?.stringParam, '');
  });

  test('log settings - verbose level 1 turns debug lines on in existing model loggers, 0 turns them off', async () => {
    assert.deepEqual(messages(await linesOfOneRequest()), ['chatty info', 'chatty warn']);
    const { settings: after1 } = await settings({ log_verbose_level: { uint32Param: 1 } });
    assert.equal(after1.get('log_verbose_level')?.uint32Param, 1);
    assert.deepEqual(messages(await linesOfOneRequest()), ['chatty debug', 'chatty info', 'chatty warn']);
    await settings({ log_verbose_level: { uint32Param: 0 } });
    assert.deepEqual(messages(await linesOfOneRequest()), ['chatty info', 'chatty warn']);
  });

  test('log settings - log_info false silences info lines only', async () => {
    await settings({ log_info: { boolParam: false } });
    try {
      assert.deepEqual(messages(await linesOfOneRequest()), ['chatty warn']);
    } finally {
      await settings({ log_info: { boolParam: true } });
    }
    assert.deepEqual(messages(await linesOfOneRequest()), ['chatty info', 'chatty warn']);
  });

  test('log settings - log_format ISO8601 switches the time field to an ISO string and back', async () => {
    await settings({ log_format: { stringParam: 'ISO8601' } });
    const [iso] = await linesOfOneRequest();
    assert.match(String(iso?.['time']), /^\d{4}-\d\d-\d\dT/);
    await settings({ log_format: { stringParam: 'default' } });
    const [epoch] = await linesOfOneRequest();
    assert.equal(typeof epoch?.['time'], 'number');
  });

  test('log settings - a value of the wrong type is INVALID_ARGUMENT naming the key, and nothing changes', async () => {
    await assert.rejects(settings({ log_verbose_level: { uint32Param: 1 }, log_info: { stringParam: 'yes' } }), {
      code: status.INVALID_ARGUMENT,
      details: /'settings\.log_info' must be a bool_param/,
    });
    assert.equal((await settings({})).settings.get('log_verbose_level')?.uint32Param, 0);
    await assert.rejects(settings({ log_verbose_level: { boolParam: true } }), { code: status.INVALID_ARGUMENT, details: /uint32_param/ });
    await assert.rejects(settings({ log_format: { stringParam: 'xml' } }), { code: status.INVALID_ARGUMENT, details: /'default' or 'ISO8601'/ });
    await assert.rejects(settings({ log_colour: { boolParam: true } }), { code: status.INVALID_ARGUMENT, details: /is not a log setting/ });
  });

  test('log settings - log_file cannot be changed (UNIMPLEMENTED); setting it to "" is a no-op', async () => {
    await assert.rejects(settings({ log_file: { stringParam: '/tmp/v2serve.log' } }), {
      code: status.UNIMPLEMENTED,
      details: /writes its log to stdout/,
    });
    assert.equal((await settings({ log_file: { stringParam: '' } })).settings.get('log_file')?.stringParam, '');
  });
});
