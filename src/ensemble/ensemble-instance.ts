// An ensemble's "instance": runs the step graph for each request, every step a call into its
// model through the repository's in-process way (so each step model counts its own
// statistics and applies its own scheduling), tensors passed by name in memory.
import { dictionary } from '../dictionary.js';
import type { RequestSignal } from '../cancellation.js';
import { InferenceError, errorMessage } from '../errors.js';
import type { AvailabilityListener, ExecutionJob, ExecutionOutput, ModelCaller, ModelInstance } from '../model/index.js';
import type { Tensor } from '../tensor/index.js';
import { describeStep, missingInputs, runnableSteps, type EnsemblePlan, type EnsembleStep } from './graph.js';

export interface EnsembleInstanceOptions {
  readonly plan: EnsemblePlan;
  readonly models: ModelCaller;
  /** config.pbtxt metric_tags, for monitoring events. */
  readonly labels: Readonly<Record<string, string>>;
  /** Told when the version unloads (the repository stops tracking the step models for it). */
  readonly onUnload?: () => void;
}

/** A step's failure, naming the ensemble, the step and its model; the step's code is kept. */
function stepError(plan: EnsemblePlan, step: EnsembleStep, err: unknown): InferenceError {
  const code = err instanceof InferenceError ? err.code : 'INTERNAL';
  return new InferenceError(code, `ensemble '${plan.name}' ${describeStep(step)} failed: ${errorMessage(err)}`, { cause: err });
}

export class EnsembleInstance implements ModelInstance {
  readonly label = 'ensemble';
  readonly modelClass = 'Ensemble';
  private listener: AvailabilityListener | undefined;
  private available = true;

  constructor(private readonly options: EnsembleInstanceOptions) {}

  watch(listener: AvailabilityListener): void {
    this.listener = listener;
  }

  /** The repository's word on the step models: ready only while every one is. */
  setAvailable(available: boolean, reason: string): void {
    if (available === this.available) return;
    this.available = available;
    this.listener?.(available, reason);
  }

  /**
   * Starts every step whose inputs exist, and on each step's answer the steps it unblocked,
   * so that independent branches run at once. The first failure aborts the steps still
   * running and fails the request.
   */
  run(job: ExecutionJob, signal: RequestSignal): Promise<ExecutionOutput> {
    const { plan, models } = this.options;
    const tensors = new Map<string, Tensor>(job.tensors.map((tensor) => [tensor.name, tensor]));
    const started = new Set<number>();
    const callers = [...(job.callers ?? []), plan.name];
    const steps = new AbortController();
    const forward = (): void => steps.abort(signal.reason);
    signal.addEventListener('abort', forward, { once: true });
    return new Promise<ExecutionOutput>((resolve, reject) => {
      let running = 0;
      let failed = false;
      const fail = (err: InferenceError): void => {
        if (failed) return;
        failed = true;
        steps.abort(err);
        reject(err);
      };
      const finish = (): void => {
        if (started.size < plan.steps.length) {
          const missing = missingInputs(plan, tensors, started);
          fail(new InferenceError('INVALID_ARGUMENT', `ensemble '${plan.name}': the request lacks input(s) ${missing.map((m) => `'${m}'`).join(', ')} that steps need`));
          return;
        }
        resolve({
          outputs: plan.outputs.map((name) => tensors.get(name) as Tensor),
          parameters: dictionary(),
          metrics: dictionary(),
          labels: this.options.labels,
        });
      };
      const launch = (): void => {
        for (const step of runnableSteps(plan, tensors, started)) {
          started.add(step.index);
          running++;
          const inputs = step.inputs.map(([input, tensor]): Tensor => ({ ...(tensors.get(tensor) as Tensor), name: input }));
          models
            .infer(step.model, inputs, {
              version: step.version,
              signal: steps.signal,
              outputs: step.outputs.map(([output]) => output),
              id: job.id,
              callers,
            })
            .then(
              (result) => {
                running--;
                if (failed) return;
                for (const [output, tensor] of step.outputs) {
                  const produced = result.tensors[output];
                  if (!produced) {
                    fail(stepError(plan, step, new InferenceError('INTERNAL', `the model returned no output '${output}'`)));
                    return;
                  }
                  tensors.set(tensor, { ...produced, name: tensor });
                }
                launch();
              },
              (err: unknown) => {
                running--;
                fail(stepError(plan, step, err));
              },
            );
        }
        if (running === 0 && !failed) finish();
      };
      launch();
    }).finally(() => signal.removeEventListener('abort', forward));
  }

  unload(): Promise<void> {
    this.options.onUnload?.();
    return Promise.resolve();
  }
}
