/**
 * What the load generator needs to know about a chat protocol, and the
 * benchmark's own message format.
 *
 * Every benchmark message carries, in plain ASCII that all three servers
 * relay untouched, a marker, the sender's number, a sequence number and the
 * send time in microseconds of this process's clock:
 *
 * ```
 * ^b<sender>,<seq>,<send-time-us>;xxxxxxxx...
 * ```
 *
 * Sender and receivers live in the same process, so one clock serves both
 * ends and the difference is the one-way latency. Receivers find the marker
 * by byte search and parse the three numbers from bytes: no line is decoded
 * into a string on the hot path.
 *
 * @module
 */

/** How one client logs in: what it sends, and the lines that prove it. */
export interface LoginPlan {
  /** Sent once, right after connecting (may be empty). */
  send: string;
  /**
   * Byte strings that must each appear in a received line, in this order;
   * the client is ready when the last one has been seen.
   */
  expect: string[];
}

/** How a client should log in. */
export interface LoginOptions {
  /** Room to join; null for the shared benchmark room. */
  room: string | null;
  /** Ask for relaxed flood control where a server needs a privilege for it. */
  privileged: boolean;
}

/** What a line that is not a benchmark message means to the client. */
export interface ControlAction {
  /** Bytes to send back (an IRC PONG). */
  reply?: string;
  /** The server says it is disconnecting us, and why. */
  closing?: string;
}

/**
 * What {@linkcode Protocol.control} does, as data: for a reader in another
 * process (bench/native/reader.c) that cannot call it.
 */
export interface LineRules {
  /**
   * A line starting with `prefix` is answered with `answer`, then the rest
   * of the line, then CRLF (an IRC PING's PONG).
   */
  replies: Array<{ prefix: string; answer: string }>;
  /** A line starting with one of these says the server is closing. */
  closing: string[];
}

/** One protocol as the load generator drives it. */
export interface Protocol {
  /** Short name, as on the command line. */
  readonly name: string;
  /** The login of the client named `nick`. */
  login(nick: string, options: LoginOptions): LoginPlan;
  /** The bytes (as ASCII text) that send `payload` to the shared room. */
  frame(payload: string): string;
  /**
   * Looks at a received line that holds no benchmark message; null when it
   * needs nothing. Called rarely (joins, pings), so it may decode text.
   */
  control(line: Uint8Array): ControlAction | null;
  /**
   * Set when the protocol runs over WebSocket: the client upgrades `path`
   * first, sends each line of text as a text frame, and reads each frame
   * it receives as a line (ws_client_frames.ts).
   */
  readonly webSocket?: { path: string };
  /**
   * {@linkcode Protocol.control} as rules, when it can be said as such:
   * what lets the native reader drive this protocol.
   */
  readonly lineRules?: LineRules;
}

/** First byte of the marker ("^"). */
export const MARK = 0x5e;
/** Second byte of the marker ("b"). */
export const MARK_2 = 0x62;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/** Filler for payloads; a run of one printable ASCII letter. */
const PADDING = "x".repeat(4096);

/**
 * A payload of about `size` bytes (never shorter than its header) for
 * message `seq` of sender `sender`, stamped `sentUs`.
 */
export function payload(
  sender: number,
  seq: number,
  sentUs: number,
  size: number,
): string {
  const head = `^b${sender},${seq},${Math.round(sentUs)};`;
  return head.length >= size
    ? head
    : head + PADDING.slice(0, size - head.length);
}

/** One parsed message header. */
export interface ParsedMessage {
  sender: number;
  seq: number;
  sentUs: number;
}

/**
 * Parses the header whose marker starts at `at` in `bytes` (not past `end`)
 * into `out`. Returns the index just past the header's ";", or -1 when the
 * bytes there are not a whole header: another "^" in the text, or a message
 * that a relay cut in two.
 */
export function parseHeader(
  bytes: Uint8Array,
  at: number,
  end: number,
  out: ParsedMessage,
): number {
  if (bytes[at + 1] !== MARK_2) return -1;
  let i = digitsAt(bytes, at + 2, end);
  if (i < 0 || i >= end || bytes[i] !== COMMA) return -1;
  out.sender = digitsValue;
  i = digitsAt(bytes, i + 1, end);
  if (i < 0 || i >= end || bytes[i] !== COMMA) return -1;
  out.seq = digitsValue;
  i = digitsAt(bytes, i + 1, end);
  if (i < 0 || i >= end || bytes[i] !== SEMICOLON) return -1;
  out.sentUs = digitsValue;
  return i + 1;
}

/** The number {@linkcode digitsAt} read last (kept here: no allocation). */
let digitsValue = 0;

/**
 * Reads decimal digits from `i` (not past `end`) into `digitsValue`;
 * returns the index after them, or -1 when there are none.
 */
function digitsAt(bytes: Uint8Array, i: number, end: number): number {
  const start = i;
  let value = 0;
  for (; i < end; i++) {
    const c = bytes[i]!;
    if (c < DIGIT_0 || c > DIGIT_9) break;
    value = value * 10 + (c - DIGIT_0);
  }
  if (i === start) return -1;
  digitsValue = value;
  return i;
}

/** Whether `bytes[start..end)` contains `needle`. */
export function containsBytes(
  bytes: Uint8Array,
  start: number,
  end: number,
  needle: Uint8Array,
): boolean {
  const first = needle[0];
  if (first === undefined) return true;
  const last = end - needle.length;
  for (let i = bytes.indexOf(first, start); i !== -1 && i <= last;) {
    let j = 1;
    while (j < needle.length && bytes[i + j] === needle[j]) j++;
    if (j === needle.length) return true;
    i = bytes.indexOf(first, i + 1);
  }
  return false;
}

/** Whether `bytes[start..end)` begins with `prefix`. */
export function startsWithBytes(
  bytes: Uint8Array,
  start: number,
  end: number,
  prefix: Uint8Array,
): boolean {
  if (end - start < prefix.length) return false;
  for (let j = 0; j < prefix.length; j++) {
    if (bytes[start + j] !== prefix[j]) return false;
  }
  return true;
}
