// The step graph of a Triton ensemble (platform "ensemble", ensemble_scheduling): read from
// the config and checked once at load, then asked, as tensors appear, which steps can run.
// Pure: no I/O, no models; the instance that runs the steps applies its answers.
import type { ModelConfig } from '../../generated/model_config.js';
import { InferenceError } from '../errors.js';
import type { IOSpec } from '../tensor/index.js';

export const ENSEMBLE_PLATFORM = 'ensemble';

/** One step: a model, and how its tensors map to the ensemble's. */
export interface EnsembleStep {
  readonly index: number;
  readonly model: string;
  /** Empty: the model's highest ready version (model_version -1 or unset). */
  readonly version: string;
  /** Step-model input name → ensemble tensor name (input_map). */
  readonly inputs: readonly (readonly [string, string])[];
  /** Step-model output name → ensemble tensor name (output_map). */
  readonly outputs: readonly (readonly [string, string])[];
}

export interface EnsemblePlan {
  readonly name: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly steps: readonly EnsembleStep[];
}

export function isEnsemble(config: ModelConfig): boolean {
  return config.platform === ENSEMBLE_PLATFORM;
}

function invalid(name: string, problem: string): InferenceError {
  return new InferenceError('INVALID_ARGUMENT', `ensemble '${name}': ${problem}`);
}

export function describeStep(step: EnsembleStep): string {
  return `step ${step.index} (model '${step.model}')`;
}

/**
 * The plan of an ensemble's config, checked: at least one step, each naming a model and
 * mapping tensors, every tensor produced once (by an ensemble input or one step's output),
 * every step input and ensemble output produced by something that can run.
 */
export function ensemblePlan(config: ModelConfig): EnsemblePlan {
  const { name } = config;
  const declared = config.ensembleScheduling?.step ?? [];
  if (declared.length === 0) throw invalid(name, 'ensemble_scheduling has no step');
  if (config.input.length === 0 || config.output.length === 0) throw invalid(name, 'an ensemble must declare its inputs and outputs');
  const inputs = config.input.map((input) => input.name);
  const outputs = config.output.map((output) => output.name);
  const steps = declared.map((step, index): EnsembleStep => {
    const where = `step ${index}`;
    if (!step.modelName) throw invalid(name, `${where} has no model_name`);
    if (step.inputMap.size === 0) throw invalid(name, `${where} (model '${step.modelName}') has an empty input_map`);
    if (step.outputMap.size === 0) throw invalid(name, `${where} (model '${step.modelName}') has an empty output_map`);
    return {
      index,
      model: step.modelName,
      version: step.modelVersion > 0n ? String(step.modelVersion) : '',
      inputs: [...step.inputMap],
      outputs: [...step.outputMap],
    };
  });
  const producer = new Map<string, string>(inputs.map((input) => [input, 'an ensemble input']));
  for (const step of steps) {
    for (const [, tensor] of step.outputs) {
      const other = producer.get(tensor);
      if (other) throw invalid(name, `${describeStep(step)} writes tensor '${tensor}', which ${other} already is`);
      producer.set(tensor, `the output of ${describeStep(step)}`);
    }
  }
  for (const step of steps) {
    for (const [input, tensor] of step.inputs) {
      if (!producer.has(tensor)) {
        throw invalid(name, `${describeStep(step)} input '${input}' reads tensor '${tensor}', which no step produces and no ensemble input is`);
      }
    }
  }
  for (const output of outputs) {
    if (!producer.has(output)) throw invalid(name, `output '${output}' is produced by no step`);
  }
  const plan: EnsemblePlan = { name, inputs, outputs, steps };
  checkRunnable(plan);
  return plan;
}

/** Steps whose inputs wait on each other's outputs would never run: refused at load. */
function checkRunnable(plan: EnsemblePlan): void {
  const available = new Set(plan.inputs);
  const started = new Set<number>();
  for (let ready = runnableSteps(plan, available, started); ready.length > 0; ready = runnableSteps(plan, available, started)) {
    for (const step of ready) {
      started.add(step.index);
      for (const [, tensor] of step.outputs) available.add(tensor);
    }
  }
  const stuck = plan.steps.filter((step) => !started.has(step.index));
  if (stuck.length > 0) {
    throw invalid(plan.name, `${stuck.map(describeStep).join(', ')} wait on each other's outputs (a cycle) and would never run`);
  }
}

/** The steps not started yet whose every input tensor is available. */
export function runnableSteps(plan: EnsemblePlan, available: { has(tensor: string): boolean }, started: ReadonlySet<number>): EnsembleStep[] {
  return plan.steps.filter((step) => !started.has(step.index) && step.inputs.every(([, tensor]) => available.has(tensor)));
}

/** The ensemble inputs a step still waits for, to say why a request cannot go on. */
export function missingInputs(plan: EnsemblePlan, available: { has(tensor: string): boolean }, started: ReadonlySet<number>): string[] {
  const missing = new Set<string>();
  for (const step of plan.steps) {
    if (started.has(step.index)) continue;
    for (const [, tensor] of step.inputs) if (!available.has(tensor) && plan.inputs.includes(tensor)) missing.add(tensor);
  }
  return [...missing];
}

/** The models the steps run, each once, in step order. */
export function stepModels(plan: EnsemblePlan): { readonly model: string; readonly version: string }[] {
  const seen = new Set<string>();
  const models: { model: string; version: string }[] = [];
  for (const step of plan.steps) {
    const key = `${step.model}\u0000${step.version}`;
    if (seen.has(key)) continue;
    seen.add(key);
    models.push({ model: step.model, version: step.version });
  }
  return models;
}

/**
 * An ensemble that is, through its step models' own steps, a step of itself: loading it would
 * wait for a model that waits for it. `stepsOf` gives a model's step models (none for a model
 * that is no ensemble). Returns the loop, e.g. "a → b → a".
 */
export function ensembleLoop(plan: EnsemblePlan, stepsOf: (model: string) => readonly string[]): string | undefined {
  const visit = (model: string, path: readonly string[]): string | undefined => {
    if (model === plan.name) return [...path, model].join(' → ');
    // A loop that does not pass through this ensemble is the other ensembles' to report.
    if (path.includes(model)) return undefined;
    for (const step of stepsOf(model)) {
      const found = visit(step, [...path, model]);
      if (found) return found;
    }
    return undefined;
  };
  for (const { model } of stepModels(plan)) {
    const found = visit(model, [plan.name]);
    if (found) return found;
  }
  return undefined;
}

/**
 * A step's maps against the loaded model's inputs and outputs: names it has, and every
 * required input fed. A model that declares no inputs (or outputs) takes any.
 */
export function checkStepIO(plan: EnsemblePlan, step: EnsembleStep, io: IOSpec): void {
  const where = describeStep(step);
  for (const [input] of step.inputs) {
    if (io.inputs.length > 0 && !io.inputs.some((spec) => spec.name === input)) throw invalid(plan.name, `${where} input_map names input '${input}', which the model does not have`);
  }
  for (const [output] of step.outputs) {
    if (io.outputs.length > 0 && !io.outputs.some((spec) => spec.name === output)) throw invalid(plan.name, `${where} output_map names output '${output}', which the model does not have`);
  }
  for (const spec of io.inputs) {
    if (!spec.optional && !step.inputs.some(([input]) => input === spec.name)) {
      throw invalid(plan.name, `${where} input_map does not feed the model's input '${spec.name}'`);
    }
  }
}
