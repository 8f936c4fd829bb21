// The text generator's language model: word trigrams counted over one text, with back-off to
// shorter contexts. Pure: training (tools/train-textgen.ts) and generation (model.ts) share
// the tokenizer and the table's format from here, and the tests run both without a server.

/** Tokens of context a prediction looks at, at most: two, so the table holds trigrams. */
export const CONTEXT = 2;

/** Where a text starts: the context of its first token. No token's key can be it (`<` is a token of its own). */
export const START = '<s>';

/** The token id that ends a text: generation stops when it is chosen. */
export const END = 0;

/** The table as stored in ngrams.json. */
export interface NgramTable {
  readonly format: 'v2serve-ngram-1';
  readonly context: number;
  /** Every token, with the whitespace before it; index = id, id 0 is END (''). */
  readonly tokens: readonly string[];
  /**
   * For each context (the keys of up to CONTEXT tokens before, space-separated; '' for none),
   * the tokens seen after it as `[id, count, id, count, …]`, most frequent first, ties by id.
   */
  readonly next: readonly (readonly [string, readonly number[]])[];
}

/** A table ready to generate from. */
export interface NgramModel {
  readonly tokens: readonly string[];
  readonly next: ReadonlyMap<string, readonly number[]>;
}

/** A word (with inner apostrophes), a number, `--`, or any other single non-space character. */
const TOKEN = /(\s*)([A-Za-z]+(?:'[A-Za-z]+)*|\d+|--|[^\sA-Za-z\d])/g;

/** The whitespace before a token, reduced to what the generated text keeps of it. */
function spacing(whitespace: string): string {
  if (whitespace === '') return '';
  const newlines = whitespace.split('\n').length - 1;
  return newlines === 0 ? ' ' : newlines === 1 ? '\n' : '\n\n';
}

/** The tokens of `text`, each with the (normalised) whitespace before it; trailing whitespace is dropped. */
export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  for (const match of text.matchAll(TOKEN)) tokens.push(spacing(match[1]!) + match[2]!);
  return tokens;
}

/** What a token is looked up by: its text without the whitespace before it, lower-cased. */
export function keyOf(token: string): string {
  return token.trimStart().toLowerCase();
}

/** Counts every token of `text` after each of its contexts of 0..CONTEXT tokens. Same text, same table. */
export function trainNgrams(text: string): NgramTable {
  const ids = new Map<string, number>([['', END]]);
  const tokens: string[] = [''];
  const idOf = (token: string): number => {
    let id = ids.get(token);
    if (id === undefined) {
      id = tokens.length;
      ids.set(token, id);
      tokens.push(token);
    }
    return id;
  };
  const sequence = tokenize(text);
  const keys = [START, ...sequence.map(keyOf)];
  const targets = [...sequence.map(idOf), END];
  // Contexts in order of first appearance, each with its followers' counts in a Map (insertion order = id order seen).
  const counts = new Map<string, Map<number, number>>();
  for (let i = 0; i < targets.length; i++) {
    // keys[i] is the token just before targets[i] (START before the first).
    for (let n = 0; n <= CONTEXT && n <= i + 1; n++) {
      const context = keys.slice(i + 1 - n, i + 1).join(' ');
      let followers = counts.get(context);
      if (followers === undefined) counts.set(context, (followers = new Map()));
      followers.set(targets[i]!, (followers.get(targets[i]!) ?? 0) + 1);
    }
  }
  const next = [...counts].map(([context, followers]): [string, number[]] => [
    context,
    [...followers]
      .sort(([idA, countA], [idB, countB]) => countB - countA || idA - idB)
      .flat(),
  ]);
  return { format: 'v2serve-ngram-1', context: CONTEXT, tokens, next };
}

/** The table as ngrams.json holds it: one context per line, so that a retraining's diff reads. */
export function tableJson(table: NgramTable): string {
  const next = table.next.map((entry) => `    ${JSON.stringify(entry)}`).join(',\n');
  return `{\n  "format": ${JSON.stringify(table.format)},\n  "context": ${table.context},\n  "tokens": ${JSON.stringify(table.tokens)},\n  "next": [\n${next}\n  ]\n}\n`;
}

/** Checks a parsed ngrams.json and indexes it; a malformed table says what is wrong. */
export function readNgramTable(value: unknown): NgramModel {
  const table = value as Partial<NgramTable> | null;
  if (table?.format !== 'v2serve-ngram-1' || table.context !== CONTEXT) {
    throw new Error(`not a v2serve-ngram-1 table with a context of ${CONTEXT} tokens`);
  }
  const { tokens, next } = table;
  if (!Array.isArray(tokens) || tokens[END] !== '' || !tokens.every((t) => typeof t === 'string')) throw new Error("'tokens' must be strings, the first ''");
  if (!Array.isArray(next)) throw new Error("'next' must be a list of [context, followers]");
  const byContext = new Map<string, readonly number[]>();
  for (const [context, followers] of next) {
    const valid =
      typeof context === 'string' &&
      Array.isArray(followers) &&
      followers.length > 0 &&
      followers.length % 2 === 0 &&
      followers.every((n, i) => Number.isSafeInteger(n) && (i % 2 === 0 ? n >= 0 && n < tokens.length : n > 0));
    if (!valid) throw new Error(`context '${String(context)}': followers must be [id, count, …] pairs of known ids and positive counts`);
    byContext.set(context, followers);
  }
  if (!byContext.has('')) throw new Error("the table has no empty context (the unigram counts)");
  return { tokens, next: byContext };
}

export interface GenerationOptions {
  /** Tokens to generate at most; fewer when the model ends the text. */
  readonly maxTokens: number;
  /** 0: always the most frequent follower (greedy); above 0: sampled, flatter as it grows. */
  readonly temperature: number;
  /** Seeds the sampler when temperature > 0: the same seed gives the same text. */
  readonly seed: number;
}

/** A 32-bit PRNG (mulberry32): small, fast and the same on every platform. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The followers of the longest context of `keys`' last tokens that the table knows. */
function followersOf(model: NgramModel, keys: readonly string[]): readonly number[] {
  for (let n = Math.min(CONTEXT, keys.length); n > 0; n--) {
    const followers = model.next.get(keys.slice(keys.length - n).join(' '));
    if (followers !== undefined) return followers;
  }
  return model.next.get('') as readonly number[];
}

/** Picks a follower: the first (most frequent) at temperature 0, else one drawn with weight count^(1/temperature). */
function choose(followers: readonly number[], temperature: number, random: () => number): number {
  if (temperature === 0 || followers.length === 2) return followers[0]!;
  // In log space relative to the largest count: no overflow however small the temperature.
  const top = Math.log(followers[1]!);
  const weights: number[] = [];
  let total = 0;
  for (let i = 1; i < followers.length; i += 2) {
    const weight = Math.exp((Math.log(followers[i]!) - top) / temperature);
    weights.push(weight);
    total += weight;
  }
  let draw = random() * total;
  for (let i = 0; i < weights.length; i++) {
    draw -= weights[i]!;
    if (draw < 0) return followers[2 * i]!;
  }
  return followers[followers.length - 2]!;
}

/** The tokens that continue `prompt`, one at a time; each carries the whitespace before it. */
export function* generate(model: NgramModel, prompt: string, options: GenerationOptions): Generator<string, void, undefined> {
  const keys = [START, ...tokenize(prompt).map(keyOf)];
  const random = seededRandom(options.seed);
  for (let produced = 0; produced < options.maxTokens; produced++) {
    const id = choose(followersOf(model, keys), options.temperature, random);
    if (id === END) return;
    const token = model.tokens[id]!;
    keys.push(keyOf(token));
    yield token;
  }
}
