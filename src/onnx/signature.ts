// What a model file takes and gives, as onnxruntime reports it: the common ground of the
// session (which reads it), auto-complete and the config check (which compare it).
import type { Datatype } from '../tensor/index.js';
import type { OrtTensorType } from './datatypes.js';
import type { OnnxDim } from './onnx-writer.js';

/** A graph input or output; a symbolic dimension is its name ('' when unnamed). */
export interface OnnxTensorInfo {
  readonly name: string;
  readonly datatype: Datatype;
  readonly ortType: OrtTensorType;
  readonly shape: readonly OnnxDim[];
}

/** A model file's inputs and outputs, in graph order. */
export interface OnnxSignature {
  readonly inputs: readonly OnnxTensorInfo[];
  readonly outputs: readonly OnnxTensorInfo[];
}

/** `[batch,4]`; an unnamed open dimension shows as `?`. */
export function formatOnnxShape(shape: readonly (OnnxDim | bigint)[]): string {
  return `[${shape.map((dim) => (dim === '' ? '?' : String(dim))).join(',')}]`;
}

/** A dimension onnxruntime leaves open: symbolic ('batch'), unnamed ('') or negative. */
export function isOpenDim(dim: OnnxDim): boolean {
  return typeof dim === 'string' || dim < 0;
}
