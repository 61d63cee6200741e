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

/** Rooms (by name) that hear of a change, and the event for each. */
export interface RemoteNews {
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
      return {
        rooms: member.rooms,
        event: (room) => ({ type: "back", ts: notice.ts, room, nick }),
      };
    case "state":
      return null;
  }
}
