import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ModelConfig } from '../../generated/model_config.js';
import { parseConfigText } from '../../src/repository/index.js';
import { checkStepIO, ensembleLoop, ensemblePlan, missingInputs, runnableSteps, stepModels } from '../../src/ensemble/index.js';

/** An ensemble config: IN → (steps as given) → OUT. */
function config(steps: string, io = 'input [ { name: "IN" data_type: TYPE_INT32 dims: [ 1 ] } ]\noutput [ { name: "OUT" data_type: TYPE_INT32 dims: [ 1 ] } ]'): ModelConfig {
  return { ...parseConfigText(`platform: "ensemble"\n${io}\nensemble_scheduling { ${steps} }`, 'config.pbtxt'), name: 'e' };
}

const step = (model: string, inputs: Record<string, string>, outputs: Record<string, string>, version = '') =>
  `step { model_name: "${model}" ${version ? `model_version: ${version}` : ''} ${Object.entries(inputs)
    .map(([k, v]) => `input_map { key: "${k}" value: "${v}" }`)
    .join(' ')} ${Object.entries(outputs)
    .map(([k, v]) => `output_map { key: "${k}" value: "${v}" }`)
    .join(' ')} }`;

const DIAMOND = config(
  [
    step('split', { X: 'IN' }, { A: 'left_in', B: 'right_in' }),
    step('left', { X: 'left_in' }, { Y: 'left_out' }),
    step('right', { X: 'right_in' }, { Y: 'right_out' }),
    step('join', { A: 'left_out', B: 'right_out' }, { Y: 'OUT' }),
  ].join(' '),
);

describe('ensemblePlan', () => {
  test('reads steps with their maps and pinned versions', () => {
    const plan = ensemblePlan(config(step('m', { X: 'IN' }, { Y: 'OUT' }, '2')));
    assert.deepEqual(plan.steps, [{ index: 0, model: 'm', version: '2', inputs: [['X', 'IN']], outputs: [['Y', 'OUT']] }]);
    assert.deepEqual([plan.inputs, plan.outputs], [['IN'], ['OUT']]);
  });

  const refused: [string, ModelConfig, RegExp][] = [
    ['no step', config(''), /ensemble_scheduling has no step/],
    ['a step without model_name', config('step { input_map { key: "X" value: "IN" } output_map { key: "Y" value: "OUT" } }'), /step 0 has no model_name/],
    ['an empty input_map', config('step { model_name: "m" output_map { key: "Y" value: "OUT" } }'), /step 0 \(model 'm'\) has an empty input_map/],
    ['an empty output_map', config('step { model_name: "m" input_map { key: "X" value: "IN" } }'), /step 0 \(model 'm'\) has an empty output_map/],
    [
      'a step reading a tensor nothing produces',
      config(step('m', { X: 'IN', Z: 'nowhere' }, { Y: 'OUT' })),
      /step 0 \(model 'm'\) input 'Z' reads tensor 'nowhere', which no step produces/,
    ],
    ['an output no step produces', config(step('m', { X: 'IN' }, { Y: 'other' })), /output 'OUT' is produced by no step/],
    [
      'a tensor written twice',
      config([step('a', { X: 'IN' }, { Y: 'OUT' }), step('b', { X: 'IN' }, { Y: 'OUT' })].join(' ')),
      /step 1 \(model 'b'\) writes tensor 'OUT', which the output of step 0 \(model 'a'\) already is/,
    ],
    [
      'a step overwriting an ensemble input',
      config([step('a', { X: 'IN' }, { Y: 'IN' }), step('b', { X: 'IN' }, { Y: 'OUT' })].join(' ')),
      /writes tensor 'IN', which an ensemble input already is/,
    ],
    [
      'steps waiting on each other',
      config([step('a', { X: 'IN', Z: 't2' }, { Y: 't1' }), step('b', { X: 't1' }, { Y: 't2' }), step('c', { X: 'IN' }, { Y: 'OUT' })].join(' ')),
      /step 0 \(model 'a'\), step 1 \(model 'b'\) wait on each other's outputs/,
    ],
    ['no declared outputs', config(step('m', { X: 'IN' }, { Y: 'OUT' }), 'input [ { name: "IN" data_type: TYPE_INT32 dims: [ 1 ] } ]'), /must declare its inputs and outputs/],
  ];
  for (const [what, bad, message] of refused) {
    test(`refuses ${what}`, () => {
      assert.throws(() => ensemblePlan(bad), { name: 'InferenceError', code: 'INVALID_ARGUMENT', message });
    });
  }
});

describe('runnableSteps', () => {
  const plan = ensemblePlan(DIAMOND);
  const names = (steps: { model: string }[]) => steps.map((s) => s.model);
  const table: [string, string[], number[], string[]][] = [
    ['only the ensemble inputs: the first step', ['IN'], [], ['split']],
    ['after the split: both branches at once', ['IN', 'left_in', 'right_in'], [0], ['left', 'right']],
    ['one branch done: the join still waits', ['IN', 'left_in', 'right_in', 'left_out'], [0, 1, 2], []],
    ['both branches done: the join', ['IN', 'left_in', 'right_in', 'left_out', 'right_out'], [0, 1, 2], ['join']],
    ['everything started: nothing', ['IN', 'left_in', 'right_in', 'left_out', 'right_out'], [0, 1, 2, 3], []],
    ['no inputs: nothing', [], [], []],
  ];
  for (const [what, available, started, expected] of table) {
    test(what, () => {
      assert.deepEqual(names(runnableSteps(plan, new Set(available), new Set(started))), expected);
    });
  }

  test('missingInputs names the ensemble inputs steps still wait for', () => {
    assert.deepEqual(missingInputs(plan, new Set<string>(), new Set<number>()), ['IN']);
  });
});

describe('stepModels and checkStepIO', () => {
  test('lists each step model once, in step order', () => {
    const plan = ensemblePlan(config([step('m', { X: 'IN' }, { Y: 't' }), step('m', { X: 't' }, { Y: 'OUT' })].join(' ')));
    assert.deepEqual(stepModels(plan), [{ model: 'm', version: '' }]);
  });

  const plan = ensemblePlan(config(step('m', { X: 'IN' }, { Y: 'OUT' })));
  const io = (inputs: string[], outputs: string[]) => ({
    maxBatchSize: 0,
    inputs: inputs.map((name) => ({ name, datatype: 'INT32' as const, dims: [1] })),
    outputs: outputs.map((name) => ({ name, datatype: 'INT32' as const, dims: [1] })),
  });
  const table: [string, ReturnType<typeof io>, RegExp | undefined][] = [
    ['maps matching the model pass', io(['X'], ['Y']), undefined],
    ['a model declaring nothing takes any map', io([], []), undefined],
    ['an input the model lacks', io(['W'], ['Y']), /input_map names input 'X', which the model does not have/],
    ['an output the model lacks', io(['X'], ['Z']), /output_map names output 'Y', which the model does not have/],
    ['a required input left unfed', io(['X', 'W'], ['Y']), /input_map does not feed the model's input 'W'/],
  ];
  for (const [what, spec, message] of table) {
    test(what, () => {
      const check = () => checkStepIO(plan, plan.steps[0]!, spec);
      if (message) assert.throws(check, { code: 'INVALID_ARGUMENT', message });
      else assert.doesNotThrow(check);
    });
  }
});

describe('ensembleLoop', () => {
  // Ensemble 'e' runs model 'a'; the table gives the other models' step models.
  const plan = ensemblePlan(config(step('a', { X: 'IN' }, { Y: 'OUT' })));
  const table: [string, Record<string, string[]>, string | undefined][] = [
    ['a step model that is no ensemble: no loop', {}, undefined],
    ['a step ensemble that runs this one: the loop', { a: ['e'] }, 'e → a → e'],
    ['a loop through two step ensembles', { a: ['b'], b: ['c', 'e'] }, 'e → a → b → e'],
    ['a loop among step ensembles that leaves this one out: not its to report', { a: ['b'], b: ['a'] }, undefined],
    ['step ensembles sharing a step model: no loop', { a: ['b', 'c'], b: ['d'], c: ['d'] }, undefined],
  ];
  for (const [what, steps, expected] of table) {
    test(what, () => {
      assert.equal(ensembleLoop(plan, (model) => steps[model] ?? []), expected);
    });
  }
});
