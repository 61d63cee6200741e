/**
 * Resuming a room after a reconnect: the server replays the room's last
 * messages on every join, and the client shows only those newer than the
 * last it saw, instead of printing the same lines again. Pure.
 *
 * @module
 */

import type { RoomMessage } from "../wire/events.ts";

/** What to show of a join replay. */
export interface ResumedReplay {
  /** The messages not seen yet, oldest first. */
  messages: RoomMessage[];
  /**
   * When the replay was cut and everything in it is new, more was missed
   * than it holds: the command that shows the rest. Null otherwise.
   */
  earlier: string | null;
}

/**
 * Cuts a join replay of `room` to what is newer than `lastSeen` (the
 * newest id shown before the reconnect); `more` is the replay's flag that
 * older messages exist.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resumeReplay } from "./resume.ts";
 * const m = (id: number) => ({
 *   type: "message" as const, id, ts: 0, room: "#a", from: "b", text: "x",
 * });
 * assert.deepEqual(resumeReplay("#a", [m(4), m(5)], 4, false).messages, [m(5)]);
 * ```
 */
export function resumeReplay(
  room: string,
  replay: readonly RoomMessage[],
  lastSeen: number,
  more: boolean,
): ResumedReplay {
  const messages = replay.filter((message) => message.id > lastSeen);
  const first = messages[0];
  const cut = more && first !== undefined &&
    messages.length === replay.length && first.id > lastSeen + 1;
  return {
    messages,
    earlier: cut ? `/history ${room} before ${first.id}` : null,
  };
}
