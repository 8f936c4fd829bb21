// Public surface of the monitoring side path. The server creates one Monitoring with
// startMonitoring() and hands it to src/model as its EventSink.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { checkSubjectTemplate } from './endpoint.js';
import { type Monitoring, createMonitoring } from './monitor.js';
import { NatsTransport, natsConnectionOptions } from './nats-transport.js';
import { type MonitoringOptionsInput, resolveMonitoringOptions } from './options.js';
import { streamSubject } from './stream-config.js';

export type { Monitoring, MonitoringStats, MonitoringTransport, MonitorDeps } from './monitor.js';
export { createMonitoring } from './monitor.js';
export type {
  MonitoringCredentials,
  MonitoringOptions,
  MonitoringOptionsInput,
  MonitoringStreamInput,
  MonitoringStreamOptions,
  MonitoringTls,
  ModelMonitoringOverrides,
} from './options.js';
export {
  DEFAULT_MONITORING_OPTIONS,
  DEFAULT_STREAM_OPTIONS,
  OVERRIDE_PARAMETERS,
  modelOverridesFromParameters,
  resolveMonitoringOptions,
} from './options.js';
export type { EndpointRecord, ReplicaEntry } from './endpoint.js';
export { endpointId, subjectFor } from './endpoint.js';
export type { RecordStore, StoredRecord } from './record-store.js';
export { BATCH_HEADERS } from './event-json.js';

/**
 * Connects to NATS and returns the sink. Options not given take DEFAULT_MONITORING_OPTIONS;
 * serverId and host default to the hostname (give serverId something like host:port when
 * several servers share a host: it names this server's entry in the endpoint records), and
 * deployment to serverId (replicas given the same deployment share records). Rejects only
 * on bad options or an unreadable creds file. An unreachable NATS is not an error: after one attempt it
 * returns, drops (and counts) events, and keeps retrying every second. With `stream`, events
 * are stored in that JetStream stream (DEFAULT_STREAM_OPTIONS for what is not given),
 * created on connection when missing.
 */
export async function startMonitoring(options: MonitoringOptionsInput, log: Logger): Promise<Monitoring> {
  const host = hostname();
  const resolved = resolveMonitoringOptions(options, { serverId: host, host });
  checkSubjectTemplate(resolved.subject);
  const mlog = log.child({ component: 'monitoring' });
  const stream = resolved.stream && { options: resolved.stream, subject: streamSubject(resolved.subject) };
  const transport = new NatsTransport(await natsConnectionOptions(resolved), resolved.kvBucket, mlog, stream);
  const monitoring = createMonitoring(resolved, mlog, { transport });
  await transport.start();
  return monitoring;
}
