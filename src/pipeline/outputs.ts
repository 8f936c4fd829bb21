// Which outputs a request gets: checked against the model's declared outputs before it
// runs, selected from what it produced after.
import { InferenceError } from '../errors.js';
import type { RequestedOutput } from '../model/index.js';
import type { IOSpec, Tensor } from '../tensor/index.js';

/** A requested output named twice, or not declared by a model that declares its outputs, is the client's error. */
export function checkRequestedOutputs(requested: readonly RequestedOutput[], io: IOSpec, model: string): void {
  if (requested.length === 0) return;
  const seen = new Set<string>();
  for (const [i, output] of requested.entries()) {
    if (seen.has(output.name)) {
      throw InferenceError.invalidArgument(`outputs[${i}]`, `output '${output.name}' already exists in request`);
    }
    seen.add(output.name);
    if (io.outputs.length > 0 && !io.outputs.some((spec) => spec.name === output.name)) {
      throw InferenceError.invalidArgument(`outputs[${i}]`, `unexpected inference output '${output.name}' for model '${model}'`);
    }
  }
}

/**
 * The requested outputs in the order asked for; all of them when none was asked for,
 * and then every declared output must be there (a model returning too few is at fault).
 */
export function selectOutputs(produced: Tensor[], requested: readonly RequestedOutput[], model: string, io: IOSpec): Tensor[] {
  if (requested.length === 0) {
    const missing = io.outputs.find((spec) => !spec.optional && !produced.some((t) => t.name === spec.name));
    if (missing) throw new InferenceError('INTERNAL', `model '${model}' did not produce declared output '${missing.name}'`);
    return produced;
  }
  return requested.map((output) => {
    const tensor = produced.find((t) => t.name === output.name);
    if (!tensor) throw new InferenceError('INTERNAL', `model '${model}' did not produce requested output '${output.name}'`);
    return tensor;
  });
}
