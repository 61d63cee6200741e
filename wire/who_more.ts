/**
 * `/who more`, which the terminal and web clients answer themselves. The
 * server keeps no cursor between `/who` pages (each page names the next
 * one's), so the client that showed the last page asks for the one after
 * it; the server's own parser reserves the word (WHO_PAGING_WORDS in
 * commands.ts), so it never names a room. Also the rule that a request
 * for the page after one given is free of flood control
 * ({@linkcode PageCursors}), which the server applies and the terminal
 * client's own pacing follows. Pure.
 *
 * @module
 */

import { COMMANDS } from "./text_codec.ts";
import {
  type ClientRequest,
  DEFAULT_WHO_PAGE,
  type ErrorEvent,
  errorEvent,
  type ServerEvent,
} from "./events.ts";
import { checkRoom, foldKey } from "./names.ts";

/** What a client keeps of the last `who` page it showed. */
export interface LastWhoPage {
  /** The room the page listed, which `/more` asks for again. */
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

/**
 * Most `/who` walks whose next page one connection may ask for free of
 * flood control at once: a person pages one room, a program a few; a walk
 * past this many still works, its pages paid for as any line is.
 */
export const FREE_WALKS = 4;

/**
 * The cursors of the `/who` pages a connection was last given, so that
 * asking for the page after one is told apart from any other request.
 * Flood control is meant for chat lines: a person listing a room of ten
 * thousand at its two lines a second would wait 45 s. A request that goes
 * on from a page given is free, once (the cursor is forgotten as it is
 * used), so a client gets a free page only for each page it was given and
 * read: reading the pages, not asking for them, is what paces it, and a
 * repeat, a cursor of its own or a fresh first page costs a line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PageCursors } from "./who_more.ts";
 * const cursors = new PageCursors();
 * cursors.given("#big", "Cy");
 * assert.equal(cursors.take("#BIG", "cy"), true);
 * assert.equal(cursors.take("#big", "cy"), false, "once");
 * ```
 */
export class PageCursors {
  /** Room and cursor fold keys, the most recent last. */
  #given: string[] = [];

  /** A page of `room` was given that goes on after `next`. */
  given(room: string, next: string): void {
    const key = cursorKey(room, next);
    const at = this.#given.indexOf(key);
    if (at !== -1) this.#given.splice(at, 1);
    this.#given.push(key);
    if (this.#given.length > FREE_WALKS) this.#given.shift();
  }

  /**
   * Whether a page of `room` after `after` goes on from a page given; it
   * is forgotten if so, so a repeat does not.
   */
  take(room: string, after: string): boolean {
    const at = this.#given.indexOf(cursorKey(room, after));
    if (at === -1) return false;
    this.#given.splice(at, 1);
    return true;
  }
}

function cursorKey(room: string, nick: string): string {
  return `${foldKey(room)} ${foldKey(nick)}`;
}

/**
 * Whether `request` asks for the page after one given (of the room it
 * names, or `current` when it names none), in pages of at least the
 * default size; its cursor is taken from `cursors` if so. Such a request
 * is not a chat line: the server lets it through flood control at once,
 * and the terminal client does not count it in its own pacing. Pages
 * smaller than the default cost about what asking does: a line each.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PageCursors, takesFreePage } from "./who_more.ts";
 * const cursors = new PageCursors();
 * cursors.given("#big", "cy");
 * const next = { type: "who", after: "cy" } as const;
 * assert.equal(takesFreePage(cursors, { ...next, limit: 10 }, "#big"), false);
 * assert.equal(takesFreePage(cursors, next, "#big"), true);
 * assert.equal(takesFreePage(cursors, next, "#big"), false);
 * ```
 */
export function takesFreePage(
  cursors: PageCursors,
  request: ClientRequest,
  current: string | null | undefined,
): boolean {
  if (request.type !== "who" || request.after === undefined) return false;
  if (request.limit !== undefined && request.limit < DEFAULT_WHO_PAGE) {
    return false;
  }
  let room = current ?? undefined;
  if (request.room !== undefined) {
    const named = checkRoom(request.room);
    room = named.ok ? named.name : undefined;
  }
  return room !== undefined && cursors.take(room, request.after);
}
