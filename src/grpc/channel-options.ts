// Triton's connection-management settings as grpc-js server options. grpc-js implements
// only part of what gRPC C++ (Triton) does; the rest is accepted so that Triton command
// lines keep working, and reported as not applied.
import type { ChannelOptions } from '@grpc/grpc-js';

export interface ConnectionOptions {
  /** Server keepalive ping interval on a connection, ms (Triton default 7200000). */
  readonly keepaliveTimeMs?: number;
  /** How long a keepalive ping may go unanswered before the connection is closed, ms (Triton default 20000). */
  readonly keepaliveTimeoutMs?: number;
  /** gRPC C++: send keepalive pings on connections without calls (Triton default false). */
  readonly keepalivePermitWithoutCalls?: boolean;
  /** gRPC C++: pings sent without data before the peer must send data (Triton default 2). */
  readonly http2MaxPingsWithoutData?: number;
  /** gRPC C++: shortest interval between client pings without data the server accepts, ms (Triton default 300000). */
  readonly http2MinRecvPingIntervalWithoutDataMs?: number;
  /** gRPC C++: bad pings tolerated before the server closes the connection (Triton default 2). */
  readonly http2MaxPingStrikes?: number;
  /** A connection is told to go away (GOAWAY) after this long, ms; unset = never. */
  readonly maxConnectionAgeMs?: number;
  /** After the GOAWAY, calls still running get this long before the connection is closed, ms; unset = no limit. */
  readonly maxConnectionAgeGraceMs?: number;
  /** Streams (calls) a client may have open at once on one connection; 0 = no limit. Excess calls wait in the client. */
  readonly maxConcurrentStreams?: number;
}

/** Triton's defaults (PROTOCOL §8.3) and v2serve's stream cap. */
export const CONNECTION_DEFAULTS = {
  keepaliveTimeMs: 7_200_000,
  keepaliveTimeoutMs: 20_000,
  keepalivePermitWithoutCalls: false,
  http2MaxPingsWithoutData: 2,
  http2MinRecvPingIntervalWithoutDataMs: 300_000,
  http2MaxPingStrikes: 2,
  maxConcurrentStreams: 1024,
} as const;

/**
 * Settings grpc-js has no server-side equivalent for, by their gRPC channel-argument
 * name. grpc-js servers send their keepalive pings whether or not calls are open, and
 * do not police the client's pings.
 */
const NOT_APPLIED: Readonly<Partial<Record<keyof ConnectionOptions, string>>> = {
  keepalivePermitWithoutCalls: 'grpc.keepalive_permit_without_calls',
  http2MaxPingsWithoutData: 'grpc.http2.max_pings_without_data',
  http2MinRecvPingIntervalWithoutDataMs: 'grpc.http2.min_ping_interval_without_data_ms',
  http2MaxPingStrikes: 'grpc.http2.max_ping_strikes',
};

/** grpc-js server options for the message limit and connection settings. */
export function serverChannelOptions(maxMessageBytes: number, connection: ConnectionOptions = {}): ChannelOptions {
  const streams = connection.maxConcurrentStreams ?? CONNECTION_DEFAULTS.maxConcurrentStreams;
  return {
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    'grpc.keepalive_time_ms': connection.keepaliveTimeMs ?? CONNECTION_DEFAULTS.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': connection.keepaliveTimeoutMs ?? CONNECTION_DEFAULTS.keepaliveTimeoutMs,
    ...(connection.maxConnectionAgeMs === undefined ? {} : { 'grpc.max_connection_age_ms': connection.maxConnectionAgeMs }),
    ...(connection.maxConnectionAgeGraceMs === undefined
      ? {}
      : { 'grpc.max_connection_age_grace_ms': connection.maxConnectionAgeGraceMs }),
    ...(streams > 0 ? { 'grpc.max_concurrent_streams': streams } : {}),
  };
}

/** The settings given a value that grpc-js cannot apply, by channel-argument name (for a start-up warning). */
export function notAppliedOptions(connection: ConnectionOptions): string[] {
  return Object.entries(NOT_APPLIED)
    .filter(([key]) => connection[key as keyof ConnectionOptions] !== undefined)
    .map(([, name]) => name as string);
}
