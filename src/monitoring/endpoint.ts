// Endpoint identity, subjects and the endpoint record (the seed's _init_endpoint_record,
// stored in a JetStream KV bucket instead of the mlrun DB). Replicas of one deployment
// share a record; each writes only its own entry in it, so one never undoes another.
import { createHash } from 'node:crypto';
import { dictionary } from '../dictionary.js';
import type { ModelState, ModelStateEvent } from '../events.js';

/**
 * Stable id of a model version served by one deployment: the first 16 hex digits of
 * sha1(deployment, model, version). Hex is a valid KV key, and the same deployment serving
 * the same model version gets the same id across restarts and on every replica.
 */
export function endpointId(deployment: string, model: string, version: string): string {
  return createHash('sha1').update(`${deployment}\n${model}\n${version}`).digest('hex').slice(0, 16);
}

// A NATS subject token can't be empty or hold '.', whitespace or the wildcards '*' '>'.
const SUBJECT_UNSAFE = /[\s.*>\u0000-\u001f]/g;

function subjectToken(s: string): string {
  return s === '' ? '_' : s.replace(SUBJECT_UNSAFE, '_');
}

/**
 * The subject for one model version. Model names and versions may hold characters that
 * split or widen a subject, so each is made one literal token: '.', whitespace, '*', '>'
 * become '_', and an empty value (no version) becomes '_'.
 */
export function subjectFor(template: string, model: string, version: string): string {
  return template.replaceAll('{model}', subjectToken(model)).replaceAll('{version}', subjectToken(version));
}

/** Throws a RangeError when the template can't give a valid publish subject. */
export function checkSubjectTemplate(template: string): void {
  const s = subjectFor(template, 'm', 'v');
  const bad = s === '' || s.split('.').some((t) => t === '' || /[\s*>]/.test(t));
  if (bad) {
    throw new RangeError(`'subject' must give a valid NATS subject without wildcards, got '${template}'`);
  }
}

/** One replica's part of an endpoint record. */
export interface ReplicaEntry {
  readonly state: ModelState;
  readonly reason: string;
  readonly host: string;
  /** ISO time of this replica's latest state change. */
  readonly updated: string;
  /** ISO time this replica last wrote its entry: at each change, and each refresh while it runs. */
  readonly seen: string;
}

export interface EndpointRecord {
  readonly endpoint_id: string;
  /** The deployment the replicas belong to: --monitoring-deployment, else the server id. */
  readonly deployment: string;
  /** The replica that wrote the record last. */
  readonly server_id: string;
  /** That replica's host. */
  readonly host: string;
  readonly model: string;
  readonly version: string;
  readonly model_class: string;
  readonly path: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly subject: string;
  /** READY while any replica is READY; else the state of the replica that changed last. */
  readonly state: ModelState;
  /** The reason of the replica whose state `state` is. */
  readonly reason: string;
  /** ISO time of the latest write. */
  readonly updated: string;
  /** By server id. */
  readonly replicas: Readonly<Record<string, ReplicaEntry>>;
}

/** What one replica writes into the record of a model version. */
export interface ReplicaUpdate {
  readonly event: ModelStateEvent;
  readonly deployment: string;
  readonly serverId: string;
  readonly host: string;
  /** The subject template. */
  readonly subject: string;
  /** When the state changed. */
  readonly time: Date;
}

/** When a replica writes, and how long another's entry may go without a write before it is dropped. */
export interface MergeClock {
  readonly now: Date;
  readonly staleAfterMs: number;
}

const MODEL_STATES: ReadonlySet<string> = new Set<ModelState>(['UNAVAILABLE', 'LOADING', 'READY', 'UNLOADING']);

function isObject(v: unknown): v is Readonly<Record<string, unknown>> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function replicaEntry(v: unknown): ReplicaEntry | undefined {
  if (!isObject(v)) return undefined;
  const { state, reason, host, updated, seen } = v;
  if (typeof state !== 'string' || !MODEL_STATES.has(state)) return undefined;
  if (typeof reason !== 'string' || typeof host !== 'string' || typeof updated !== 'string') return undefined;
  if (typeof seen !== 'string' || Number.isNaN(Date.parse(seen))) return undefined;
  return { state: state as ModelState, reason, host, updated, seen };
}

/**
 * The replicas of a stored record (parsed JSON), as a dictionary. Entries another writer
 * made unreadable are left out; so is everything of a value that is no record at all.
 */
function storedReplicas(stored: unknown): Record<string, ReplicaEntry> {
  const replicas = dictionary<ReplicaEntry>();
  if (!isObject(stored) || !isObject(stored['replicas'])) return replicas;
  for (const [id, v] of Object.entries(stored['replicas'])) {
    const entry = replicaEntry(v);
    if (entry) replicas[id] = entry;
  }
  return replicas;
}

/**
 * The record after one replica's change. The replica replaces its own entry and keeps the
 * others, so concurrent replicas (with a compare-and-set write) never lose each other's
 * state. Two kinds of entry go: one not written for staleAfterMs (a replica that died
 * without stopping; a live one writes again at reconnection), and a stopped replica's
 * UNAVAILABLE one while another replica is in another state (with none, the newest stays):
 * the record keeps why it went UNAVAILABLE without collecting every pod a deployment had.
 */
export function mergeRecord(stored: unknown, u: ReplicaUpdate, clock: MergeClock): EndpointRecord {
  const e = u.event;
  const seen = clock.now.toISOString();
  const replicas = storedReplicas(stored);
  const staleBefore = clock.now.getTime() - clock.staleAfterMs;
  for (const [id, r] of Object.entries(replicas)) {
    if (Date.parse(r.seen) < staleBefore) delete replicas[id];
  }
  replicas[u.serverId] = { state: e.state, reason: e.reason, host: u.host, updated: u.time.toISOString(), seen };
  const live = Object.values(replicas).some((r) => r.state !== 'UNAVAILABLE');
  for (const [id, r] of Object.entries(replicas)) {
    if (live ? r.state === 'UNAVAILABLE' : id !== u.serverId) delete replicas[id];
  }
  const shown = shownReplica(replicas);
  return {
    endpoint_id: endpointId(u.deployment, e.model, e.version),
    deployment: u.deployment,
    server_id: u.serverId,
    host: u.host,
    model: e.model,
    version: e.version,
    model_class: e.modelClass,
    path: e.path,
    labels: e.labels,
    subject: subjectFor(u.subject, e.model, e.version),
    state: shown.state,
    reason: shown.reason,
    updated: seen,
    replicas,
  };
}

/** The newest READY entry, else the newest entry; a record always has one. */
function shownReplica(replicas: Readonly<Record<string, ReplicaEntry>>): ReplicaEntry {
  const entries = Object.values(replicas);
  const ready = entries.filter((r) => r.state === 'READY');
  const pool = ready.length > 0 ? ready : entries;
  // ISO times of one format compare as strings.
  return pool.reduce((a, b) => (b.updated > a.updated ? b : a));
}
