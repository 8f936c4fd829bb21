// How a stream publish leaves: an HPUB (a NATS publish with headers: here only Nats-Msg-Id)
// with a reply subject for the stream's PubAck. nats.js's publish() spends about 3 µs a
// message on what is a template here: a headers object around a Map, its text and the
// protocol line each encoded by a TextEncoder, and four buffers queued that its flush then
// copies together. framedSend writes the frames of one burst of publishes into one buffer
// and queues that: a fifth of the monitoring's cost per event. It needs nats.js's protocol
// handler, which nats.js does not export; without it, publicSend goes through publish().
import { type NatsConnection, ErrorCode, NatsError, headers } from 'nats';

/** Sends one publish with a Nats-Msg-Id header. Throws NatsError as nats.js's publish() would. */
export type StreamSend = (subject: string, reply: string, msgId: string, payload: Uint8Array) => void;

/** JetStream's deduplication header (nats.js does not export its name). */
const MSG_ID_HEADER = 'Nats-Msg-Id';
const HEADER_START = `NATS/1.0\r\n${MSG_ID_HEADER}: `;
const HEADER_END = '\r\n\r\n';
const CR = 0x0d;
const LF = 0x0a;
const INITIAL_BYTES = 64 * 1024;

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

/** Frames appended to one growing buffer; take() hands them over in a buffer of their own. */
export class HpubFrames {
  private buffer = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  private written = 0;

  get byteLength(): number {
    return this.written;
  }

  /** The header block's size in bytes (what HPUB calls its header length). */
  static headerBytes(msgId: string): number {
    return HEADER_START.length + Buffer.byteLength(msgId) + HEADER_END.length;
  }

  append(subject: string, reply: string, msgId: string, headerBytes: number, payload: Uint8Array): void {
    const text = `HPUB ${subject} ${reply} ${headerBytes} ${headerBytes + payload.length}\r\n${HEADER_START}${msgId}${HEADER_END}`;
    // At most 3 bytes per UTF-16 code unit, and the payload's CRLF.
    this.reserve(text.length * 3 + payload.length + 2);
    this.written += this.buffer.write(text, this.written);
    this.buffer.set(payload, this.written);
    this.written += payload.length;
    this.buffer[this.written++] = CR;
    this.buffer[this.written++] = LF;
  }

  take(): Buffer {
    const frames = Buffer.allocUnsafe(this.written);
    this.buffer.copy(frames, 0, 0, this.written);
    this.written = 0;
    return frames;
  }

  private reserve(bytes: number): void {
    if (this.written + bytes <= this.buffer.length) return;
    const larger = Buffer.allocUnsafeSlow(Math.max(this.buffer.length * 2, this.written + bytes));
    this.buffer.copy(larger, 0, 0, this.written);
    this.buffer = larger;
  }
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
  const frames = new HpubFrames();
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
    const headerBytes = HpubFrames.headerBytes(msgId);
    if (typeof maxPayload === 'number' && headerBytes + payload.length > maxPayload) {
      throw NatsError.errorForCode(ErrorCode.MaxPayloadExceeded);
    }
    if (frames.byteLength === 0) queueMicrotask(flush);
    frames.append(subject, reply, msgId, headerBytes, payload);
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
