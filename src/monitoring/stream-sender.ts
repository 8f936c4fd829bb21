// How a stream publish leaves: an HPUB (a NATS publish with headers: here only Nats-Msg-Id)
// with a reply subject for the stream's PubAck. nats.js's publish() spends about 3 µs a
// message on what is a template here: a headers object around a Map, its text and the
// protocol line each encoded by a TextEncoder, and four buffers queued that its flush then
// copies together. framedSend writes the frames of one burst of publishes into one buffer
// and queues that: a fifth of the monitoring's cost per event. It needs nats.js's protocol
// handler, which nats.js does not export; without it, publicSend goes through publish().
import { type NatsConnection, ErrorCode, NatsError, headers } from 'nats';
import { ByteWriter, utf8 } from './byte-writer.js';

/** Sends one publish with a Nats-Msg-Id header. Throws NatsError as nats.js's publish() would. */
export type StreamSend = (subject: string, reply: string, msgId: string, payload: Uint8Array) => void;

/** JetStream's deduplication header (nats.js does not export its name). */
const MSG_ID_HEADER = 'Nats-Msg-Id';
const HEADER_START = `NATS/1.0\r\n${MSG_ID_HEADER}: `;
const HEADER_END = '\r\n\r\n';
const SPACE = 0x20;
const HPUB = utf8('HPUB ');
/** The protocol line's end and the header block's start. */
const LINE_END_HEADER_START = utf8(`\r\n${HEADER_START}`);
/** The header block's end, an empty line. */
const HEADER_END_BYTES = utf8(HEADER_END);
const CRLF = utf8('\r\n');
/** A burst is at most SEND_BATCH publishes of a few hundred bytes each. */
const SLAB_BYTES = 1024 * 1024;

/** What framedSend uses of nats.js's ProtocolHandler (nats.js 2.x's `nc.protocol`). */
interface ProtocolHandler {
  sendCommand(frames: Uint8Array): void;
  readonly info?: { readonly max_payload?: unknown; readonly headers?: unknown };
  readonly noMorePublishing?: unknown;
}

function protocolHandler(nc: NatsConnection): ProtocolHandler | undefined {
  const protocol = (nc as { protocol?: Partial<ProtocolHandler> }).protocol;
  if (typeof protocol?.sendCommand !== 'function' || typeof protocol.info?.max_payload !== 'number') return undefined;
  return protocol as ProtocolHandler;
}

/** The header block's size in bytes (what HPUB calls its header length). */
export function hpubHeaderBytes(msgId: string): number {
  return HEADER_START.length + Buffer.byteLength(msgId) + HEADER_END.length;
}

/** `HPUB <subject> <reply> <header bytes> <total bytes>`, the header block, the payload. */
export function writeHpub(w: ByteWriter, subject: string, reply: string, msgId: string, headerBytes: number, payload: Uint8Array): void {
  w.bytes(HPUB);
  w.text(subject);
  w.byte(SPACE);
  w.text(reply);
  w.byte(SPACE);
  w.integer(headerBytes);
  w.byte(SPACE);
  w.integer(headerBytes + payload.length);
  w.bytes(LINE_END_HEADER_START);
  w.text(msgId);
  w.bytes(HEADER_END_BYTES);
  w.bytes(payload);
  w.bytes(CRLF);
}

function checkMsgId(msgId: string): void {
  if (msgId.includes('\r') || msgId.includes('\n')) throw new NatsError(`invalid ${MSG_ID_HEADER} '${msgId}'`, ErrorCode.BadHeader);
}

/**
 * Publishes as frames nats.js queues as they are: those of one synchronous burst go
 * together at its end. Undefined when nats.js's protocol handler is not where 2.x keeps it.
 */
export function framedSend(nc: NatsConnection): StreamSend | undefined {
  const protocol = protocolHandler(nc);
  if (!protocol) return undefined;
  // One burst's frames are one message of the writer: take() hands them over together.
  const frames = new ByteWriter(SLAB_BYTES);
  const flush = (): void => {
    if (frames.byteLength > 0) protocol.sendCommand(frames.take());
  };
  return (subject, reply, msgId, payload) => {
    if (nc.isClosed()) throw NatsError.errorForCode(ErrorCode.ConnectionClosed);
    if (protocol.noMorePublishing) throw NatsError.errorForCode(ErrorCode.ConnectionDraining);
    if (protocol.info?.headers === false) throw new NatsError('headers', ErrorCode.ServerOptionNotAvailable);
    checkMsgId(msgId);
    // Read per publish: the server a reconnection reaches may set another limit.
    const maxPayload = protocol.info?.max_payload;
    const headerBytes = hpubHeaderBytes(msgId);
    if (typeof maxPayload === 'number' && headerBytes + payload.length > maxPayload) {
      throw NatsError.errorForCode(ErrorCode.MaxPayloadExceeded);
    }
    if (frames.byteLength === 0) queueMicrotask(flush);
    writeHpub(frames, subject, reply, msgId, headerBytes, payload);
  };
}

/** Publishes through nats.js's publish(). */
export function publicSend(nc: NatsConnection): StreamSend {
  return (subject, reply, msgId, payload) => {
    const h = headers();
    h.set(MSG_ID_HEADER, msgId);
    nc.publish(subject, payload, { reply, headers: h });
  };
}
