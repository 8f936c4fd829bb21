// The stream's reply to a published message (a JetStream PubAck), read without the nats
// package: `{"stream":"S","seq":7}` (with `"duplicate":true` when the Nats-Msg-Id was
// already stored), `{"error":{"code":400,"err_code":10054,"description":"..."}}`, or a
// NATS status message with no payload.

/** What one reply says about the attempt it answers. */
export type PubAck =
  | { readonly kind: 'stored' }
  /** No acknowledgement will come for this attempt, but a later attempt may be stored. */
  | { readonly kind: 'unavailable' }
  /** The stream will not store the message; sending it again would not change that. */
  | { readonly kind: 'refused'; readonly error: Error };

/**
 * "No responders" as a status, and "JetStream unavailable" as a PubAck error code: nothing
 * could store the message now (JetStream off, the stream missing or recovering).
 */
const UNAVAILABLE_CODE = 503;
const STORED: PubAck = { kind: 'stored' };
const UNAVAILABLE: PubAck = { kind: 'unavailable' };

const utf8 = new TextDecoder();
/** How a PubAck naming its stream starts: nats-server writes the stream first. */
const STREAM_FIELD = new TextEncoder().encode('{"stream":"');
const ERROR_KEY = new TextEncoder().encode('"error"');
const QUOTE = 0x22;
const CLOSING_BRACE = 0x7d;

function bytesAt(data: Uint8Array, at: number, bytes: Uint8Array): boolean {
  if (at + bytes.length > data.length) return false;
  for (let i = 0; i < bytes.length; i++) if (data[at + i] !== bytes[i]) return false;
  return true;
}

/**
 * Whether the reply is a PubAck naming a stream and holding no error, read from its bytes
 * without decoding and parsing it: one comes back for every event. Anything else is parsed.
 */
function plainlyStored(data: Uint8Array): boolean {
  if (!bytesAt(data, 0, STREAM_FIELD) || data[data.length - 1] !== CLOSING_BRACE) return false;
  const nameEnd = data.indexOf(QUOTE, STREAM_FIELD.length);
  if (nameEnd <= STREAM_FIELD.length) return false; // an empty or unterminated name: the parser says why
  for (let i = nameEnd + 1; i < data.length; i++) if (data[i] === QUOTE && bytesAt(data, i, ERROR_KEY)) return false;
  return true;
}

function refused(message: string): PubAck {
  return { kind: 'refused', error: new Error(message) };
}

/**
 * Reads one reply. `status` is the code of the reply's NATS status header, 0 without one;
 * as in nats.js (isRequestError), a status counts only on a reply without payload.
 */
export function readPubAck(data: Uint8Array, status: number): PubAck {
  if (data.length === 0) {
    return status === UNAVAILABLE_CODE ? UNAVAILABLE : refused(`stream replied with status ${status} and no PubAck`);
  }
  if (plainlyStored(data)) return STORED;
  let reply: unknown;
  try {
    reply = JSON.parse(utf8.decode(data));
  } catch {
    return refused('stream reply is not a JSON PubAck');
  }
  if (typeof reply !== 'object' || reply === null) return refused('stream reply is not a JSON PubAck');
  const { stream, error } = reply as { stream?: unknown; error?: unknown };
  if (error !== undefined) {
    const { code, err_code: errCode, description } = (error ?? {}) as { code?: unknown; err_code?: unknown; description?: unknown };
    if (code === UNAVAILABLE_CODE) return UNAVAILABLE;
    return refused(`stream refused the message: ${String(description)} (code ${String(code)}, err_code ${String(errCode)})`);
  }
  // nats.js rejects such a PubAck too (JetStreamInvalidAck): nothing says it was stored.
  if (typeof stream !== 'string' || stream === '') return refused('stream reply names no stream');
  return STORED;
}
