// README.md and docs/*.md: every relative link reaches a file, every #anchor a heading of the
// page it names (GitHub's slugs), and the README links every page of docs/.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCS = join(ROOT, 'docs');
const PAGES = [join(ROOT, 'README.md'), ...readdirSync(DOCS).filter((name) => name.endsWith('.md')).map((name) => join(DOCS, name))];

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const HEADING = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
// A code span: a run of backticks, anything, the same run again.
const CODE_SPAN = /(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g;
const LINK = /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/** The lines of a markdown text outside fenced code blocks (whose `#` lines are not headings). */
function proseLines(text: string): string[] {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of text.split('\n')) {
    const opening = FENCE.exec(line)?.[1];
    if (fence === undefined) {
      if (opening === undefined) lines.push(line);
      else fence = opening;
    } else if (opening !== undefined && opening[0] === fence[0] && opening.length >= fence.length && line.trim() === opening) {
      fence = undefined;
    }
  }
  return lines;
}

/** GitHub's anchor for a heading: lowercase, punctuation but hyphens and spaces dropped, spaces as hyphens. */
function githubSlug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\p{M}\p{Pc}\- ]/gu, '').replace(/ /g, '-');
}

/** The anchors of a page's headings; a repeated slug gets -1, -2… as on GitHub. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of proseLines(text)) {
    const heading = HEADING.exec(line)?.[1];
    if (heading === undefined) continue;
    const slug = githubSlug(heading);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

/** Link targets outside code: paragraph by paragraph, so a link or code span may wrap a line. */
function linkTargets(text: string): string[] {
  const paragraphs = proseLines(text).join('\n').split(/\n[ \t]*\n/);
  return paragraphs.flatMap((paragraph) => [...paragraph.replace(CODE_SPAN, '').matchAll(LINK)].map((match) => match[1]!));
}

/** The relative links of `file` (whose text is `text`) that reach no file or no heading. */
function brokenLinks(file: string, text: string): string[] {
  const broken: string[] = [];
  for (const target of linkTargets(text)) {
    if (SCHEME.test(target)) continue;
    const [path = '', anchor] = target.split('#', 2);
    const destination = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
    const name = `${relative(ROOT, file)}: ${target}`;
    if (path !== '' && !existsSync(destination)) {
      broken.push(`${name} (no such file)`);
    } else if (anchor !== undefined && destination.endsWith('.md')) {
      const destinationText = destination === file ? text : readFileSync(destination, 'utf8');
      if (!anchors(destinationText).has(decodeURIComponent(anchor))) broken.push(`${name} (no such heading)`);
    }
  }
  return broken;
}

describe('docs links', () => {
  test('slugs - GitHub drops punctuation but hyphens, lowercases and turns spaces into hyphens', () => {
    assert.equal(githubSlug('Hooks around a graph: `OnnxModel`'), 'hooks-around-a-graph-onnxmodel');
    assert.equal(githubSlug('Pipelines: ensembles and model calls'), 'pipelines-ensembles-and-model-calls');
    assert.equal(githubSlug('HTTP/REST'), 'httprest');
    assert.equal(githubSlug('Set-up (once)'), 'set-up-once');
    assert.deepEqual([...anchors('# A\n```\n# not a heading\n```\n## A\n### B ##\n')], ['a', 'a-1', 'b']);
  });

  test('the checker reports a missing file and a missing heading, and ignores links in code', () => {
    const page = join(DOCS, 'example.md');
    const text = [
      '# Own heading',
      'See [here](#own-heading), [the flags](flags.md), [gone](missing.md) and',
      '[a wrapped',
      'link](flags.md#no-such-heading), `[in code](nowhere.md)`, [the web](https://example.com/x.md#y).',
      '```',
      '[in a block](nowhere.md)',
      '```',
    ].join('\n');
    assert.deepEqual(brokenLinks(page, text), [
      'docs/example.md: missing.md (no such file)',
      'docs/example.md: flags.md#no-such-heading (no such heading)',
    ]);
  });

  test('every relative link of README.md and docs/*.md reaches a file, and its anchor a heading', () => {
    const broken = PAGES.flatMap((page) => brokenLinks(page, readFileSync(page, 'utf8')));
    assert.deepEqual(broken, []);
  });

  test('the README links every page of docs/', () => {
    const readme = join(ROOT, 'README.md');
    const linked = new Set(linkTargets(readFileSync(readme, 'utf8')).map((target) => resolve(ROOT, target.split('#')[0]!)));
    assert.deepEqual(PAGES.filter((page) => page !== readme && !linked.has(page)).map((page) => relative(ROOT, page)), []);
  });
});
