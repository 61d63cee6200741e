/**
 * The terminal client's view of its rooms: which it is in, which is current,
 * and how many lines each other room has said since the person last looked
 * (shown in the prompt as `#dev(3)`). Pure: events in, state and strings
 * out, so it is tested without a terminal or a server.
 *
 * @module
 */

import { foldKey } from "../wire/names.ts";
import type { ServerEvent } from "../wire/events.ts";

/** One room the client is in. */
interface JoinedRoom {
  /** The room's name as the server spells it. */
  name: string;
  /** Messages and actions since it was last current. */
  unread: number;
}

/** Commands whose next word is a room, for Tab completion. */
const ROOM_COMMAND =
  /^(\s*\/(?:switch|sw|join|j|part|leave|who|names)\s+)(\S*)$/i;

/** The rooms a client is in, and the one it is talking in. */
export class RoomView {
  /** By fold key, in the order joined. */
  #rooms = new Map<string, JoinedRoom>();
  #current: string | null = null;

  /** The current room's name, or null before the first join. */
  get current(): string | null {
    return this.#current === null
      ? null
      : this.#rooms.get(this.#current)?.name ?? null;
  }

  /** The rooms the client is in, in the order joined. */
  get rooms(): string[] {
    return [...this.#rooms.values()].map((room) => room.name);
  }

  /** Whether `room` is one the client is in but not its current one. */
  isElsewhere(room: string): boolean {
    const key = foldKey(room);
    return this.#current !== null && key !== this.#current &&
      this.#rooms.has(key);
  }

  /**
   * Follows the client's own joins, parts and switches, and counts lines
   * said in rooms other than the current one. `self` is the client's
   * nickname.
   */
  onEvent(event: ServerEvent, self: string): void {
    switch (event.type) {
      case "join":
        if (foldKey(event.nick) !== foldKey(self)) return;
        this.#rooms.set(foldKey(event.room), { name: event.room, unread: 0 });
        this.#current = foldKey(event.room);
        return;
      case "leave":
        if (foldKey(event.nick) !== foldKey(self)) return;
        this.#rooms.delete(foldKey(event.room));
        if (this.#current === foldKey(event.room)) this.#current = null;
        return;
      case "switch": {
        const room = this.#rooms.get(foldKey(event.room));
        if (room === undefined) return;
        room.unread = 0;
        this.#current = foldKey(event.room);
        return;
      }
      case "message":
      case "action": {
        if (!this.isElsewhere(event.room)) return;
        if (foldKey(event.from) === foldKey(self)) return;
        this.#rooms.get(foldKey(event.room))!.unread++;
        return;
      }
    }
  }

  /**
   * Forgets every room, as a new connection starts in none, and returns
   * what to restore: the rooms other than the current one, and the current
   * one (which the reconnecting hello names).
   */
  reset(): { others: string[]; current: string | null } {
    const current = this.current;
    const others = this.rooms.filter((name) =>
      current === null || foldKey(name) !== foldKey(current)
    );
    this.#rooms.clear();
    this.#current = null;
    return { others, current };
  }

  /**
   * Rooms with unread lines, for the prompt: `#lobby(3) #ops(1)`, or ""
   * when there are none.
   */
  unreadSummary(): string {
    return [...this.#rooms.values()]
      .filter((room) => room.unread > 0)
      .map((room) => `${room.name}(${room.unread})`)
      .join(" ");
  }

  /**
   * Tab completion of a room name after `/switch`, `/join`, `/part` or
   * `/who`: `before` is the line up to the cursor; the answer replaces it,
   * or is null when there is nothing to complete. One match completes with
   * a space after it; several complete as far as they agree; an empty word
   * offers the first room other than the current one.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { RoomView } from "./room_view.ts";
   * const view = new RoomView();
   * for (const room of ["#lobby", "#dev"]) {
   *   view.onEvent({ type: "join", ts: 0, room, nick: "me" }, "me");
   * }
   * assert.equal(view.complete("/switch #l"), "/switch #lobby ");
   * ```
   */
  complete(before: string): string | null {
    const match = ROOM_COMMAND.exec(before);
    if (match === null) return null;
    const [, command, word] = match as unknown as [string, string, string];
    const typed = foldKey(word.startsWith("#") ? word : `#${word}`);
    const candidates = this.rooms.filter((name) =>
      word === ""
        ? foldKey(name) !== this.#current
        : foldKey(name).startsWith(typed)
    );
    if (candidates.length === 0) return null;
    if (candidates.length === 1 || word === "") {
      return `${command}${candidates[0]} `;
    }
    let common = candidates[0]!;
    for (const name of candidates) {
      while (!foldKey(name).startsWith(foldKey(common))) {
        common = common.slice(0, -1);
      }
    }
    return common.length > word.length ? `${command}${common}` : null;
  }
}
