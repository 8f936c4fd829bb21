// The model-author surface of ModelServer: getParam typed by its default.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { ModelServer, type InferRequest, type ModelContext, type PredictOutputs } from '../../src/model/index.js';
import { parseConfigText } from '../../src/repository/index.js';

class Plain extends ModelServer {
  predict(): PredictOutputs {
    return [];
  }
}

const model = new Plain({
  name: 'plain',
  version: '1',
  config: parseConfigText('name: "plain"', 'config.pbtxt'),
  io: { maxBatchSize: 0, inputs: [], outputs: [] },
  parameters: { factor: '2.5', flag: 'true', big: '9007199254740993', word: 'hello', blank: '' },
  serverParameters: {},
  versionPath: '/nonexistent',
  logger: pino({ level: 'silent' }),
} satisfies ModelContext);

const request = (parameters: Record<string, number | bigint | boolean | string>) => ({ parameters }) as unknown as InferRequest;

describe('getParam', () => {
  test('config.pbtxt strings take the type of the default', () => {
    assert.equal(model.getParam('factor', 1), 2.5);
    assert.equal(model.getParam('flag', false), true);
    assert.equal(model.getParam('big', 0n), 9007199254740993n);
    assert.equal(model.getParam('word', 'x'), 'hello');
  });

  test('request values take the type of the default too', () => {
    assert.equal(model.getParam('factor', 1, request({ factor: 4n })), 4);
    assert.equal(model.getParam('factor', 'x', request({ factor: 4 })), '4');
    assert.equal(model.getParam('flag', true, request({ flag: 0 })), false);
  });

  test('an absent key gives the default; without a default the value comes as found', () => {
    assert.equal(model.getParam('missing', 7), 7);
    assert.equal(model.getParam('factor'), '2.5');
    assert.equal(model.getParam('missing'), undefined);
  });

  for (const [key, fallback, expected] of [
    ['word', 1, /'parameters\.word' must be a number, got 'hello'/],
    ['blank', 1, /'parameters\.blank' must be a number/],
    ['word', false, /'parameters\.word' must be true or false/],
    ['factor', 0n, /'parameters\.factor' must be an integer, got '2\.5'/],
  ] as const) {
    test(`'${key}' read as ${typeof fallback} is INVALID_ARGUMENT naming the parameter`, () => {
      assert.throws(() => model.getParam(key, fallback as never), { code: 'INVALID_ARGUMENT', message: expected });
    });
  }
});
