// The model side of a worker instance: loads the model server in this thread and runs
// runHooks for each job its WorkerPool posts, so that hooks, operations, parameters,
// metrics and errors behave as they do on the main thread. worker-entry.js starts it
// once tsx is registered.
import { readlinkSync } from 'node:fs';
import { constants, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { Cancellation } from '../cancellation.js';
import { InferenceError } from '../errors.js';
import { dictionary } from '../dictionary.js';
import { loggerLike } from '../logging/index.js';
import { createModelServer, runHooks, type ModelServer, type StreamedOutput } from '../model/index.js';
import { WorkerCalls } from './worker-calls.js';
import {
  deserializeError,
  packTensor,
  serializeError,
  transferPacked,
  unpackTensor,
  type FromWorker,
  type PackedTensor,
  type ToWorker,
  type WorkerInit,
} from './worker-protocol.js';

if (!parentPort) throw new Error('worker-thread.ts runs only in a worker thread started by WorkerPool');
const port = parentPort;
const init = workerData as WorkerInit;

// The worker has no access to the main thread's logger: it makes one like it on the same stdout.
const logger = loggerLike(init.log, { instance: init.instance });

// As on the main thread (main.ts): a rejection model code forgot is logged, not fatal.
process.on('unhandledRejection', (reason) => {
  logger.error({ err: reason }, 'unhandled promise rejection (from model code?); the instance goes on');
});

/**
 * Model work yields the CPU to the main thread, which answers health checks and feeds
 * every model: when the cores are all busy, a waking main thread runs first. Linux gives
 * each thread its own nice value, set through the thread id (/proc/thread-self names it);
 * elsewhere there is no per-thread priority and this does nothing.
 */
function lowerThreadPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isSafeInteger(tid) && tid > 0) setPriority(tid, constants.priority.PRIORITY_BELOW_NORMAL);
  } catch {
    // not Linux, or not allowed: the thread keeps the process's priority
  }
}
lowerThreadPriority();

type RunMessage = Extract<ToWorker, { type: 'run' }>;

/**
 * The pool sends jobs ahead, so that a wake-up of this thread brings several: they wait
 * here and run one at a time, in order, as on an instance of their own.
 */
const waiting: RunMessage[] = [];
/** The job running, and its cancellation (whose AbortSignal its hooks see when they declare one). */
let runningSeq = -1;
let runningCancellation: Cancellation | undefined;
/** A streamed job's response on its way to the main thread: settled when it was taken there, or when the job is aborted. */
let responseCrossing: { resolve: () => void; reject: (err: unknown) => void } | undefined;
let startScheduled = false;
let server: ModelServer | undefined;

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

const calls = new WorkerCalls(post);

function accept(message: RunMessage, model: ModelServer): void {
  waiting.push(message);
  if (!runningCancellation) scheduleNext(model);
}

/**
 * The next job starts once the messages already received are handled (setImmediate runs
 * after them): an abort that came with it, or while the last job ran, is seen first.
 */
function scheduleNext(model: ModelServer): void {
  if (startScheduled || waiting.length === 0) return;
  startScheduled = true;
  setImmediate(startNext, model);
}

function startNext(model: ModelServer): void {
  startScheduled = false;
  if (runningCancellation) return;
  const next = waiting.shift();
  if (next) void run(next, model);
}

/** A job aborted while it waits here never reaches the model; the one running sees its signal fire. */
function abort(message: Extract<ToWorker, { type: 'abort' }>): void {
  if (message.seq === runningSeq) {
    const reason = deserializeError(message.reason);
    runningCancellation?.abort(reason);
    responseCrossing?.reject(reason);
    responseCrossing = undefined;
    return;
  }
  const at = waiting.findIndex((job) => job.seq === message.seq);
  if (at < 0) return;
  waiting.splice(at, 1);
  post({ type: 'failed', seq: message.seq, error: message.reason });
}

async function run(message: RunMessage, model: ModelServer): Promise<void> {
  const cancellation = new Cancellation();
  runningSeq = message.seq;
  runningCancellation = cancellation;
  const started = process.hrtime.bigint();
  try {
    const output = await runHooks(
      model,
      {
        id: message.id,
        tensors: message.tensors.map(unpackTensor),
        // Structured cloning gave them Object.prototype back.
        parameters: dictionary(message.parameters),
        outputs: message.outputs.map((output) => ({ name: output.name, parameters: dictionary(output.parameters) })),
        operation: message.operation,
        callers: message.callers,
        ...(message.streamed ? { responses: (response: StreamedOutput) => sendResponse(message, model, response, cancellation) } : {}),
      },
      cancellation,
    );
    const inferNs = process.hrtime.bigint() - started;
    try {
      const transfer = new Set<ArrayBuffer>();
      const outputs = output.outputs.map((tensor) => packTensor(tensor, transfer));
      if (message.returnInputs) for (const input of message.tensors) transferPacked(input, transfer);
      const done: FromWorker = {
        type: 'done',
        seq: message.seq,
        outputs,
        inputs: message.returnInputs ? message.tensors : undefined,
        parameters: output.parameters,
        metrics: output.metrics,
        labels: output.labels,
        logged: output.logged,
        inferNs,
        ...(output.responseCount === undefined ? {} : { responseCount: output.responseCount }),
      };
      post(done, [...transfer]);
    } catch (err) {
      // An output on a moved buffer, or a value structured clone refuses (a function in the
      // response parameters or logged results): nothing was moved yet (postMessage serializes
      // before it detaches), and the request fails as a model error would.
      const prefix = `model '${model.name}' version ${model.version} operation '${message.operation}'`;
      throw new InferenceError(
        'INTERNAL',
        `${prefix}: the response cannot be sent from the worker thread: ${serializeError(err).message}`,
      );
    }
  } catch (err) {
    post({ type: 'failed', seq: message.seq, error: serializeError(err) });
  } finally {
    runningSeq = -1;
    runningCancellation = undefined;
    responseCrossing = undefined;
    scheduleNext(model);
  }
}

/**
 * A streamed job's response crosses as soon as the model makes it; the model's next response
 * waits until the main thread has taken this one (its transport's flow control reaches here).
 */
function sendResponse(message: RunMessage, model: ModelServer, response: StreamedOutput, signal: Cancellation): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  const transfer = new Set<ArrayBuffer>();
  let outputs: PackedTensor[];
  try {
    outputs = response.outputs.map((tensor) => packTensor(tensor, transfer));
    const crossing = new Promise<void>((resolve, reject) => {
      responseCrossing = { resolve, reject };
    });
    post({ type: 'response', seq: message.seq, outputs, parameters: response.parameters, final: response.final }, [...transfer]);
    return crossing;
  } catch (err) {
    responseCrossing = undefined;
    const prefix = `model '${model.name}' version ${model.version} operation '${message.operation}'`;
    return Promise.reject(new InferenceError('INTERNAL', `${prefix}: the response cannot be sent from the worker thread: ${serializeError(err).message}`));
  }
}

function responseTaken(message: Extract<ToWorker, { type: 'response-taken' }>): void {
  if (message.seq !== runningSeq) return;
  responseCrossing?.resolve();
  responseCrossing = undefined;
}

async function unload(model: ModelServer | undefined): Promise<void> {
  try {
    if (model) {
      model.ready = false;
      await model.unload();
    }
    post({ type: 'unloaded' });
  } catch (err) {
    post({ type: 'unloaded', error: serializeError(err) });
  }
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'run':
      if (server) accept(message, server);
      break;
    case 'abort':
      abort(message);
      break;
    case 'response-taken':
      responseTaken(message);
      break;
    case 'unload':
      void unload(server);
      break;
    case 'call-done':
    case 'call-failed':
      calls.settle(message);
      break;
  }
});

try {
  server = await createModelServer(init.modulePath, init.generation, { ...init.context, logger, models: calls }, init.warmup);
  post({ type: 'loaded', modelClass: server.constructor.name });
} catch (err) {
  post({ type: 'load-failed', error: serializeError(err) });
}
