// Runs a model server's hooks for one request, in the seed's fixed order. The only
// caller of the hooks, wherever the instance lives (main thread or a worker).
import { InferenceError, abortError, errorMessage } from '../errors.js';
import { abortSignalOf, type RequestSignal } from '../cancellation.js';
import { dictionary, snapshot } from '../dictionary.js';
import { toOutputTensors } from '../tensor/index.js';
import { buildRequest } from './hook-request.js';
import { CALL_CHAINS } from './model-calls.js';
import { customOperationMethod, type ModelServer } from './model-server.js';
import type {
  ExecutionJob,
  ExecutionOutput,
  InferRequest,
  InferResponse,
  LoggedResults,
  PredictOutputs,
  PredictStream,
  ResponseSink,
} from './types.js';

type CustomOperation = (request: InferRequest, signal: AbortSignal) => Promise<PredictOutputs | PredictStream> | PredictOutputs | PredictStream;

/** Names the config field a model that streams without it must set. */
export const DECOUPLED_FIELD = 'model_transaction_policy.decoupled';

export function isPredictStream(value: unknown): value is PredictStream {
  return typeof (value as { [Symbol.asyncIterator]?: unknown } | null | undefined)?.[Symbol.asyncIterator] === 'function';
}

/** A model whose config does not say it is decoupled answers once: a stream from it is its author's error. */
function notDecoupled(server: ModelServer): InferenceError {
  return new InferenceError(
    'INTERNAL',
    `model '${server.name}' returned an async iterable (a stream of responses), but its config does not set ${DECOUPLED_FIELD}: true`,
  );
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

/** Handed to the hooks that take the request alone: they cannot read it, and it never fires. */
const UNREAD_SIGNAL = new AbortController().signal;

/**
 * The AbortSignal a hook is handed. Node 20 takes microseconds to make one, so a hook
 * declared with the request as its only parameter gets a shared one that never fires; any
 * other (a signal parameter, or rest parameters) gets the request's own.
 */
function hookSignal(hook: (...args: never[]) => unknown, signal: RequestSignal): AbortSignal {
  return hook.length === 1 ? UNREAD_SIGNAL : abortSignalOf(signal);
}

type MaybePromise<T> = T | Promise<T>;

function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/** `next(value)`, at once when `value` is no promise: a synchronous model pays for no promise per hook. */
function then<T, U>(value: MaybePromise<T>, next: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return isPromise(value) ? value.then(next) : next(value);
}

/** One answer of the model as postprocess sees it: its outputs as tensors of the declared outputs. */
function shapedResponse(server: ModelServer, job: ExecutionJob, outputs: PredictOutputs): InferResponse {
  return { id: job.id, modelName: server.name, modelVersion: server.version, outputs: toOutputTensors(outputs, server.io), parameters: dictionary() };
}

/**
 * preprocess → validate → predict/explain → postprocess, as the seed's do_event; custom
 * operations skip the hooks. Synchronous hooks run without a promise between them; a sync
 * throw and a rejection take the same path.
 */
export function runHooks(server: ModelServer, job: ExecutionJob, signal: RequestSignal): Promise<ExecutionOutput> {
  // The hooks get this signal: a call they make with it continues this job's chain.
  if (job.callers) server[CALL_CHAINS]?.set(abortSignalOf(signal), job.callers);
  if (job.responses) return runStreamHooks(server, job, job.responses, signal);
  try {
    const output = runHookChain(server, job, signal);
    return isPromise(output) ? output : Promise.resolve(output);
  } catch (err) {
    return Promise.reject(err);
  }
}

function runHookChain(server: ModelServer, job: ExecutionJob, signal: RequestSignal): MaybePromise<ExecutionOutput> {
  const { operation } = job;
  const custom = STANDARD_OPERATIONS.has(operation) ? undefined : customOperation(server, operation);
  let request = buildRequest(server, job);
  const respond = (outputs: PredictOutputs | PredictStream): MaybePromise<InferResponse> => {
    if (isPredictStream(outputs)) throw notDecoupled(server);
    const response = shapedResponse(server, job, outputs);
    return custom ? response : server.postprocess(response);
  };
  const finish = (response: InferResponse): ExecutionOutput => {
    let logged: LoggedResults | undefined;
    try {
      logged = server.loggedResults(request, response, operation);
    } catch (err) {
      throw hookError(server, `${operation} (loggedResults)`, err);
    }
    return {
      outputs: response.outputs,
      parameters: response.parameters,
      metrics: snapshot(server.metrics),
      labels: snapshot(server.labels),
      ...(logged ? { logged } : {}),
    };
  };
  let response: MaybePromise<InferResponse>;
  try {
    const outputs: MaybePromise<PredictOutputs | PredictStream> = custom
      ? custom.call(server, request, hookSignal(custom, signal))
      : then(server.preprocess(request, operation), (preprocessed) =>
          then(server.validate(preprocessed, operation), (validated) => {
            request = validated;
            return operation === 'explain'
              ? server.explain(validated, hookSignal(server.explain, signal))
              : server.predict(validated, hookSignal(server.predict, signal));
          }),
        );
    response = then(outputs, respond);
  } catch (err) {
    throw hookError(server, operation, err);
  }
  if (!isPromise(response)) return finish(response);
  return response.then(finish, (err: unknown) => {
    throw hookError(server, operation, err);
  });
}

/**
 * A decoupled model's request: the hooks before predict run once, then each response the
 * model yields is shaped, postprocessed (standard operations) and handed to `sink`, whose
 * promise the next one waits for. A model that returns plain outputs answers once, marked
 * final. When `signal` fires the generator is closed (its `finally` blocks run).
 */
async function runStreamHooks(server: ModelServer, job: ExecutionJob, sink: ResponseSink, signal: RequestSignal): Promise<ExecutionOutput> {
  const { operation } = job;
  let responseCount = 0;
  try {
    const custom = STANDARD_OPERATIONS.has(operation) ? undefined : customOperation(server, operation);
    let produced: PredictOutputs | PredictStream;
    if (custom) {
      produced = await custom.call(server, buildRequest(server, job), hookSignal(custom, signal));
    } else {
      const validated = await server.validate(await server.preprocess(buildRequest(server, job), operation), operation);
      produced = await (operation === 'explain'
        ? server.explain(validated, hookSignal(server.explain, signal))
        : server.predict(validated, hookSignal(server.predict, signal)));
    }
    const deliver = async (outputs: PredictOutputs, final: boolean): Promise<void> => {
      const shaped = shapedResponse(server, job, outputs);
      const response = custom ? shaped : await server.postprocess(shaped);
      responseCount++;
      await sink({ outputs: response.outputs, parameters: response.parameters, final });
    };
    if (!isPredictStream(produced)) {
      await deliver(produced, true);
    } else {
      const iterator = produced[Symbol.asyncIterator]();
      try {
        for (;;) {
          if (signal.aborted) throw abortError(signal);
          const step = await iterator.next();
          if (signal.aborted) throw abortError(signal);
          if (step.done) {
            // An async generator's return value: the request's last response.
            if (step.value !== undefined) await deliver(step.value as PredictOutputs, true);
            break;
          }
          await deliver(step.value, false);
        }
      } catch (err) {
        await iterator.return?.();
        throw err;
      }
    }
  } catch (err) {
    if (signal.aborted) throw abortError(signal);
    throw hookError(server, operation, err);
  }
  return { outputs: [], parameters: dictionary(), metrics: snapshot(server.metrics), labels: snapshot(server.labels), responseCount };
}
