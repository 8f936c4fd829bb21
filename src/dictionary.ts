// Records keyed by names that come from outside (a client, a config file, a model).
// A plain object literal inherits from Object.prototype, so a key such as "__proto__",
// "constructor" or "toString" would read or replace something that is not an entry.
// A dictionary has no prototype: every key is only a key.

/** A null-prototype copy of `entries` (a record's own enumerable entries, or pairs). */
export function dictionary<V>(entries: Iterable<readonly [string, V]> | Readonly<Record<string, V>> = []): Record<string, V> {
  const result = Object.create(null) as Record<string, V>;
  const pairs = Symbol.iterator in entries ? (entries as Iterable<readonly [string, V]>) : Object.entries(entries);
  for (const [key, value] of pairs) result[key] = value;
  return result;
}

/** `record[key]` when it is the record's own entry; what a prototype holds is no entry. */
export function ownEntry<V>(record: Readonly<Record<string, V>> | undefined, key: string): V | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}
