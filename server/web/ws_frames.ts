/**
 * RFC 6455 framing as pure functions over bytes: the server's frames out
 * (one text frame per JSON line, control frames) and an incremental reader
 * of a client's frames in. No socket here; websocket_socket.ts does the I/O.
 *
 * The server frames its own output so that everything queued for one peer
 * in a turn leaves in one write, as on TCP: a runtime WebSocket costs a task
 * and a system call per frame (BENCHMARKS.md, WebSocket section).
 *
 * @module
 */

import { concatBytes } from "../../wire/bytes.ts";

/** Frame opcodes (RFC 6455 section 5.2). */
export const OP_CONTINUATION = 0x0;
/** A text frame: UTF-8. */
export const OP_TEXT = 0x1;
/** A binary frame. */
export const OP_BINARY = 0x2;
/** The closing handshake. */
export const OP_CLOSE = 0x8;
/** A ping, answered by a pong with the same payload. */
export const OP_PING = 0x9;
/** A pong. */
export const OP_PONG = 0xa;

/** Close codes (RFC 6455 section 7.4.1). */
export const CLOSE_NORMAL = 1000;
/** The server is shutting down. */
export const CLOSE_GOING_AWAY = 1001;
/** The peer broke the framing rules. */
export const CLOSE_PROTOCOL_ERROR = 1002;
/** A text message was not UTF-8. */
export const CLOSE_INVALID_DATA = 1007;
/** Refused by policy (banned, full, too many connections). */
export const CLOSE_POLICY = 1008;
/** A message too big to take. */
export const CLOSE_TOO_BIG = 1009;

/**
 * Control frames carry at most this many bytes (RFC 6455 section 5.5): a
 * limit of the protocol, not ours.
 */
const MAX_CONTROL_PAYLOAD = 125;

const LF = 0x0a;

/** The bytes of one unmasked, final server frame with `payload`. */
export function encodeFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const head = headerLength(payload.length);
  const frame = new Uint8Array(head + payload.length);
  writeHeader(frame, 0, opcode, payload.length);
  frame.set(payload, head);
  return frame;
}

function headerLength(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}

function writeHeader(
  out: Uint8Array,
  at: number,
  opcode: number,
  length: number,
): number {
  out[at] = 0x80 | opcode;
  if (length < 126) {
    out[at + 1] = length;
    return at + 2;
  }
  if (length < 0x10000) {
    out[at + 1] = 126;
    out[at + 2] = length >>> 8;
    out[at + 3] = length & 0xff;
    return at + 4;
  }
  out[at + 1] = 127;
  // Lengths here stay far below 2^32: the high four bytes are zero.
  out[at + 2] =
    out[at + 3] =
    out[at + 4] =
    out[at + 5] =
      0;
  new DataView(out.buffer, out.byteOffset).setUint32(at + 6, length);
  return at + 10;
}

/**
 * A batch of newline-terminated JSON lines as text frames, one per line,
 * in one buffer: what the send queue writes to a WebSocket peer. Encoded
 * events never hold a raw newline (JSON escapes it), so each line is one
 * whole event. A last line without its newline is framed too.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { textFramesOfLines } from "./ws_frames.ts";
 * const out = textFramesOfLines(new TextEncoder().encode('{"a":1}\n{}\n'));
 * assert.deepEqual([...out], [
 *   0x81, 7, ...new TextEncoder().encode('{"a":1}'), 0x81, 2, 0x7b, 0x7d,
 * ]);
 * ```
 */
export function textFramesOfLines(batch: Uint8Array): Uint8Array {
  let size = 0;
  for (let start = 0; start < batch.length;) {
    let end = batch.indexOf(LF, start);
    if (end === -1) end = batch.length;
    size += headerLength(end - start) + end - start;
    start = end + 1;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (let start = 0; start < batch.length;) {
    let end = batch.indexOf(LF, start);
    if (end === -1) end = batch.length;
    at = writeHeader(out, at, OP_TEXT, end - start);
    out.set(batch.subarray(start, end), at);
    at += end - start;
    start = end + 1;
  }
  return out;
}

/**
 * Whether a peer may put `code` in a close frame: the defined codes (with
 * 1012-1014, registered since RFC 6455) and those for libraries and
 * applications; 1004-1006 and 1015 never go on the wire.
 */
export function closeCodeAllowed(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

/**
 * The code that answers a peer's close frame carrying `code`: the peer's
 * own, as RFC 6455 section 5.5.1 has a close echoed, including codes this
 * server never sends itself (1012-1014, 3000-4999); 1000 for one no frame
 * may carry (the reader fails those before they get here).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { closeReply } from "./ws_frames.ts";
 * assert.equal(closeReply(1013), 1013);
 * assert.equal(closeReply(4000), 4000);
 * assert.equal(closeReply(1005), 1000);
 * ```
 */
export function closeReply(code: number): number {
  return closeCodeAllowed(code) ? code : CLOSE_NORMAL;
}

/** A close frame with `code` and a reason cut to fit a control frame. */
export function closeFrame(code: number, reason = ""): Uint8Array {
  let text = new TextEncoder().encode(reason);
  if (text.length > MAX_CONTROL_PAYLOAD - 2) {
    text = text.subarray(0, MAX_CONTROL_PAYLOAD - 2);
  }
  const payload = new Uint8Array(2 + text.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(text, 2);
  return encodeFrame(OP_CLOSE, payload);
}

/** What a client's frames amount to, one message or control at a time. */
export type ClientFrame =
  | { kind: "text"; text: string }
  /** A text message past the size limit, skipped without being kept. */
  | { kind: "too_long"; limit: number }
  | { kind: "binary" }
  | { kind: "ping"; payload: Uint8Array }
  | { kind: "pong" }
  | { kind: "close"; code: number; reason: string }
  /** The peer broke the protocol: close with `code`, read nothing more. */
  | { kind: "fail"; code: number; reason: string };

/**
 * Reads a client's byte stream as frames: unmasks, joins fragments, checks
 * UTF-8, and never keeps more than `maxMessageBytes` of one message (a
 * longer message's bytes are skipped as they arrive and reported as
 * `too_long`). After a `fail` or a `close` it reads nothing more.
 */
export class FrameReader {
  readonly #maxMessageBytes: number;
  #buffer: Uint8Array = new Uint8Array(0);
  /** The message being assembled from fragments. */
  #parts: Uint8Array[] = [];
  #partsBytes = 0;
  /**
   * Empty fragments of the message so far. They hold no bytes, so they are
   * counted apart: a message may have as many as its limit has bytes, and a
   * peer sending them without end gets a message too long, not a list of
   * fragments that grows for as long as it sends.
   */
  #emptyFragments = 0;
  #messageOpcode = -1;
  #oversize = false;
  /** Payload bytes of the current oversize frame still to skip. */
  #skip = 0;
  #skipFinal = false;
  #done = false;
  /** Bytes taken since {@linkcode FrameReader.takeSkippedBytes} last ran. */
  #skipped = 0;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });

  /**
   * Starts at a frame boundary, with nothing read.
   * @param maxMessageBytes the longest text message taken
   */
  constructor(maxMessageBytes: number) {
    this.#maxMessageBytes = maxMessageBytes;
  }

  /**
   * Bytes read since the last call that no `text` or `too_long` message
   * stands for (frame headers, control frames, binary messages, what a
   * message past the limit had beyond it), and starts counting again: the
   * reader charges them as it charges a message's bytes, so that a stream
   * of pings or of a message that never ends is not free.
   */
  takeSkippedBytes(): number {
    // Below zero when a fragmented message's bytes were counted as they
    // came and taken before it ended: what is left is owed back.
    if (this.#skipped <= 0) return 0;
    const skipped = this.#skipped;
    this.#skipped = 0;
    return skipped;
  }

  /** Takes the next bytes; returns the frames they complete, in order. */
  push(bytes: Uint8Array): ClientFrame[] {
    const out: ClientFrame[] = [];
    if (this.#done) return out;
    this.#skipped += bytes.length;
    let data = this.#buffer.length === 0 ? bytes : join(this.#buffer, bytes);
    while (data.length > 0 && !this.#done) {
      if (this.#skip > 0) {
        const taken = Math.min(this.#skip, data.length);
        this.#skip -= taken;
        data = data.subarray(taken);
        if (this.#skip === 0) this.#endOversize(out);
        continue;
      }
      const used = this.#frame(data, out);
      if (used === 0) break;
      data = data.subarray(used);
    }
    // Keep only what a frame header still needs: never a large payload.
    this.#buffer = this.#done ? new Uint8Array(0) : data.slice();
    return out;
  }

  /**
   * Reads one frame from the front of `data` if it is all there (or its
   * header, for a frame to skip); returns the bytes used, 0 for "need more".
   */
  #frame(data: Uint8Array, out: ClientFrame[]): number {
    if (data.length < 2) return 0;
    const b0 = data[0]!;
    const b1 = data[1]!;
    const final = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) return this.#fail(out, "reserved bits set");
    if ((b1 & 0x80) === 0) return this.#fail(out, "client frames are masked");
    let length = b1 & 0x7f;
    let at = 2;
    if (length === 126) {
      if (data.length < 4) return 0;
      length = (data[2]! << 8) | data[3]!;
      at = 4;
    } else if (length === 127) {
      if (data.length < 10) return 0;
      const view = new DataView(data.buffer, data.byteOffset);
      if (view.getUint32(2) !== 0) {
        return this.#fail(out, "frame too large", CLOSE_TOO_BIG);
      }
      length = view.getUint32(6);
      at = 10;
    }
    if (data.length < at + 4) return 0;
    const mask = data.subarray(at, at + 4);
    at += 4;
    if (opcode >= 0x8) {
      if (!final || length > MAX_CONTROL_PAYLOAD) {
        return this.#fail(out, "bad control frame");
      }
      if (data.length < at + length) return 0;
      const payload = data.subarray(at, at + length);
      unmaskInPlace(payload, mask);
      this.#control(opcode, payload.slice(), out);
      return at + length;
    }
    if (!this.#mayStart(opcode)) return this.#fail(out, "bad fragment");
    if (length === 0 && !final) this.#emptyFragments++;
    if (
      this.#oversize || this.#partsBytes + length > this.#maxMessageBytes ||
      this.#emptyFragments > this.#maxMessageBytes
    ) {
      // Skip this frame's payload as it arrives; keep nothing of it.
      if (opcode !== OP_CONTINUATION) this.#messageOpcode = opcode;
      this.#oversize = true;
      this.#parts = [];
      this.#skip = length;
      this.#skipFinal = final;
      if (length === 0) this.#endOversize(out);
      return at;
    }
    if (data.length < at + length) return 0;
    if (opcode !== OP_CONTINUATION) this.#messageOpcode = opcode;
    // Unmasked where it lies (the caller's buffer is ours until we return);
    // copied only when a message comes in fragments and must be kept.
    const payload = data.subarray(at, at + length);
    unmaskInPlace(payload, mask);
    if (final && this.#parts.length === 0) this.#endMessage(out, payload);
    else {
      if (length > 0) this.#parts.push(payload.slice());
      this.#partsBytes += length;
      if (final) this.#endMessage(out, join(...this.#parts));
    }
    return at + length;
  }

  /**
   * Whether a data frame may come now: a continuation inside a message, a
   * text or binary frame outside one.
   */
  #mayStart(opcode: number): boolean {
    if (opcode === OP_CONTINUATION) return this.#messageOpcode !== -1;
    if (opcode !== OP_TEXT && opcode !== OP_BINARY) return false;
    return this.#messageOpcode === -1;
  }

  #endOversize(out: ClientFrame[]): void {
    if (!this.#skipFinal) return;
    const binary = this.#messageOpcode === OP_BINARY;
    this.#reset();
    if (!binary) this.#skipped -= this.#maxMessageBytes;
    out.push(
      binary ? { kind: "binary" } : {
        kind: "too_long",
        limit: this.#maxMessageBytes,
      },
    );
  }

  #endMessage(out: ClientFrame[], bytes: Uint8Array): void {
    const opcode = this.#messageOpcode;
    this.#reset();
    if (opcode === OP_BINARY) {
      out.push({ kind: "binary" });
      return;
    }
    let text: string;
    try {
      text = this.#decoder.decode(bytes);
    } catch {
      this.#fail(out, "text is not UTF-8", CLOSE_INVALID_DATA);
      return;
    }
    this.#skipped -= bytes.length;
    out.push({ kind: "text", text });
  }

  #reset(): void {
    this.#parts = [];
    this.#partsBytes = 0;
    this.#emptyFragments = 0;
    this.#messageOpcode = -1;
    this.#oversize = false;
  }

  #control(opcode: number, payload: Uint8Array, out: ClientFrame[]): void {
    switch (opcode) {
      case OP_PING:
        out.push({ kind: "ping", payload });
        return;
      case OP_PONG:
        out.push({ kind: "pong" });
        return;
      case OP_CLOSE: {
        // A body starts with a code a peer may send, then UTF-8 (RFC 6455
        // 5.5.1, 7.4, 8.1); anything else fails the connection.
        if (payload.length === 1) {
          return void this.#fail(out, "close frame without its code");
        }
        const code = payload.length >= 2
          ? (payload[0]! << 8) | payload[1]!
          : CLOSE_NORMAL;
        if (!closeCodeAllowed(code)) {
          return void this.#fail(out, "close code not allowed");
        }
        let reason: string;
        try {
          reason = this.#decoder.decode(payload.subarray(2));
        } catch {
          return void this.#fail(
            out,
            "close reason is not UTF-8",
            CLOSE_INVALID_DATA,
          );
        }
        this.#done = true;
        out.push({ kind: "close", code, reason });
        return;
      }
      default:
        this.#fail(out, "unknown opcode");
    }
  }

  #fail(out: ClientFrame[], reason: string, code = CLOSE_PROTOCOL_ERROR): 0 {
    this.#done = true;
    out.push({ kind: "fail", code, reason });
    return 0;
  }
}

/**
 * XORs `payload` with the 4-byte `mask`, in place. A zero mask (legal, if
 * unusual) leaves the bytes as they are.
 */
function unmaskInPlace(payload: Uint8Array, mask: Uint8Array): void {
  const m0 = mask[0]!;
  const m1 = mask[1]!;
  const m2 = mask[2]!;
  const m3 = mask[3]!;
  if ((m0 | m1 | m2 | m3) === 0) return;
  const length = payload.length;
  let i = 0;
  for (; i + 3 < length; i += 4) {
    payload[i] = payload[i]! ^ m0;
    payload[i + 1] = payload[i + 1]! ^ m1;
    payload[i + 2] = payload[i + 2]! ^ m2;
    payload[i + 3] = payload[i + 3]! ^ m3;
  }
  for (; i < length; i++) payload[i] = payload[i]! ^ mask[i & 3]!;
}

function join(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(parts);
}
