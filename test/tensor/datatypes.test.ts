import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CONFIG_TO_DATATYPE,
  DATATYPE_TO_CONFIG,
  DATATYPES,
  ELEMENT_SIZE,
  elementCount,
  isDatatype,
} from '../../src/tensor/index.js';

describe('datatypes', () => {
  test('the config enum numbers follow model_config.proto', () => {
    assert.equal(DATATYPE_TO_CONFIG.BOOL, 1);
    assert.equal(DATATYPE_TO_CONFIG.FP16, 10);
    assert.equal(DATATYPE_TO_CONFIG.BYTES, 13);
    assert.equal(DATATYPE_TO_CONFIG.BF16, 14);
    assert.equal(CONFIG_TO_DATATYPE[13], 'BYTES');
    assert.equal(CONFIG_TO_DATATYPE[0], undefined);
    for (const d of DATATYPES) assert.equal(CONFIG_TO_DATATYPE[DATATYPE_TO_CONFIG[d]], d);
    assert.deepEqual(new Set(Object.values(DATATYPE_TO_CONFIG)).size, 14);
  });

  test('element sizes, with BYTES variable (0)', () => {
    assert.deepEqual(
      DATATYPES.map((d) => ELEMENT_SIZE[d]),
      [1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8, 2, 0],
    );
  });

  test('isDatatype accepts exactly the 14 protocol strings', () => {
    for (const d of DATATYPES) assert.ok(isDatatype(d));
    for (const s of ['fp32', 'STRING', 'FLOAT', '', 'toString', 'constructor']) assert.equal(isDatatype(s), false);
  });
});

describe('elementCount', () => {
  test('an empty shape is one element', () => assert.equal(elementCount([]), 1));
  test('multiplies the dims', () => assert.equal(elementCount([2, 3, 4]), 24));
  test('any 0 dim gives 0', () => assert.equal(elementCount([2 ** 40, 0, 2 ** 40]), 0));
  test('past 2^53-1 gives Infinity', () => {
    assert.equal(elementCount([2 ** 26, 2 ** 26]), 2 ** 52);
    assert.equal(elementCount([2 ** 27, 2 ** 26]), Infinity); // 2^53 is not safe
    assert.equal(elementCount([2 ** 27, 2 ** 27]), Infinity);
    assert.equal(elementCount([Number.MAX_SAFE_INTEGER, 1]), Number.MAX_SAFE_INTEGER);
    assert.equal(elementCount([Number.MAX_SAFE_INTEGER, 2]), Infinity);
  });
  test('a negative or fractional dim gives NaN', () => {
    assert.ok(Number.isNaN(elementCount([2, -1])));
    assert.ok(Number.isNaN(elementCount([1.5])));
  });
});
