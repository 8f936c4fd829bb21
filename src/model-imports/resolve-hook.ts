// Runs in Node's module-hooks thread (registered by registerModelImports through
// module.register): an `import 'v2serve'` anywhere resolves to the running server's file,
// whatever node_modules the importing model has or lacks. Imports nothing: the hooks thread
// loads this module on its own.
import type { InitializeHook, ResolveHook } from 'node:module';

/** What registerModelImports hands the hooks thread: [specifier, file URL] pairs. */
export interface ResolveHookData {
  readonly urls: readonly (readonly [string, string])[];
}

let serverUrls: ReadonlyMap<string, string> = new Map();

export const initialize: InitializeHook<ResolveHookData> = (data) => {
  serverUrls = new Map(data.urls);
};

export const resolve: ResolveHook = (specifier, context, nextResolve) => {
  const url = serverUrls.get(specifier);
  return url === undefined ? nextResolve(specifier, context) : { url, shortCircuit: true };
};
