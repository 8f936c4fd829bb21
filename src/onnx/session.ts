// One onnxruntime session: opened from a model file, fed v2serve Tensors by name, read
// back as v2serve Tensors. onnxruntime-node 1.30 computes synchronously on the calling
// thread (its run() only defers the work with setImmediate) and opens models synchronously
// too: a session on the main thread stalls every other request while it runs, so served
// ONNX models belong in worker instances.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { dictionary } from '../dictionary.js';
import { InferenceError, abortError, errorMessage } from '../errors.js';
import type { Tensor, TensorData } from '../tensor/index.js';
import { onnxTypeOfDatatype, onnxTypeOfOrt, type OrtTensorType } from './datatypes.js';
import { readOnnxGraphIo, type OnnxGraphIo } from './onnx-reader.js';
import { onnxElemTypeName } from './onnx-writer.js';
import type { OrtSessionOptions } from './session-options.js';
import { formatOnnxShape, type OnnxSignature, type OnnxTensorInfo } from './signature.js';

function listNames(infos: readonly { name: string }[]): string {
  return infos.map((info) => `'${info.name}'`).join(', ');
}

function tensorInfo(metadata: InferenceSession.ValueMetadata, kind: 'input' | 'output'): OnnxTensorInfo {
  const what = `${kind} '${metadata.name}'`;
  if (!metadata.isTensor) {
    throw new InferenceError('INVALID_ARGUMENT', `${what} is not a tensor (a sequence or map), which v2serve cannot serve`);
  }
  const entry = onnxTypeOfOrt(metadata.type, what);
  return { name: metadata.name, datatype: entry.datatype, ortType: entry.ort, shape: [...metadata.shape] };
}

function signatureOf(session: InferenceSession): OnnxSignature {
  return {
    inputs: session.inputMetadata.map((metadata) => tensorInfo(metadata, 'input')),
    outputs: session.outputMetadata.map((metadata) => tensorInfo(metadata, 'output')),
  };
}

/**
 * Why onnxruntime could not open `file`. The binding refuses a graph input or output of a type
 * it cannot represent ("Unsupported data type: 16") without saying which: the file is read
 * again to name the tensor.
 */
function openError(file: string, err: unknown): InferenceError {
  const message = errorMessage(err);
  const unsupported = /Unsupported data type: (\d+)/.exec(message);
  const culprits = unsupported ? tensorsOfElemType(file, Number(unsupported[1])) : [];
  if (unsupported && culprits.length > 0) {
    return new InferenceError(
      'INVALID_ARGUMENT',
      `${basename(file)}: ${culprits.join(', ')} ${culprits.length > 1 ? 'have' : 'has'} ONNX type ` +
        `${onnxElemTypeName(Number(unsupported[1]))}, which onnxruntime-node cannot feed or read`,
      { cause: err },
    );
  }
  return new InferenceError('INVALID_ARGUMENT', `onnxruntime cannot open ${basename(file)}: ${message}`, { cause: err });
}

/** The graph inputs and outputs of `file` with ONNX element type `elemType` ("input 'x'"); none when unreadable. */
function tensorsOfElemType(file: string, elemType: number): string[] {
  let io: OnnxGraphIo;
  try {
    io = readOnnxGraphIo(readFileSync(file));
  } catch {
    return [];
  }
  return [
    ...io.inputs.filter((value) => value.elemType === elemType).map((value) => `input '${value.name}'`),
    ...io.outputs.filter((value) => value.elemType === elemType).map((value) => `output '${value.name}'`),
  ];
}

/**
 * Checks a request's tensors against the model's inputs before onnxruntime sees them, so the
 * client hears which tensor is wrong and how (onnxruntime's own type error names neither).
 * Symbolic dimensions with the same name must agree across inputs, as ONNX defines them.
 */
export function checkFeeds(inputs: readonly OnnxTensorInfo[], tensors: Readonly<Record<string, Tensor>>): void {
  const known = new Set(inputs.map((input) => input.name));
  for (const name of Object.keys(tensors)) {
    if (!known.has(name)) {
      throw new InferenceError('INVALID_ARGUMENT', `unexpected input '${name}'; the model's inputs are ${listNames(inputs)}`);
    }
  }
  const symbolic = new Map<string, { size: number; input: string }>();
  for (const input of inputs) {
    const tensor = tensors[input.name];
    if (tensor === undefined) {
      throw new InferenceError('INVALID_ARGUMENT', `input '${input.name}' is missing; the model's inputs are ${listNames(inputs)}`);
    }
    if (tensor.datatype !== input.datatype) {
      throw new InferenceError(
        'INVALID_ARGUMENT',
        `input '${input.name}' has datatype ${tensor.datatype}, the model expects ${input.datatype}`,
      );
    }
    const mismatch = (): InferenceError =>
      new InferenceError(
        'INVALID_ARGUMENT',
        `input '${input.name}' has shape ${formatOnnxShape(tensor.shape)}, the model expects ${formatOnnxShape(input.shape)}`,
      );
    if (tensor.shape.length !== input.shape.length) throw mismatch();
    input.shape.forEach((dim, i) => {
      const size = tensor.shape[i]!;
      if (typeof dim === 'number') {
        if (dim >= 0 && dim !== size) throw mismatch();
        return;
      }
      if (dim === '') return;
      const seen = symbolic.get(dim);
      if (seen === undefined) symbolic.set(dim, { size, input: input.name });
      else if (seen.size !== size) {
        throw new InferenceError(
          'INVALID_ARGUMENT',
          `input '${input.name}' has shape ${formatOnnxShape(tensor.shape)}: dimension '${dim}' is ${size} there ` +
            `but ${seen.size} in input '${seen.input}'`,
        );
      }
    });
  }
}

/** onnxruntime's messages for requests the model cannot take; anything else is the server's failure. */
const CLIENT_MISTAKES: readonly RegExp[] = [
  /input '[^']*' is missing in 'feeds'/,
  /^Invalid rank for input/,
  /^Got invalid dimensions for input/,
  /^Unexpected input data type/,
  /'fetches' contains invalid output name/,
];

/** A failed run as the client sees it: INVALID_ARGUMENT for a request the model cannot take, else INTERNAL. */
export function runError(err: unknown): InferenceError {
  if (err instanceof InferenceError) return err;
  const message = errorMessage(err);
  if (CLIENT_MISTAKES.some((pattern) => pattern.test(message))) {
    return new InferenceError('INVALID_ARGUMENT', message, { cause: err });
  }
  return new InferenceError('INTERNAL', `onnxruntime failed: ${message}`, { cause: err });
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const utf8 = new TextEncoder();

/** A v2serve tensor as onnxruntime takes it: numeric data wrapped as is, BYTES decoded to strings. */
export function toOrtTensor(tensor: Tensor): OrtTensor {
  const entry = onnxTypeOfDatatype(tensor.datatype, `input '${tensor.name}'`);
  const dims = [...tensor.shape];
  if (entry.ort === 'string') {
    const elements = tensor.data as readonly Uint8Array[];
    const strings = new Array<string>(elements.length);
    for (let i = 0; i < elements.length; i++) {
      // onnxruntime-node copies a string up to its first NUL: the rest would vanish silently.
      if (elements[i]!.includes(0)) {
        throw new InferenceError(
          'INVALID_ARGUMENT',
          `input '${tensor.name}' element ${i} contains a NUL byte, which onnxruntime-node's STRING tensors cannot hold (it cuts the string there)`,
        );
      }
      try {
        strings[i] = strictUtf8.decode(elements[i]);
      } catch {
        throw new InferenceError(
          'INVALID_ARGUMENT',
          `input '${tensor.name}' element ${i} is not valid UTF-8, which onnxruntime-node needs for STRING tensors`,
        );
      }
    }
    return new OrtTensor('string', strings, dims);
  }
  if (!(tensor.data instanceof entry.array)) {
    // Decoded requests always carry the right array; a preprocess hook may not.
    throw new InferenceError(
      'INTERNAL',
      `input '${tensor.name}' (${tensor.datatype}) carries a ${tensor.data.constructor.name}, ` +
        `onnxruntime needs a ${entry.array.name} for ${entry.ort}`,
    );
  }
  return new OrtTensor(entry.ort as Exclude<OrtTensorType, 'string'>, tensor.data as Uint8Array, dims);
}

/** An onnxruntime output as a v2serve tensor: strings become UTF-8 BYTES, FLOAT16 stays raw bits. */
function fromOrtTensor(name: string, value: OrtTensor): Tensor {
  const entry = onnxTypeOfOrt(value.type, `output '${name}'`);
  let data: TensorData;
  if (value.type === 'string') {
    data = (value.data as readonly string[]).map((text) => utf8.encode(text));
  } else if (value.type === 'float16') {
    // Where a runtime has Float16Array, onnxruntime hands that out; its bytes are the same raw bits.
    const halves = value.data as Uint16Array;
    data = new Uint16Array(halves.buffer, halves.byteOffset, halves.length);
  } else {
    data = value.data as Exclude<TensorData, readonly Uint8Array[]>;
  }
  return { name, datatype: entry.datatype, shape: [...value.dims], data };
}

/** A model file opened in onnxruntime, with its signature read once. */
export class OnnxSession {
  private constructor(
    readonly file: string,
    readonly signature: OnnxSignature,
    private readonly session: InferenceSession,
  ) {}

  /** Opens `file`; an unreadable file, an invalid model or a tensor type v2serve cannot serve fails INVALID_ARGUMENT. */
  static async open(file: string, options: OrtSessionOptions): Promise<OnnxSession> {
    let session: InferenceSession;
    try {
      session = await InferenceSession.create(file, options);
    } catch (err) {
      throw openError(file, err);
    }
    try {
      return new OnnxSession(file, signatureOf(session), session);
    } catch (err) {
      await session.release();
      throw err;
    }
  }

  /**
   * Runs the model on `tensors` (every input, by name) and returns the outputs named in
   * `outputs` (all of them when omitted), by name. Requests the model cannot take fail
   * INVALID_ARGUMENT naming the tensor; a signal already aborted stops it before it starts.
   * The computation holds the calling thread (see the top of this file).
   */
  async run(
    tensors: Readonly<Record<string, Tensor>>,
    outputs?: readonly string[],
    signal?: AbortSignal,
  ): Promise<Record<string, Tensor>> {
    checkFeeds(this.signature.inputs, tensors);
    const fetches = outputs ?? this.signature.outputs.map((output) => output.name);
    for (const name of fetches) {
      if (!this.signature.outputs.some((output) => output.name === name)) {
        throw new InferenceError(
          'INVALID_ARGUMENT',
          `unexpected output '${name}'; the model's outputs are ${listNames(this.signature.outputs)}`,
        );
      }
    }
    const feeds = dictionary(this.signature.inputs.map((input): [string, OrtTensor] => [input.name, toOrtTensor(tensors[input.name]!)]));
    if (signal?.aborted) throw abortError(signal);
    let results: InferenceSession.ReturnType;
    try {
      results = await this.session.run(feeds, fetches);
    } catch (err) {
      throw runError(err);
    }
    return dictionary(fetches.map((name): [string, Tensor] => [name, fromOrtTensor(name, results[name] as OrtTensor)]));
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * The signature of a model file, from a session opened only to read it (what config
 * auto-complete needs before the model's own sessions exist).
 */
export async function readOnnxSignature(file: string): Promise<OnnxSignature> {
  const session = await OnnxSession.open(file, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
  try {
    return session.signature;
  } finally {
    await session.release();
  }
}
