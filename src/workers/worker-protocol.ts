// What crosses the thread boundary between a WorkerPool (main thread) and its model
// workers: the messages, tensors packed so that their bytes move instead of being
// cloned, and errors reduced to what survives structured clone.
import { InferenceError, type ErrorCode } from '../errors.js';
import type { LoggerShape } from '../logging/index.js';
import type { MetricValue } from '../events.js';
import { TYPED_ARRAY, type BytesData, type Datatype, type NumericData, type Tensor } from '../tensor/index.js';
import type { LoggedResults, ModelContext, ParamValue, Parameters, RequestedOutput, WarmupSample } from '../model/index.js';

/** A numeric tensor whose `data` can move: alone on its ArrayBuffer, on a job's one buffer of copied inputs, or shared memory. */
export interface PackedNumeric {
  readonly name: string;
  readonly datatype: Exclude<Datatype, 'BYTES'>;
  readonly shape: readonly number[];
  readonly data: NumericData;
}

/** A BYTES tensor: every element in one buffer; element i is bytes[offsets[i] .. offsets[i + 1]). */
export interface PackedBytes {
  readonly name: string;
  readonly datatype: 'BYTES';
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
  readonly offsets: Float64Array;
}

export type PackedTensor = PackedNumeric | PackedBytes;


/**
 * Packs a model's output for postMessage and adds the buffers to move to `transfer`.
 *
 * A typed array that spans its whole ArrayBuffer is moved as is: its buffer goes in the
 * transfer list, zero bytes copied, and the sender's view is detached afterwards. So a
 * model in worker instances must not keep an array it returns (a cache entry, a constant):
 * the next request would find it empty, and fails naming the tensor instead.
 */
export function packTensor(tensor: Tensor, transfer: Set<ArrayBuffer>): PackedTensor {
  if (tensor.datatype === 'BYTES') return packBytes(tensor, transfer);
  const { datatype } = tensor;
  const data = attachedData(tensor);
  return { name: tensor.name, datatype, shape: tensor.shape, data: movable(data, datatype, transfer) };
}

/** A job's inputs as they cross to the worker. */
export interface PackedInputs {
  readonly tensors: PackedTensor[];
  /** Some of the sender's own buffers moved (its views are empty now): the worker sends them back. */
  readonly moved: boolean;
}

/** Typed arrays need their byteOffset to be a multiple of their element size; 8 fits them all. */
const ALIGN = 8;

function aligned(byteLength: number): number {
  return Math.ceil(byteLength / ALIGN) * ALIGN;
}

/**
 * Packs a job's inputs for postMessage and adds the buffers to move to `transfer`. An input
 * alone on its buffer moves as is (packTensor). Inputs that view a larger buffer are copied,
 * all of them into one new buffer that then moves: decoded request `bytes` are views on the
 * whole received message, which the other fields share (moving it would detach them, cloning
 * it would copy all of it), and one buffer per job is one allocation and one transfer however
 * many inputs there are.
 */
export function packInputs(tensors: readonly Tensor[], transfer: Set<ArrayBuffer>): PackedInputs {
  let copyBytes = 0;
  for (const tensor of tensors) {
    if (tensor.datatype === 'BYTES') continue;
    const data = attachedData(tensor);
    if (!ownsBuffer(data)) copyBytes += aligned(data.byteLength);
  }
  const copies = new ArrayBuffer(copyBytes);
  if (copyBytes > 0) transfer.add(copies);
  let at = 0;
  let moved = false;
  const packed = new Array<PackedTensor>(tensors.length);
  for (let i = 0; i < tensors.length; i++) {
    const tensor = tensors[i] as Tensor;
    if (tensor.datatype === 'BYTES') {
      packed[i] = packBytes(tensor, transfer);
      continue;
    }
    const { datatype } = tensor;
    const data = tensor.data as NumericData;
    if (ownsBuffer(data)) {
      packed[i] = { name: tensor.name, datatype, shape: tensor.shape, data: movable(data, datatype, transfer) };
      moved ||= data.buffer instanceof ArrayBuffer && data.byteLength > 0;
      continue;
    }
    new Uint8Array(copies, at, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    packed[i] = { name: tensor.name, datatype, shape: tensor.shape, data: new TYPED_ARRAY[datatype](copies, at, data.length) };
    at += aligned(data.byteLength);
  }
  return { tensors: packed, moved };
}

/** Shared memory and whole buffers are sent as they are; a view on part of a buffer is not. */
function ownsBuffer(view: NumericData): boolean {
  const buffer = view.buffer;
  return !(buffer instanceof ArrayBuffer) || buffer.byteLength === 0 || (view.byteOffset === 0 && view.byteLength === buffer.byteLength);
}

function attachedData(tensor: Tensor): NumericData {
  const data = tensor.data as NumericData;
  if (isDetached(data.buffer)) {
    throw new InferenceError(
      'INTERNAL',
      `tensor '${tensor.name}' is on a buffer already moved to another thread: a model in worker instances must ` +
        'not return an array it keeps, since every array it returns moves to the main thread (return a copy, e.g. array.slice())',
    );
  }
  return data;
}

/** Node 20 has no ArrayBuffer.prototype.detached; only a detached buffer fails to clone. */
function isDetached(buffer: ArrayBufferLike): boolean {
  if (buffer.byteLength > 0 || !(buffer instanceof ArrayBuffer)) return false;
  try {
    structuredClone(buffer);
    return false;
  } catch {
    return true;
  }
}

function movable(view: NumericData, datatype: Exclude<Datatype, 'BYTES'>, transfer: Set<ArrayBuffer>): NumericData {
  const buffer = view.buffer;
  // Shared memory is visible to both threads already: structured clone shares it;
  // an empty buffer costs nothing to clone.
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0) return view;
  if (view.byteOffset === 0 && view.byteLength === buffer.byteLength) {
    transfer.add(buffer);
    return view;
  }
  // The view is part of a larger buffer the model may still use: its own bytes are copied
  // once (one memcpy) into a buffer of their own, which then moves.
  const own = new ArrayBuffer(view.byteLength);
  new Uint8Array(own).set(new Uint8Array(buffer, view.byteOffset, view.byteLength));
  transfer.add(own);
  return new TYPED_ARRAY[datatype](own, 0, view.length);
}

/**
 * BYTES elements are views scattered over the received message (or separate small
 * arrays a model made). Cloning a list of views would copy each view's whole buffer,
 * so the elements are packed into one buffer plus offsets: one copy of their bytes.
 */
function packBytes(tensor: Tensor, transfer: Set<ArrayBuffer>): PackedBytes {
  const elements = tensor.data as BytesData;
  let total = 0;
  for (const element of elements) total += element.byteLength;
  const bytes = new Uint8Array(total);
  const offsets = new Float64Array(elements.length + 1);
  let at = 0;
  for (let i = 0; i < elements.length; i++) {
    const element = elements[i] as Uint8Array;
    offsets[i] = at;
    bytes.set(element, at);
    at += element.byteLength;
  }
  offsets[elements.length] = at;
  transfer.add(bytes.buffer);
  transfer.add(offsets.buffer);
  return { name: tensor.name, datatype: 'BYTES', shape: tensor.shape, bytes, offsets };
}

/**
 * Packs a copy of a tensor: for model calls, whose tensors the sender may still hold (the
 * caller's own request inputs, a callee's cached array). One memcpy, then the copy moves.
 */
export function packTensorCopy(tensor: Tensor, transfer: Set<ArrayBuffer>): PackedTensor {
  if (tensor.datatype === 'BYTES') return packBytes(tensor, transfer);
  const copy = (tensor.data as NumericData).slice();
  if (copy.buffer instanceof ArrayBuffer && copy.byteLength > 0) transfer.add(copy.buffer);
  return { name: tensor.name, datatype: tensor.datatype, shape: tensor.shape, data: copy };
}

/** Adds the buffers of an already packed tensor (sent back as it came) to `transfer`. */
export function transferPacked(packed: PackedTensor, transfer: Set<ArrayBuffer>): void {
  const views = 'bytes' in packed ? [packed.bytes, packed.offsets] : [packed.data];
  for (const view of views) {
    if (view.buffer instanceof ArrayBuffer && view.buffer.byteLength > 0) transfer.add(view.buffer);
  }
}

/** The tensor on the receiving side: views on the moved buffers, no copy. */
export function unpackTensor(packed: PackedTensor): Tensor {
  if (!('bytes' in packed)) return packed;
  const { bytes, offsets } = packed;
  const elements = new Array<Uint8Array>(offsets.length - 1);
  for (let i = 0; i < elements.length; i++) {
    elements[i] = bytes.subarray(offsets[i] as number, offsets[i + 1] as number);
  }
  return { name: packed.name, datatype: 'BYTES', shape: packed.shape, data: elements };
}

/** An error as structured clone keeps it: InferenceError's code must survive the trip. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly code?: ErrorCode;
  readonly stack?: string;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof InferenceError) return { name: err.name, message: err.message, code: err.code, stack: err.stack };
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { name: 'Error', message: String(err) };
}

/** An InferenceError again when it was one; otherwise a plain Error with the same name and message. */
export function deserializeError(serialized: SerializedError): Error {
  const err = serialized.code
    ? new InferenceError(serialized.code, serialized.message)
    : Object.assign(new Error(serialized.message), { name: serialized.name });
  if (serialized.stack) err.stack = serialized.stack;
  return err;
}

/** ModelContext as it crosses: the logger is rebuilt in the worker, model calls go through messages. */
export type WorkerContext = Omit<ModelContext, 'logger' | 'models'>;

/** workerData of a model worker. */
export interface WorkerInit {
  readonly modulePath: string;
  readonly generation: number;
  /** The instance's index in its pool; it goes into every log line. */
  readonly instance: number;
  readonly context: WorkerContext;
  /** The main thread's model logger (level, bindings: name, model, version; time format). */
  readonly log: LoggerShape;
  /** config.pbtxt `model_warmup`: run after load(), before the instance reports itself loaded. */
  readonly warmup: readonly WarmupSample[];
}

export type ToWorker =
  | {
      readonly type: 'run';
      readonly seq: number;
      readonly id: string;
      readonly tensors: PackedTensor[];
      readonly parameters: Parameters;
      readonly outputs: readonly RequestedOutput[];
      readonly operation: string;
      /** Set when another model called this one: its call chain. */
      readonly callers?: readonly string[];
      /** Some inputs moved from the sender's own buffers: the answer brings them back. */
      readonly returnInputs: boolean;
      /** A decoupled model's job: each response crosses as a 'response' message when made. */
      readonly streamed: boolean;
    }
  | { readonly type: 'abort'; readonly seq: number; readonly reason: SerializedError }
  /** The job's last response was taken on the main thread: the model's next one may cross. */
  | { readonly type: 'response-taken'; readonly seq: number }
  | {
      readonly type: 'call-done';
      readonly call: number;
      readonly model: string;
      readonly version: string;
      readonly outputs: PackedTensor[];
      readonly parameters: Record<string, ParamValue>;
    }
  | { readonly type: 'call-failed'; readonly call: number; readonly error: SerializedError }
  | { readonly type: 'unload' };

export type FromWorker =
  | { readonly type: 'loaded'; readonly modelClass: string }
  | { readonly type: 'load-failed'; readonly error: SerializedError }
  | {
      readonly type: 'done';
      readonly seq: number;
      readonly outputs: PackedTensor[];
      /** The job's inputs, moved back for monitoring events when the run moved some (returnInputs). */
      readonly inputs?: PackedTensor[];
      readonly parameters: Record<string, ParamValue>;
      readonly metrics: Record<string, MetricValue>;
      readonly labels: Record<string, string>;
      readonly logged?: LoggedResults;
      /** The hooks' own time in the worker, without the time the job waited. */
      readonly inferNs: bigint;
      /** A streamed job: how many responses crossed. */
      readonly responseCount?: number;
    }
  | { readonly type: 'failed'; readonly seq: number; readonly error: SerializedError }
  /** One response of a streamed job, as the model made it; answered by response-taken. */
  | {
      readonly type: 'response';
      readonly seq: number;
      readonly outputs: PackedTensor[];
      readonly parameters: Record<string, ParamValue>;
      readonly final: boolean;
    }
  /** The model calls another model of the repository (ModelServer.infer); answered by call-done or call-failed. */
  | {
      readonly type: 'call';
      readonly call: number;
      readonly model: string;
      readonly version: string;
      readonly id: string;
      readonly tensors: PackedTensor[];
      readonly parameters: Parameters;
      readonly outputs: readonly string[];
      readonly callers: readonly string[];
    }
  /** The caller's signal fired: the call's callee sees its own fire. */
  | { readonly type: 'call-abort'; readonly call: number; readonly reason: SerializedError }
  | { readonly type: 'unloaded'; readonly error?: SerializedError };
