// Messages written as UTF-8 bytes into one growing buffer: monitoring events as JSON, and the
// NATS frames they leave in. An event's message was a string built by concatenation, two
// strings per tensor element, then encoded: a third of the monitoring's cost per event. Here
// integers are written digit by digit, other text is encoded once in place, and a message
// leaves as a view of the bytes written.

const MINUS = 0x2d;
const ZERO = 0x30;
const COMMA = 0x2c;
const OPEN_LIST = 0x5b;
const CLOSE_LIST = 0x5d;
/** Above this, an integer-valued double is written by String(): its digits are no longer exact here. */
const MAX_EXACT = Number.MAX_SAFE_INTEGER;
/** '-' and 16 digits. */
const MAX_INTEGER_BYTES = 17;
/** An element of an integer typed array: -2147483648 or 4294967295 at most. */
const INTEGER_ELEMENT_BYTES = 11;
const SHORT_TEXT = 64;
const NULL_TEXT = 'null';

/** Typed arrays whose elements are integers that fit a double exactly. */
export type IntegerArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

/** Writes the digits of a safe integer at `at`; returns where they end. Room is the caller's. */
function writeInteger(buffer: Buffer, at: number, v: number): number {
  let rest = v;
  if (rest < 0) {
    buffer[at++] = MINUS;
    rest = -rest;
  }
  let digits = 1;
  for (let power = 10; power <= rest; power *= 10) digits++;
  const end = at + digits;
  for (let i = end - 1; i >= at; i--) {
    const digit = rest % 10;
    buffer[i] = ZERO + digit;
    rest = (rest - digit) / 10;
  }
  return end;
}

/**
 * Messages are written one after another into a slab and handed out as views of it: no copy,
 * and a new slab only when one is full. A view keeps its slab alive, so a slab is freed once
 * every message written in it is.
 */
export class ByteWriter {
  private buffer: Buffer;
  /** Where the message being written starts in the slab. */
  private start = 0;
  private written = 0;

  constructor(private readonly slabBytes = 64 * 1024) {
    this.buffer = Buffer.allocUnsafeSlow(slabBytes);
  }

  /** The bytes of the message being written. */
  get byteLength(): number {
    return this.written - this.start;
  }

  /** Text as UTF-8, as it is (in JSON: a number, punctuation, or a JSON.stringify result). */
  text(s: string): void {
    // At most 3 bytes per UTF-16 code unit.
    this.reserve(s.length * 3);
    const buffer = this.buffer;
    const start = this.written;
    // Short ASCII text, most of an event's (ids, times, op names), costs less copied in a loop
    // than Buffer's write() costs to call.
    if (s.length <= SHORT_TEXT) {
      let at = start;
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) {
          at = -1;
          break;
        }
        buffer[at++] = c;
      }
      if (at >= 0) {
        this.written = at;
        return;
      }
    }
    this.written = start + buffer.write(s, start);
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    // A native copy costs more than a loop for the few bytes of a field name.
    if (b.length <= 32) {
      const buffer = this.buffer;
      let at = this.written;
      for (let i = 0; i < b.length; i++) buffer[at++] = b[i] as number;
      this.written = at;
    } else {
      this.buffer.set(b, this.written);
      this.written += b.length;
    }
  }

  byte(b: number): void {
    this.reserve(1);
    this.buffer[this.written++] = b;
  }

  /** A JSON number: null when not finite, as JSON.stringify writes it. */
  number(v: number): void {
    if (Number.isInteger(v) && Math.abs(v) <= MAX_EXACT) this.integer(v);
    else this.text(Number.isFinite(v) ? String(v) : NULL_TEXT);
  }

  /** A safe integer, digit by digit (-0 as 0, as String(-0)). */
  integer(v: number): void {
    this.reserve(MAX_INTEGER_BYTES);
    this.written = writeInteger(this.buffer, this.written, v);
  }

  /**
   * `[a,b,...]`: n elements of an integer typed array from `start` (the fast path of integer
   * tensors: one bound check for the list, not one per element).
   */
  integerList(data: IntegerArray, start: number, n: number): void {
    this.reserve(2 + n * (INTEGER_ELEMENT_BYTES + 1));
    const buffer = this.buffer;
    let at = this.written;
    buffer[at++] = OPEN_LIST;
    for (let i = 0; i < n; i++) {
      if (i > 0) buffer[at++] = COMMA;
      at = writeInteger(buffer, at, data[start + i] as number);
    }
    buffer[at++] = CLOSE_LIST;
    this.written = at;
  }

  /** The message written, as a view the writer never writes into again; the next one starts. */
  take(): Buffer {
    const message = this.buffer.subarray(this.start, this.written);
    this.start = this.written;
    return message;
  }

  /** Forgets the message being written (after an encoding that threw). */
  reset(): void {
    this.written = this.start;
  }

  /** Room for `bytes` more: when the slab is full, the message so far moves to a new one. */
  private reserve(bytes: number): void {
    if (this.written + bytes <= this.buffer.length) return;
    const length = this.written - this.start;
    const next = Buffer.allocUnsafeSlow(Math.max(this.slabBytes, 2 * (length + bytes)));
    this.buffer.copy(next, 0, this.start, this.written);
    this.buffer = next;
    this.start = 0;
    this.written = length;
  }
}

/** Field names and punctuation, encoded once. */
export function utf8(s: string): Uint8Array {
  return Buffer.from(s, 'utf8');
}
