// config.pbtxt `model_warmup` → samples ready to run, made once per load with Triton's rules:
// a sample of batch_size N is N rows of the same data (one row for a model without batching);
// zero_data is zeros (empty strings for TYPE_STRING); random_data random bytes (zeros for
// TYPE_STRING, 0/1 for TYPE_BOOL); input_data_file the raw row-major bytes of a file in the
// model directory's `warmup/` folder (for TYPE_STRING, length-prefixed elements). The inputs are
// checked as a request's are and reshaped as the model sees them; every problem fails the load
// naming the sample.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { ModelConfig, ModelWarmup, ModelWarmup_Input } from '../../generated/model_config.js';
import { isEnsemble } from '../ensemble/index.js';
import { InferenceError, errorMessage } from '../errors.js';
import type { WarmupSample } from '../model/index.js';
import { CONFIG_TO_DATATYPE, ELEMENT_SIZE, Reshapes, decodeInputs, elementCount, type Datatype, type ReceivedInput } from '../tensor/index.js';
import { ioSpec } from './model-config.js';

/** Triton's folder of warmup data files, in the model directory. */
export const WARMUP_FOLDER = 'warmup';

/**
 * The samples `config` asks for, in order, read from `modelDir` where they name files. A
 * sample of batch_size 0 is skipped, as in Triton. Throws INVALID_ARGUMENT naming the sample
 * and the field.
 */
export function warmupSamples(config: ModelConfig, modelDir: string): WarmupSample[] {
  if (config.modelWarmup.length === 0) return [];
  if (isEnsemble(config)) {
    throw InferenceError.invalidArgument('model_warmup', `cannot be set for ensemble '${config.name}': its steps are warmed up by their own configs`);
  }
  const io = ioSpec(config);
  const reshapes = new Reshapes(io);
  const samples: WarmupSample[] = [];
  config.modelWarmup.forEach((sample, i) => {
    const where = `model_warmup[${i}] '${sample.name}'`;
    if (sample.batchSize === 0) return;
    try {
      const rows = sampleRows(sample, config.maxBatchSize);
      const inputs = [...sample.inputs].map(([name, input]) => sampleInput(name, input, rows, config.maxBatchSize > 0, modelDir));
      samples.push({ name: sample.name, count: Math.max(1, sample.count), tensors: reshapes.toModel(decodeInputs(inputs, io)) });
    } catch (err) {
      throw new InferenceError('INVALID_ARGUMENT', `${where}: ${errorMessage(err)}`, { cause: err });
    }
  });
  return samples;
}

function sampleRows(sample: ModelWarmup, maxBatchSize: number): number {
  if (maxBatchSize === 0 && sample.batchSize !== 1) {
    throw new InferenceError('INVALID_ARGUMENT', `batch_size must be 1 for a model without batching (max_batch_size 0), got ${sample.batchSize}`);
  }
  if (sample.batchSize > maxBatchSize && maxBatchSize > 0) {
    throw new InferenceError('INVALID_ARGUMENT', `batch_size ${sample.batchSize} is above max_batch_size ${maxBatchSize}`);
  }
  return sample.batchSize;
}

function sampleInput(name: string, input: ModelWarmup_Input, rows: number, batching: boolean, modelDir: string): ReceivedInput {
  const field = `inputs['${name}']`;
  const datatype: Datatype | undefined = CONFIG_TO_DATATYPE[input.dataType];
  if (datatype === undefined) throw InferenceError.invalidArgument(`${field}.data_type`, `is not a valid data type (${input.dataType})`);
  const dims = input.dims.map(Number);
  if (dims.some((dim) => dim < 0)) {
    throw InferenceError.invalidArgument(`${field}.dims`, `must give every size (no -1): ${JSON.stringify(dims)}`);
  }
  const count = elementCount(dims);
  const row = rowBytes(field, datatype, count, input, modelDir);
  const raw = new Uint8Array(row.byteLength * (batching ? rows : 1));
  for (let at = 0; at < raw.byteLength; at += row.byteLength) raw.set(row, at);
  return { name, datatype, shape: batching ? [rows, ...dims] : dims, raw };
}

/** One row's bytes, as a request would carry them raw. */
function rowBytes(field: string, datatype: Datatype, count: number, input: ModelWarmup_Input, modelDir: string): Uint8Array {
  if (input.inputDataFile !== undefined) {
    const data = readWarmupFile(field, input.inputDataFile, modelDir);
    if (datatype === 'BYTES') return data;
    const size = count * ELEMENT_SIZE[datatype];
    if (data.byteLength < size) {
      throw InferenceError.invalidArgument(`${field}.input_data_file`, `'${input.inputDataFile}' has ${data.byteLength} bytes, a row needs ${size}`);
    }
    return data.subarray(0, size);
  }
  // A BYTES element is a 4-byte length: zeros are that many empty strings, and so is Triton's random data for them.
  const size = count * (datatype === 'BYTES' ? 4 : ELEMENT_SIZE[datatype]);
  if (input.randomData !== undefined && datatype !== 'BYTES') {
    const random = randomBytes(size);
    if (datatype === 'BOOL') for (let k = 0; k < size; k++) random[k]! &= 1;
    return random;
  }
  if (input.zeroData !== undefined || input.randomData !== undefined) return new Uint8Array(size);
  throw InferenceError.invalidArgument(field, 'must set one of zero_data, random_data or input_data_file');
}

function readWarmupFile(field: string, file: string, modelDir: string): Uint8Array {
  const folder = join(modelDir, WARMUP_FOLDER);
  const path = join(folder, file);
  const inside = relative(folder, path);
  if (file === '' || inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
    throw InferenceError.invalidArgument(`${field}.input_data_file`, `'${file}' must name a file in the model's ${WARMUP_FOLDER}/ folder`);
  }
  try {
    return readFileSync(path);
  } catch (err) {
    throw InferenceError.invalidArgument(`${field}.input_data_file`, `cannot be read from ${WARMUP_FOLDER}/${file}: ${errorMessage(err)}`);
  }
}
