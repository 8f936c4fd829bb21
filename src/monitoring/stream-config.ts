// The JetStream stream monitoring events are stored in: the configuration v2serve creates
// it with, and how an existing stream differs from it. Pure functions; the transport
// applies them.
import { DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig, millis, nanos } from 'nats';
import { dictionary } from '../dictionary.js';
import type { MonitoringStreamOptions } from './options.js';
import { retrySpanMs } from './stream-publisher.js';

/**
 * The subject filter capturing every subject the template gives: a token holding
 * `{model}` or `{version}` becomes `*` (checkSubjectTemplate made each a single token).
 */
export function streamSubject(template: string): string {
  return template
    .split('.')
    .map((token) => (token.includes('{model}') || token.includes('{version}') ? '*' : token))
    .join('.');
}

/** What v2serve creates the stream with when it is missing. */
export function streamConfig(o: MonitoringStreamOptions, subject: string): Partial<StreamConfig> & { name: string } {
  return {
    name: o.name,
    subjects: [subject],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    // The newest events matter most: at a limit the oldest go, publishing never stops.
    discard: DiscardPolicy.Old,
    max_age: nanos(o.maxAgeMs),
    max_bytes: maxBytes(o),
    num_replicas: o.replicas,
  };
}

function maxBytes(o: MonitoringStreamOptions): number {
  return o.maxBytes === 0 ? -1 : o.maxBytes;
}

/** Whether `pattern` (a stream subject, maybe with wildcards) captures every subject `filter` matches. */
export function subjectCovers(pattern: string, filter: string): boolean {
  const p = pattern.split('.');
  const f = filter.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return i < f.length;
    if (i >= f.length || f[i] === '>') return false;
    if (p[i] !== '*' && (p[i] !== f[i] || f[i] === '*')) return false;
  }
  return p.length === f.length;
}

export interface StreamDifference {
  readonly stream: unknown;
  readonly configured: unknown;
}

/**
 * The settings in which an existing stream differs from what v2serve would create, keyed
 * by option name (milliseconds, bytes); empty when it matches. `subjects` differs when the
 * stream does not capture the monitoring subjects (events are then not stored), and
 * `duplicateWindowMs` when a retry could outlive deduplication and store an event twice.
 */
export function streamDifferences(
  existing: Pick<StreamConfig, 'subjects' | 'max_age' | 'max_bytes' | 'num_replicas' | 'duplicate_window'>,
  o: MonitoringStreamOptions,
  subject: string,
): Record<string, StreamDifference> {
  const differences = dictionary<StreamDifference>();
  const subjects = existing.subjects ?? [];
  if (!subjects.some((s) => subjectCovers(s, subject))) differences['subjects'] = { stream: subjects, configured: [subject] };
  const maxAgeMs = millis(existing.max_age);
  if (maxAgeMs !== o.maxAgeMs) differences['maxAgeMs'] = { stream: maxAgeMs, configured: o.maxAgeMs };
  if (existing.max_bytes !== maxBytes(o)) differences['maxBytes'] = { stream: existing.max_bytes, configured: maxBytes(o) };
  if (existing.num_replicas !== o.replicas) differences['replicas'] = { stream: existing.num_replicas, configured: o.replicas };
  const windowMs = millis(existing.duplicate_window);
  if (windowMs < retrySpanMs(o)) differences['duplicateWindowMs'] = { stream: windowMs, configured: `>= ${retrySpanMs(o)}` };
  return differences;
}
