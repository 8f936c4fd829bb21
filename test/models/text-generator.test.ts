// The bundled text generator's language model: its text, the training that made ngrams.json,
// and generation. Served, it is test/integration/http-generate.test.ts's.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { END, generate, keyOf, readNgramTable, seededRandom, tableJson, tokenize, trainNgrams } from '../../models/text_generator/1/ngram.ts';

const path = (relative: string): string => fileURLToPath(new URL(`../../${relative}`, import.meta.url));
const text = readFileSync(path('data/declaration/declaration.txt'), 'utf8');
const model = readNgramTable(JSON.parse(readFileSync(path('models/text_generator/1/ngrams.json'), 'utf8')));
const run = (prompt: string, options: Partial<{ maxTokens: number; temperature: number; seed: number }> = {}): string[] => [
  ...generate(model, prompt, { maxTokens: 40, temperature: 0, seed: 0, ...options }),
];

describe('text generator data', () => {
  test('the Declaration of Independence as the National Archives transcribe it', () => {
    assert.equal(createHash('sha256').update(text).digest('hex'), '1bbea12b9912793486e3c24950a4a5fb571e75ea6b140beaa8579f8e34050749');
    assert.ok(text.startsWith('In Congress, July 4, 1776\n\nThe unanimous Declaration'));
    assert.ok(text.endsWith('our Lives, our Fortunes and our sacred Honor.\n'));
  });
});

describe('tokenizer', () => {
  test('words, numbers and marks, each with the whitespace before it reduced to one space, one newline or a blank line', () => {
    assert.deepEqual(tokenize("Nature's God--That  4,\n\nHe &\nx "), ["Nature's", ' God', '--', 'That', ' 4', ',', '\n\nHe', ' &', '\nx']);
    assert.deepEqual(tokenize(''), []);
    assert.deepEqual(tokenize(' \n '), []);
  });

  test('a token is looked up by its lower-cased text', () => {
    assert.equal(keyOf('\n\nHe'), 'he');
    assert.equal(keyOf(' Laws'), 'laws');
  });
});

describe('training', () => {
  test('the same text gives the same table, byte for byte, and it is the shipped ngrams.json', () => {
    const first = tableJson(trainNgrams(text));
    assert.equal(tableJson(trainNgrams(text)), first);
    assert.equal(readFileSync(path('models/text_generator/1/ngrams.json'), 'utf8'), first, 'run npm run train-textgen');
  });

  test('counts followers by context, most frequent first, and ends the text with END', () => {
    const table = trainNgrams('a b a b a c');
    const next = new Map(table.next);
    const id = (token: string): number => table.tokens.indexOf(token);
    assert.deepEqual(next.get(''), [id(' b'), 2, id(' a'), 2, END, 1, id('a'), 1, id(' c'), 1]);
    assert.deepEqual(next.get('a'), [id(' b'), 2, id(' c'), 1]);
    assert.deepEqual(next.get('b a'), [id(' b'), 1, id(' c'), 1]);
    assert.deepEqual(next.get('a c'), [END, 1]);
    assert.deepEqual(next.get('<s>'), [id('a'), 1]);
  });

  test('a malformed table is refused with the reason', () => {
    assert.throws(() => readNgramTable({ format: 'other' }), /not a v2serve-ngram-1 table/);
    const good = trainNgrams('a b');
    assert.throws(() => readNgramTable({ ...good, next: [['a', [99, 1]]] }), /context 'a': followers must be/);
    assert.throws(() => readNgramTable({ ...good, next: [['a', [1, 1]]] }), /no empty context/);
  });
});

describe('generation', () => {
  test('greedy (temperature 0) continues the text as it was most often continued, and is the same every time', () => {
    assert.equal(run('We hold these', { maxTokens: 8 }).join(''), ' truths to be the ruler of a free');
    assert.deepEqual(run('He has'), run('He has'));
  });

  test('an empty prompt starts where the text starts; the end of the text stops generation before max_tokens', () => {
    assert.equal(run('', { maxTokens: 7 }).join(''), 'In Congress, July 4, 1776');
    const ending = run('our sacred', { maxTokens: 10 });
    assert.deepEqual(ending, [' Honor', '.']);
  });

  test('max_tokens bounds the tokens; 0 gives none', () => {
    assert.equal(run('He has', { maxTokens: 3 }).length, 3);
    assert.deepEqual(run('He has', { maxTokens: 0 }), []);
  });

  test('a prompt of unknown words backs off to shorter contexts instead of failing', () => {
    assert.equal(run('zzz qqq', { maxTokens: 5 }).length, 5);
  });

  test('sampling (temperature > 0) is the same for the same seed and differs across seeds', () => {
    const options = { maxTokens: 30, temperature: 1.5 };
    assert.deepEqual(run('He has', { ...options, seed: 7 }), run('He has', { ...options, seed: 7 }));
    const texts = new Set([1, 2, 3, 4, 5].map((seed) => run('He has', { ...options, seed }).join('')));
    assert.ok(texts.size > 1, 'five seeds gave one text');
  });

  test('the seeded random numbers are in [0, 1) and repeat for a seed', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    for (let i = 0; i < 1000; i++) {
      const x = a();
      assert.equal(x, b());
      assert.ok(x >= 0 && x < 1);
    }
  });
});
