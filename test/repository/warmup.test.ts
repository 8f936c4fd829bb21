import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { normalizeConfig, parseConfigText } from '../../src/repository/model-config.js';
import { warmupSamples } from '../../src/repository/warmup.js';

const modelDir = mkdtempSync(join(tmpdir(), 'v2serve-warmup-'));
mkdirSync(join(modelDir, 'warmup'));
writeFileSync(join(modelDir, 'warmup', 'four_ints'), Buffer.from(new Int32Array([1, 2, 3, 4, 99]).buffer));
const element = (text: string) => Buffer.concat([Buffer.from(new Uint32Array([Buffer.byteLength(text)]).buffer), Buffer.from(text)]);
writeFileSync(join(modelDir, 'warmup', 'words'), Buffer.concat([element('hello'), element('warm')]));
writeFileSync(join(modelDir, 'secret'), 'not warmup data');

const IO = `
input [
  { name: "I" data_type: TYPE_INT32 dims: [ 4 ] },
  { name: "S" data_type: TYPE_STRING dims: [ 2 ] optional: true },
  { name: "B" data_type: TYPE_BOOL dims: [ 16 ] optional: true },
  { name: "R" data_type: TYPE_FP32 dims: [ 2, 2 ] reshape: { shape: [ 4 ] } optional: true }
]
output [ { name: "O" data_type: TYPE_INT32 dims: [ 1 ] } ]
`;

function samples(text: string, maxBatchSize = 4) {
  const config = normalizeConfig(parseConfigText(`name: "m"\nmax_batch_size: ${maxBatchSize}\n${IO}\n${text}`, 'config.pbtxt'), 'm');
  return warmupSamples(config, modelDir);
}

const input = (name: string, dims: string, data: string) => `inputs { key: "${name}" value: { data_type: ${name === 'I' ? 'TYPE_INT32' : name === 'S' ? 'TYPE_STRING' : name === 'B' ? 'TYPE_BOOL' : 'TYPE_FP32'} dims: [ ${dims} ] ${data} } }`;

describe('warmupSamples', () => {
  after(() => rmSync(modelDir, { recursive: true, force: true }));

  test('no model_warmup: no samples', () => assert.deepEqual(samples(''), []));

  test('zero data, batch_size rows, a count of 0 runs once', () => {
    const [sample] = samples(`model_warmup [ { name: "zeros" batch_size: 3 ${input('I', '4', 'zero_data: true')} } ]`);
    assert.equal(sample?.name, 'zeros');
    assert.equal(sample?.count, 1);
    assert.deepEqual(sample?.tensors.map((t) => [t.name, t.datatype, t.shape]), [['I', 'INT32', [3, 4]]]);
    assert.deepEqual([...(sample!.tensors[0]!.data as Int32Array)], new Array(12).fill(0));
  });

  test('zero_data: false still means zeros (the oneof is set), and count is kept', () => {
    const [sample] = samples(`model_warmup [ { name: "z" batch_size: 1 count: 3 ${input('I', '4', 'zero_data: false')} } ]`);
    assert.equal(sample?.count, 3);
  });

  test('a model without batching gets the dims alone', () => {
    const [sample] = samples(`model_warmup [ { name: "z" batch_size: 1 ${input('I', '4', 'zero_data: true')} } ]`, 0);
    assert.deepEqual(sample?.tensors[0]?.shape, [4]);
  });

  test('TYPE_STRING zero and random data are empty strings', () => {
    const [sample] = samples(`model_warmup [ { name: "s" batch_size: 2 ${input('I', '4', 'zero_data: true')} ${input('S', '2', 'random_data: true')} } ]`);
    const strings = sample!.tensors.find((t) => t.name === 'S')!;
    assert.deepEqual(strings.shape, [2, 2]);
    assert.deepEqual((strings.data as Uint8Array[]).map((e) => e.length), [0, 0, 0, 0]);
  });

  test('random BOOL data is 0 or 1 (a request could carry nothing else)', () => {
    const [sample] = samples(`model_warmup [ { name: "b" batch_size: 4 ${input('I', '4', 'zero_data: true')} ${input('B', '16', 'random_data: true')} } ]`);
    const bools = sample!.tensors.find((t) => t.name === 'B')!.data as Uint8Array;
    assert.equal(bools.length, 64);
    assert.ok(bools.every((v) => v === 0 || v === 1));
  });

  test('input_data_file: the first row of bytes of the file in warmup/, repeated per row', () => {
    const [sample] = samples(`model_warmup [ { name: "f" batch_size: 2 ${input('I', '4', 'input_data_file: "four_ints"')} ${input('S', '2', 'input_data_file: "words"')} } ]`);
    assert.deepEqual([...(sample!.tensors[0]!.data as Int32Array)], [1, 2, 3, 4, 1, 2, 3, 4]);
    assert.deepEqual((sample!.tensors[1]!.data as Uint8Array[]).map((e) => Buffer.from(e).toString()), ['hello', 'warm', 'hello', 'warm']);
  });

  test('a reshaped input is in the shape the model sees', () => {
    const [sample] = samples(`model_warmup [ { name: "r" batch_size: 2 ${input('I', '4', 'zero_data: true')} ${input('R', '2, 2', 'random_data: true')} } ]`);
    assert.deepEqual(sample!.tensors.find((t) => t.name === 'R')?.shape, [2, 4]);
  });

  test('batch_size 0 skips the sample, as in Triton', () => {
    assert.deepEqual(samples(`model_warmup [ { name: "skipped" ${input('I', '4', 'zero_data: true')} } ]`), []);
  });

  const refused: [string, string, RegExp][] = [
    ['a file too small for a row', `batch_size: 1 ${input('I', '8', 'input_data_file: "four_ints"')}`, /^model_warmup\[0\] 'bad': 'inputs\['I'\]\.input_data_file' 'four_ints' has 20 bytes, a row needs 32/],
    ['a file outside warmup/', `batch_size: 1 ${input('I', '4', 'input_data_file: "../secret"')}`, /'\.\.\/secret' must name a file in the model's warmup\/ folder/],
    ['a missing file', `batch_size: 1 ${input('I', '4', 'input_data_file: "nope"')}`, /cannot be read from warmup\/nope/],
    ['no data given', `batch_size: 1 ${input('I', '4', '')}`, /'inputs\['I'\]' must set one of zero_data, random_data or input_data_file/],
    ['a variable dimension', `batch_size: 1 ${input('I', '-1', 'zero_data: true')}`, /'inputs\['I'\]\.dims' must give every size/],
    ['an input the model does not declare', `batch_size: 1 ${input('I', '4', 'zero_data: true')} inputs { key: "X" value: { data_type: TYPE_INT32 dims: [ 1 ] zero_data: true } }`, /unexpected inference input 'X'/],
    ['a required input left out', `batch_size: 1 ${input('S', '2', 'zero_data: true')}`, /missing required input\(s\) \['I'\]/],
    ['a shape other than the dims', `batch_size: 1 ${input('I', '5', 'zero_data: true')}`, /unexpected shape for input 'I'/],
    ['batch_size above max_batch_size', `batch_size: 5 ${input('I', '4', 'zero_data: true')}`, /batch_size 5 is above max_batch_size 4/],
  ];
  for (const [what, sample, message] of refused) {
    test(`${what} fails the load naming the sample`, () => {
      assert.throws(() => samples(`model_warmup [ { name: "bad" ${sample} } ]`), { name: 'InferenceError', code: 'INVALID_ARGUMENT', message });
    });
  }

  test('batch_size above 1 without batching is refused', () => {
    assert.throws(() => samples(`model_warmup [ { name: "two" batch_size: 2 ${input('I', '4', 'zero_data: true')} } ]`, 0), {
      message: /^model_warmup\[0\] 'two': batch_size must be 1 for a model without batching/,
    });
  });

  test('an ensemble cannot have warmup samples', () => {
    const config = parseConfigText(
      `name: "e"\nplatform: "ensemble"\n${IO}\nmodel_warmup [ { name: "w" batch_size: 1 } ]\nensemble_scheduling { step [ { model_name: "m" model_version: -1 input_map { key: "I" value: "I" } output_map { key: "O" value: "O" } } ] }`,
      'config.pbtxt',
    );
    assert.throws(() => warmupSamples(normalizeConfig(config, 'e'), modelDir), { message: /'model_warmup' cannot be set for ensemble 'e'/ });
  });
});
