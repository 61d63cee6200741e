/**
 * Framing and cleaning of text from the wire: a bounded line framer over a
 * byte stream, and {@linkcode sanitizeText}, which decides what may reach
 * another person's terminal. Pure.
 *
 * @module
 */

/**
 * Longest line accepted from a peer, in bytes without the newline. Mature line
 * servers cap a control line at 4 KiB (NATS), so a hostile peer cannot make the
 * server buffer without bound.
 * @default {4096}
 */
export const DEFAULT_MAX_LINE_BYTES = 4096;

/**
 * One unit the framer produces: a decoded line, notice of a discarded one,
 * or a telnet user's Ctrl-C (Interrupt Process, and the timing mark a telnet
 * client asks with it and discards all output until it is answered).
 */
export type Frame =
  | { kind: "line"; text: string }
  | { kind: "too_long"; limit: number }
  | { kind: "telnet"; interrupt: boolean; timingMark: boolean };

const LF = 0x0a;
const CR = 0x0d;

/** Telnet's "interpret as command" byte, which never occurs in UTF-8. */
const IAC = 0xff;
/** Telnet's subnegotiation begin and end (after IAC). */
const SB = 0xfa;
const SE = 0xf0;
/** Telnet's WILL, WONT, DO and DONT (after IAC), each followed by an option. */
const WILL = 0xfb;
const DO = 0xfd;
/** Telnet's Interrupt Process (after IAC): what Ctrl-C sends. */
const IP = 0xf4;
/** The TIMING-MARK option (RFC 860). */
const TIMING_MARK = 0x06;
/** Longest telnet subnegotiation skipped; window sizes and terminal types fit. */
const MAX_SUBNEGOTIATION = 64;

/**
 * The options a telnet client subnegotiates (STATUS, TERMINAL-TYPE, NAWS,
 * TERMINAL-SPEED, TOGGLE-FLOW-CONTROL, LINEMODE, X-DISPLAY-LOCATION,
 * ENVIRON, AUTHENTICATION, ENCRYPT, NEW-ENVIRON, CHARSET, COM-PORT): after
 * IAC SB, any other byte means the two were not telnet (a Latin-1 "ÿú"
 * typed by someone), and what follows is text, not swallowed up to
 * {@linkcode MAX_SUBNEGOTIATION} bytes with the lines in it.
 */
const SUBNEGOTIATED = new Set([
  5,
  24,
  31,
  32,
  33,
  34,
  35,
  36,
  37,
  38,
  39,
  42,
  44,
]);

/** Where a {@linkcode TelnetFilter} is inside a command. */
type TelnetState = "text" | "iac" | "option" | "sub_option" | "sub" | "sub_iac";

/**
 * Removes telnet commands from a byte stream. A telnet client such as PuTTY
 * opens with option negotiation (`IAC WILL NAWS`, ...) whatever the port,
 * which would otherwise be read as the start of the nickname and refuse it.
 * IAC (0xFF) is never part of UTF-8 text, so nothing a UTF-8 client sends is
 * lost; the server never negotiates, and the client falls back to sending
 * plain lines. One command is noted rather than only dropped: Ctrl-C in a
 * telnet client sends Interrupt Process and DO TIMING-MARK, and the client
 * shows nothing more until the timing mark is answered ({@linkcode take}).
 */
export class TelnetFilter {
  #state: TelnetState = "text";
  #subBytes = 0;
  /** The verb (WILL, WONT, DO, DONT) whose option comes next. */
  #verb = 0;
  /** Whether an Interrupt Process has come since {@linkcode take}. */
  interrupted = false;
  /** Whether a DO TIMING-MARK has come since {@linkcode take}. */
  timingMarkAsked = false;

  /** The Ctrl-C seen since the last call, as a frame; null if none. */
  take(): Frame | null {
    if (!this.interrupted && !this.timingMarkAsked) return null;
    const frame: Frame = {
      kind: "telnet",
      interrupt: this.interrupted,
      timingMark: this.timingMarkAsked,
    };
    this.interrupted = false;
    this.timingMarkAsked = false;
    return frame;
  }

  /** The bytes of `chunk` that are not telnet commands (`chunk` itself if none). */
  filter(chunk: Uint8Array): Uint8Array {
    if (this.#state === "text" && chunk.indexOf(IAC) === -1) return chunk;
    const kept = new Uint8Array(chunk.length);
    let length = 0;
    for (const byte of chunk) {
      if (
        this.#state.startsWith("sub") && this.#subBytes >= MAX_SUBNEGOTIATION
      ) {
        this.#state = "text";
      }
      switch (this.#state) {
        case "text":
          if (byte === IAC) this.#state = "iac";
          else kept[length++] = byte;
          break;
        case "iac":
          if (byte === SB) {
            this.#state = "sub_option";
          } else if (byte >= WILL && byte !== IAC) {
            this.#state = "option";
            this.#verb = byte;
          } else if (byte === IP) {
            this.interrupted = true;
            this.#state = "text";
          } else {
            // A one-byte command, an escaped 0xFF, or a stray IAC before
            // text (kept: only the IAC was not text).
            if (byte < SE) kept[length++] = byte;
            this.#state = "text";
          }
          break;
        case "sub_option":
          if (SUBNEGOTIATED.has(byte)) {
            this.#state = "sub";
            this.#subBytes = 1;
          } else if (byte === IAC) {
            this.#state = "iac";
          } else {
            // Not a subnegotiation: the byte is text.
            kept[length++] = byte;
            this.#state = "text";
          }
          break;
        case "option":
          if (this.#verb === DO && byte === TIMING_MARK) {
            this.timingMarkAsked = true;
          }
          this.#state = "text";
          break;
        case "sub":
        case "sub_iac": {
          const ends = this.#state === "sub_iac" && byte === SE;
          this.#state = byte === IAC && this.#state === "sub"
            ? "sub_iac"
            : "sub";
          this.#subBytes++;
          if (ends) this.#state = "text";
          break;
        }
      }
    }
    return kept.subarray(0, length);
  }
}

/**
 * Splits a byte stream into lines on LF (an optional CR before it is
 * dropped), decoding each whole line as UTF-8 so a character split across two
 * reads is never decoded in halves; invalid bytes become U+FFFD.
 *
 * A line longer than `maxLineBytes` yields one `too_long` frame as soon as the
 * limit is passed, and the rest of it is discarded up to its newline without
 * being buffered: the framer never holds more than `maxLineBytes` bytes.
 *
 * @example Lines split across reads
 * ```ts
 * import assert from "node:assert/strict";
 * import { LineFramer } from "../protocol.ts";
 * const framer = new LineFramer(64);
 * const bytes = new TextEncoder().encode("hel");
 * assert.deepEqual(framer.push(bytes), []);
 * assert.deepEqual(framer.push(new TextEncoder().encode("lo\r\nx\n")), [
 *   { kind: "line", text: "hello" },
 *   { kind: "line", text: "x" },
 * ]);
 * ```
 */
export class LineFramer {
  /** Longest accepted line in bytes, without its newline. */
  readonly maxLineBytes: number;
  #pending: Uint8Array | null = null;
  #pendingLength = 0;
  #discarding = false;
  /** Bytes dropped since {@linkcode LineFramer.takeSkippedBytes} last ran. */
  #skipped = 0;
  /** Made at the first telnet command: most peers never send one. */
  #telnet: TelnetFilter | null = null;
  static readonly #decoder = new TextDecoder("utf-8", { ignoreBOM: false });

  /**
   * A framer with nothing pending.
   *
   * @param maxLineBytes longest accepted line, without its newline
   */
  constructor(maxLineBytes: number = DEFAULT_MAX_LINE_BYTES) {
    this.maxLineBytes = maxLineBytes;
  }

  /** Bytes held for an unfinished line; bounded by `maxLineBytes`. */
  get bufferedBytes(): number {
    return this.#pendingLength;
  }

  /**
   * Feeds one chunk read from the peer; returns the frames it completes.
   * Telnet commands in it are dropped first ({@linkcode TelnetFilter}).
   */
  push(read: Uint8Array): Frame[] {
    if (this.#telnet === null && read.indexOf(IAC) !== -1) {
      this.#telnet = new TelnetFilter();
    }
    const chunk = this.#telnet === null ? read : this.#telnet.filter(read);
    this.#skipped += read.length - chunk.length;
    const frames: Frame[] = [];
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(LF, start);
      const end = newline === -1 ? chunk.length : newline;
      if (this.#discarding) {
        this.#skipped += end - start;
        if (newline !== -1) this.#discarding = false;
      } else if (this.#pendingLength + (end - start) > this.maxLineBytes + 1) {
        // +1 leaves room for the CR of a CRLF that lands exactly at the limit.
        // The frame stands for `maxLineBytes` of what is dropped here.
        this.#skipped += this.#pendingLength + (end - start) -
          this.maxLineBytes;
        this.#dropPending();
        frames.push({ kind: "too_long", limit: this.maxLineBytes });
        if (newline === -1) this.#discarding = true;
      } else if (newline === -1) {
        this.#append(chunk.subarray(start, end));
      } else {
        const line = this.#takeLine(chunk.subarray(start, end));
        if (line === null) {
          frames.push({ kind: "too_long", limit: this.maxLineBytes });
        } else {
          frames.push({ kind: "line", text: line });
        }
      }
      start = newline === -1 ? chunk.length : newline + 1;
    }
    const telnet = this.#telnet?.take() ?? null;
    if (telnet !== null) frames.push(telnet);
    return frames;
  }

  /**
   * Bytes dropped since the last call beyond what `too_long` frames stand
   * for (`maxLineBytes` each): the rest of a line past the limit, and
   * telnet commands; counting starts again. They
   * cost a reader as much as a line's bytes do, so whoever reads lines
   * counts them too: otherwise input that never ends a line would be free.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LineFramer } from "../protocol.ts";
   * const framer = new LineFramer(4);
   * const bytes = new TextEncoder().encode("0123456789\nok\n");
   * assert.deepEqual(framer.push(bytes), [
   *   { kind: "too_long", limit: 4 },
   *   { kind: "line", text: "ok" },
   * ]);
   * assert.equal(framer.takeSkippedBytes(), 6); // the frame stands for 4
   * assert.equal(framer.takeSkippedBytes(), 0);
   * ```
   */
  takeSkippedBytes(): number {
    const skipped = this.#skipped;
    this.#skipped = 0;
    return skipped;
  }

  /**
   * Ends the stream: a final line without a newline is still delivered, as a
   * pipe into `nc` often omits the last newline.
   */
  end(): Frame[] {
    if (this.#discarding || this.#pendingLength === 0) {
      this.#discarding = false;
      this.#dropPending();
      return [];
    }
    const line = this.#takeLine(new Uint8Array(0));
    return line === null ? [] : [{ kind: "line", text: line }];
  }

  #append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#pending ??= new Uint8Array(this.maxLineBytes + 1);
    this.#pending.set(bytes, this.#pendingLength);
    this.#pendingLength += bytes.length;
  }

  /** Joins the pending bytes with `tail`, strips one trailing CR, decodes. */
  #takeLine(tail: Uint8Array): string | null {
    let bytes = tail;
    if (this.#pendingLength > 0 && this.#pending) {
      this.#append(tail);
      bytes = this.#pending.subarray(0, this.#pendingLength);
    }
    let length = bytes.length;
    if (length > 0 && bytes[length - 1] === CR) length--;
    const text = length > this.maxLineBytes
      ? null
      : LineFramer.#decoder.decode(bytes.subarray(0, length));
    this.#dropPending();
    return text;
  }

  #dropPending(): void {
    this.#pendingLength = 0;
    // A long line's buffer is released so idle connections stay small.
    this.#pending = null;
  }
}

/**
 * ANSI/VT escape sequences: CSI (`ESC [` or the 8-bit U+009B), OSC (`ESC ]`
 * up to BEL or ST), DCS/SOS/PM/APC strings, and two-character escapes.
 */
const ESCAPE_SEQUENCE =
  // deno-lint-ignore no-control-regex -- matching escapes is the point
  /\x1b\[[0-?]*[ -/]*[@-~]?|\x9b[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?|\x1b[ -~]?/g;

/** Whitespace controls that become a plain space rather than vanish. */
const CONTROL_WHITESPACE = /[\t\n\v\f\r\u0085\u2028\u2029]/g;

/**
 * Other control characters, and the bidirectional overrides, embeddings and
 * isolates that can reorder what a reader sees (CVE-2021-42574). Zero-width
 * joiners stay: emoji sequences and several scripts need them.
 */
const INVISIBLE_CONTROLS =
  /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufff9-\ufffb]/gu;

/**
 * Makes text safe to print as part of one line on a terminal, keeping its
 * spacing: escape sequences and control characters are removed, line breaks
 * and tabs become spaces, and a lone surrogate (which JSON can carry as
 * `\ud800` but no UTF-8 encoder or strict JSON parser accepts) becomes U+FFFD.
 * The server applies it to everything it says that quotes what a client
 * typed, such as an unknown command's name in an error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { printableText } from "../protocol.ts";
 * assert.equal(printableText("  /\x1b[2Jfoo\tbar"), "  /foo bar");
 * ```
 */
export function printableText(text: string): string {
  return text
    .toWellFormed()
    .replace(ESCAPE_SEQUENCE, "")
    .replace(CONTROL_WHITESPACE, " ")
    .replace(INVISIBLE_CONTROLS, "");
}

/**
 * Makes text safe to print on another person's terminal: what
 * {@linkcode printableText} does, and surrounding whitespace is trimmed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sanitizeText } from "../protocol.ts";
 * assert.equal(sanitizeText("\x1b[2Jhi\x07 there\n"), "hi there");
 * ```
 */
export function sanitizeText(text: string): string {
  return capMarks(printableText(text).trim());
}

/**
 * Invisible characters a text reader is shown without: format characters
 * (Unicode Cf) and default-ignorable code points, such as zero-width spaces,
 * word joiners, soft hyphens, the byte-order mark, tag characters and the
 * Hangul fillers, which some terminals draw two columns wide and blank. Kept:
 * the zero-width joiner and non-joiner and the variation selectors, which
 * emoji sequences and several scripts need (and which take no column), and
 * the prepended concatenation marks (`U+0600`, ...), which are visible.
 */
const SHOWN_AS_NOTHING =
  /(?![\u200c\u200d\ufe00-\ufe0f\u180b-\u180d\u180f\u{e0100}-\u{e01ef}\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\u{110bd}\u{110cd}])[\p{Cf}\p{Default_Ignorable_Code_Point}]/gu;

/** What takes no column: combining marks, joiners, variation selectors. */
const NO_COLUMN = String
  .raw`\p{M}\u200c\u200d\ufe00-\ufe0f\u180b-\u180d\u180f\u{e0100}-\u{e01ef}`;

/**
 * A run of two blanks or more (whitespace, the blank braille cell), with
 * what takes no column between and after them (marks on a blank show
 * alone, if at all), and the joiners just before it, which join nothing.
 */
const BLANK_RUN = new RegExp(
  String
    .raw`[\u200c\u200d]*[\s\u2800][\s\u2800${NO_COLUMN}]*[\s\u2800][${NO_COLUMN}]*`,
  "gu",
);

/** Printable ASCII with no two spaces together: nothing to collapse. */
const ASCII_SINGLE_SPACED = /^(?:[!-~]| (?! ))*$/;

/**
 * Text others typed, as a text reader's terminal shows it: nothing but
 * single spaces between what is seen. {@linkcode sanitizeText}, then
 * invisible format characters dropped and each run of blanks (spaces, tabs,
 * Unicode spaces such as U+3000, the blank braille cell) made one space.
 * Otherwise a message padded with blanks could fill a terminal's line so
 * that what follows starts the next line as `*** ...`, posing as the
 * server. JSON readers get the text as it was sent (sanitized), spacing and
 * all: they tell the server's words from a person's by the event's type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readerText } from "../protocol.ts";
 * assert.equal(readerText("hi" + " ".repeat(80) + "*** op"), "hi *** op");
 * assert.equal(readerText("a\u200b \u200b\t\u3000b"), "a b");
 * assert.equal(readerText("naïve café, 10\u00a0km"), "naïve café, 10\u00a0km");
 * ```
 */
export function readerText(text: string): string {
  const clean = sanitizeText(text);
  return ASCII_SINGLE_SPACED.test(clean)
    ? clean
    : clean.replace(SHOWN_AS_NOTHING, "").replace(BLANK_RUN, " ").trim();
}

/**
 * Most combining marks one character (grapheme) keeps in text others see.
 * Real writing stacks a few (Vietnamese, Devanagari, pointed Hebrew,
 * Tibetan stacks, a keycap emoji); past that they only smear over the
 * lines above and below ("Zalgo"). Names, which must also not look like
 * one another, allow fewer (names.ts).
 */
export const MAX_MARKS_PER_CHARACTER = 6;

/**
 * More marks than the cap, with at most format characters (such as a
 * zero-width joiner) between them: the cheap test before segmenting.
 */
const MANY_MARKS = new RegExp(
  `\\p{M}(?:[\\p{M}\\p{Cf}]*\\p{M}){${MAX_MARKS_PER_CHARACTER}}`,
  "u",
);

const MARK = /\p{M}/u;

let graphemes: Intl.Segmenter | undefined;

/**
 * `text` with each character's combining marks past
 * {@linkcode MAX_MARKS_PER_CHARACTER} dropped; other text is untouched.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { capMarks } from "../protocol.ts";
 * assert.equal(capMarks("a" + "\u0301".repeat(50)), "a" + "\u0301".repeat(6));
 * assert.equal(capMarks("Tiếng Việt"), "Tiếng Việt");
 * ```
 */
export function capMarks(text: string): string {
  if (!MANY_MARKS.test(text)) return text;
  graphemes ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
  let out = "";
  for (const { segment } of graphemes.segment(text)) {
    let marks = 0;
    for (const char of segment) {
      if (MARK.test(char) && ++marks > MAX_MARKS_PER_CHARACTER) continue;
      out += char;
    }
  }
  return out;
}

/**
 * The first `max` UTF-16 code units of `text` (the unit of JavaScript's
 * string length, which the length limits count), one fewer if the cut would
 * split a surrogate pair: a bare `slice` would leave half of an emoji, which
 * no encoder can send intact.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clipText } from "../protocol.ts";
 * assert.equal(clipText("ab\u{1f600}", 3), "ab");
 * ```
 */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  const splitsPair = max > 0 && last >= 0xd800 && last <= 0xdbff;
  return text.slice(0, splitsPair ? max - 1 : max);
}

/**
 * Characters that show nothing: whitespace, default-ignorable code points
 * (zero-width spaces and joiners, variation selectors, the Hangul fillers),
 * other format characters, and the blank braille pattern.
 */
const INVISIBLE_ONLY =
  /^[\s\p{Default_Ignorable_Code_Point}\p{Cf}\u2800\u3164\uffa0]*$/u;

/**
 * Whether `text` shows anything at all: a message made only of invisible
 * characters would reach every reader as a blank line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hasVisibleText } from "../protocol.ts";
 * assert.equal(hasVisibleText("hi\u200b"), true);
 * assert.equal(hasVisibleText("\u200b\u2060\ufe0f"), false);
 * ```
 */
export function hasVisibleText(text: string): boolean {
  return !INVISIBLE_ONLY.test(text);
}
