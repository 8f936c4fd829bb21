// Triton's reload rule: "If an already loaded model fails to reload for any reason the
// already loaded model will remain unchanged and loaded." The decisions, as pure functions;
// the repository applies them.

interface Loadable {
  readonly ready: boolean;
}

/**
 * While new versions load, the ready old ones go on serving: each version number routes to
 * the old version if it is ready, else to the new one (requests then wait for it to load).
 */
export function interimVersions<V extends Loadable>(previous: ReadonlyMap<string, V>, fresh: ReadonlyMap<string, V>): Map<string, V> {
  const routed = new Map<string, V>();
  for (const version of new Set([...fresh.keys(), ...previous.keys()])) {
    const old = previous.get(version);
    const candidate = old?.ready ? old : fresh.get(version);
    if (candidate) routed.set(version, candidate);
  }
  return new Map([...routed].sort(([a], [b]) => Number(b) - Number(a)));
}

/** Which set of versions serves once the new ones have loaded or failed to; the other is unloaded. */
export function servingAfterReload(wasServing: boolean, loadFailed: boolean): 'previous' | 'fresh' {
  return loadFailed && wasServing ? 'previous' : 'fresh';
}
