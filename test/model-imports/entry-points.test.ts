import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { serverEntryPoints, type PackageManifest } from '../../src/model-imports/entry-points.js';
import { PROJECT_ROOT } from '../helpers/server.js';

describe('serverEntryPoints', () => {
  test("maps this package's exports to 'v2serve' and 'v2serve/onnx', files of the build", () => {
    const manifest = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as PackageManifest;
    assert.deepEqual(
      serverEntryPoints(manifest, PROJECT_ROOT),
      new Map([
        ['v2serve', join(PROJECT_ROOT, 'dist', 'src', 'index.js')],
        ['v2serve/onnx', join(PROJECT_ROOT, 'dist', 'src', 'onnx', 'index.js')],
      ]),
    );
  });

  test('names only what "exports" lists, under the package name', () => {
    const manifest = { name: 'pkg', exports: { './extra/deep': { default: './lib/deep.js' } } };
    assert.deepEqual(serverEntryPoints(manifest, '/root'), new Map([['pkg/extra/deep', '/root/lib/deep.js']]));
  });
});
