// The names a model may import v2serve by, and the server's files behind them: package.json
// "exports" ("." is `v2serve`, "./onnx" is `v2serve/onnx`), and nothing else of the package.
import { resolve } from 'node:path';

/** What of package.json the entry points come from. */
export interface PackageManifest {
  readonly name: string;
  readonly exports: Readonly<Record<string, { readonly default: string }>>;
}

/** Each exported specifier (`v2serve`, `v2serve/onnx`) with the absolute path of its file under `packageRoot`. */
export function serverEntryPoints(manifest: PackageManifest, packageRoot: string): ReadonlyMap<string, string> {
  return new Map(
    Object.entries(manifest.exports).map(([subpath, target]) => [
      subpath === '.' ? manifest.name : `${manifest.name}/${subpath.replace(/^\.\//, '')}`,
      resolve(packageRoot, target.default),
    ]),
  );
}
