// The server-wide response cache (`--cache-config local,size=BYTES`, Triton's local cache):
// one store for every model whose config enables it, bounded by bytes with LRU eviction,
// and the counters Triton's cache metrics report. The pipeline looks a request up before
// it is scheduled and inserts the answer of a miss.
//
// A transport may also keep its own encoding of a kept answer, under its own key for the
// exact bytes of the request that got it (an alias): the next request with those bytes is
// answered without being decoded. An alias counts against the bound as part of its entry
// and leaves with it.
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

/** Where a kept answer lives: its key in the cache, and the load of the version that made it. */
export interface KeptAnswer {
  readonly key: string;
  readonly load: number;
}

/** A transport's encoding of a kept answer: the bytes of the message but the request's id, which goes in at `idOffset`. */
export interface EncodedAnswer {
  readonly bytes: Uint8Array;
  readonly idOffset: number;
}

/** What a transport kept of an answer under its own key for a request's exact bytes. */
export interface CacheAlias {
  readonly key: string;
  readonly answer: KeptAnswer;
  /** The model and version as the request named them (the version may be empty: the highest ready one). */
  readonly model: string;
  readonly version: string;
  readonly encoded: EncodedAnswer;
  /** What the alias counts against the cache's bound. */
  readonly byteSize: number;
}

/** Bookkeeping counted per alias beside its key, names and bytes. */
export const ALIAS_OVERHEAD_BYTES = 128;

export class ResponseCache {
  private readonly store: LruStore<CachedResponse>;
  private readonly aliases = new Map<string, CacheAlias>();
  private loads = 0;
  private lookups = 0;
  private hits = 0;
  private lookupNs = 0;
  private insertNs = 0;

  constructor(capacityBytes: number) {
    this.store = new LruStore(capacityBytes, (_key, response) => {
      for (const alias of response.aliases) this.aliases.delete(alias);
    });
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

  /** The alias a transport kept under `key`, if it is still there. */
  aliased(key: string): CacheAlias | undefined {
    return this.aliases.size === 0 ? undefined : this.aliases.get(key);
  }

  /**
   * Keeps a transport's encoding of a kept answer under the transport's key for the request.
   * Nothing is kept when the answer has left the cache, or would not fit with the alias.
   */
  keepEncoded(answer: KeptAnswer, key: string, model: string, version: string, encoded: EncodedAnswer): void {
    const previous = this.aliases.get(key);
    if (previous) this.forget(previous);
    const response = this.store.peek(answer.key);
    if (response === undefined) return;
    const byteSize = ALIAS_OVERHEAD_BYTES + (key.length + model.length + version.length) * 2 + encoded.bytes.byteLength;
    if (!this.store.grow(answer.key, byteSize)) return;
    response.aliases.push(key);
    this.aliases.set(key, { key, answer, model, version, encoded, byteSize });
  }

  /** A request answered through its alias: a lookup and a hit, as the pipeline counts one, taking `ns`. */
  aliasHit(alias: CacheAlias, ns: number): void {
    this.store.get(alias.answer.key);
    this.lookups += 1;
    this.hits += 1;
    this.lookupNs += ns;
  }

  private forget(alias: CacheAlias): void {
    this.aliases.delete(alias.key);
    const response = this.store.peek(alias.answer.key);
    if (response === undefined) return;
    response.aliases.splice(response.aliases.indexOf(alias.key), 1);
    this.store.grow(alias.answer.key, -alias.byteSize);
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
