// Counts the bundled text generator's word trigrams over data/declaration/declaration.txt and
// writes them to models/text_generator/1/ngrams.json. Deterministic: running it again rewrites
// the same bytes.
//   npm run train-textgen
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tableJson, trainNgrams } from '../models/text_generator/1/ngram.ts';

const root = (path: string): string => fileURLToPath(new URL(`../${path}`, import.meta.url));

const TEXTGEN_SOURCE = 'data/declaration/declaration.txt';
const TEXTGEN_TABLE = 'models/text_generator/1/ngrams.json';

const table = trainNgrams(readFileSync(root(TEXTGEN_SOURCE), 'utf8'));
const json = tableJson(table);
mkdirSync(dirname(root(TEXTGEN_TABLE)), { recursive: true });
writeFileSync(root(TEXTGEN_TABLE), json);
console.log(`counted ${table.tokens.length - 1} distinct tokens in ${table.next.length} contexts of up to ${table.context} tokens`);
console.log(`wrote ${TEXTGEN_TABLE} (${Buffer.byteLength(json)} bytes)`);
