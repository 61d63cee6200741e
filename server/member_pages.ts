/**
 * Paging a room's member list. A room of ten thousand has a member list of
 * about 80 KB: longer than most clients' line limit and than a send queue.
 * So `/who` answers one page at a time, in fold-key order of the nicknames,
 * and each page names the cursor of the next. The cursor is a nickname, not
 * a position, so joins and leaves between pages neither repeat nor skip
 * anyone who stayed. Pure: no sockets, no server.
 *
 * @module
 */

import { foldKey } from "../wire/names.ts";
import type { MemberSummary } from "../protocol.ts";

/** What paging needs of a member. */
export interface PagedMember {
  nick: string | null;
  away: string | null;
  isOp: boolean;
}

/** One page of a member list. */
export interface MemberPage {
  members: MemberSummary[];
  /** Named members in the room in all. */
  count: number;
  /** The cursor of the next page; absent on the last one. */
  next?: string;
}

/**
 * The page of up to `limit` members whose nicknames fold after `after`'s
 * (from the start when `after` is undefined). Members without a nickname yet
 * are left out. Costs one pass over the room plus a sort of what is left
 * after the cursor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { memberPage } from "./member_pages.ts";
 * const room = ["carol", "Alice", "bob"].map((nick) => ({
 *   nick,
 *   away: null,
 *   isOp: false,
 * }));
 * const first = memberPage(room, undefined, 2);
 * assert.deepEqual(first.members.map((m) => m.nick), ["Alice", "bob"]);
 * assert.equal(first.next, "bob");
 * const last = memberPage(room, first.next, 2);
 * assert.deepEqual(last.members.map((m) => m.nick), ["carol"]);
 * assert.equal(last.next, undefined);
 * ```
 */
export function memberPage(
  members: Iterable<PagedMember>,
  after: string | undefined,
  limit: number,
): MemberPage {
  const from = after === undefined ? null : foldKey(after);
  const rest: Array<{ key: string; member: PagedMember; nick: string }> = [];
  let count = 0;
  for (const member of members) {
    const nick = member.nick;
    if (nick === null) continue;
    count++;
    const key = foldKey(nick);
    if (from === null || key > from) rest.push({ key, member, nick });
  }
  rest.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  const page = rest.slice(0, Math.max(1, limit));
  const summaries = page.map(({ member, nick }) => ({
    nick,
    ...(member.away === null ? {} : { away: member.away }),
    ...(member.isOp ? { op: true } : {}),
  }));
  return rest.length > page.length
    ? { members: summaries, count, next: page.at(-1)!.nick }
    : { members: summaries, count };
}
