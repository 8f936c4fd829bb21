// Triton's classification extension: a requested output with parameter `classification: k`
// comes back as its top-k entries, BYTES "value:index" or "value:index:label" (PROTOCOL §6.4).
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { ModelConfig } from '../../generated/model_config.js';
import { InferenceError } from '../errors.js';
import type { Datatype, IOSpec, NumericData, Tensor } from '../tensor/index.js';
import type { RequestedOutput } from '../model/index.js';

export const CLASSIFICATION_PARAMETER = 'classification';

/** The datatypes Triton classifies; the others have no order worth reporting. */
const CLASSIFIABLE: ReadonlySet<Datatype> = new Set([
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP32',
  'FP64',
]);

/** Triton caps the classified tensor at this many elements. */
const MAX_ELEMENTS = 1_000_000;

/** The k asked for on a requested output, or undefined when it asks for the tensor itself. */
export function classificationCount(output: RequestedOutput): number | undefined {
  const k = output.parameters[CLASSIFICATION_PARAMETER];
  if (k === undefined) return undefined;
  // The gRPC boundary has checked that it is an int64 > 0.
  return typeof k === 'bigint' ? Number.MAX_SAFE_INTEGER : Number(k);
}

/** Rejects, before the model runs, classification of an output whose declared datatype can't be classified. */
export function checkClassifiable(requested: readonly RequestedOutput[], io: IOSpec, model: string): void {
  for (const [i, output] of requested.entries()) {
    if (classificationCount(output) === undefined) continue;
    const spec = io.outputs.find((o) => o.name === output.name);
    if (spec && !CLASSIFIABLE.has(spec.datatype)) throw unsupported(`outputs[${i}]`, output.name, spec.datatype, model);
  }
}

function unsupported(field: string, name: string, datatype: string, model: string): InferenceError {
  return InferenceError.invalidArgument(
    field,
    `class result not available for output '${name}' of model '${model}': datatype ${datatype} cannot be classified`,
  );
}

/**
 * C++ std::to_string, which Triton uses for the value: "%f" for floating point (six decimals,
 * ties to even on the exact binary value, no exponent), plain digits for integers.
 */
export function formatValue(value: number | bigint, floating: boolean): string {
  if (typeof value === 'bigint' || !floating) return String(value);
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value < 0 ? '-inf' : 'inf';
  const sign = value < 0 || Object.is(value, -0) ? '-' : '';
  const magnitude = Math.abs(value);
  // toFixed switches to exponent notation from 1e21; such doubles are integers anyway.
  if (magnitude >= 1e21) return `${sign}${BigInt(magnitude)}.000000`;
  let text = magnitude.toFixed(6);
  // toFixed breaks an exact tie upwards, printf to even. Ties at six decimals are exactly the
  // multiples of 1/128 with an odd numerator (2·10^6 = 2^7·5^6 and doubles are dyadic).
  const scaled = magnitude * 128;
  if (Number.isInteger(scaled) && scaled % 2 === 1 && Number(text.at(-1)) % 2 === 1) {
    const digits = BigInt(text.replace('.', '')) - 1n;
    const padded = digits.toString().padStart(7, '0');
    text = `${padded.slice(0, -6)}.${padded.slice(-6)}`;
  }
  return `${sign}${text}`;
}

/**
 * The top-k of `tensor` as a BYTES tensor: per batch item when `batched` (shape [batch, k'])
 * else over the whole tensor (shape [k']), k' = min(k, elements per item). Highest value first;
 * equal values keep index order. `labels[index]`, when present and non-empty, is appended.
 */
export function classify(tensor: Tensor, k: number, labels: readonly string[] | undefined, batched: boolean, model: string): Tensor {
  if (!CLASSIFIABLE.has(tensor.datatype)) throw unsupported('outputs', tensor.name, tensor.datatype, model);
  const data = tensor.data as NumericData;
  if (data.length > MAX_ELEMENTS) {
    throw InferenceError.invalidArgument('outputs', `output '${tensor.name}' has ${data.length} elements; classification handles at most ${MAX_ELEMENTS}`);
  }
  const batch = batched ? (tensor.shape[0] ?? 1) : 1;
  const perItem = batch === 0 ? 0 : data.length / batch;
  const top = Math.min(k, perItem);
  const floating = tensor.datatype === 'FP32' || tensor.datatype === 'FP64';
  const encoder = new TextEncoder();
  const out: Uint8Array[] = [];
  const order = Array.from({ length: perItem }, (_, i) => i);
  for (let b = 0; b < batch; b++) {
    const base = b * perItem;
    const value = (i: number): number | bigint => data[base + i] as number | bigint;
    const ranked = order.slice().sort((x, y) => {
      const vx = value(x);
      const vy = value(y);
      return vx > vy ? -1 : vx < vy ? 1 : x - y;
    });
    for (const index of ranked.slice(0, top)) {
      const label = labels?.[index];
      const text = `${formatValue(value(index), floating)}:${index}${label ? `:${label}` : ''}`;
      out.push(encoder.encode(text));
    }
  }
  return { name: tensor.name, datatype: 'BYTES', shape: batched ? [batch, top] : [top], data: out };
}

/** Reads each output's `label_filename` (relative to the model directory) once, when first classified. */
export class Labels {
  private readonly files = new Map<string, Promise<string[]>>();

  constructor(
    private readonly config: ModelConfig,
    /** The version directory; label files live one level up, beside config.pbtxt. */
    private readonly versionPath: string,
  ) {}

  /** The labels of `output`, or undefined when the config names no label file for it. */
  async of(output: string): Promise<readonly string[] | undefined> {
    const file = this.config.output.find((o) => o.name === output)?.labelFilename;
    if (!file) return undefined;
    let labels = this.files.get(file);
    if (!labels) {
      labels = this.read(file);
      this.files.set(file, labels);
      // A failed read is retried on the next request (the file may be fixed in place).
      labels.catch(() => this.files.delete(file));
    }
    return labels;
  }

  private async read(file: string): Promise<string[]> {
    const modelDir = dirname(this.versionPath);
    const path = resolve(join(modelDir, file));
    // The config may come from a client (RepositoryModelLoad): never read outside the model.
    if (!path.startsWith(modelDir + sep)) {
      throw new InferenceError('INVALID_ARGUMENT', `label_filename '${file}' of model '${this.config.name}' must stay inside the model directory`);
    }
    try {
      const text = await readFile(path, 'utf8');
      return text.split('\n').map((line) => line.replace(/\r$/, ''));
    } catch (err) {
      throw new InferenceError('INTERNAL', `label file '${file}' of model '${this.config.name}' cannot be read`, { cause: err });
    }
  }
}
