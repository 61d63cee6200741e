/**
 * A big room built from the server's own parts (sessions, the room's log,
 * send queues, write coalescing, the write gate) over sockets a bench
 * provides: what `bench-write-cost` and `bench-schedule` drive to measure
 * the server's share of a write and its scheduling, without the kernel.
 *
 * @module
 */

import { type Room, Session, type SessionSocket } from "../server/session.ts";
import { MemberIndex } from "../server/member_pages.ts";
import { RoomBatch } from "../server/room_batch.ts";
import type { WriteGate } from "../server/net/write_gate.ts";
import type { FlushScheduler } from "../server/net/coalescing.ts";
import type { SyncWriteBudget } from "../server/net/sync_write_budget.ts";
import { DEFAULT_LIMITS } from "../server/limits.ts";

/** What the room is made of. */
export interface StubRoomOptions {
  /** Members, each a logged-in text session in the room. */
  members: number;
  /** The socket of the member at `index`. */
  socketFor(index: number): SessionSocket;
  /** Write coalescing, shared by every member, as in the server. */
  scheduler: FlushScheduler;
  /** The write gate, shared by every member, as in the server. */
  gate: WriteGate;
  /**
   * Writes made at once a turn, shared by every member, as in the server
   * (for sockets with `tryWrite`). @default no bound
   */
  budget?: SyncWriteBudget;
  /** The spacing of a member's pulls (see RoomBatch). @default none */
  spacingMs?: () => number;
}

/** A room and its log; `close` sends what is logged and closes every queue. */
export interface StubRoom {
  room: Room;
  batch: RoomBatch<Session>;
  close(): void;
}

/** Builds the room; see {@linkcode StubRoomOptions}. */
export function stubRoom(options: StubRoomOptions): StubRoom {
  const { scheduler, gate } = options;
  const room: Room = {
    name: "#lobby",
    members: new Set(),
    index: new MemberIndex(),
    topic: "",
  };
  for (let i = 0; i < options.members; i++) {
    const session = new Session({
      socket: options.socketFor(i),
      address: "127.0.0.1",
      limits: DEFAULT_LIMITS,
      onSendFailure: () => {},
      writes: scheduler,
      gate,
      ...(options.budget === undefined ? {} : { budget: options.budget }),
    });
    session.chooseCodec("text");
    session.setNick(`m${i}`);
    session.state = "active";
    session.rooms.add(room);
    session.current = room;
    room.members.add(session);
  }
  const batch = new RoomBatch<Session>({
    members: () => room.members,
    pulled: (lines) => scheduler.countExtraLines(lines),
    elsewhere: (member) => member.current !== room,
    ...(options.spacingMs === undefined
      ? {}
      : { spacingMs: options.spacingMs }),
  });
  room.batch = batch;
  return {
    room,
    batch,
    close() {
      batch.close();
      gate.close();
      for (const session of room.members) session.outbound.close();
    },
  };
}
