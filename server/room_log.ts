/**
 * Where a room's history is read from: this process's SQLite file, or, in a
 * cluster, the room's stream in Redis (cluster/room_streams.ts). The join
 * replay and `/history` read through here; a cluster's answer is a promise,
 * which the reply waits for in its place in the reader's queue
 * (Session.reply), so nothing sent after it overtakes it.
 *
 * @module
 */

import {
  type Codec,
  errorEvent,
  type RoomMessage,
  type ServerEvent,
} from "../protocol.ts";
import { historyPage } from "./reply_pages.ts";
import { CLUSTER_DOWN } from "./nicknames.ts";

/** Rows of a room's history, oldest first: now, or once read from elsewhere. */
export type HistoryRows = RoomMessage[] | Promise<RoomMessage[]>;

/** A room's history as the join replay and `/history` read it. */
export interface RoomLog {
  /**
   * Up to `limit` messages of `room`, oldest first: the newest this node
   * has delivered, or those before message `beforeId` when paging back.
   */
  messages(room: string, limit: number, beforeId?: number): HistoryRows;
}

/** A `history` page, or the error saying history cannot be read now. */
export type HistoryReply = ServerEvent & { type: "history" | "error" };

/**
 * The `history` reply for `room` from `rows` (a `limit + 1` read), now or
 * once they are read; a read that fails is the `unavailable` error instead,
 * never a page that looks complete.
 */
export function historyReply(
  room: string,
  rows: HistoryRows,
  limit: number,
  codec: Codec,
): HistoryReply | Promise<HistoryReply> {
  if (!(rows instanceof Promise)) {
    return historyPage(room, rows, limit, codec);
  }
  return rows.then(
    (read) => historyPage(room, read, limit, codec),
    () => errorEvent("unavailable", `History not shown: ${CLUSTER_DOWN}`),
  );
}

/** `events` with `middle` in the middle, now or once it is known. */
export function around(
  before: ServerEvent[],
  middle: ServerEvent | Promise<ServerEvent>,
  after: ServerEvent[],
): ServerEvent[] | Promise<ServerEvent[]> {
  if (middle instanceof Promise) {
    return middle.then((event) => [...before, event, ...after]);
  }
  return [...before, middle, ...after];
}
