/**
 * What this node's members are told when someone on another node changes:
 * which rooms hear of it and the event each gets, from the change as the
 * other node described it and this node's picture before and after. Pure,
 * so the big-room and repeat rules are tested without Redis.
 *
 * @module
 */

import type { ServerEvent } from "../../protocol.ts";
import { foldKey } from "../../wire/names.ts";
import type { PresenceNotice, RemoteMember } from "./presence_seam.ts";

/** One session's change found by a fresh read, as a notice. */
export interface ReadChange {
  /** Its entry before; undefined when it is new to this node. */
  before: RemoteMember | undefined;
  /** Its entry after; undefined when it is gone. */
  after: RemoteMember | undefined;
  /** The change as an announcement, as the node would have sent it. */
  notice: PresenceNotice;
}

/**
 * What a fresh read of a node's people (after Redis was away) changed
 * against what this node knew: sessions gone (they left, as a quit), new
 * rooms (joins), rooms left (parts), a new nickname, away or back. `big`
 * says which rooms are big, whose joins and parts go unannounced.
 */
export function readChanges(
  before: ReadonlyMap<number, RemoteMember>,
  after: ReadonlyMap<number, RemoteMember>,
  ts: number,
  big: (room: string) => boolean,
): ReadChange[] {
  const changes: ReadChange[] = [];
  for (const [sid, was] of before) {
    const now = after.get(sid);
    if (now !== undefined) continue;
    const announced = was.rooms.filter((room) => !big(room));
    changes.push({
      before: was,
      after: undefined,
      notice: { type: "leave", reason: "quit", ts, announced },
    });
  }
  for (const [sid, now] of after) {
    const was = before.get(sid);
    const had = new Set(was?.rooms.map(foldKey));
    const has = new Set(now.rooms.map(foldKey));
    const rooms = (type: "join" | "part", names: string[], keys: Set<string>) =>
      names.filter((room) => !keys.has(foldKey(room))).map((room) => ({
        before: was,
        after: now,
        notice: { type, room, ts, announce: !big(room) },
      }));
    changes.push(...rooms("join", now.rooms, had));
    if (was === undefined) continue;
    changes.push(...rooms("part", was.rooms, has));
    if (was.nick !== now.nick) {
      changes.push({
        before: was,
        after: now,
        notice: { type: "nick", old: was.nick, ts },
      });
    }
    if (was.away !== now.away) {
      changes.push({
        before: was,
        after: now,
        notice: { type: now.away === null ? "back" : "away", ts },
      });
    }
  }
  return changes;
}

/** Rooms (by name) that hear of a change, and the event for each. */
export interface RemoteNews {
  /** The rooms here that share the session, so their members hear of it. */
  rooms: readonly string[];
  /** The event as room `room` (this node's name for it) hears it. */
  event: (room: string) => ServerEvent;
}

/**
 * The news of one remote change, or null when nothing is announced: a big
 * room's join or part (the other node decided), or a repeat this node
 * already knew (a join of someone already in the room, after a fresh read).
 */
export function remoteNews(
  before: RemoteMember | undefined,
  after: RemoteMember | undefined,
  notice: PresenceNotice,
): RemoteNews | null {
  const member = after ?? before;
  if (member === undefined) return null;
  const nick = member.nick;
  switch (notice.type) {
    case "join":
    case "part": {
      const key = foldKey(notice.room);
      const had = before?.rooms.some((room) => foldKey(room) === key) ?? false;
      if (!notice.announce || had === (notice.type === "join")) return null;
      const { ts } = notice;
      return {
        rooms: [notice.room],
        event: (room) =>
          notice.type === "join"
            ? { type: "join", ts, room, nick }
            : { type: "leave", ts, room, nick, reason: "part" },
      };
    }
    case "leave": {
      if (before === undefined) return null;
      const { reason, detail, ts } = notice;
      return {
        rooms: notice.announced,
        event: (room) => ({
          type: "leave",
          ts,
          room,
          nick,
          reason,
          ...(detail ? { message: detail } : {}),
        }),
      };
    }
    case "nick":
      // Already renamed here (a fresh read came first): no repeat.
      if (before?.nick === member.nick) return null;
      return {
        rooms: member.rooms,
        event: (room) => ({
          type: "nick",
          ts: notice.ts,
          room,
          old: notice.old,
          nick,
        }),
      };
    case "away":
      return {
        rooms: member.rooms,
        event: (room) => ({
          type: "away",
          ts: notice.ts,
          room,
          nick,
          reason: member.away ?? "",
        }),
      };
    case "back":
      if (before !== undefined && before.away === null) return null;
      return {
        rooms: member.rooms,
        event: (room) => ({ type: "back", ts: notice.ts, room, nick }),
      };
    case "state":
      return null;
  }
}
