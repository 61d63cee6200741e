/**
 * `/who more`, which the terminal and web clients answer themselves. The
 * server keeps no cursor between `/who` pages (each page names the next
 * one's), so the client that showed the last page asks for the one after
 * it; the server's own parser reserves the word (WHO_PAGING_WORDS in
 * commands.ts), so it never names a room. Pure.
 *
 * @module
 */

import { COMMANDS } from "./text_codec.ts";
import {
  type ClientRequest,
  type ErrorEvent,
  errorEvent,
  type ServerEvent,
} from "./events.ts";

/** What a client keeps of the last `who` page it showed. */
export interface LastWhoPage {
  room: string;
  /** The next page's cursor; absent after the last page. */
  next?: string;
}

/** The names `/who` answers to (`who`, `names`). */
const WHO_NAMES: ReadonlySet<string> = new Set(
  COMMANDS.filter((command) => command.request === "who")
    .flatMap((command) => [command.name, ...command.aliases]),
);

/**
 * Whether a typed line is `/who more` (or `/names more`), in any case.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isWhoMore } from "./who_more.ts";
 * assert.equal(isWhoMore("/who more"), true);
 * assert.equal(isWhoMore("/who #more"), false);
 * assert.equal(isWhoMore("who more"), false);
 * ```
 */
export function isWhoMore(line: string): boolean {
  const match = /^\/\s*(\S+)\s+(\S+)\s*$/.exec(line);
  return match !== null && match[2]!.toLowerCase() === "more" &&
    WHO_NAMES.has(match[1]!.toLowerCase());
}

/** What `/who more` goes on from, of a `who` page just shown. */
export function lastWhoPage(event: ServerEvent & { type: "who" }): LastWhoPage {
  return event.next === undefined
    ? { room: event.room }
    : { room: event.room, next: event.next };
}

/**
 * The request `/who more` makes after `last` (null: no page shown yet), or
 * the error that says why there is none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { whoMoreRequest } from "./who_more.ts";
 * assert.deepEqual(whoMoreRequest({ room: "#big", next: "cy" }), {
 *   type: "who",
 *   room: "#big",
 *   after: "cy",
 * });
 * assert.equal(whoMoreRequest(null).type, "error");
 * ```
 */
export function whoMoreRequest(
  last: LastWhoPage | null,
): (ClientRequest & { type: "who" }) | ErrorEvent {
  if (last === null) {
    return errorEvent(
      "usage",
      "No /who page to go on from: /who shows the first page",
    );
  }
  if (last.next === undefined) {
    return errorEvent(
      "usage",
      `That was the last page of ${last.room}; /who ${last.room} starts from the top`,
    );
  }
  return { type: "who", room: last.room, after: last.next };
}
