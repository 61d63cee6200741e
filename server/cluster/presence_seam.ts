/**
 * What the hub asks of a cluster about people and rooms on the other nodes,
 * and what it tells the cluster when its own people change. Types only: the
 * hub and the handlers speak to this seam, a single process has none
 * (`hub.presence` is null), and the Redis side (presence.ts) implements it.
 *
 * @module
 */

import type { Ban } from "../ban_list.ts";
import type { PagedMember } from "../member_pages.ts";
import type { LeaveReason, PrivateMessage } from "../../protocol.ts";
import type { Room, Session } from "../session.ts";

/**
 * What changed about a local session, as the other nodes must hear it: the
 * notice its rooms get there (if `announce`/`announced` says so: the big-room
 * policy is decided once, where the change happened, over the whole room).
 */
export type PresenceNotice =
  | { type: "join"; room: string; ts: number; announce: boolean }
  | { type: "part"; room: string; ts: number; announce: boolean }
  | {
    type: "leave";
    reason: LeaveReason;
    detail?: string;
    ts: number;
    /** The rooms told of it (a big room hears only of moderation). */
    announced: string[];
  }
  | { type: "nick"; old: string; ts: number }
  | { type: "away"; ts: number }
  | { type: "back"; ts: number }
  /** Nothing to announce (the operator role, say), only the new state. */
  | { type: "state" };

/** Someone connected to another node, as this node knows them. */
export interface RemoteMember extends PagedMember {
  /** The node they are connected to. */
  node: string;
  /** Their session's id on that node. */
  sid: number;
  /** Their nickname, as they spelled it. */
  nick: string;
  /** Their IP address, for a ban by nickname. */
  address: string;
  /** Display names of the rooms they are in. */
  rooms: string[];
  /** The account they have identified to, if any, as last heard. */
  account?: number;
  /** When they took their nickname, if told. */
  since?: number;
}

/** A room with members on other nodes, as `/rooms` counts it. */
export interface RemoteRoom {
  /** The room's display name (with `#`). */
  name: string;
  /** Members on the other nodes. */
  members: number;
}

/** What became of a private message to someone not on this node. */
export type PrivateRoute =
  /** Published to the node holding the nickname, with this id. */
  | { kind: "sent"; message: PrivateMessage; away: string | null }
  /** Nobody connected anywhere holds that nickname. */
  | { kind: "absent" }
  /** The cluster cannot be reached. */
  | { kind: "unavailable" }
  /**
   * The node holding the nickname does not hear Redis now (it died, or
   * its link is down): nothing was delivered.
   */
  | { kind: "unreachable"; nick: string }
  /**
   * Redis did not answer in time: it may still deliver it (a published
   * message cannot be taken back). `late` is what it came to once Redis
   * answers (null if its link dropped first, so nobody can tell).
   */
  | {
    kind: "unconfirmed";
    late: Promise<PrivateRoute | null>;
    /**
     * Who did not answer in time: Redis (`store`), or the node holding
     * the nickname, which got it but sent no receipt (`holder`: it hangs).
     */
    silent: "store" | "holder";
  }
  /**
   * It reached the node holding the nickname after its holder had left
   * there (the name not let go yet): nobody got it.
   */
  | { kind: "left"; nick: string; id: number };

/** The hub's view of the other nodes' people, and its news for them. */
export interface ClusterPresence {
  /** The members of room `name` on the other nodes (empty when none). */
  remoteMembers(name: string): Iterable<RemoteMember>;
  /** How many members room `name` has on the other nodes. */
  remoteCount(name: string): number;
  /** Rooms with members on the other nodes. */
  remoteRooms(): Iterable<RemoteRoom>;
  /**
   * How many people are in the chat on the other nodes, or null when this
   * node cannot tell: Redis is away, or did not answer its last heartbeat,
   * so news of who came and went may not have reached it.
   */
  remotePeople(): number | null;
  /** Whoever holds `nick` on another node, as last heard. */
  findRemote(nick: string): RemoteMember | undefined;
  /**
   * A session on another node identified to account `account`, under
   * whatever nickname it goes by now, as last heard.
   */
  findRemoteByAccount(account: number): RemoteMember | undefined;
  /**
   * How many people on the other nodes connect from `address` (normalized),
   * of those in a room (the others' presence shows no one else).
   */
  remoteAt(address: string): number;
  /** Whether Redis can be reached now (changes to shared state need it). */
  readonly available: boolean;
  /**
   * A local session's presence changed (already applied here): the other
   * nodes update their view of it and tell their members. Never throws;
   * what Redis missed is re-asserted when it is back.
   */
  changed(session: Session, notice: PresenceNotice): void;
  /** An operator here set `room`'s topic: every node shows it. */
  topicSet(room: Room): void;
  /** An operator here set the message of the day. */
  motdSet(lines: readonly string[]): void;
  /** An operator here muted (or unmuted) `nick`. */
  muteSet(nick: string, muted: boolean, by: string): void;
  /** An operator here banned an address: every node applies it. */
  banned(ban: Ban): void;
  /** An operator here lifted the ban on `address`. */
  unbanned(address: string): void;
  /** Asks the node holding `member` to disconnect them. */
  kick(member: RemoteMember, by: string, reason: string): void;
  /**
   * Sends a private message to whoever holds `to` on another node, routed
   * by the nickname's cluster claim (which names node and session). `draft`
   * is the message without its id, which the cluster assigns. `sender`
   * (a session here) is told should it reach that node after `to` left.
   */
  sendPrivate(
    to: string,
    draft: Omit<PrivateMessage, "id">,
    sender: Session,
  ): Promise<PrivateRoute>;
}
