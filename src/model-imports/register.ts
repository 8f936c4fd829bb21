// One copy of v2serve per process: a model imports `v2serve` or `v2serve/onnx` (ESM or
// CommonJS, from any directory) and gets the modules the server itself runs, so its
// ModelServer subclass and the InferenceError it throws are the server's classes.
import { readFileSync } from 'node:fs';
import { register } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../package-root.js';
import { serverEntryPoints, type PackageManifest } from './entry-points.js';
import { redirectRequire } from './require-hook.js';
import type { ResolveHookData } from './resolve-hook.js';

/**
 * Registers the redirection for this thread: the main thread and each worker thread call it
 * once, after tsx (hooks registered last run first, so the server's files win over tsx's
 * resolution), and before any model is imported.
 */
export function registerModelImports(): void {
  const manifest = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as PackageManifest;
  const entryPoints = serverEntryPoints(manifest, PACKAGE_ROOT);
  const data: ResolveHookData = { urls: [...entryPoints].map(([specifier, path]) => [specifier, pathToFileURL(path).href]) };
  register(new URL('./resolve-hook.js', import.meta.url), { data });
  redirectRequire(entryPoints);
}
