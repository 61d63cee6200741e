/**
 * Splits received bytes into lines and finds benchmark messages in them,
 * without making strings: newlines and markers are found by
 * `Uint8Array.indexOf` (a native byte search), headers are parsed from bytes,
 * and a line that runs past the end of a read is carried to the next one.
 *
 * This is the load generator's hot path: every delivery passes through
 * {@linkcode ChunkScanner.push}, so it is kept to a few native searches and
 * integer arithmetic per message.
 *
 * @module
 */

import { MARK, MARK_2, type ParsedMessage, parseHeader } from "./protocol.ts";
import { concatBytes } from "../wire/bytes.ts";

const NEWLINE = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const CLOSE_BRACE = 0x7d;

/** A partial line longer than this is dropped rather than buffered. */
const MAX_CARRY_BYTES = 1 << 20;

/** Where the scanner reports what it finds. */
export interface ScanSink {
  /** A whole benchmark message, received at `atUs`. */
  message(header: ParsedMessage, atUs: number): void;
  /** A marker whose header did not parse: a message a relay cut in two. */
  garbled(): void;
  /** A line holding no benchmark message: `bytes[start..end)`. */
  control(bytes: Uint8Array, start: number, end: number): void;
}

/** One connection's line splitter and message finder. */
export class ChunkScanner {
  readonly #sink: ScanSink;
  readonly #payloadBytes: number;
  readonly #header: ParsedMessage = { sender: 0, seq: 0, sentUs: 0 };
  #carry: Uint8Array | null = null;

  /**
   * @param sink receives messages and control lines
   * @param payloadBytes the size every benchmark payload is padded to: a
   *   message line then ends at a known offset from its marker, so it need
   *   not be searched for its newline
   */
  constructor(sink: ScanSink, payloadBytes: number) {
    this.#sink = sink;
    this.#payloadBytes = payloadBytes;
  }

  /** Handles one read, all received at `atUs`. */
  push(chunk: Uint8Array, atUs: number): void {
    const length = chunk.length;
    let pos = 0;
    if (this.#carry !== null) {
      const newline = chunk.indexOf(NEWLINE);
      const joined = concatBytes([
        this.#carry,
        chunk.subarray(0, newline === -1 ? length : newline),
      ]);
      if (newline === -1) {
        this.#carry = joined.length > MAX_CARRY_BYTES ? null : joined;
        return;
      }
      this.#carry = null;
      this.#line(joined, 0, joined.length, joined.indexOf(MARK), atUs);
      pos = newline + 1;
    }
    const header = this.#header;
    const size = this.#payloadBytes;
    // The next marker at or after pos, or -1 when the chunk has no more.
    let mark = chunk.indexOf(MARK, pos);
    while (pos < length) {
      if (mark !== -1 && mark < pos) mark = chunk.indexOf(MARK, pos);
      if (mark === -1) {
        // No message in the rest of the chunk: control lines only.
        const newline = chunk.indexOf(NEWLINE, pos);
        if (newline === -1) break;
        this.#sink.control(chunk, pos, newline);
        pos = newline + 1;
        continue;
      }
      // A newline before the marker ends a control line first. (A native
      // search: a JSON event's marker sits some 70 bytes into its line.)
      let newline = chunk.indexOf(NEWLINE, pos);
      if (newline !== -1 && newline < mark) {
        this.#sink.control(chunk, pos, newline);
        pos = newline + 1;
        continue;
      }
      // Fast path: the header parses and the line ends exactly where the
      // payload size says, so the padding is never searched.
      const headEnd = parseHeader(chunk, mark, length, header);
      if (headEnd !== -1) {
        const end = Math.max(mark + size, headEnd);
        if (end < length && chunk[end] === NEWLINE) {
          this.#sink.message(header, atUs);
          pos = end + 1;
          continue;
        }
        if (
          end + 1 < length && chunk[end] === CR && chunk[end + 1] === NEWLINE
        ) {
          this.#sink.message(header, atUs);
          pos = end + 2;
          continue;
        }
        // A JSON event whose last field is the text: `..."}` then newline.
        if (
          end + 2 < length && chunk[end] === QUOTE &&
          chunk[end + 1] === CLOSE_BRACE && chunk[end + 2] === NEWLINE
        ) {
          this.#sink.message(header, atUs);
          pos = end + 3;
          continue;
        }
      }
      // Anything else: this whole line, the slow way.
      newline = chunk.indexOf(NEWLINE, mark);
      if (newline === -1) break;
      mark = this.#line(chunk, pos, newline, mark, atUs);
      pos = newline + 1;
    }
    if (pos < length) this.#carry = chunk.slice(pos);
  }

  /**
   * Handles one whole line `bytes[start..end)` known to end there (a
   * WebSocket frame's payload): no newline to search for, nothing carried.
   */
  line(bytes: Uint8Array, start: number, end: number, atUs: number): void {
    const mark = bytes.indexOf(MARK, start);
    if (mark === -1 || mark >= end) {
      this.#sink.control(bytes, start, end);
      return;
    }
    this.#line(bytes, start, end, mark, atUs);
  }

  /**
   * Handles the line `bytes[start..end)` in full, given its first marker
   * (or -1); returns the first marker at or after `end`, or -1. A line may
   * hold more than one message: ncat prefixes each relayed read, not each
   * line, so a message cut between two reads can run into the next one.
   */
  #line(
    bytes: Uint8Array,
    start: number,
    end: number,
    mark: number,
    atUs: number,
  ): number {
    let found = false;
    while (mark !== -1 && mark < end) {
      if (parseHeader(bytes, mark, end, this.#header) !== -1) {
        this.#sink.message(this.#header, atUs);
        found = true;
      } else if (bytes[mark + 1] === MARK_2) {
        this.#sink.garbled();
        found = true;
      }
      mark = bytes.indexOf(MARK, mark + 1);
    }
    if (!found) this.#sink.control(bytes, start, end);
    return mark;
  }
}
