// `require('v2serve')` from a CommonJS model (a model.ts outside a "type": "module" package
// is one, through tsx) never reaches the ESM resolve hook: Node 20 has no synchronous
// module hooks (module.registerHooks came in Node 22.15), so the CommonJS loader's own two
// functions are wrapped, as tsx wraps them, once per thread and after tsx.
import { readFileSync } from 'node:fs';
import Module from 'node:module';

interface CommonJsModule {
  /** `format` 'module' compiles the source as Node's require(esm) does. */
  _compile(source: string, filename: string, format?: 'module'): void;
}
type LoadFile = (this: unknown, module: CommonJsModule, filename: string) => void;
interface CommonJsLoader {
  _resolveFilename(this: unknown, request: string, ...rest: unknown[]): string;
  _extensions: { '.js': LoadFile };
}

/** Makes `require(specifier)` of each entry point return the server's own module. */
export function redirectRequire(entryPoints: ReadonlyMap<string, string>): void {
  const loader = Module as unknown as CommonJsLoader;
  const serverFiles = new Set(entryPoints.values());
  const resolveFilename = loader._resolveFilename;
  loader._resolveFilename = function (request, ...rest) {
    return entryPoints.get(request) ?? resolveFilename.call(this, request, ...rest);
  };
  const loadJs = loader._extensions['.js'];
  loader._extensions['.js'] = function (module, filename) {
    if (!serverFiles.has(filename)) return loadJs.call(this, module, filename);
    // tsx's loader of .js files would compile the server's ES module into a second, CommonJS
    // copy, with classes of its own. Compiled as a module, it is loaded as require(esm) loads
    // it (Node 20.19+): through the ES module map, where import() finds it too.
    module._compile(readFileSync(filename, 'utf8'), filename, 'module');
  };
}
