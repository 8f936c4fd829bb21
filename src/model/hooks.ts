// Runs a model server's hooks for one request, in the seed's fixed order. The only
// caller of the hooks, wherever the instance lives (main thread or a worker).
import { InferenceError, errorMessage } from '../errors.js';
import { dictionary } from '../dictionary.js';
import type { MetricValue } from '../events.js';
import { toList, toOutputTensors, type NestedList, type Tensor } from '../tensor/index.js';
import { customOperationMethod, type ModelServer } from './model-server.js';
import type {
  InferRequest,
  InferResponse,
  LoggedResults,
  Parameters,
  ParamValue,
  PredictOutputs,
  RequestedOutput,
} from './types.js';

/** One request, decoded and validated, ready for an instance. */
export interface ExecutionJob {
  readonly id: string;
  /** In request order. */
  readonly tensors: readonly Tensor[];
  readonly parameters: Parameters;
  readonly outputs: readonly RequestedOutput[];
  readonly operation: string;
}

export interface ExecutionOutput {
  readonly outputs: Tensor[];
  readonly parameters: Record<string, ParamValue>;
  /** Snapshots taken when the request finished, for monitoring. */
  readonly metrics: Record<string, MetricValue>;
  readonly labels: Record<string, string>;
  readonly logged?: LoggedResults;
  /** Worker instances: the hooks' own time, so that waiting for a free instance counts as queue time. */
  readonly inferNs?: bigint;
  /** Worker instances: the job's tensors moved back (the job's own were transferred away), for monitoring. */
  readonly inputs?: readonly Tensor[];
  /** Worker instances: which one ran the job ('0', '1', …), for monitoring events. */
  readonly instance?: string;
}

type CustomOperation = (request: InferRequest, signal: AbortSignal) => Promise<PredictOutputs> | PredictOutputs;

/** Builds the request the hooks see; the list form is computed on first read of `inputs`. */
export function buildRequest(server: ModelServer, job: ExecutionJob): InferRequest {
  const tensors = dictionary<Tensor>();
  for (const tensor of job.tensors) tensors[tensor.name] = tensor;
  const declared = server.io.inputs;
  const ordered =
    declared.length > 0
      ? declared.flatMap((spec) => (tensors[spec.name] ? [tensors[spec.name] as Tensor] : []))
      : job.tensors;
  let inputs: NestedList[] | undefined;
  const request = { id: job.id, tensors, parameters: job.parameters, outputs: job.outputs, state: dictionary<unknown>() };
  Object.defineProperty(request, 'inputs', {
    enumerable: true,
    configurable: true,
    get: () => (inputs ??= ordered.map(toList)),
    set: (value: NestedList[]) => {
      inputs = value;
    },
  });
  return request as unknown as InferRequest;
}

/** An error a hook threw, as the client sees it: the hook's own code, or INTERNAL. */
function hookError(server: ModelServer, operation: string, err: unknown): InferenceError {
  const prefix = `model '${server.name}' version ${server.version} operation '${operation}'`;
  if (err instanceof InferenceError) return new InferenceError(err.code, `${prefix}: ${err.message}`, { cause: err });
  return new InferenceError('INTERNAL', `${prefix} failed: ${errorMessage(err)}`, { cause: err });
}

const STANDARD_OPERATIONS = new Set(['infer', 'predict', 'explain']);

/** The method serving a custom operation; an unknown operation is the client's error. */
function customOperation(server: ModelServer, operation: string): CustomOperation {
  const method = (server as unknown as Record<string, unknown>)[customOperationMethod(operation)];
  if (typeof method !== 'function') {
    throw InferenceError.invalidArgument(
      'parameters.operation',
      `'${operation}' is not an operation of model '${server.name}' (it has: ${server.operations().join(', ')})`,
    );
  }
  return method as CustomOperation;
}

/** preprocess → validate → predict/explain → postprocess, as the seed's do_event; custom operations skip the hooks. */
export async function runHooks(server: ModelServer, job: ExecutionJob, signal: AbortSignal): Promise<ExecutionOutput> {
  const { operation } = job;
  const custom = STANDARD_OPERATIONS.has(operation) ? undefined : customOperation(server, operation);
  let request = buildRequest(server, job);
  let response: InferResponse;
  try {
    let outputs: PredictOutputs;
    if (custom) {
      outputs = await custom.call(server, request, signal);
    } else {
      request = await server.preprocess(request, operation);
      request = await server.validate(request, operation);
      outputs =
        operation === 'explain' ? await server.explain(request, signal) : await server.predict(request, signal);
    }
    response = {
      id: job.id,
      modelName: server.name,
      modelVersion: server.version,
      outputs: toOutputTensors(outputs, server.io),
      parameters: dictionary(),
    };
    if (!custom) response = await server.postprocess(response);
  } catch (err) {
    throw hookError(server, operation, err);
  }
  let logged: LoggedResults | undefined;
  try {
    logged = server.loggedResults(request, response, operation);
  } catch (err) {
    throw hookError(server, `${operation} (loggedResults)`, err);
  }
  return {
    outputs: response.outputs,
    parameters: response.parameters,
    metrics: dictionary(server.metrics),
    labels: dictionary(server.labels),
    ...(logged ? { logged } : {}),
  };
}
