/**
 * What the input box sends, decided without a page: one line is a message
 * or a command, as in `nc`; several lines (a paste) are messages, one each,
 * never commands; and nothing goes out that the server would refuse for
 * its length, so the text stays in the box to be shortened. Pure.
 *
 * @module
 */

import type { ClientRequest } from "../../wire/events.ts";

export type { ClientRequest };

const encoder = new TextEncoder();

/**
 * The lines of the box's text that carry something: a paste's blank lines
 * (the server ignores blank messages) and its line ends of any kind go.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { filledLines } from "./outgoing.ts";
 * assert.deepEqual(filledLines("one\r\n\n  \ntwo\rthree\n"), ["one", "two", "three"]);
 * ```
 */
export function filledLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/).filter((line) => line.trim() !== "");
}

/** The conversation a paste's lines go to. */
export interface Target {
  /** A room's conversation, or a private one. */
  kind: "room" | "private";
  /** The room, or the other person's nickname. */
  name: string;
}

/**
 * A paste's lines as messages to `target`, one request each: a line that
 * starts with `/` is text like any other (a pasted log must not run
 * commands). `privateRef` gives a private message's `ref`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pastedRequests } from "./outgoing.ts";
 * assert.deepEqual(
 *   pastedRequests(["hi", "/quit"], { kind: "room", name: "#dev" }, () => ""),
 *   [
 *     { type: "message", room: "#dev", text: "hi", ref: "typed" },
 *     { type: "message", room: "#dev", text: "/quit", ref: "typed" },
 *   ],
 * );
 * ```
 */
export function pastedRequests(
  lines: readonly string[],
  target: Target,
  privateRef: (name: string) => string,
): ClientRequest[] {
  return lines.map((text): ClientRequest =>
    target.kind === "room"
      ? { type: "message", room: target.name, text, ref: "typed" }
      : { type: "private", to: target.name, text, ref: privateRef(target.name) }
  );
}

/** The bytes a request takes on the wire: one JSON text, UTF-8. */
export function requestBytes(request: ClientRequest): number {
  return encoder.encode(JSON.stringify(request)).length;
}

/**
 * Why `requests` cannot be sent, in words, when one of them is longer than
 * the server reads (`maxLine` bytes, JSON escapes included: a quote or a
 * backslash takes two, a character outside ASCII two to four); else null.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tooLong } from "./outgoing.ts";
 * const say = (text: string) => ({ type: "message" as const, text });
 * assert.equal(tooLong([say("short")], 100), null);
 * assert.match(tooLong([say("x".repeat(200))], 100)!, /^Too long to send/);
 * ```
 */
export function tooLong(
  requests: readonly ClientRequest[],
  maxLine: number,
): string | null {
  for (const [index, request] of requests.entries()) {
    const bytes = requestBytes(request);
    if (bytes <= maxLine) continue;
    const which = requests.length > 1 ? `line ${index + 1}` : "this message";
    return `Too long to send: ${which} takes ${bytes} bytes, and the server reads at most ${maxLine}; shorten it or split it into lines`;
  }
  return null;
}
