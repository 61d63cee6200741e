/**
 * The terminal client's input line: a small editor fed raw keystrokes, so
 * that incoming messages can be printed above the line being typed without
 * clobbering it. Pure: keys in, actions and redraw strings out.
 *
 * Keys: printable text inserts; Backspace and Delete; Left/Right, Home/End
 * (also Ctrl-A/Ctrl-E); Up/Down recall earlier lines; Ctrl-U clears the line;
 * Ctrl-W deletes a word; Enter submits; Ctrl-C, and Ctrl-D on an empty line,
 * quit; Ctrl-L asks for a redraw; Tab completes what the owner's
 * {@linkcode LineEditor.complete} offers (room names), else inserts a space. The line is edited by grapheme cluster (what
 * a person sees as one character: a family emoji, a flag, a letter with its
 * accent), so Backspace never leaves half of one behind. Lines that carry a
 * password (`/oper`, `/register`, `/identify`, `/pass`) stay out of recall.
 *
 * @module
 */

/** What a keystroke asks the client to do, beyond editing the line. */
export type EditorAction =
  | { type: "submit"; line: string }
  | { type: "quit" }
  | { type: "redraw" };

/** A color escape in a prompt, which takes no columns. */
// deno-lint-ignore no-control-regex -- color escapes are what it matches
const COLOR_CODE = /\x1b\[[0-9;]*m/g;

/** Lines kept for Up-arrow recall. */
const HISTORY_LIMIT = 200;

/** Commands whose arguments are passwords: never kept for recall. */
const SECRET_COMMAND = /^\s*\/(oper|register|identify|pass)(\s|$)/i;

/** Whether a submitted line carries a password and must not be recalled. */
export function isSecretLine(line: string): boolean {
  return SECRET_COMMAND.test(line);
}

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Splits text into grapheme clusters. */
export function splitGraphemes(text: string): string[] {
  return Array.from(graphemes.segment(text), (part) => part.segment);
}

/** Escape sequences the editor understands, by the key they stand for. */
const ESCAPES: Record<string, string> = {
  "\x1b[A": "up",
  "\x1b[B": "down",
  "\x1b[C": "right",
  "\x1b[D": "left",
  "\x1b[H": "home",
  "\x1b[F": "end",
  "\x1bOA": "up",
  "\x1bOB": "down",
  "\x1bOC": "right",
  "\x1bOD": "left",
  "\x1bOH": "home",
  "\x1bOF": "end",
  "\x1b[1~": "home",
  "\x1b[4~": "end",
  "\x1b[7~": "home",
  "\x1b[8~": "end",
  "\x1b[3~": "delete",
};

/** A CSI or SS3 sequence, complete or not yet. */
// deno-lint-ignore no-control-regex -- keystrokes arrive as escapes
const ESCAPE_PREFIX = /^\x1b(?:\[[0-9;]*[~A-Za-z]?|O[A-Za-z]?)?/;

/**
 * Columns a character takes: two for wide East Asian characters and most
 * emoji, one otherwise. An approximation that keeps the cursor in the right
 * place for the scripts people commonly type.
 */
export function charWidth(char: string): number {
  const code = char.codePointAt(0) ?? 0;
  if (
    // Regional indicators: a pair is one flag, two columns wide.
    (code >= 0x1f1e6 && code <= 0x1f1ff) ||
    (code >= 0x1100 && code <= 0x115f) || (code >= 0x2e80 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) || (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) || (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1faff) ||
    (code >= 0x20000 && code <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}

/** An editable input line with history. */
export class LineEditor {
  /** The line, one array element per grapheme cluster. */
  #chars: string[] = [];
  #cursor = 0;
  #history: string[] = [];
  /** Index into history while recalling; history.length when editing new. */
  #recall = 0;
  /** The unfinished line saved while recalling history. */
  #draft: string[] = [];
  /** Bytes of an escape sequence split across reads. */
  #pendingEscape = "";
  /** While set, submitted lines (passwords) are kept out of history. */
  secret = false;
  /**
   * Tab completion: given the text before the cursor, what should replace
   * it, or null for nothing to complete. @default none
   */
  complete: ((before: string) => string | null) | null = null;
  /** Columns from the left edge to the cursor at the last render. */
  #drawnCursorColumn = 0;

  /** The current line's text. */
  get text(): string {
    return this.#chars.join("");
  }

  /** The cursor's position, in grapheme clusters from the start. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Feeds keystrokes (already decoded from UTF-8); returns what to do. */
  feed(input: string): EditorAction[] {
    const actions: EditorAction[] = [];
    let rest = this.#pendingEscape + input;
    this.#pendingEscape = "";
    while (rest.length > 0) {
      if (rest.startsWith("\x1b")) {
        const match = ESCAPE_PREFIX.exec(rest)![0];
        const complete = match.length > 1 && /[~A-Za-z]$/.test(match);
        if (!complete && match.length === rest.length) {
          this.#pendingEscape = rest;
          break;
        }
        const key = ESCAPES[match];
        if (key !== undefined) this.#key(key);
        rest = rest.slice(Math.max(match.length, 1));
        continue;
      }
      const char = String.fromCodePoint(rest.codePointAt(0)!);
      rest = rest.slice(char.length);
      const action = this.#control(char);
      if (action === "quit") {
        actions.push({ type: "quit" });
        return actions;
      }
      if (action !== null) actions.push(action);
    }
    return actions;
  }

  /** Handles one non-escape character; returns an action if it makes one. */
  #control(char: string): EditorAction | "quit" | null {
    switch (char) {
      case "\r":
      case "\n": {
        const line = this.text;
        if (
          !this.secret && !isSecretLine(line) && line.trim() !== "" &&
          this.#history.at(-1) !== line
        ) {
          this.#history.push(line);
          if (this.#history.length > HISTORY_LIMIT) this.#history.shift();
        }
        this.#chars = [];
        this.#cursor = 0;
        this.#recall = this.#history.length;
        return { type: "submit", line };
      }
      case "\x03":
        return "quit";
      case "\x04":
        if (this.#chars.length === 0) return "quit";
        this.#key("delete");
        return null;
      case "\x7f":
      case "\b":
        if (this.#cursor > 0) {
          this.#chars.splice(--this.#cursor, 1);
        }
        return null;
      case "\x01":
        this.#key("home");
        return null;
      case "\x05":
        this.#key("end");
        return null;
      case "\x02":
        this.#key("left");
        return null;
      case "\x06":
        this.#key("right");
        return null;
      case "\x15":
        this.#chars = [];
        this.#cursor = 0;
        return null;
      case "\x17": {
        let start = this.#cursor;
        while (start > 0 && this.#chars[start - 1] === " ") start--;
        while (start > 0 && this.#chars[start - 1] !== " ") start--;
        this.#chars.splice(start, this.#cursor - start);
        this.#cursor = start;
        return null;
      }
      case "\x0c":
        return { type: "redraw" };
      case "\t":
        this.#tab();
        return null;
    }
    if (/\p{Cc}/u.test(char)) return null;
    this.#insert(char);
    return null;
  }

  /**
   * Tab: what {@linkcode LineEditor.complete} makes of the text before the
   * cursor, or a space when it has nothing (or the line is secret).
   */
  #tab(): void {
    const before = this.#chars.slice(0, this.#cursor).join("");
    const completed = this.secret ? null : this.complete?.(before) ?? null;
    if (completed === null) return this.#insert(" ");
    const chars = splitGraphemes(completed);
    this.#chars.splice(0, this.#cursor, ...chars);
    this.#cursor = chars.length;
  }

  /**
   * Inserts one code point; it joins the cluster before the cursor when it
   * extends it (a combining mark, a zero-width joiner and what follows it,
   * the second half of a flag).
   */
  #insert(char: string): void {
    const before = this.#cursor > 0 ? this.#chars[this.#cursor - 1]! : null;
    if (before !== null) {
      const joined = splitGraphemes(before + char);
      if (joined.length === 1) {
        this.#chars[this.#cursor - 1] = joined[0]!;
        return;
      }
    }
    this.#chars.splice(this.#cursor, 0, char);
    this.#cursor++;
  }

  #key(key: string): void {
    switch (key) {
      case "left":
        this.#cursor = Math.max(0, this.#cursor - 1);
        break;
      case "right":
        this.#cursor = Math.min(this.#chars.length, this.#cursor + 1);
        break;
      case "home":
        this.#cursor = 0;
        break;
      case "end":
        this.#cursor = this.#chars.length;
        break;
      case "delete":
        this.#chars.splice(this.#cursor, 1);
        break;
      case "up":
        if (this.#recall === 0) break;
        if (this.#recall === this.#history.length) this.#draft = this.#chars;
        this.#recall--;
        this.#load(splitGraphemes(this.#history[this.#recall]!));
        break;
      case "down":
        if (this.#recall >= this.#history.length) break;
        this.#recall++;
        this.#load(
          this.#recall === this.#history.length
            ? this.#draft
            : splitGraphemes(this.#history[this.#recall]!),
        );
        break;
    }
  }

  #load(chars: string[]): void {
    this.#chars = [...chars];
    this.#cursor = this.#chars.length;
  }

  /**
   * The escape string that redraws the prompt and line in place, scrolled
   * sideways so the cursor stays visible within `columns`; `masked` shows
   * each character as `*` (for passwords).
   */
  render(prompt: string, columns: number, masked = false): string {
    const promptWidth = [...prompt.replace(COLOR_CODE, "")]
      .reduce((sum, c) => sum + charWidth(c), 0);
    const room = Math.max(8, columns - promptWidth - 1);
    // Start of the visible window: as far left as keeps the cursor in view.
    let start = 0;
    let width = 0;
    for (let i = this.#cursor - 1; i >= 0; i--) {
      width += charWidth(this.#chars[i]!);
      if (width >= room) {
        start = i + 1;
        break;
      }
    }
    let visible = "";
    let visibleWidth = 0;
    let cursorColumn = promptWidth;
    for (let i = start; i < this.#chars.length; i++) {
      const w = charWidth(this.#chars[i]!);
      if (visibleWidth + w > room) break;
      if (i < this.#cursor) cursorColumn += w;
      visible += masked ? "*" : this.#chars[i];
      visibleWidth += w;
    }
    const moveTo = cursorColumn === 0 ? "" : `\x1b[${cursorColumn}C`;
    this.#drawnCursorColumn = cursorColumn;
    return `\r\x1b[2K${prompt}${visible}\r${moveTo}`;
  }

  /**
   * The escape string that erases the input line after the terminal became
   * `columns` wide: a line drawn for a wider terminal now wraps, and the
   * cursor sits on its last row, so go up to its first row and clear from
   * there to the end of the screen. Render again afterwards.
   */
  eraseAfterResize(columns: number): string {
    const rows = Math.floor(this.#drawnCursorColumn / Math.max(1, columns));
    return `${rows > 0 ? `\x1b[${rows}A` : ""}\r\x1b[J`;
  }
}
