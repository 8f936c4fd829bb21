// Triton's restricted protocols (--grpc-restricted-protocol, --http-restricted-api): the
// endpoints of a category answer only requests that carry a given header with a given value.
// The categories and the flag syntax are the same for every transport; each transport
// knows which of its endpoints belong to which category and enforces it.

/** Triton's category names (PROTOCOL §8.3). */
export const PROTOCOL_CATEGORIES = [
  'health',
  'metadata',
  'inference',
  'shared-memory',
  'model-config',
  'model-repository',
  'statistics',
  'trace',
  'logging',
] as const;

export type ProtocolCategory = (typeof PROTOCOL_CATEGORIES)[number];

export interface ProtocolRestriction {
  readonly categories: readonly ProtocolCategory[];
  /** The header (gRPC metadata key), lower case. */
  readonly header: string;
  readonly value: string;
}

// Lower case, as gRPC sends keys and Node gives HTTP header names; gRPC's '-bin' keys carry
// bytes, not a comparable string.
const HEADER_KEY = /^[0-9a-z_.-]+$/;

/**
 * Parses `<category>[,<category>...]:<header>=<value>`; throws an Error saying what is
 * wrong (the CLI adds the flag name).
 */
export function parseRestriction(spec: string): ProtocolRestriction {
  const colon = spec.indexOf(':');
  const equals = spec.indexOf('=', colon + 1);
  if (colon < 0 || equals < 0) throw new Error(`expected <categories>:<header>=<value>, got '${spec}'`);
  const categories = spec
    .slice(0, colon)
    .split(',')
    .map((c) => c.trim());
  for (const category of categories) {
    if (!(PROTOCOL_CATEGORIES as readonly string[]).includes(category)) {
      throw new Error(`unknown category '${category}' (categories: ${PROTOCOL_CATEGORIES.join(', ')})`);
    }
  }
  const header = spec.slice(colon + 1, equals).trim().toLowerCase();
  const value = spec.slice(equals + 1);
  if (!HEADER_KEY.test(header) || header.endsWith('-bin')) {
    throw new Error(`'${header}' is not a usable header name (letters, digits, '-', '_', '.'; not '-bin')`);
  }
  if (!value) throw new Error(`the value of header '${header}' must not be empty`);
  return { categories: categories as ProtocolCategory[], header, value };
}

/** Throws when a category is restricted twice (Triton refuses that too). */
export function checkRestrictions(restrictions: readonly ProtocolRestriction[]): void {
  const seen = new Set<ProtocolCategory>();
  for (const { categories } of restrictions) {
    for (const category of categories) {
      if (seen.has(category)) throw new Error(`category '${category}' is restricted more than once`);
      seen.add(category);
    }
  }
}
