/**
 * Paging a room's member list. A room of ten thousand has a member list of
 * about 80 KB: longer than most clients' line limit and than a send queue.
 * So `/who` answers one page at a time, in fold-key order of the nicknames,
 * and each page names the cursor of the next. The cursor is a nickname, not
 * a position, so joins and leaves between pages neither repeat nor skip
 * anyone who stayed. A room keeps its members in that order as they come
 * and go ({@linkcode MemberIndex}), so a page costs its own size, not the
 * room's. Pure: no sockets, no server.
 *
 * @module
 */

import { foldKey } from "../wire/names.ts";
import type { MemberSummary } from "../protocol.ts";

/** What paging needs of a member. */
export interface PagedMember {
  /** Null before the session has a nickname; such members are not listed. */
  nick: string | null;
  /** The away reason, or null when present. */
  away: string | null;
  /** Marks operators in the list. */
  isOp: boolean;
}

/** One page of a member list. */
export interface MemberPage {
  /** This page's members, in fold-key order. */
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
 * after the cursor: for lists kept nowhere else (a cluster's other nodes'
 * members); a room's own go through its {@linkcode MemberIndex}.
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

/**
 * A room's named members kept in fold-key order as they come and go, so a
 * page costs a binary search and the page itself, not a sort of the room:
 * in a room of ten thousand, `memberPage` takes milliseconds a page, and a
 * client paging quickly (or several) would hold up everyone else's turn.
 * Keeps each member under the key it was added with; a rename is a remove
 * under the old nickname and an add under the new.
 */
export class MemberIndex<M extends PagedMember> {
  #keys: string[] = [];
  #members: M[] = [];

  /** Named members in the index. */
  get size(): number {
    return this.#members.length;
  }

  /** Adds `member` under its nickname (a member without one is left out). */
  add(member: M): void {
    if (member.nick === null) return;
    const key = foldKey(member.nick);
    const at = this.#after(key);
    this.#keys.splice(at, 0, key);
    this.#members.splice(at, 0, member);
  }

  /** Removes `member`, added under `nick` (by default, its nickname now). */
  remove(member: M, nick: string | null = member.nick): void {
    if (nick === null) return;
    const key = foldKey(nick);
    const keys = this.#keys;
    for (let at = this.#from(key); at < keys.length && keys[at] === key; at++) {
      if (this.#members[at] !== member) continue;
      keys.splice(at, 1);
      this.#members.splice(at, 1);
      return;
    }
  }

  /**
   * The page of up to `limit` members whose nicknames fold after `after`'s,
   * as {@linkcode memberPage} gives it.
   */
  page(after: string | undefined, limit: number): MemberPage {
    const start = after === undefined ? 0 : this.#after(foldKey(after));
    const end = Math.min(this.#members.length, start + Math.max(1, limit));
    const members: MemberSummary[] = [];
    for (let i = start; i < end; i++) {
      const member = this.#members[i]!;
      members.push({
        nick: member.nick ?? "",
        ...(member.away === null ? {} : { away: member.away }),
        ...(member.isOp ? { op: true } : {}),
      });
    }
    const count = this.#members.length;
    return end < count && members.length !== 0
      ? { members, count, next: members.at(-1)!.nick }
      : { members, count };
  }

  /** The index of the first key not below `key`. */
  #from(key: string): number {
    const keys = this.#keys;
    let low = 0;
    let high = keys.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (keys[mid]! < key) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** The index of the first key above `key`. */
  #after(key: string): number {
    const keys = this.#keys;
    let low = 0;
    let high = keys.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (keys[mid]! <= key) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
