// The monitoring side path: emit() queues, a setImmediate drain samples, batches, encodes
// and publishes, to core NATS or, with a stream, through a StreamPublisher. The transport
// is injected, so the counters are tested without NATS.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { InferenceEvent, ModelEvent, ModelStateEvent, EventSink } from '../events.js';
import { type ReplicaUpdate, endpointId, mergeRecord, subjectFor } from './endpoint.js';
import { ByteWriter } from './byte-writer.js';
import {
  type HeadFields,
  WhenText,
  batchWorker,
  headText,
  writeBatchMessage,
  writeErrorMessage,
  writeRow,
  writeSingleMessage,
} from './event-json.js';
import { BoundedQueue } from './event-queue.js';
import { type RecordStore, RecordConflictError, updateRecord } from './record-store.js';
import { type ModelMonitoringOverrides, type MonitoringOptions, checkOverrides } from './options.js';
import { type StreamWire, StreamPublisher, batchMessageId, retrySpanMs } from './stream-publisher.js';

/** Where messages and endpoint records go; NATS in production, a fake in unit tests. */
export interface MonitoringTransport extends StreamWire, RecordStore {
  isConnected(): boolean;
  /** Fire-and-forget to core NATS; may throw (e.g. payload above the server's max_payload). */
  publish(subject: string, payload: Uint8Array): void;
  /** The listener runs on each (re)connection. */
  onConnected(listener: () => void): void;
  close(): Promise<void>;
}

/**
 * Counts of inference events (a batch message of 4 rows counts 4). Every event ends up
 * published, dropped or failed; with a stream, published means stored in it.
 */
export interface MonitoringStats {
  /** Events handed to core NATS, or with a stream, acknowledged by it. */
  readonly published: number;
  /**
   * Events lost: queue full (oldest dropped), not connected, emitted after close(), or with
   * a stream, not acknowledged after the retries or by the end of close().
   */
  readonly dropped: number;
  /** Events whose encoding or publish threw, or that the stream refused. */
  readonly failed: number;
  /** Events queued and rows waiting in partial batches. */
  readonly pending: number;
  /** NATS messages published (with a stream, acknowledged). */
  readonly messages: number;
  /** With a stream: events sent again because their acknowledgement did not come in time. */
  readonly retried: number;
  /** With a stream: events published and not yet acknowledged (waiting to go out, or for their acknowledgement). */
  readonly awaitingAck: number;
}

export interface Monitoring extends EventSink {
  /** Queues the event and returns; never throws, never blocks. */
  emit(event: ModelEvent): void;
  /**
   * Sets (or, with undefined, clears) one model's sample, batch and maxElements, e.g. from
   * modelOverridesFromParameters(config.parameters) at load. Applies to all its versions.
   * Throws RangeError on invalid values: call it at load, not on the request path.
   */
  setModelOverrides(model: string, overrides: ModelMonitoringOverrides | undefined): void;
  stats(): MonitoringStats;
  /**
   * Publishes queued events and partial batches, waits for endpoint writes, drains the
   * connection. With a stream, waits at most ackWaitMs (default: the retry span of one
   * message, ackTimeoutMs × (maxRetries + 1)) for room and acknowledgements; events still
   * unacknowledged then are counted as dropped.
   */
  close(ackWaitMs?: number): Promise<void>;
}

export interface MonitorDeps {
  readonly transport: MonitoringTransport;
  /** How often changed counts are logged at info; default 60 s. */
  readonly statsIntervalMs?: number;
}

/** Events drained per setImmediate turn, so a long backlog yields to I/O between chunks. */
const DRAIN_CHUNK = 256;
const STATS_INTERVAL_MS = 60_000;
/** Pause before writing a record again after its writes kept conflicting. */
const CONFLICT_RETRY_MS = 1000;
/** Refresh intervals without a write after which another replica's entry is dropped. */
const STALE_REFRESHES = 5;

/** Counters and the open batch of one model version (the seed's one pusher per model). */
interface Pusher {
  readonly model: string;
  readonly version: string;
  readonly subject: string;
  readonly endpointId: string;
  /** The seed's _sample_iter: (i + 1) % sample, publish when 0. */
  sampleIter: number;
  /** The open batch's rows, encoded; its length is the seed's _batch_iter. */
  rows: Uint8Array[];
  instances: string[];
  /** With a stream, the rows' event ids. */
  eventIds: string[];
  /** The open batch's first event's class and labels, for the batch's base fields. */
  batchBase: Pick<InferenceEvent, 'modelClass' | 'labels'> | undefined;
  timer: NodeJS.Timeout | undefined;
  /** The head of single messages, by instance: the same for all its events until its inputs change. */
  readonly heads: Map<string, PreparedHead>;
}

/** headText() of one instance's messages, encoded, and what it was made from. */
interface PreparedHead {
  readonly modelClass: string;
  readonly labels: InferenceEvent['labels'];
  readonly sampleRate: number;
  readonly bytes: Uint8Array;
}

/** This replica's latest change to one endpoint record, and whether it is still to be written. */
interface EndpointEntry {
  readonly id: string;
  update: ReplicaUpdate;
  dirty: boolean;
}

/** Labels are a snapshot per request: the same content is usually a different object. */
function sameLabels(a: InferenceEvent['labels'], b: InferenceEvent['labels']): boolean {
  if (a === b) return true;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}

export function createMonitoring(options: MonitoringOptions, log: Logger, deps: MonitorDeps): Monitoring {
  return new Monitor(options, log, deps);
}

class Monitor implements Monitoring {
  private readonly transport: MonitoringTransport;
  private readonly queue: BoundedQueue<ModelEvent>;
  private readonly pushers = new Map<string, Pusher>();
  private lastPusher: Pusher | undefined;
  private readonly overrides = new Map<string, ModelMonitoringOverrides>();
  private readonly endpoints = new Map<string, EndpointEntry>();
  private readonly statsTimer: NodeJS.Timeout;
  private readonly refreshTimer: NodeJS.Timeout;
  private readonly stream: StreamPublisher | undefined;
  /**
   * Event ids are <prefix>.<count>. The random prefix keeps a restarted server from reusing
   * its predecessor's ids, which the stream would drop as duplicates within its window.
   */
  private readonly eventIdPrefix = randomBytes(9).toString('base64url');
  private eventCount = 0;
  private readonly when = new WhenText();
  /** Where each message is encoded; a message is a view of it. */
  private readonly writer = new ByteWriter();
  private scheduled = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private kvChain: Promise<void> = Promise.resolve();
  private kvWarned = false;
  private failureWarned = false;
  private lossWarned = false;
  private lastLogged = '';
  private published = 0;
  private dropped = 0;
  private failed = 0;
  private messages = 0;
  private batchedRows = 0;
  private retried = 0;

  constructor(
    private readonly options: MonitoringOptions,
    private readonly log: Logger,
    deps: MonitorDeps,
  ) {
    this.transport = deps.transport;
    this.queue = new BoundedQueue(options.maxPending);
    this.stream = options.stream
      ? new StreamPublisher(this.transport, options.stream, {
          stored: (events) => {
            this.published += events;
            this.messages++;
          },
          retried: (events) => {
            this.retried += events;
          },
          unacknowledged: (events) => this.lose(events),
          refused: (events, err) => this.fail(events, err),
          settled: () => this.scheduleDrain(),
        })
      : undefined;
    this.transport.onConnected(() => this.resyncEndpoints());
    this.statsTimer = setInterval(() => this.logStats(), deps.statsIntervalMs ?? STATS_INTERVAL_MS);
    this.statsTimer.unref();
    this.refreshTimer = setInterval(() => this.refreshEndpoints(), options.endpointRefreshMs);
    this.refreshTimer.unref();
  }

  emit(event: ModelEvent): void {
    try {
      if (this.closed) {
        if (event.kind === 'inference') this.dropped++;
        return;
      }
      if (this.queue.push(event)) this.dropped++;
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.drain);
      }
    } catch {
      // Unreachable in practice; the contract is that inference never sees monitoring fail.
      this.dropped++;
    }
  }

  setModelOverrides(model: string, overrides: ModelMonitoringOverrides | undefined): void {
    if (overrides === undefined) this.overrides.delete(model);
    else this.overrides.set(model, checkOverrides(overrides));
    const { batch } = this.settings(model);
    for (const p of this.pushers.values()) {
      if (p.model === model && p.rows.length > 0 && p.rows.length >= batch) this.flushBatch(p);
    }
  }

  stats(): MonitoringStats {
    return {
      published: this.published,
      dropped: this.dropped,
      failed: this.failed,
      pending: this.queue.length + this.batchedRows,
      messages: this.messages,
      retried: this.retried,
      awaitingAck: this.stream?.awaitingAck ?? 0,
    };
  }

  close(ackWaitMs?: number): Promise<void> {
    this.closing ??= this.doClose(ackWaitMs);
    return this.closing;
  }

  private async doClose(ackWaitMs: number | undefined): Promise<void> {
    this.closed = true;
    clearInterval(this.statsTimer);
    clearInterval(this.refreshTimer);
    if (this.stream) {
      this.stream.sendPromptly();
      await this.flushToStream(this.stream, Date.now() + (ackWaitMs ?? retrySpanMs(this.stream.limits)));
    } else {
      while (this.queue.length > 0) this.drainChunk();
      for (const p of this.pushers.values()) this.flushBatch(p);
    }
    await this.kvChain;
    this.log.info(this.stats(), 'monitoring closed');
    await this.transport.close();
  }

  /**
   * Publishes what is queued and the partial batches as the stream makes room, until the
   * deadline; what is left then is lost.
   */
  private async flushToStream(stream: StreamPublisher, deadline: number): Promise<void> {
    for (;;) {
      this.drainChunk();
      if (this.queue.length === 0) {
        for (const p of this.pushers.values()) if (p.rows.length > 0 && stream.hasRoom()) this.flushBatch(p);
        if (this.batchedRows === 0) break;
      }
      if (!stream.hasRoom() && !(await stream.nextSettled(deadline))) break;
    }
    this.lose(await stream.abandonAt(deadline));
    for (let e = this.queue.shift(); e !== undefined; e = this.queue.shift()) {
      if (e.kind === 'model-state') this.onState(e);
      else this.lose(1);
    }
    for (const p of this.pushers.values()) clearTimeout(p.timer);
    this.lose(this.batchedRows);
    this.batchedRows = 0;
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    this.drainChunk();
    if (this.hasRoom()) this.scheduleDrain();
  };

  private scheduleDrain(): void {
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(this.drain);
  }

  /** Without a stream there is always room: core NATS publishing does not wait. */
  private hasRoom(): boolean {
    return this.stream?.hasRoom() ?? true;
  }

  private drainChunk(): void {
    for (let i = 0; i < DRAIN_CHUNK && this.hasRoom(); i++) {
      const e = this.queue.shift();
      if (e === undefined) return;
      try {
        if (e.kind === 'model-state') this.onState(e);
        else if (e.error) this.onError(e);
        else this.onInference(e);
      } catch (err) {
        this.fail(e.kind === 'inference' ? 1 : 0, err);
      }
    }
  }

  private settings(model: string): { sample: number; batch: number; maxElements: number } {
    const o = this.overrides.get(model);
    return {
      sample: o?.sample ?? this.options.sample,
      batch: o?.batch ?? this.options.batch,
      maxElements: o?.maxElements ?? this.options.maxElements,
    };
  }

  private pusher(model: string, version: string): Pusher {
    // Events mostly come in runs of one model version: skip building the key for those.
    const last = this.lastPusher;
    if (last && last.model === model && last.version === version) return last;
    const key = `${model}\n${version}`;
    let p = this.pushers.get(key);
    if (!p) {
      p = {
        model,
        version,
        subject: subjectFor(this.options.subject, model, version),
        endpointId: endpointId(this.options.deployment, model, version),
        sampleIter: 0,
        rows: [],
        instances: [],
        eventIds: [],
        batchBase: undefined,
        timer: undefined,
        heads: new Map(),
      };
      this.pushers.set(key, p);
    }
    this.lastPusher = p;
    return p;
  }

  private onInference(e: InferenceEvent): void {
    const p = this.pusher(e.model, e.version);
    const { sample, batch, maxElements } = this.settings(e.model);
    p.sampleIter = (p.sampleIter + 1) % sample;
    if (p.sampleIter !== 0) return;
    if (batch <= 1) {
      const head = this.head(p, e, sample);
      this.send(p.subject, (w) => writeSingleMessage(w, head, e, maxElements, this.when), 1, () => this.nextEventId());
      return;
    }
    const row = this.encode((w) => writeRow(w, e, maxElements, this.when));
    if (p.rows.length === 0) {
      p.batchBase = { modelClass: e.modelClass, labels: e.labels };
      // Unlike the seed, a partial batch does not wait for traffic that may never come.
      this.armFlush(p);
    }
    p.rows.push(row);
    p.instances.push(e.instance);
    if (this.stream) p.eventIds.push(this.nextEventId());
    this.batchedRows++;
    if (p.rows.length >= batch) this.flushBatch(p);
  }

  /** The head of `e`'s message, prepared again only when its instance's class, labels or sample rate change. */
  private head(p: Pusher, e: InferenceEvent, sampleRate: number): Uint8Array {
    const prepared = p.heads.get(e.instance);
    if (
      prepared &&
      prepared.modelClass === e.modelClass &&
      prepared.sampleRate === sampleRate &&
      sameLabels(prepared.labels, e.labels)
    ) {
      return prepared.bytes;
    }
    const bytes = Buffer.from(headText(this.headFields(p, e, e.instance, sampleRate)));
    p.heads.set(e.instance, { modelClass: e.modelClass, labels: e.labels, sampleRate, bytes });
    return bytes;
  }

  private headFields(
    p: Pusher,
    base: Pick<InferenceEvent, 'modelClass' | 'labels'>,
    worker: string,
    sampleRate: number,
  ): HeadFields {
    const { model, version, endpointId } = p;
    return { modelClass: base.modelClass, worker, model, version, host: this.options.host, labels: base.labels, endpointId, sampleRate };
  }

  private nextEventId(): string {
    return `${this.eventIdPrefix}.${(++this.eventCount).toString(36)}`;
  }

  /**
   * Publishes the partial batch after the flush interval. When the stream has no room, it
   * waits another interval; meanwhile the drain holds too, so the batch does not grow.
   */
  private armFlush(p: Pusher): void {
    p.timer = setTimeout(() => (this.hasRoom() ? this.flushBatch(p) : this.armFlush(p)), this.options.flushIntervalMs);
    p.timer.unref();
  }

  private flushBatch(p: Pusher): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = undefined;
    const rows = p.rows;
    const base = p.batchBase;
    if (rows.length === 0 || !base) return;
    const worker = batchWorker(p.instances);
    const eventIds = p.eventIds;
    p.rows = [];
    p.instances = [];
    p.eventIds = [];
    p.batchBase = undefined;
    this.batchedRows -= rows.length;
    const sampleRate = this.settings(p.model).sample;
    this.send(
      p.subject,
      (w) => writeBatchMessage(w, headText(this.headFields(p, base, worker, sampleRate)), rows),
      rows.length,
      () => batchMessageId(eventIds),
    );
  }

  private onError(e: InferenceEvent): void {
    const p = this.pusher(e.model, e.version);
    const { sample, maxElements } = this.settings(e.model);
    const head = this.head(p, e, sample);
    this.send(
      p.subject,
      (w) => writeErrorMessage(w, head, e, { maxElements, verbose: this.options.verbose, when: this.when }),
      1,
      () => this.nextEventId(),
    );
  }

  /**
   * Publishes one message holding `events` events; builds it only when connected.
   * messageId gives its Nats-Msg-Id, asked for only when publishing to a stream.
   */
  private send(subject: string, write: (w: ByteWriter) => void, events: number, messageId: () => string): void {
    if (!this.transport.isConnected()) {
      this.dropped += events;
      return;
    }
    let payload: Uint8Array;
    try {
      payload = this.encode(write);
    } catch (err) {
      this.fail(events, err);
      return;
    }
    if (this.stream) {
      this.stream.publish(subject, payload, messageId(), events);
      return;
    }
    try {
      this.transport.publish(subject, payload);
    } catch (err) {
      this.fail(events, err);
      return;
    }
    this.published += events;
    this.messages++;
  }

  /** What `write` writes, as a view the writer will not write into again. */
  private encode(write: (w: ByteWriter) => void): Buffer {
    try {
      write(this.writer);
    } catch (err) {
      this.writer.reset();
      throw err;
    }
    return this.writer.take();
  }

  /** Counts events that were not stored in the stream in time; logs like fail(). */
  private lose(events: number): void {
    if (events === 0) return;
    this.dropped += events;
    if (!this.lossWarned) {
      this.lossWarned = true;
      this.log.warn({ events }, 'monitoring events not stored in the stream in time; dropped');
    }
  }

  /** Counts a failure; logs the first one of each stats interval, the rest show in the counts. */
  private fail(events: number, err: unknown): void {
    this.failed += events;
    if (!this.failureWarned) {
      this.failureWarned = true;
      this.log.warn({ err }, 'monitoring event not published');
    }
  }

  private onState(e: ModelStateEvent): void {
    const { deployment, serverId, host, subject } = this.options;
    const id = endpointId(deployment, e.model, e.version);
    const entry = this.endpoints.get(id);
    // A replica joins a record when its version becomes READY; later states update its entry.
    if (!entry && e.state !== 'READY') return;
    const update = { event: e, deployment, serverId, host, subject, time: new Date() };
    if (entry) {
      entry.update = update;
      entry.dirty = true;
    } else {
      this.endpoints.set(id, { id, update, dirty: true });
    }
    this.syncEndpoints();
  }

  /** Writes this replica's entries again, so that other replicas can tell it is still running. */
  private refreshEndpoints(): void {
    for (const entry of this.endpoints.values()) {
      if (entry.update.event.state !== 'UNAVAILABLE') entry.dirty = true;
    }
    this.syncEndpoints();
  }

  /** After a (re)connection the store may have lost writes: write every record again. */
  private resyncEndpoints(): void {
    for (const entry of this.endpoints.values()) entry.dirty = true;
    this.syncEndpoints();
  }

  private syncEndpoints(): void {
    if (!this.transport.isConnected()) return; // written by resyncEndpoints() on connect
    // Chained, so a READY write never lands after the UNAVAILABLE write that followed it.
    this.kvChain = this.kvChain.then(() => this.putDirty());
  }

  private async putDirty(): Promise<void> {
    for (const entry of this.endpoints.values()) {
      if (!entry.dirty) continue;
      entry.dirty = false;
      const { update } = entry;
      try {
        await updateRecord(this.transport, entry.id, (stored) =>
          mergeRecord(stored, update, { now: new Date(), staleAfterMs: this.options.endpointRefreshMs * STALE_REFRESHES }),
        );
      } catch (err) {
        if (entry.update === update) entry.dirty = true; // else a newer state is already queued
        if (err instanceof RecordConflictError) {
          // Other replicas kept winning the key: try again later rather than only on reconnection.
          this.log.warn({ err, endpointId: entry.id }, 'endpoint record not stored; retrying');
          if (!this.closed) setTimeout(() => this.syncEndpoints(), CONFLICT_RETRY_MS).unref();
        } else if (!this.kvWarned) {
          this.kvWarned = true;
          this.log.warn(
            { err, bucket: this.options.kvBucket },
            'endpoint records not stored (is JetStream enabled?); monitoring events are still published',
          );
        } else if (this.log.isLevelEnabled('debug')) {
          this.log.debug({ err, endpointId: entry.id }, 'endpoint record not stored');
        }
      }
    }
  }

  private logStats(): void {
    this.failureWarned = false;
    this.lossWarned = false;
    const s = this.stats();
    const key = JSON.stringify(s);
    if (key === this.lastLogged) return;
    this.lastLogged = key;
    this.log.info(s, 'monitoring counts');
  }
}
