// Triton ensembles: the step graph (pure, checked at load) and the instance that runs it
// through the repository's in-process model calls.
export {
  checkStepIO,
  describeStep,
  ensembleLoop,
  ensemblePlan,
  ENSEMBLE_PLATFORM,
  isEnsemble,
  missingInputs,
  runnableSteps,
  stepModels,
  type EnsemblePlan,
  type EnsembleStep,
} from './graph.js';
export { EnsembleInstance, type EnsembleInstanceOptions } from './ensemble-instance.js';
