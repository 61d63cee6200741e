/**
 * The rooms: who is in which, moving between them, their capacity, and
 * what a newcomer is sent (recent history, topic, member list or, in a big
 * room, only its size). A room is made on first entry, with its topic
 * restored from the history, and goes when its last member leaves (#lobby
 * stays). Plain functions over the hub's `rooms` map; nothing else changes
 * a room's membership.
 *
 * @module
 */

import type { Hub } from "./hub.ts";
import type { Limits } from "./limits.ts";
import { memberPage } from "./member_pages.ts";
import { historyPage } from "./reply_pages.ts";
import { foldKey } from "../wire/names.ts";
import { skeletonKey } from "./names/lookalikes.ts";
import {
  DEFAULT_WHO_PAGE,
  type LeaveReason,
  LOBBY,
  MAX_WHO_PAGE,
  type ServerEvent,
} from "../protocol.ts";
import type { Room, Session } from "./session.ts";

/**
 * The room `name` means: the one of that name ignoring case, or the one
 * whose name looks the same (`#dеv` with a Cyrillic е is `#dev`), so a
 * look-alike never makes a second room beside the real one.
 */
export function findRoom(hub: Hub, name: string): Room | undefined {
  return hub.rooms.get(foldKey(name)) ??
    hub.roomsByLooks.get(skeletonKey(name));
}

/** Why a session cannot enter room `name` now (full), or null if it can. */
export function roomRefusal(hub: Hub, name: string): string | null {
  const limits = hub.limits;
  const room = findRoom(hub, name);
  if (room === undefined) {
    return hub.rooms.size >= limits.maxRooms
      ? `No new rooms can be made: there are already ${limits.maxRooms}`
      : null;
  }
  return room.members.size >= limits.maxRoomMembers
    ? `${room.name} is full (${limits.maxRoomMembers} members)`
    : null;
}

/** The room called `name`, made (with its stored topic) if it is new. */
function openRoom(hub: Hub, name: string): Room {
  let room = findRoom(hub, name);
  if (room === undefined) {
    room = { name, members: new Set(), topic: "" };
    const stored = hub.history.topic(name);
    if (stored !== undefined) {
      room.topic = stored.topic;
      room.topicBy = stored.by;
      room.topicAt = stored.ts;
    }
    hub.rooms.set(foldKey(name), room);
    hub.roomsByLooks.set(skeletonKey(name), room);
  }
  return room;
}

/**
 * Moves a session into room `name` (making it), telling the old room it
 * left and the new one it joined, and sending it the new room's recent
 * history, topic and member list.
 */
export function enterRoom(hub: Hub, session: Session, name: string): void {
  if (session.nick === null) return;
  const existing = findRoom(hub, name);
  if (existing !== undefined && existing === session.room) return;
  leaveRoom(hub, session, "part");
  const room = openRoom(hub, name);
  room.batch?.joining(session);
  room.members.add(session);
  session.room = room;
  const join: ServerEvent = {
    type: "join",
    ts: hub.now(),
    room: room.name,
    nick: session.nick,
  };
  const big = isBig(hub.limits, room);
  // A big room hears nothing: only the newcomer sees its own join.
  if (!big) hub.broadcast(room, join);
  const replay = hub.limits.historyLength;
  // What the newcomer is sent is a reply: taken now, in order, and sent as
  // it drains, whatever its size (Session.reply).
  hub.inOrder(() => {
    const welcome: ServerEvent[] = big ? [join] : [];
    welcome.push(
      replay === 0
        ? { type: "history", room: room.name, messages: [] }
        : historyPage(
          room.name,
          hub.history.roomMessages(room.name, replay + 1),
          replay,
          session.codec,
        ),
    );
    if (room.topic !== "") welcome.push(topicEvent(room));
    welcome.push(
      big
        ? { type: "members", room: room.name, count: room.members.size }
        : whoEvent(room, undefined, MAX_WHO_PAGE),
    );
    session.reply(welcome);
  });
}

/**
 * Whether a room is big: at or past the limit, its joins and leaves go
 * unannounced (a notice to every member for every arrival is O(n²) as a
 * room fills), and a newcomer gets its size rather than its member list.
 */
export function isBig(
  limits: Pick<Limits, "bigRoomMembers">,
  room: Room,
): boolean {
  const limit = limits.bigRoomMembers;
  return limit > 0 && room.members.size >= limit;
}

/** Takes a session out of its room, telling the room why. */
export function leaveRoom(
  hub: Hub,
  session: Session,
  reason: LeaveReason,
  detail?: string,
): void {
  const room = session.room;
  if (room === null || session.nick === null) return;
  const event: ServerEvent = {
    type: "leave",
    ts: hub.now(),
    room: room.name,
    nick: session.nick,
    reason,
    ...(detail ? { message: detail } : {}),
  };
  // A big room is told only of moderation; the rest go unannounced.
  const announced = !isBig(hub.limits, room) || reason === "kicked" ||
    reason === "banned";
  // What the room held back was sent while the leaver was there.
  room.batch?.flush();
  // The leaver sees its own part (it is still connected); after a quit or
  // a lost connection only the others are told.
  if (reason !== "part") room.members.delete(session);
  if (announced) {
    hub.broadcast(room, event);
  } else if (reason === "part") {
    hub.inOrder(() => session.send(event));
  }
  room.members.delete(session);
  session.room = null;
  if (room.members.size === 0 && foldKey(room.name) !== foldKey(LOBBY)) {
    room.batch?.close();
    hub.rooms.delete(foldKey(room.name));
    hub.roomsByLooks.delete(skeletonKey(room.name));
  }
}

/**
 * One page of a room's member list, in fold-key order of the nicknames,
 * starting after the nickname `after` (member_pages.ts). `count` and `next`
 * are there only when the page is not the whole list.
 */
export function whoEvent(
  room: Room,
  after?: string,
  limit: number = DEFAULT_WHO_PAGE,
): ServerEvent & { type: "who" } {
  const page = memberPage(room.members, after, Math.min(limit, MAX_WHO_PAGE));
  return {
    type: "who",
    room: room.name,
    members: page.members,
    ...(page.members.length === page.count ? {} : { count: page.count }),
    ...(page.next === undefined ? {} : { next: page.next }),
  };
}

/** The topic event of a room, for joiners and `/topic`. */
export function topicEvent(room: Room): ServerEvent & { type: "topic" } {
  return {
    type: "topic",
    room: room.name,
    topic: room.topic,
    ...(room.topicBy === undefined ? {} : { by: room.topicBy }),
    ...(room.topicAt === undefined ? {} : { ts: room.topicAt }),
  };
}
