// Triton's generate extension (`…/generate`, `…/generate_stream`) ⇄ the core's call and its
// responses. A request is one flat JSON object: each top-level field whose name is an input
// of the model becomes that input, any other field a request parameter; `parameters`, an
// object, is read by the same rule one level down. A response is one flat object too:
// `model_name`, `model_version`, `id` when the request had one, the response's parameters
// and each output by name, a one-element output as a plain value.
import { dictionary, ownEntry } from '../dictionary.js';
import { InferenceError } from '../errors.js';
import type { ParamValue, Parameters } from '../model/index.js';
import type { CallInput, InferCall, InferResult } from '../pipeline/index.js';
import type { ModelMetadata } from '../repository/index.js';
import { requestIdOf } from '../request-id.js';
import { isDatatype } from '../tensor/index.js';
import { encodeJsonData, jsonDataText } from './json-tensors.js';

type JsonObject = Readonly<Record<string, unknown>>;

/** The field whose members are read one level down (Triton's one nested schema). */
const PARAMETERS = 'parameters';

export interface GenerateTarget {
  readonly model: string;
  readonly version: string;
}

/**
 * The shape a generate field's `count` values take for an input declared `declared` (batch
 * dimension included): fixed dimensions take their size from the innermost out, the innermost
 * variable one takes what is left, any other variable one is 1 (Triton's rule).
 */
export function generateShape(field: string, declared: readonly number[], count: number): number[] {
  let fixed = 1;
  for (const d of declared) if (d >= 0) fixed *= d;
  const innermostVariable = declared.findLastIndex((d) => d < 0);
  const rest = fixed === 0 ? (count === 0 ? 0 : NaN) : count / fixed;
  if (!Number.isInteger(rest) || (innermostVariable === -1 && fixed !== 0 && rest !== 1)) {
    throw InferenceError.invalidArgument(field, `has ${count} value(s), which no tensor of the input's shape [${declared.join(',')}] holds`);
  }
  return declared.map((d, i) => (d >= 0 ? d : i === innermostVariable ? rest : 1));
}

function parameterValue(value: unknown, field: string): ParamValue {
  if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') return value;
  throw InferenceError.invalidArgument(field, `must be an input of the model or a parameter (a string, a number or a boolean), got ${JSON.stringify(value)}`);
}

/** Reads `body`'s fields into `inputs` and `parameters`; `prefix` names the nested ones. */
function readFields(body: JsonObject, metadata: ModelMetadata, prefix: string, inputs: CallInput[], parameters: Record<string, ParamValue>): void {
  for (const key of Object.keys(body)) {
    const value = body[key];
    const field = prefix + key;
    if (prefix === '' && key === PARAMETERS) {
      if (metadata.inputs.some((input) => input.name === PARAMETERS)) {
        throw InferenceError.invalidArgument(PARAMETERS, "is read as the request's parameters, yet the model also has an input of that name");
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw InferenceError.invalidArgument(PARAMETERS, 'must be a JSON object');
      readFields(value as JsonObject, metadata, `${PARAMETERS}.`, inputs, parameters);
      continue;
    }
    const input = metadata.inputs.find((candidate) => candidate.name === key);
    if (input === undefined) {
      parameters[key] = parameterValue(value, field);
      continue;
    }
    const values = Array.isArray(value) ? value : [value];
    const shape = generateShape(field, input.shape, values.length);
    inputs.push({ name: key, datatype: input.datatype, shape, raw: encodeJsonData(values, input.datatype, values.length, () => field) });
  }
}

/** A generate request's body → the core's call, against the inputs the model declares. */
export function toGenerateCall(target: GenerateTarget, body: JsonObject, metadata: ModelMetadata, arrivedNs: bigint): InferCall {
  const id = ownEntry(body, 'id') ?? '';
  if (typeof id !== 'string') throw InferenceError.invalidArgument('id', 'must be a string');
  const inputs: CallInput[] = [];
  const parameters = dictionary<ParamValue>();
  readFields(body, metadata, '', inputs, parameters);
  return { model: target.model, version: target.version, id, requestId: requestIdOf(id), parameters, inputs, outputs: [], arrivedNs };
}

function parameterText(value: ParamValue): string {
  return typeof value === 'bigint' ? String(value) : JSON.stringify(value);
}

/**
 * One response as a generate answer's JSON text. Fields in byte order of their names, as
 * Triton writes them; where names collide the first of model_name/model_version/id, then
 * parameters, then outputs is kept.
 */
export function toGenerateJson(result: InferResult): string {
  const fields = new Map<string, string>();
  const add = (name: string, text: string): void => {
    if (!fields.has(name)) fields.set(name, text);
  };
  add('model_name', JSON.stringify(result.model));
  add('model_version', JSON.stringify(result.version));
  if (result.id) add('id', JSON.stringify(result.id));
  const parameters: Parameters = result.parameters;
  for (const key in parameters) {
    if (Object.hasOwn(parameters, key)) add(key, parameterText(parameters[key] as ParamValue));
  }
  for (let i = 0; i < result.outputs.length; i++) {
    const output = result.outputs[i]!;
    if (!isDatatype(output.datatype)) throw new InferenceError('INTERNAL', `output '${output.name}' has datatype '${output.datatype}'`);
    const data = jsonDataText(result.raw[i] ?? NO_BYTES, output.datatype, () => output.name);
    const one = output.shape.reduce((n, d) => n * d, 1) === 1;
    add(output.name, one ? data.slice(1, -1) : data);
  }
  const names = [...fields.keys()].sort();
  return `{${names.map((name) => `${JSON.stringify(name)}:${fields.get(name)!}`).join(',')}}`;
}

const NO_BYTES = new Uint8Array(0);

/** One Server-Sent Event carrying `json`. */
export function sseEvent(json: string): string {
  return `data: ${json}\n\n`;
}

/** Triton's text when `generate` gets other than one response: use generate_stream instead. */
export const NOT_ONE_RESPONSE = 'generate expects model to produce exactly 1 response, use generate stream for model that generates various number of responses';
