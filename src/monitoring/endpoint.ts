// Endpoint identity, subjects and the endpoint record (the seed's _init_endpoint_record,
// stored in a JetStream KV bucket instead of the mlrun DB).
import { createHash } from 'node:crypto';
import type { ModelState, ModelStateEvent } from '../events.js';

/**
 * Stable id of a model version served by one server: the first 16 hex digits of
 * sha1(serverId, model, version). Hex is a valid KV key, and the same server serving the
 * same model version gets the same id across restarts.
 */
export function endpointId(serverId: string, model: string, version: string): string {
  return createHash('sha1').update(`${serverId}\n${model}\n${version}`).digest('hex').slice(0, 16);
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

export interface EndpointRecord {
  readonly endpoint_id: string;
  readonly server_id: string;
  readonly host: string;
  readonly model: string;
  readonly version: string;
  readonly model_class: string;
  readonly path: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly subject: string;
  readonly state: ModelState;
  readonly reason: string;
  /** ISO time of the state change. */
  readonly updated: string;
}

export function endpointRecord(
  e: ModelStateEvent,
  ctx: { readonly serverId: string; readonly host: string; readonly subject: string },
  now: Date,
): EndpointRecord {
  return {
    endpoint_id: endpointId(ctx.serverId, e.model, e.version),
    server_id: ctx.serverId,
    host: ctx.host,
    model: e.model,
    version: e.version,
    model_class: e.modelClass,
    path: e.path,
    labels: e.labels,
    subject: subjectFor(ctx.subject, e.model, e.version),
    state: e.state,
    reason: e.reason,
    updated: now.toISOString(),
  };
}
