/**
 * The message box's Up/Down recall, as in the terminal client: lines sent
 * from this page, newest last, so a command or a correction is typed
 * again with one key. Pure: the page feeds it keys, the tests drive it.
 *
 * @module
 */

import { isSecretLine } from "../../client/line_editor.ts";

/** How many sent lines are kept for recall; older ones are forgotten. */
export const INPUT_HISTORY_LIMIT = 200;

/** Sent lines and where Up/Down recall is among them. */
export class InputHistory {
  readonly #limit: number;
  #lines: string[] = [];
  /** Index of the recalled line; `#lines.length` while typing anew. */
  #recall = 0;
  /** What was being typed before recall began, given back by Down. */
  #draft = "";

  /**
   * An empty history.
   *
   * @param limit the most lines kept (the oldest go first)
   */
  constructor(limit: number = INPUT_HISTORY_LIMIT) {
    this.#limit = limit;
  }

  /** The lines kept, oldest first. */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /**
   * Remembers a sent box, except a blank one, a repeat of the last, or a
   * line carrying a password; recall starts again from the newest.
   */
  add(text: string): void {
    if (
      text.trim() !== "" && !isSecretLine(text) && this.#lines.at(-1) !== text
    ) {
      this.#lines.push(text);
      if (this.#lines.length > this.#limit) this.#lines.shift();
    }
    this.#recall = this.#lines.length;
    this.#draft = "";
  }

  /** The line before the one shown, or null at the oldest. */
  up(current: string): string | null {
    if (this.#recall === 0) return null;
    if (this.#recall === this.#lines.length) this.#draft = current;
    this.#recall--;
    return this.#lines[this.#recall]!;
  }

  /** The line after the one shown, the draft after the newest, or null. */
  down(): string | null {
    if (this.#recall >= this.#lines.length) return null;
    this.#recall++;
    return this.#recall === this.#lines.length
      ? this.#draft
      : this.#lines[this.#recall]!;
  }
}
