/**
 * Which rooms a person is in: joining, switching the current room, parting,
 * and the lists (`/rooms`, `/who`). A session is in one or more rooms, at
 * most `--max-rooms-per-user`; one of them is current, where its plain lines
 * go. rooms.ts does the moving; these handlers check the request first.
 *
 * @module
 */

import {
  enterRoom,
  findRoom,
  memberCount,
  pageGiven,
  partRoom,
  roomRefusal,
  switchRoom,
  whoEvent,
  whoPage,
} from "../rooms.ts";
import { checkRoom, foldKey } from "../../wire/names.ts";
import { LOBBY } from "../../protocol.ts";
import type { Room } from "../session.ts";
import type { Call } from "./call.ts";
import { TokenBucket } from "../flood.ts";
import { mixedScriptRefusal } from "../names/lookalikes.ts";

/**
 * The room a request names, which must be one of the asker's rooms, or the
 * current room when it names none; null (the call refused) otherwise.
 */
export function chosenRoom(call: Call, name: string | undefined): Room | null {
  const session = call.session;
  if (name === undefined) {
    if (session.current === null) call.fail("not_ready", "No room");
    return session.current;
  }
  const named = checkRoom(name);
  if (!named.ok) {
    call.fail("room_invalid", named.reason);
    return null;
  }
  const room = findRoom(call.hub, named.name);
  if (room === undefined || !session.rooms.has(room)) {
    call.fail(
      "not_member",
      `You are not in ${named.name}; ${
        call.session.words(`/join ${named.name}`, 'a "join" request for it')
      } first`,
    );
    return null;
  }
  return room;
}

/**
 * Takes a token for a join or part; refuses churn that would spam the rooms
 * with notices (UnrealIRCd's join-flood guard does the same). The first
 * burst may be as large as the rooms one may be in, so joining all of them
 * at the start is never refused; after it, `--max-joins` a minute. Switching
 * rooms tells nobody, so it is free.
 */
function takeRoomChange(call: Call<"join" | "part">): boolean {
  const { hub, session } = call;
  const perMinute = hub.limits.maxJoins;
  const burst = Math.max(perMinute, hub.limits.maxRoomsPerUser);
  const changes = session.roomChanges ??
    new TokenBucket(burst, perMinute / 60, hub.now());
  session.roomChanges = changes;
  if (changes.take(hub.now())) return true;
  call.fail(
    "rate_limited",
    `Too many joins and parts: at most ${perMinute} a minute; wait a little`,
  );
  return false;
}

/**
 * `/join #ROOM`: joins it and makes it current, keeping the other rooms;
 * a room the asker is already in only becomes current.
 */
function join(call: Call<"join">): void {
  const { hub, session } = call;
  const target = checkRoom(call.request.room);
  if (!target.ok) return call.fail("room_invalid", target.reason);
  const existing = findRoom(hub, target.name);
  if (existing !== undefined && session.rooms.has(existing)) {
    if (existing === session.current) {
      return call.fail("already_there", `You are already in ${existing.name}`);
    }
    switchRoom(hub, session, existing);
    return call.reply({ type: "switch", room: existing.name });
  }
  const most = hub.limits.maxRoomsPerUser;
  if (session.rooms.size >= most) {
    return call.fail(
      "too_many_rooms",
      `You are in ${session.rooms.size} rooms, the most one connection may be in (${most}); ${
        session.words("/part", 'a "part" request for')
      } one first`,
    );
  }
  const mixed = existing === undefined
    ? mixedScriptRefusal("Room name", target.name)
    : null;
  if (mixed !== null) return call.fail("room_invalid", mixed);
  const full = roomRefusal(
    hub,
    target.name,
    session.addressKey,
    session.hints,
  );
  if (full !== null) return call.fail("full", full);
  if (!takeRoomChange(call)) return;
  enterRoom(hub, session, target.name, call.request.ref);
}

/** `/switch #ROOM`: another of the asker's rooms becomes current, quietly. */
function switchTo(call: Call<"switch">): void {
  const room = chosenRoom(call, call.request.room);
  if (room === null) return;
  switchRoom(call.hub, call.session, room);
  call.reply({ type: "switch", room: room.name });
}

/**
 * `/part [#ROOM]`: leaves that room (default: the current one). Parting
 * the last room goes back to the lobby; the lobby, when it is the last
 * room, cannot be parted (`/quit` leaves the chat).
 */
function part(call: Call<"part">): void {
  const { hub, session } = call;
  const room = chosenRoom(call, call.request.room);
  if (room === null) return;
  if (session.rooms.size === 1) {
    if (foldKey(room.name) === foldKey(LOBBY)) {
      return call.fail(
        "already_there",
        `You are in ${LOBBY}, where everyone starts; ${
          session.words("/quit", 'a "quit" request')
        } leaves the chat`,
      );
    }
    const full = roomRefusal(hub, LOBBY, session.addressKey, session.hints);
    if (full !== null) return call.fail("full", full);
  }
  if (!takeRoomChange(call)) return;
  partRoom(hub, session, room, call.request.ref);
}

/**
 * Empty rooms with history that `/rooms` lists, the most recently active:
 * enough to find an old room, bounded so the reply stays small however many
 * rooms the history has seen.
 */
const MAX_EMPTY_ROOMS_LISTED = 50;

/**
 * `/rooms`: every room with its head count, biggest first, marking the
 * asker's rooms and its current one.
 */
function rooms(call: Call<"rooms">): void {
  const { hub, session } = call;
  call.reply(() => {
    const here = [...hub.rooms.values()].map((r) => ({
      name: r.name,
      members: memberCount(hub, r),
      ...(session.rooms.has(r) ? { joined: true as const } : {}),
      ...(session.current === r ? { current: true as const } : {}),
    }));
    const listed = new Set(here.map((r) => foldKey(r.name)));
    // In a cluster, rooms whose members are all on other nodes.
    const elsewhere = [...hub.presence?.remoteRooms() ?? []]
      .filter((r) => !listed.has(foldKey(r.name)));
    const live = [...here, ...elsewhere].sort((a, b) =>
      b.members - a.members || a.name.localeCompare(b.name)
    );
    for (const r of elsewhere) listed.add(foldKey(r.name));
    // Rooms nobody is in but that have history are there to join too.
    const empty = hub.history.recentRooms(MAX_EMPTY_ROOMS_LISTED)
      .filter((name) => !listed.has(foldKey(name)))
      .sort((a, b) => a.localeCompare(b))
      .map((name) => ({ name, members: 0 }));
    return { type: "rooms", rooms: [...live, ...empty] };
  });
}

/** `/who [#ROOM]`: a page of a room's members (default: the current room). */
function who(call: Call<"who">): void {
  const { hub, session, request } = call;
  const named = request.room === undefined ? null : checkRoom(request.room);
  if (named !== null && !named.ok) {
    return call.fail("room_invalid", named.reason);
  }
  const target = named === null
    ? session.current
    : findRoom(hub, named.name) ?? null;
  if (target === null) {
    // In a cluster, a room whose members are all on other nodes.
    const remote = named !== null && hub.presence !== null
      ? [...hub.presence.remoteRooms()].find((r) =>
        foldKey(r.name) === foldKey(named.name)
      )
      : undefined;
    if (remote !== undefined && hub.presence !== null) {
      const presence = hub.presence;
      return call.replyPaged(() => [
        pageGiven(
          session,
          whoPage(
            remote.name,
            presence.remoteMembers(remote.name),
            request.after,
            request.limit,
          ),
        ),
      ]);
    }
    return call.fail(
      "room_invalid",
      named === null ? "No room" : `There is no room ${named.name}`,
    );
  }
  // One page, whatever the room's size: a reply never grows with it.
  call.replyPaged(() => [
    pageGiven(
      session,
      whoEvent(
        target,
        request.after,
        request.limit,
        hub.presence?.remoteMembers(target.name),
      ),
    ),
  ]);
}

/** The membership requests' handlers, by request type. */
export const MEMBERSHIP_HANDLERS = {
  join,
  switch: switchTo,
  part,
  rooms,
  who,
} as const;
