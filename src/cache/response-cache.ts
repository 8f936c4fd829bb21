// The server-wide response cache (`--cache-config local,size=BYTES`, Triton's local cache):
// one store for every model whose config enables it, bounded by bytes with LRU eviction,
// and the counters Triton's cache metrics report. The pipeline looks a request up before
// it is scheduled and inserts the answer of a miss.
import type { CacheCounts } from '../events.js';
import type { ParamValue } from '../model/index.js';
import type { Tensor } from '../tensor/index.js';
import { cachedResponse, type CachedResponse } from './cached-response.js';
import { LruStore } from './lru-store.js';
import { requestKey, type KeyedRequest } from './request-key.js';

const nowNs = (): number => performance.now() * 1e6;

/** What one lookup found, and how long hashing and looking up took. */
export interface CacheLookup {
  readonly key: string;
  readonly response: CachedResponse | undefined;
  readonly ns: number;
}

export class ResponseCache {
  private readonly store: LruStore<CachedResponse>;
  private loads = 0;
  private lookups = 0;
  private hits = 0;
  private lookupNs = 0;
  private insertNs = 0;

  constructor(capacityBytes: number) {
    this.store = new LruStore(capacityBytes);
  }

  /**
   * A number for one load of a version, part of its requests' keys: a version reloaded from
   * changed files must not answer with what the old one computed (its entries age out).
   */
  newLoad(): number {
    this.loads += 1;
    return this.loads;
  }

  lookup(request: KeyedRequest): CacheLookup {
    const start = nowNs();
    const key = requestKey(request);
    const response = this.store.get(key);
    const ns = Math.round(nowNs() - start);
    this.lookups += 1;
    if (response) this.hits += 1;
    this.lookupNs += ns;
    return { key, response, ns };
  }

  /** Keeps a miss's answer (a copy of it); returns the nanoseconds it took. An answer bigger than the whole cache is not kept. */
  insert(key: string, outputs: readonly Tensor[], parameters: Readonly<Record<string, ParamValue>>): number {
    const start = nowNs();
    this.store.set(key, cachedResponse(outputs, parameters, key.length));
    const ns = Math.round(nowNs() - start);
    this.insertNs += ns;
    return ns;
  }

  counts(): CacheCounts {
    const { store } = this;
    return {
      entries: store.size,
      bytes: store.bytes,
      capacity: store.capacity,
      lookups: this.lookups,
      hits: this.hits,
      misses: this.lookups - this.hits,
      evictions: store.evictions,
      lookupNs: this.lookupNs,
      insertNs: this.insertNs,
    };
  }
}
