// RepositoryModelLoad's `file:<version>/<name>` parameters: the files of a model sent with
// the load request. As in Triton they form a model directory of their own, which replaces
// the repository's for that load. It lives in a temporary directory, never in the
// repository, and no name in it can reach outside it.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceError } from '../errors.js';
import { VERSION_DIRECTORY } from './layout.js';

/** Longest file name most file systems take (NAME_MAX). */
const NAME_MAX_BYTES = 255;
import { PACKAGE_ROOT } from '../package-root.js';

export interface ModelOverride {
  /** The model directory to load from: <root>/<model>. */
  readonly directory: string;
  remove(): void;
}

/** Checks one `file:` path: `<version>/<relative path>`, plain names only. */
function checkOverridePath(model: string, path: string): string[] {
  const parts = path.split('/');
  const [version] = parts;
  const field = `parameters.file:${path}`;
  if (path.includes('\0') || path.includes('\\') || path.startsWith('/')) {
    throw InferenceError.invalidArgument(field, 'must be a relative path of plain names');
  }
  if (parts.some((part) => part === '' || part === '.' || part === '..')) {
    throw InferenceError.invalidArgument(field, "must not contain empty, '.' or '..' components");
  }
  if (parts.some((part) => Buffer.byteLength(part) > NAME_MAX_BYTES)) {
    // Triton's answer (its example client checks for it): the override directory cannot be made.
    throw new InferenceError('INTERNAL', `failed to load '${model}', failed to poll from model repository: '${field}' has a name longer than ${NAME_MAX_BYTES} bytes`);
  }
  if (parts.length < 2 || !version || !VERSION_DIRECTORY.test(version)) {
    throw InferenceError.invalidArgument(field, "must be '<version>/<file name>', the version a number");
  }
  return parts;
}

/**
 * Writes the files into a fresh temporary directory laid out as a repository, where model
 * modules still `import { ModelServer } from 'v2serve'` (node_modules/v2serve links here).
 */
export function writeModelOverride(model: string, files: ReadonlyMap<string, Uint8Array>): ModelOverride {
  const paths = [...files.keys()].map((path) => ({ path, parts: checkOverridePath(model, path) }));
  const root = mkdtempSync(join(tmpdir(), 'v2serve-override-'));
  try {
    writeFileSync(join(root, 'package.json'), '{ "type": "module" }\n');
    mkdirSync(join(root, 'node_modules'));
    symlinkSync(PACKAGE_ROOT, join(root, 'node_modules', 'v2serve'), 'dir');
    const directory = join(root, model);
    for (const { path, parts } of paths) {
      const file = join(directory, ...parts);
      mkdirSync(join(directory, ...parts.slice(0, -1)), { recursive: true });
      writeFileSync(file, files.get(path) as Uint8Array);
    }
    return { directory, remove: () => rmSync(root, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
}
