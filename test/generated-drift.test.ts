import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const COMMITTED = join(ROOT, 'generated');
const BUF = join(ROOT, 'node_modules', '.bin', 'buf');

/** Every file below `dir`, as '/'-separated paths relative to it, sorted. */
function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split('\\').join('/'))
    .sort();
}

/** Runs `npm run generate` (buf generate), writing below `outRoot` instead of the work tree. */
function regenerate(outRoot: string): string {
  execFileSync(BUF, ['generate', '--output', outRoot], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  return join(outRoot, 'generated');
}

describe('generated/', () => {
  test('matches what proto/ and buf.gen.yaml generate', (t) => {
    const tmp = mkdtempSync(join(tmpdir(), 'v2serve-generate-'));
    t.after(() => rmSync(tmp, { recursive: true, force: true }));
    const fresh = regenerate(tmp);

    const expected = listFiles(fresh);
    const actual = listFiles(COMMITTED);
    const missing = expected.filter((f) => !actual.includes(f));
    const extra = actual.filter((f) => !expected.includes(f));
    const differing = expected.filter(
      (f) => actual.includes(f) && !readFileSync(join(fresh, f)).equals(readFileSync(join(COMMITTED, f))),
    );

    const problems = [
      differing.length > 0 ? `differ: ${differing.join(', ')}` : '',
      missing.length > 0 ? `missing: ${missing.join(', ')}` : '',
      extra.length > 0 ? `not generated (extra): ${extra.join(', ')}` : '',
    ].filter((p) => p !== '');
    assert.deepEqual(
      problems,
      [],
      `generated/ is out of date with proto/ (${problems.join('; ')}). ` +
        'Run `npm run generate` and commit generated/.',
    );
  });
});
