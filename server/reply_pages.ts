/**
 * Cutting replies whose size depends on data into pages of bounded bytes.
 * A history page holds at most the count asked for and at most
 * {@linkcode REPLY_PAGE_BYTES} of messages in the reader's codec (the
 * newest that fit, with `more` set so the reader can page back); a message
 * of the day of any length becomes several `motd` events of at most that
 * size. Each page is then sent as the reader drains (Session.reply), so no
 * reply ever counts as a reader's slowness. Pure.
 *
 * @module
 */

import type { Codec } from "../protocol.ts";
import {
  clockTime,
  type PrivateMessage,
  type RoomMessage,
  type ServerEvent,
} from "../protocol.ts";

/**
 * Most bytes of items in one page: about what a terminal shows in a few
 * screens, and well under any client's line limit in JSON.
 */
export const REPLY_PAGE_BYTES = 64 * 1024;

const encoder = new TextEncoder();

/** Bytes a stored message takes in a page, in `codec`. */
export function pagedMessageBytes(
  message: RoomMessage | PrivateMessage,
  codec: Codec,
): number {
  if (codec === "json") {
    return encoder.encode(JSON.stringify(message)).length + 1;
  }
  const who = message.type === "private"
    ? `*${message.from} -> ${message.to}*`
    : `<${message.from}>`;
  return encoder.encode(`[${clockTime(message.ts)}] ${who} ${message.text}\n`)
    .length;
}

/**
 * A page of the newest messages: at most `limit` of `messages` (oldest
 * first, one more than the limit when the store had more), and only as many
 * of the newest as fit in `budget` bytes (always at least one). `more` says
 * older messages exist than the page holds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newestPage } from "./reply_pages.ts";
 * const page = newestPage([1, 2, 3, 4], 3, () => 10, 25);
 * assert.deepEqual(page, { items: [3, 4], more: true });
 * ```
 */
export function newestPage<T>(
  messages: readonly T[],
  limit: number,
  sizeOf: (item: T) => number,
  budget: number,
): { items: T[]; more: boolean } {
  let start = messages.length;
  let bytes = 0;
  const floor = Math.max(0, messages.length - limit);
  while (start > floor) {
    const size = sizeOf(messages[start - 1]!);
    if (start < messages.length && bytes + size > budget) break;
    bytes += size;
    start--;
  }
  return { items: messages.slice(start), more: start > 0 };
}

/**
 * The newest messages of `rows` (a `limit + 1` query, oldest first) that fit
 * one reply page, and whether older ones remain.
 */
function messagesPage<M extends RoomMessage | PrivateMessage>(
  rows: readonly M[],
  limit: number,
  codec: Codec,
): { messages: M[]; more?: true } {
  const page = newestPage(
    rows,
    limit,
    (m) => pagedMessageBytes(m, codec),
    REPLY_PAGE_BYTES,
  );
  return { messages: page.items, ...(page.more ? { more: true } : {}) };
}

/**
 * The `history` reply for `room`: `rows` are what the store returned for a
 * `limit + 1` query, oldest first.
 */
export function historyPage(
  room: string,
  rows: readonly RoomMessage[],
  limit: number,
  codec: Codec,
): ServerEvent & { type: "history" } {
  return { type: "history", room, ...messagesPage(rows, limit, codec) };
}

/** The `conversation` reply, paged as {@linkcode historyPage} is. */
export function conversationPage(
  other: string,
  rows: readonly PrivateMessage[],
  limit: number,
  codec: Codec,
): ServerEvent & { type: "conversation" } {
  return {
    type: "conversation",
    with: other,
    ...messagesPage(rows, limit, codec),
  };
}

/**
 * The message of the day as `motd` events of at most `budget` bytes of
 * lines each (a longer single line has an event to itself); every event
 * after the first is marked `continued`. An empty MOTD is one empty event.
 */
export function motdPages(
  lines: readonly string[],
  budget: number = REPLY_PAGE_BYTES,
): Array<ServerEvent & { type: "motd" }> {
  const pages: Array<ServerEvent & { type: "motd" }> = [];
  let current: string[] = [];
  let bytes = 0;
  const close = () => {
    pages.push({
      type: "motd",
      lines: current,
      ...(pages.length > 0 ? { continued: true } : {}),
    });
    current = [];
    bytes = 0;
  };
  for (const line of lines) {
    // The JSON form's quotes and comma, or the text form's "***   " and
    // newline: a few bytes either way.
    const size = encoder.encode(line).length + 8;
    if (current.length > 0 && bytes + size > budget) close();
    current.push(line);
    bytes += size;
  }
  if (current.length > 0 || pages.length === 0) close();
  return pages;
}
