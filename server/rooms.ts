/**
 * The rooms: who is in which, moving between them, their capacity, and
 * what a newcomer is sent (recent history, topic, member list or, in a big
 * room, only its size). A room is
 * made on first entry, with its topic restored from the history, and goes
 * when its last member leaves (#lobby stays).
 *
 * @module
 */

import type { HistoryStore } from "./store/history_store.ts";
import { topicEvent, whoEvent } from "./hub.ts";
import type { Limits } from "./limits.ts";
import { foldKey } from "../wire/names.ts";
import { skeletonKey } from "./names/lookalikes.ts";
import {
  type LeaveReason,
  LOBBY,
  MAX_WHO_PAGE,
  type ServerEvent,
} from "../protocol.ts";
import type { Room, Session } from "./session.ts";

/** What the rooms need from the hub around them. */
export interface RoomHost {
  readonly limits: Readonly<Limits>;
  readonly history: HistoryStore;
  now(): number;
  broadcast(room: Room, event: ServerEvent, sender?: Session): void;
  inOrder(action: () => void): void;
}

/** Every room, by fold key, and by looks. */
export class RoomDirectory {
  /** Rooms by the fold key of their name. */
  readonly byKey: Map<string, Room> = new Map();
  /** The same rooms by the look-alike key of their name. */
  readonly #bySkeleton = new Map<string, Room>();
  readonly #host: RoomHost;

  /** @param host the hub the rooms broadcast through */
  constructor(host: RoomHost) {
    this.#host = host;
  }

  /**
   * The room `name` means: the one of that name ignoring case, or the one
   * whose name looks the same (`#dеv` with a Cyrillic е is `#dev`), so a
   * look-alike never makes a second room beside the real one.
   */
  find(name: string): Room | undefined {
    return this.byKey.get(foldKey(name)) ??
      this.#bySkeleton.get(skeletonKey(name));
  }

  /** Why a session cannot enter room `name` now, or null if it can. */
  refusal(name: string): string | null {
    const limits = this.#host.limits;
    const room = this.find(name);
    if (room === undefined) {
      return this.byKey.size >= limits.maxRooms
        ? `No new rooms can be made: there are already ${limits.maxRooms}`
        : null;
    }
    return room.members.size >= limits.maxRoomMembers
      ? `${room.name} is full (${limits.maxRoomMembers} members)`
      : null;
  }

  /**
   * Moves a session into room `name` (making it), telling the old room it
   * left and the new one it joined, and sending it the new room's recent
   * history, topic and member list.
   */
  enter(session: Session, name: string): void {
    if (session.nick === null) return;
    const host = this.#host;
    const existing = this.find(name);
    if (existing !== undefined && existing === session.room) return;
    this.leave(session, "part");
    let room = this.find(name);
    if (room === undefined) {
      room = { name, members: new Set(), topic: "" };
      const stored = host.history.topic(name);
      if (stored !== undefined) {
        room.topic = stored.topic;
        room.topicBy = stored.by;
        room.topicAt = stored.ts;
      }
      this.byKey.set(foldKey(name), room);
      this.#bySkeleton.set(skeletonKey(name), room);
    }
    room.members.add(session);
    session.room = room;
    const join: ServerEvent = {
      type: "join",
      ts: host.now(),
      room: room.name,
      nick: session.nick,
    };
    const big = this.isBig(room);
    // A big room hears nothing: only the newcomer sees its own join.
    if (!big) host.broadcast(room, join);
    const joined = room;
    const replay = host.limits.historyLength;
    host.inOrder(() => {
      if (big) session.send(join);
      session.send({
        type: "history",
        room: joined.name,
        messages: replay === 0
          ? []
          : host.history.roomMessages(joined.name, replay),
      });
      if (joined.topic !== "") session.send(topicEvent(joined));
      session.send(
        big
          ? { type: "members", room: joined.name, count: joined.members.size }
          : whoEvent(joined, undefined, MAX_WHO_PAGE),
      );
    });
  }

  /**
   * Whether a room is big: at or past the limit, its joins and leaves go
   * unannounced (a notice to every member for every arrival is O(n²) as a
   * room fills), and a newcomer gets its size rather than its member list.
   */
  isBig(room: Room): boolean {
    const limit = this.#host.limits.bigRoomMembers;
    return limit > 0 && room.members.size >= limit;
  }

  /** Takes a session out of its room, telling the room why. */
  leave(session: Session, reason: LeaveReason, detail?: string): void {
    const room = session.room;
    if (room === null || session.nick === null) return;
    const event: ServerEvent = {
      type: "leave",
      ts: this.#host.now(),
      room: room.name,
      nick: session.nick,
      reason,
      ...(detail ? { message: detail } : {}),
    };
    // A big room is told only of moderation; the rest go unannounced.
    const announced = !this.isBig(room) || reason === "kicked" ||
      reason === "banned";
    // The leaver sees its own part (it is still connected); after a quit or
    // a lost connection only the others are told.
    if (reason !== "part") room.members.delete(session);
    if (announced) {
      this.#host.broadcast(room, event);
    } else if (reason === "part") {
      this.#host.inOrder(() => session.send(event));
    }
    room.members.delete(session);
    session.room = null;
    if (room.members.size === 0 && foldKey(room.name) !== foldKey(LOBBY)) {
      this.byKey.delete(foldKey(room.name));
      this.#bySkeleton.delete(skeletonKey(room.name));
    }
  }
}
