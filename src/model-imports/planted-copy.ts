// A repository with its own node_modules/v2serve (installed for its editor's types, or left
// over) no longer gives its models that copy: registerModelImports hands them the server's.
// When that copy is another version, the operator is told once, at start-up.
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../package-root.js';

export interface PlantedV2serve {
  /** The planted package's directory. */
  readonly path: string;
  readonly version: string;
}

/**
 * The v2serve package Node would find for the repository's models (in node_modules of the
 * repository's directory or the nearest directory above it that has one), when it is neither
 * the running server nor of the server's version.
 */
export function findPlantedV2serve(repository: string): PlantedV2serve | undefined {
  for (let dir = resolve(repository); ; dir = dirname(dir)) {
    const path = join(dir, 'node_modules', 'v2serve');
    if (existsSync(join(path, 'package.json'))) return otherVersion(path);
    if (dirname(dir) === dir) return undefined;
  }
}

function otherVersion(path: string): PlantedV2serve | undefined {
  if (realpathSync(path) === realpathSync(PACKAGE_ROOT)) return undefined;
  let version: unknown;
  try {
    version = (JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')) as { version?: unknown }).version;
  } catch {
    version = undefined;
  }
  const named = typeof version === 'string' ? version : 'unknown (unreadable package.json)';
  return named === PACKAGE_VERSION ? undefined : { path, version: named };
}
