// config.pbtxt `reshape`: a tensor's shape on the wire (the declared dims) and the shape the
// model sees (reshape.shape) differ, both ways, as in Triton. Requests are checked against the
// dims, then reshaped for the model; the model's outputs are checked against the reshape
// shape, then reshaped to the dims for the client. A batching model's batch dimension is kept.
import { InferenceError } from '../errors.js';
import { formatShape } from './datatypes.js';
import type { IOSpec, Tensor, TensorSpec } from './types.js';

/** The view of `io` a model has: every reshaped tensor declared with its reshape shape. */
export function modelView(io: IOSpec): IOSpec {
  const view = (spec: TensorSpec): TensorSpec => (spec.reshape === undefined ? spec : { ...spec, dims: spec.reshape });
  if (!io.inputs.some((spec) => spec.reshape) && !io.outputs.some((spec) => spec.reshape)) return io;
  return { ...io, inputs: io.inputs.map(view), outputs: io.outputs.map(view) };
}

/**
 * `shape` (with the batch dimension first when `batching`) as `to` says: the sizes of `from`'s
 * variable (-1) dimensions fill `to`'s, in order. The load checked that both have the same
 * elements and as many variable dimensions (checkReshape).
 */
export function reshapeDims(shape: readonly number[], from: readonly number[], to: readonly number[], batching: boolean): number[] {
  const offset = batching ? 1 : 0;
  const variable: number[] = [];
  for (let k = 0; k < from.length; k++) if (from[k] === -1) variable.push(shape[k + offset]!);
  const out: number[] = batching ? [shape[0]!] : [];
  let next = 0;
  for (const dim of to) out.push(dim === -1 ? variable[next++]! : dim);
  return out;
}

/**
 * Why `reshape` cannot stand for `dims` (undefined when it can), as Triton checks it: sizes
 * are >= 1 or -1, both hold the same elements, and when they have variable dimensions the
 * fixed stretches between them hold the same elements pairwise ([2, 4, -1, 6] → [8, -1, 1, 6]).
 * An empty reshape is a scalar, for dims of one element; unlike Triton, v2serve lets a model
 * without batching have one (auto-complete declares an ONNX model's scalars so).
 */
export function checkReshape(dims: readonly number[], reshape: readonly number[]): string | undefined {
  if (reshape.some((dim) => dim !== -1 && dim < 1)) return `has a size that is neither >= 1 nor -1: ${formatShape(reshape)}`;
  const stretches = (shape: readonly number[]): number[] => {
    const out = [1];
    for (const dim of shape) {
      if (dim === -1) out.push(1);
      else out[out.length - 1]! *= dim;
    }
    return out;
  };
  const a = stretches(dims);
  const b = stretches(reshape);
  if (reshape.length === 0) return a.length === 1 && a[0] === 1 ? undefined : `is empty (a scalar), but dims ${formatShape(dims)} hold more than one element`;
  if (a.length !== b.length) return `has ${b.length - 1} variable dimensions, dims ${formatShape(dims)} have ${a.length - 1}`;
  if (a.some((size, k) => size !== b[k])) return `holds other elements than dims ${formatShape(dims)}`;
  return undefined;
}

/**
 * The reshapes of one model, prepared at load: `toModel` turns a request's checked inputs into
 * what the model sees, `toWire` the model's outputs into what the client gets. Only reshaped
 * tensors are touched (a new shape, the same data); without reshapes both return their argument.
 */
export class Reshapes {
  /** Whether the model declares any reshape; when not, nothing needs calling. */
  readonly any: boolean;
  private readonly inputs: ReadonlyMap<string, TensorSpec>;
  private readonly outputs: ReadonlyMap<string, TensorSpec>;
  private readonly batching: boolean;

  constructor(io: IOSpec) {
    const reshaped = (specs: readonly TensorSpec[]) => new Map(specs.filter((spec) => spec.reshape !== undefined).map((spec) => [spec.name, spec]));
    this.inputs = reshaped(io.inputs);
    this.outputs = reshaped(io.outputs);
    this.any = this.inputs.size > 0 || this.outputs.size > 0;
    this.batching = io.maxBatchSize > 0;
  }

  toModel(tensors: readonly Tensor[]): readonly Tensor[] {
    if (this.inputs.size === 0) return tensors;
    return tensors.map((tensor) => {
      const spec = this.inputs.get(tensor.name);
      return spec ? { ...tensor, shape: reshapeDims(tensor.shape, spec.dims, spec.reshape!, this.batching) } : tensor;
    });
  }

  toWire(tensors: Tensor[]): Tensor[] {
    if (this.outputs.size === 0) return tensors;
    return tensors.map((tensor) => {
      const spec = this.outputs.get(tensor.name);
      if (!spec) return tensor;
      const from = spec.reshape!;
      if (tensor.shape.length !== from.length + (this.batching ? 1 : 0)) {
        throw new InferenceError(
          'INTERNAL',
          `output '${tensor.name}' has shape ${formatShape(tensor.shape)}, but its reshape is ${formatShape(from)}${this.batching ? ' after the batch dimension' : ''}`,
        );
      }
      return { ...tensor, shape: reshapeDims(tensor.shape, from, spec.dims, this.batching) };
    });
  }
}
