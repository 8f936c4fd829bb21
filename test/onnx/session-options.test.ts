// config.pbtxt → SessionOptions, as Triton's onnxruntime backend reads the same fields.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sessionOptionsFromConfig } from '../../src/onnx/index.js';
import { graphOptimizationLevel } from '../../src/onnx/session-options.js';
import { parseConfigText } from '../../src/repository/index.js';

function options(text: string): ReturnType<typeof sessionOptionsFromConfig> {
  return sessionOptionsFromConfig(parseConfigText(`name: "m"\nplatform: "onnxruntime_onnx"\n${text}`, 'config.pbtxt'));
}

function parameter(key: string, value: string): string {
  return `parameters { key: "${key}" value: { string_value: "${value}" } }`;
}

describe('graphOptimizationLevel', () => {
  const table: [number | undefined, string][] = [
    [undefined, 'all'],
    [0, 'all'],
    [-1, 'basic'],
    [1, 'extended'],
    [2, 'disabled'],
    [3, 'all'],
  ];
  for (const [level, expected] of table) {
    test(`level ${String(level)} → '${expected}'`, () => assert.equal(graphOptimizationLevel(level), expected));
  }
});

describe('sessionOptionsFromConfig', () => {
  test('a config without settings leaves threads to onnxruntime, all optimizations on, CPU only', () => {
    assert.deepEqual(options(''), { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
  });

  const table: [string, string, Record<string, unknown>][] = [
    ['intra_op_thread_count', parameter('intra_op_thread_count', '2'), { intraOpNumThreads: 2 }],
    ['inter_op_thread_count', parameter('inter_op_thread_count', '3'), { interOpNumThreads: 3 }],
    ['a thread count of 0 (onnxruntime chooses)', parameter('intra_op_thread_count', '0'), {}],
    ['execution_mode 1', parameter('execution_mode', '1'), { executionMode: 'parallel' }],
    ['execution_mode 0', parameter('execution_mode', '0'), { executionMode: 'sequential' }],
    ['enable_mem_arena false', parameter('enable_mem_arena', 'false'), { enableCpuMemArena: false }],
    ['enable_mem_pattern 1', parameter('enable_mem_pattern', '1'), { enableMemPattern: true }],
    ['optimization graph level 1', 'optimization { graph { level: 1 } }', { graphOptimizationLevel: 'extended' }],
    ['optimization graph level -1', 'optimization { graph { level: -1 } }', { graphOptimizationLevel: 'basic' }],
    ['optimization graph level 2', 'optimization { graph { level: 2 } }', { graphOptimizationLevel: 'disabled' }],
    [
      'a CUDA accelerator',
      'optimization { execution_accelerators { gpu_execution_accelerator [ { name: "cuda" } ] } }',
      { executionProviders: ['cuda', 'cpu'] },
    ],
  ];
  for (const [what, text, expected] of table) {
    test(`${what} → ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(options(text), { executionProviders: ['cpu'], graphOptimizationLevel: 'all', ...expected });
    });
  }

  const failures: [string, string, RegExp][] = [
    ['a negative thread count', parameter('intra_op_thread_count', '-1'), /'parameters.intra_op_thread_count' must be a whole number >= 0, got '-1'/],
    ['a fractional thread count', parameter('inter_op_thread_count', '1.5'), /'parameters.inter_op_thread_count'/],
    ['an empty thread count', parameter('intra_op_thread_count', ''), /'parameters.intra_op_thread_count'/],
    ['execution_mode 2', parameter('execution_mode', '2'), /'parameters.execution_mode' must be 0 \(sequential\) or 1 \(parallel\)/],
    ['enable_mem_arena maybe', parameter('enable_mem_arena', 'maybe'), /'parameters.enable_mem_arena' must be 1\/true or 0\/false, got 'maybe'/],
    [
      'an unknown GPU accelerator',
      'optimization { execution_accelerators { gpu_execution_accelerator [ { name: "warp" } ] } }',
      /names unknown accelerator 'warp'/,
    ],
    [
      'a CPU accelerator (OpenVINO)',
      'optimization { execution_accelerators { cpu_execution_accelerator [ { name: "openvino" } ] } }',
      /cpu_execution_accelerator' names 'openvino'/,
    ],
  ];
  for (const [what, text, message] of failures) {
    test(`${what} is INVALID_ARGUMENT naming the setting`, () => {
      assert.throws(() => options(text), { name: 'InferenceError', code: 'INVALID_ARGUMENT', message });
    });
  }
});
