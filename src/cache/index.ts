// The response cache (Triton's `response_cache` and `--cache-config local,size=BYTES`):
// request keys, the LRU store bounded by bytes, the answers it keeps and the transports'
// encodings of them. No transport, no model.
export { ALIAS_OVERHEAD_BYTES, ResponseCache, type CacheAlias, type CacheLookup, type EncodedAnswer, type KeptAnswer } from './response-cache.js';
export { LruStore, type Sized } from './lru-store.js';
export { INLINE_KEY_BYTES, requestKey, type KeyedRequest } from './request-key.js';
export { cachedResponse, ENTRY_OVERHEAD_BYTES, OUTPUT_OVERHEAD_BYTES, type CachedResponse } from './cached-response.js';
