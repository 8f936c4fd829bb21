import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import type { DescMessage } from '@bufbuild/protobuf';
import { CONFIG_FIELDS, type ConfigFieldTreatment } from '../../src/repository/config-fields.js';
import { ignoredConfigFields, modelConfigSchema, parseConfigText } from '../../src/repository/model-config.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Every field path reachable from `message`, through message fields, lists and map values. */
function fieldPaths(message: DescMessage, prefix = ''): string[] {
  return message.fields.flatMap((field) => {
    const path = `${prefix}${field.name}`;
    // A message field, a list of messages and a map to messages all name their message here.
    return [path, ...(field.message ? fieldPaths(field.message, `${path}.`) : [])];
  });
}

/** The row docs/model-config.md has for a field. */
function docRow(path: string, entry: ConfigFieldTreatment): string {
  if (entry.treatment !== 'honored') return `| \`${path}\` | ${entry.treatment} | ${entry.why} |`;
  const only = entry.only ? ` Only for ${entry.only.runtimes.join(', ')} models; ignored otherwise: ${entry.only.otherwise}.` : '';
  return `| \`${path}\` | honored | ${entry.how}.${only} |`;
}

function ignoredIn(text: string, runtime = 'nodejs'): string[] {
  return [...ignoredConfigFields(parseConfigText(text, 'config.pbtxt'), runtime).keys()];
}

describe('CONFIG_FIELDS', () => {
  const paths = fieldPaths(modelConfigSchema());

  test('names every field reachable from ModelConfig', () => {
    assert.ok(paths.includes('dynamic_batching.priority_queue_policy.max_queue_size'));
    assert.ok(paths.includes('optimization.cuda.graph_spec.graph_lower_bound.input.dim'));
    assert.deepEqual(
      paths.filter((path) => !CONFIG_FIELDS.has(path)),
      [],
    );
  });

  test('names no field ModelConfig does not have', () => {
    assert.deepEqual(
      [...CONFIG_FIELDS.keys()].filter((path) => !paths.includes(path)),
      [],
    );
  });

  test('docs/model-config.md has each field\'s row, and no other field', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'model-config.md'), 'utf8');
    const rows = doc.split('\n').filter((line) => line.startsWith('| `'));
    const expected = [...CONFIG_FIELDS].map(([path, entry]) => docRow(path, entry));
    assert.deepEqual(rows.filter((row) => !expected.includes(row)), [], 'rows that differ from CONFIG_FIELDS');
    assert.deepEqual(expected.filter((row) => !rows.includes(row)), [], 'rows missing from the page');
  });
});

describe('ignoredConfigFields', () => {
  test('a refused field fails the load naming it', () => {
    assert.throws(() => ignoredIn('model_operations { op_library_filename: [ "libcustom.so" ] }'), {
      name: 'InferenceError',
      code: 'INVALID_ARGUMENT',
      message: /^config field 'model_operations' is not supported \(custom operation libraries are not loaded/,
    });
  });

  test('a refused field under an honored one is named by its whole path', () => {
    assert.throws(() => ignoredIn('max_batch_size: 4 dynamic_batching { preserve_ordering: true }'), {
      message: /config field 'dynamic_batching\.preserve_ordering' is not supported/,
    });
  });

  test('map values are walked by their field paths, keys left out: a priority queue policy is honored', () => {
    const text = 'dynamic_batching { priority_levels: 2 default_priority_level: 1 priority_queue_policy { key: 1 value: { timeout_action: DELAY max_queue_size: 3 } } }';
    assert.deepEqual(ignoredIn(text), []);
  });

  test('every refused field is named at once', () => {
    assert.throws(() => ignoredIn('instance_group [ { passive: true } ] model_operations { op_library_filename: "x.so" }'), {
      message: /'instance_group\.passive'.*; config field 'model_operations'/,
    });
  });

  test('a field at its proto3 default is not set, so it is not refused', () => {
    assert.deepEqual(ignoredIn('max_batch_size: 4 dynamic_batching { preserve_ordering: false } response_cache { enable: false }'), []);
  });

  test('GPU-only fields are returned with why, each once', () => {
    const ignored = ignoredConfigFields(
      parseConfigText('optimization { cuda { graphs: true } } instance_group [ { count: 1 gpus: [ 0 ] }, { gpus: [ 1 ] } ]', 'x'),
      'nodejs',
    );
    assert.deepEqual([...ignored.keys()], ['instance_group.gpus', 'optimization.cuda']);
    assert.match(ignored.get('optimization.cuda')!, /GPU-only/);
  });

  test('KIND_GPU is an ignored value of the honored instance_group.kind, named once', () => {
    const ignored = ignoredConfigFields(parseConfigText('instance_group [ { kind: KIND_GPU }, { kind: KIND_GPU count: 2 }, { kind: KIND_CPU } ]', 'x'), 'nodejs');
    assert.deepEqual([...ignored.keys()], ['instance_group.kind']);
    assert.match(ignored.get('instance_group.kind')!, /^KIND_GPU: GPU-only.*as KIND_CPU/);
    assert.deepEqual(ignoredIn('instance_group [ { kind: KIND_CPU count: 2 } ]'), []);
  });

  test('a field only one runtime honors is ignored on another', () => {
    const text = 'input [ { name: "x" data_type: TYPE_FP32 dims: [ 1 ] reshape: { shape: [ ] } } ] optimization { graph { level: 1 } }';
    assert.deepEqual(ignoredIn(text, 'onnxruntime'), []);
    assert.deepEqual(ignoredIn(text, 'nodejs'), ['optimization.graph']);
  });

  test('instance_group is ignored on an ensemble', () => {
    assert.deepEqual(ignoredIn('platform: "ensemble" instance_group [ { kind: KIND_CPU } ]', 'ensemble'), ['instance_group']);
  });

  test('honored fields, parameters and optional inputs included, are neither returned nor refused', () => {
    const text = `max_batch_size: 8
      input [ { name: "a" data_type: TYPE_INT32 dims: [ 2 ] optional: true } ]
      output [ { name: "b" data_type: TYPE_INT32 dims: [ 2 ] label_filename: "labels.txt" } ]
      dynamic_batching { preferred_batch_size: [ 4 ] max_queue_delay_microseconds: 100 default_queue_policy { max_queue_size: 3 } }
      instance_group [ { name: "g" kind: KIND_CPU count: 2 } ]
      parameters { key: "__proto__" value: { string_value: "1" } }
      version_policy { specific { versions: [ 1 ] } }
      metric_tags { key: "team" value: "a" }`;
    assert.deepEqual(ignoredIn(text), []);
  });

  test('the bundled models set no refused field', () => {
    for (const model of readdirSync(join(ROOT, 'models'))) {
      const file = join(ROOT, 'models', model, 'config.pbtxt');
      const config = parseConfigText(readFileSync(file, 'utf8'), file);
      const runtime = config.platform === 'ensemble' ? 'ensemble' : config.platform === 'onnxruntime_onnx' ? 'onnxruntime' : 'nodejs';
      assert.doesNotThrow(() => ignoredConfigFields(config, runtime), model);
    }
  });
});
