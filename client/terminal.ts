/**
 * Where the terminal client reads input and prints: plain lines for pipes
 * (what scripts and tests drive), or a raw-mode terminal with the line
 * editor, so incoming lines never clobber the line being typed.
 *
 * @module
 */

import { LineEditor } from "./line_editor.ts";
import { LineFramer } from "../wire/framing.ts";

/** Where input comes from and output goes. */
export interface Terminal {
  /** Prints a line above the input line. */
  print(line: string): void;
  /** Sets the prompt shown before the input line; `masked` hides input. */
  setPrompt(prompt: string, masked?: boolean): void;
  /** Input lines; ends on quit (Ctrl-C, Ctrl-D, end of piped input). */
  lines(): AsyncIterable<string>;
  /**
   * Asked when the person presses Ctrl-C or Ctrl-D: a warning to show
   * instead of quitting (a second press within {@linkcode CONFIRM_QUIT_MS}
   * quits), or null to quit at once.
   */
  confirmQuit: () => string | null;
  /**
   * Tab completion where a line editor runs: given the text before the
   * cursor, what replaces it, or null. Pipes have no Tab key.
   */
  completer?: ((before: string) => string | null) | null;
  /** Restores the terminal. */
  close(): void;
}

/** Largest line read from a pipe. */
const MAX_INPUT_LINE_BYTES = 4 * 1024 * 1024;

/** Width assumed when the terminal does not say. */
const DEFAULT_COLUMNS = 80;

/** How long a second Ctrl-C has to confirm quitting after a warning. */
export const CONFIRM_QUIT_MS = 5000;

const encoder = new TextEncoder();

/** Writes all of `text` to stdout. */
export function writeOut(text: string): void {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) {
    offset += Deno.stdout.writeSync(bytes.subarray(offset));
  }
}

/** Plain line I/O for pipes: what scripts and tests drive. */
export class PipeTerminal implements Terminal {
  /** Pipes never ask: their input has ended or a signal came. */
  confirmQuit: () => string | null = () => null;

  /** Prints one line. */
  print(line: string): void {
    writeOut(line + "\n");
  }

  /** Pipes show no prompt. */
  setPrompt(_prompt: string, _masked?: boolean): void {}

  /** Lines from stdin until it ends. */
  async *lines(): AsyncIterable<string> {
    const framer = new LineFramer(MAX_INPUT_LINE_BYTES);
    const buffer = new Uint8Array(16 * 1024);
    while (true) {
      const count = await Deno.stdin.read(buffer);
      const frames = count === null
        ? framer.end()
        : framer.push(buffer.subarray(0, count));
      for (const frame of frames) {
        if (frame.kind === "line") yield frame.text;
      }
      if (count === null) return;
    }
  }

  /** Nothing to restore. */
  close(): void {}
}

/** A raw-mode terminal with the line editor; redraws when resized. */
export class TtyTerminal implements Terminal {
  #editor = new LineEditor();
  #prompt = "> ";
  #masked = false;
  #raw = false;
  /** When the last quit warning was shown; a second Ctrl-C soon after quits. */
  #warnedAt = -Infinity;
  #onResize = () => {
    writeOut(this.#editor.eraseAfterResize(this.#columns()));
    this.#redraw();
  };
  /** See {@linkcode Terminal.confirmQuit}. */
  confirmQuit: () => string | null = () => null;

  /** Puts stdin in raw mode so keys arrive one at a time. */
  constructor() {
    Deno.stdin.setRaw(true);
    this.#raw = true;
    try {
      Deno.addSignalListener("SIGWINCH", this.#onResize);
    } catch {
      // No SIGWINCH on this platform: resizing only misdraws until a key.
    }
  }

  #redraw(): void {
    writeOut(this.#editor.render(this.#prompt, this.#columns(), this.#masked));
  }

  /** The terminal's width; 80 when it cannot say (or says 0, as a bare pty). */
  #columns(): number {
    try {
      return Deno.consoleSize().columns || DEFAULT_COLUMNS;
    } catch {
      return DEFAULT_COLUMNS;
    }
  }

  /** Prints above the input line, then redraws the unfinished input. */
  print(line: string): void {
    writeOut(`\r\x1b[2K${line}\r\n`);
    this.#redraw();
  }

  /** Tab completion for the line editor. */
  set completer(complete: ((before: string) => string | null) | null) {
    this.#editor.complete = complete;
  }

  /** Changes the prompt and redraws; a masked line shows `*` per key. */
  setPrompt(prompt: string, masked = false): void {
    this.#prompt = prompt;
    this.#masked = masked;
    this.#editor.secret = masked;
    this.#redraw();
  }

  /** Whether a quit key should quit now, or warn first. */
  #quitNow(): boolean {
    const now = Date.now();
    if (now - this.#warnedAt < CONFIRM_QUIT_MS) return true;
    const warning = this.confirmQuit();
    if (warning === null) return true;
    this.#warnedAt = now;
    this.print(warning);
    return false;
  }

  /** Submitted lines, until Ctrl-C, or Ctrl-D on an empty line. */
  async *lines(): AsyncIterable<string> {
    const stream = new TextDecoder();
    const buffer = new Uint8Array(1024);
    this.#redraw();
    while (true) {
      const count = await Deno.stdin.read(buffer);
      if (count === null) return;
      const keys = stream.decode(buffer.subarray(0, count), { stream: true });
      for (const action of this.#editor.feed(keys)) {
        if (action.type === "quit") {
          if (!this.#quitNow()) continue;
          writeOut("\r\x1b[2K");
          return;
        }
        if (action.type === "submit") {
          writeOut("\r\x1b[2K");
          yield action.line;
        }
      }
      this.#redraw();
    }
  }

  /** Leaves raw mode. */
  close(): void {
    if (!this.#raw) return;
    this.#raw = false;
    try {
      Deno.removeSignalListener("SIGWINCH", this.#onResize);
    } catch {
      // Never added.
    }
    writeOut("\r\x1b[2K");
    try {
      Deno.stdin.setRaw(false);
    } catch {
      // stdin already gone.
    }
  }
}
