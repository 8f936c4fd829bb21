// --log-requests: one line per request a transport answered, with its id, so that an access
// log and the error lines about the same request can be joined.
import type { Logger } from 'pino';
import type { RequestRecord, RequestSink } from '../events.js';

export function requestLog(log: Logger): RequestSink {
  const requests = log.child({ component: 'requests' });
  return {
    finished(record: RequestRecord) {
      requests.info(
        {
          requestId: record.requestId,
          transport: record.transport,
          operation: record.operation,
          model: record.model,
          version: record.version,
          status: record.status,
          durationMs: Number(record.durationNs) / 1e6,
          bytesIn: record.bytesIn,
          bytesOut: record.bytesOut,
          ...(record.responses === undefined ? {} : { responses: record.responses }),
        },
        'request',
      );
    },
  };
}
