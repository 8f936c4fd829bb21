// Records keyed by names that come from outside (a client, a config file, a model).
// A plain object literal inherits from Object.prototype, so a key such as "__proto__",
// "constructor" or "toString" would read or replace something that is not an entry.
// A dictionary has no prototype: every key is only a key.

/** A null-prototype copy of `entries` (a record's own enumerable entries, or pairs); empty without them. */
export function dictionary<V>(entries?: Iterable<readonly [string, V]> | Readonly<Record<string, V>>): Record<string, V> {
  const result = Object.create(null) as Record<string, V>;
  // Requests make empty ones: no array or iterator for them.
  if (entries === undefined) return result;
  const pairs = Symbol.iterator in entries ? (entries as Iterable<readonly [string, V]>) : Object.entries(entries);
  for (const [key, value] of pairs) result[key] = value;
  return result;
}

/** `record[key]` when it is the record's own entry; what a prototype holds is no entry. */
export function ownEntry<V>(record: Readonly<Record<string, V>> | undefined, key: string): V | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

const EMPTY: Readonly<Record<string, never>> = Object.freeze(dictionary<never>());

/** A frozen copy of `record`'s entries, as of now; records with none share one empty copy. */
export function snapshot<V>(record: Readonly<Record<string, V>>): Readonly<Record<string, V>> {
  for (const key in record) {
    if (Object.hasOwn(record, key)) return Object.freeze(dictionary(record));
  }
  return EMPTY;
}
