/**
 * The rooms: who is in which (a session is in one or more, one of them
 * current), joining, switching and parting, their capacity, and what a
 * newcomer is sent (recent history, topic, member list or, in a big room,
 * only its size). A room is made on first entry, with its topic
 * restored from the history, and goes when its last member leaves (#lobby
 * stays). Plain functions over the hub's `rooms` map; nothing else changes
 * a room's membership.
 *
 * @module
 */

import { type Hub, ownCopy } from "./hub.ts";
import type { Limits } from "./limits.ts";
import {
  MemberIndex,
  type MemberPage,
  memberPage,
  type PagedMember,
} from "./member_pages.ts";
import { around, historyReply } from "./room_log.ts";
import { foldKey } from "../wire/names.ts";
import { skeletonKey } from "./names/lookalikes.ts";
import {
  DEFAULT_WHO_PAGE,
  type Hints,
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

/**
 * Why a session from `address` cannot enter room `name` now (the server's
 * or the address's rooms, or the room, are full), or null if it can.
 */
export function roomRefusal(
  hub: Hub,
  name: string,
  address: string,
  hints: Hints = "commands",
): string | null {
  const limits = hub.limits;
  const room = findRoom(hub, name);
  // In a cluster a room with nobody here may have members elsewhere.
  const members = room === undefined
    ? hub.presence?.remoteCount(name) ?? 0
    : memberCount(hub, room);
  if (room === undefined && members === 0) {
    if (roomCount(hub) >= limits.maxRooms) {
      return `No new rooms can be made: there are already ${limits.maxRooms}`;
    }
    const most = limits.maxRoomsPerAddress;
    const opened = hub.roomsOpenedBy.get(address) ?? 0;
    return most > 0 && opened >= most && !isLobby(name)
      ? `Your address has opened ${opened} rooms that still exist, the most one address may (${most}); join an existing room (${
        hints === "requests" ? 'a "rooms" request' : "/rooms"
      } lists them), or wait until one of yours empties`
      : null;
  }
  return members >= limits.maxRoomMembers
    ? `${room?.name ?? name} is full (${limits.maxRoomMembers} members)`
    : null;
}

/**
 * How many rooms exist: this node's, and in a cluster those with members
 * only on the other nodes, as last heard.
 */
export function roomCount(hub: Hub): number {
  let count = hub.rooms.size;
  for (const remote of hub.presence?.remoteRooms() ?? []) {
    if (findRoom(hub, remote.name) === undefined) count++;
  }
  return count;
}

/**
 * How many members `room` has on every node: this one's, and in a cluster
 * the other nodes' too.
 */
export function memberCount(hub: Hub, room: Room): number {
  return room.members.size + (hub.presence?.remoteCount(room.name) ?? 0);
}

/**
 * Whether `room` is big counting every node's members: what decides its
 * notices and what a newcomer is sent. (A node's own fan-out, in hub.ts,
 * goes by its own members.)
 */
function bigAcross(hub: Hub, room: Room): boolean {
  const limit = hub.limits.bigRoomMembers;
  return limit > 0 && memberCount(hub, room) >= limit;
}

/** The members of `room` on the other nodes of a cluster (none on one). */
function remoteMembers(hub: Hub, room: Room): Iterable<PagedMember> {
  return hub.presence?.remoteMembers(room.name) ?? [];
}

/** Whether `name` is the lobby, which always exists and nobody opens. */
function isLobby(name: string): boolean {
  return foldKey(name) === foldKey(LOBBY);
}

/**
 * The room called `name`, made (with its stored topic) if it is new; a new
 * room counts for `opener`'s address unless it is the lobby or has members
 * on other nodes.
 */
function openRoom(hub: Hub, name: string, opener: string): Room {
  let room = findRoom(hub, name);
  if (room === undefined) {
    room = { name, members: new Set(), index: new MemberIndex(), topic: "" };
    if (!isLobby(name) && (hub.presence?.remoteCount(name) ?? 0) === 0) {
      room.openedBy = opener;
      hub.roomsOpenedBy.set(opener, (hub.roomsOpenedBy.get(opener) ?? 0) + 1);
    }
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
 * Puts a session in room `name` (making it) and makes it current, telling
 * the room it joined and sending it the room's recent history, topic and
 * member list; its other rooms are kept. A room it is already in only
 * becomes current, with no notices. The caller has checked the limits.
 * `ref`, the join request's, goes on the newcomer's own `join`.
 */
export function enterRoom(
  hub: Hub,
  session: Session,
  name: string,
  ref?: string,
): void {
  if (session.nick === null) return;
  const existing = findRoom(hub, name);
  if (existing !== undefined && session.rooms.has(existing)) {
    return switchRoom(hub, session, existing);
  }
  const room = openRoom(hub, name, session.addressKey);
  const limit = hub.limits.bigRoomMembers;
  if (limit > 0 && memberCount(hub, room) + 1 === limit) {
    // This arrival makes the room big; its members are told before it is
    // one of them (it gets its own count with its join).
    tellBig(hub, room, limit);
  }
  room.batch?.joining(session);
  room.members.add(session);
  room.index.add(session);
  session.rooms.add(room);
  makeCurrent(hub, session, room);
  const join: ServerEvent = {
    type: "join",
    ts: hub.now(),
    room: room.name,
    nick: session.nick,
  };
  const big = bigAcross(hub, room);
  const own = ownCopy(session, ref);
  // A big room hears nothing: only the newcomer sees its own join.
  if (!big) hub.broadcast(room, join, own?.session, own?.ref);
  hub.presence?.changed(session, {
    type: "join",
    room: room.name,
    ts: join.ts,
    announce: !big,
  });
  if (big) countChanged(hub, room);
  const replay = hub.limits.historyLength;
  // What the newcomer is sent is a reply: taken now, in order, and sent as
  // it drains, whatever its size (Session.reply). In a cluster the history
  // is read from Redis: the reply keeps its place while it is read.
  hub.inOrder(() => {
    const history = replay === 0
      ? { type: "history" as const, room: room.name, messages: [] }
      : historyReply(
        room.name,
        hub.roomLog.messages(room.name, replay + 1),
        replay,
        session.codec,
      );
    const after: ServerEvent[] = room.topic === "" ? [] : [topicEvent(room)];
    after.push(
      big
        ? { type: "members", room: room.name, count: memberCount(hub, room) }
        : pageGiven(
          session,
          whoEvent(room, undefined, MAX_WHO_PAGE, remoteMembers(hub, room)),
        ),
    );
    const joined = own === undefined ? join : { ...join, ref: own.ref };
    session.reply(around(big ? [joined] : [], history, after));
  });
}

/**
 * Tells `room`'s members here that it has just become big, with its count:
 * from now on they hear of no arrivals or departures, so a member list they
 * keep from the joins and leaves they were told of would go stale without a
 * word (a web page's list would stop at the last member announced). This is
 * the same `members` event a newcomer gets, sent once as the room crosses
 * `--big-room`: its cost is that of the one arrival it replaces.
 */
export function tellBig(hub: Hub, room: Room, count: number): void {
  hub.localFeed.broadcast(room, {
    type: "members",
    room: room.name,
    count,
  });
}

/**
 * Makes one of a session's rooms its current one, telling nobody. The
 * session's rooms stay ordered by when each was last current, so parting
 * the current room falls back to the one used before it.
 */
export function switchRoom(hub: Hub, session: Session, room: Room): void {
  if (!session.rooms.has(room)) return;
  session.rooms.delete(room);
  session.rooms.add(room);
  makeCurrent(hub, session, room);
}

/**
 * Makes `room` current at once, for the lines the session sends next, and
 * the room whose lines it sees untagged in delivery order: room lines
 * accepted before, still waiting for the history's commit, are tagged (or
 * not) by the room that was current when they were accepted. The broadcast
 * path reads `shown` as it read `current`, so this costs it nothing.
 */
function makeCurrent(hub: Hub, session: Session, room: Room): void {
  session.current = room;
  hub.inOrder(() => {
    // Lines big rooms held back were said before the change: they are
    // tagged (or not) as they would have been then.
    const before = session.shown;
    if (before !== null && session.rooms.has(before)) {
      before.batch?.pullFor(session);
    }
    if (session.rooms.has(room)) room.batch?.pullFor(session);
    session.shown = room;
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

/**
 * Takes a session out of one of its rooms (`/part`), telling the room and
 * the session. Parting the current room makes the room used before it
 * current (the session is told); parting the last room takes the session
 * to the lobby, since a session is always somewhere. The caller has checked
 * that the lobby can take it. `ref`, the part request's, goes on the
 * leaver's own `leave`.
 */
export function partRoom(
  hub: Hub,
  session: Session,
  room: Room,
  ref?: string,
): void {
  const nick = session.nick;
  if (nick === null || !session.rooms.has(room)) return;
  const event: ServerEvent = {
    type: "leave",
    ts: hub.now(),
    room: room.name,
    nick,
    reason: "part",
  };
  // A big room does not hear of it; the leaver always sees its own part,
  // sent directly so it reads the same whichever room is current.
  const announced = !bigAcross(hub, room);
  // What the room held back was sent while the leaver was there.
  room.batch?.leaving(session);
  room.members.delete(session);
  room.index.remove(session);
  session.rooms.delete(room);
  if (announced) hub.broadcast(room, event);
  hub.presence?.changed(session, {
    type: "part",
    room: room.name,
    ts: event.ts,
    announce: announced,
  });
  if (!announced) countChanged(hub, room);
  const own = ownCopy(session, ref);
  const mine = own === undefined ? event : { ...event, ref: own.ref };
  hub.inOrder(() => session.send(mine));
  dropIfEmpty(hub, room);
  if (session.current !== room) return;
  const previous = [...session.rooms].at(-1);
  if (previous === undefined) {
    session.current = null;
    return enterRoom(hub, session, LOBBY);
  }
  makeCurrent(hub, session, previous);
  hub.inOrder(() => session.send({ type: "switch", room: previous.name }));
}

/**
 * Takes a departing session out of all its rooms, telling each member
 * once why it left, whatever number of rooms they shared (a big room is
 * told only of moderation).
 */
export function leaveAllRooms(
  hub: Hub,
  session: Session,
  reason: LeaveReason,
  detail?: string,
): void {
  const nick = session.nick;
  const rooms = [...session.rooms];
  if (nick === null || rooms.length === 0) return;
  const moderated = reason === "kicked" || reason === "banned";
  const announced = rooms.filter((room) => moderated || !bigAcross(hub, room));
  // What the rooms held back was sent while the leaver was there.
  for (const room of rooms) room.batch?.leaving(session);
  for (const room of rooms) {
    room.members.delete(session);
    room.index.remove(session);
  }
  session.rooms.clear();
  session.current = null;
  // Lines accepted before it left, still on their way to it, are tagged
  // (or not) as they would have been then.
  hub.inOrder(() => session.shown = null);
  const ts = hub.now();
  if (announced.length > 0) {
    hub.broadcastAcross(announced, (room) => ({
      type: "leave",
      ts,
      room: room.name,
      nick,
      reason,
      ...(detail ? { message: detail } : {}),
    }));
  }
  hub.presence?.changed(session, {
    type: "leave",
    reason,
    ts,
    announced: announced.map((room) => room.name),
    ...(detail ? { detail } : {}),
  });
  for (const room of rooms) {
    if (!announced.includes(room)) countChanged(hub, room);
    dropIfEmpty(hub, room);
  }
}

/**
 * Notes that `room`'s size changed without a word to its members (a big
 * room announces no joins or leaves), so that {@linkcode tellCounts} sends
 * them its count. O(1): however many come and go, the room is only marked.
 */
export function countChanged(hub: Hub, room: Room): void {
  if (hub.limits.bigRoomCountMs > 0) hub.countsDue.add(room);
}

/**
 * Sends the JSON members of each marked room its member count (`count`)
 * if it is big and its count moved since they were last sent one, and that
 * was at least `--big-room-count-interval` ago; a room told too recently
 * stays marked for a later sweep. So a room of 10,000 with people coming
 * and going costs one event per member per interval, not one per arrival.
 */
export function tellCounts(hub: Hub, now: number): void {
  const every = hub.limits.bigRoomCountMs;
  for (const room of hub.countsDue) {
    if (room.countToldAt !== undefined && now - room.countToldAt < every) {
      continue;
    }
    hub.countsDue.delete(room);
    if (findRoom(hub, room.name) !== room || !bigAcross(hub, room)) continue;
    const count = memberCount(hub, room);
    if (count === room.countTold) continue;
    room.countTold = count;
    room.countToldAt = now;
    hub.localFeed.broadcast(room, { type: "count", room: room.name, count });
  }
}

/** Forgets a room its last member left; the lobby stays. */
function dropIfEmpty(hub: Hub, room: Room): void {
  if (room.members.size === 0 && !isLobby(room.name)) {
    const opener = room.openedBy;
    if (opener !== undefined) {
      const left = (hub.roomsOpenedBy.get(opener) ?? 1) - 1;
      if (left > 0) hub.roomsOpenedBy.set(opener, left);
      else hub.roomsOpenedBy.delete(opener);
    }
    room.batch?.close();
    hub.rooms.delete(foldKey(room.name));
    hub.roomsByLooks.delete(skeletonKey(room.name));
  }
}

/**
 * One page of a room's member list, in fold-key order of the nicknames,
 * starting after the nickname `after` (member_pages.ts). `count` and `next`
 * are there only when the page is not the whole list. `remote`: the room's
 * members on the other nodes of a cluster.
 */
export function whoEvent(
  room: Room,
  after?: string,
  limit: number = DEFAULT_WHO_PAGE,
  remote: Iterable<PagedMember> = [],
): ServerEvent & { type: "who" } {
  const others = [...remote];
  if (others.length === 0) {
    // The room's own index: a page costs its size, not the room's.
    return whoEventOf(
      room.name,
      room.index.page(after, Math.min(limit, MAX_WHO_PAGE)),
    );
  }
  return whoPage(room.name, [...room.members, ...others], after, limit);
}

/** {@linkcode whoEvent} of any members: a room with none on this node. */
export function whoPage(
  name: string,
  members: Iterable<PagedMember>,
  after?: string,
  limit: number = DEFAULT_WHO_PAGE,
): ServerEvent & { type: "who" } {
  return whoEventOf(
    name,
    memberPage(members, after, Math.min(limit, MAX_WHO_PAGE)),
  );
}

/**
 * A `who` page on its way to `session`: where it goes on is remembered, so
 * that asking for the next page is free of flood control (wire/who_more.ts,
 * PageCursors).
 */
export function pageGiven(
  session: Session,
  event: ServerEvent & { type: "who" },
): ServerEvent & { type: "who" } {
  if (event.next !== undefined) {
    session.whoCursors.given(event.room, event.next);
  }
  return event;
}

/** The `who` event of one page. */
function whoEventOf(
  name: string,
  page: MemberPage,
): ServerEvent & { type: "who" } {
  return {
    type: "who",
    room: name,
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
