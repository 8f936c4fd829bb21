import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { findPlantedV2serve } from '../../src/model-imports/planted-copy.js';
import { PROJECT_ROOT } from '../helpers/server.js';

const SERVER_VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('findPlantedV2serve', () => {
  const base = mkdtempSync(join(tmpdir(), 'v2serve-planted-'));
  after(() => rmSync(base, { recursive: true, force: true }));

  /** `<case>/repository`, with a v2serve package.json (or a link) in `<case>/<at>/node_modules/v2serve`. */
  function layout(name: string, plant: { at: string; manifest?: string; link?: string }[]): string {
    const dir = join(base, name);
    const repository = join(dir, 'repository');
    mkdirSync(repository, { recursive: true });
    for (const { at, manifest, link } of plant) {
      const modules = join(dir, at, 'node_modules');
      mkdirSync(modules, { recursive: true });
      if (link) {
        symlinkSync(link, join(modules, 'v2serve'), 'dir');
      } else {
        mkdirSync(join(modules, 'v2serve'));
        writeFileSync(join(modules, 'v2serve', 'package.json'), manifest ?? '');
      }
    }
    return repository;
  }
  const version = (v: string) => JSON.stringify({ name: 'v2serve', version: v });

  test('another version above the repository is found, with its path and version', () => {
    const repository = layout('above', [{ at: '.', manifest: version('0.0.1-planted') }]);
    assert.deepEqual(findPlantedV2serve(repository), { path: join(base, 'above', 'node_modules', 'v2serve'), version: '0.0.1-planted' });
  });

  test("another version in the repository's own node_modules is found", () => {
    const repository = layout('inside', [{ at: 'repository', manifest: version('9.9.9') }]);
    assert.equal(findPlantedV2serve(repository)?.version, '9.9.9');
  });

  test('a link to the running server is not a planted copy', () => {
    assert.equal(findPlantedV2serve(layout('link', [{ at: '.', link: PROJECT_ROOT }])), undefined);
  });

  test("a copy of the server's own version is not reported", () => {
    assert.equal(findPlantedV2serve(layout('same', [{ at: '.', manifest: version(SERVER_VERSION) }])), undefined);
  });

  test('the nearest node_modules decides, as in Node: the server linked in the repository hides another version above it', () => {
    const hidden = layout('nearest', [
      { at: 'repository', link: PROJECT_ROOT },
      { at: '.', manifest: version('0.0.1-planted') },
    ]);
    assert.equal(findPlantedV2serve(hidden), undefined);
  });

  test('an unreadable package.json is reported as of an unknown version', () => {
    const repository = layout('broken', [{ at: '.', manifest: '{ not json' }]);
    assert.match(findPlantedV2serve(repository)?.version ?? '', /^unknown/);
  });
});
