/**
 * This node's picture of the people connected to the other nodes: who is
 * in which room, their nickname, away status and operator role. Kept in
 * memory from the other nodes' events (and their state in Redis when a node
 * joins or reconnects), so `/who`, `/rooms` and a room's size cost no round
 * trip to Redis. Pure: no Redis, no sockets.
 *
 * @module
 */

import { foldKey } from "../../wire/names.ts";
import { normalizeAddress } from "../ban_list.ts";
import type { RemoteMember, RemoteRoom } from "./presence_seam.ts";

/** A session's state as a node publishes it (and keeps it in Redis). */
export interface MemberState {
  /** Its nickname, as its owner spelled it. */
  nick: string;
  /** The away reason ("" for none given), or null when present. */
  away: string | null;
  /** Whether it holds the operator role. */
  op: boolean;
  /** Its IP address, for a ban by nickname. */
  address: string;
  /** Display names of its rooms. */
  rooms: string[];
  /** The Redis key of its nickname's claim, freed with it if its node dies. */
  claim: string;
  /** The account it has identified to, if any (private_peers.ts). */
  account?: number;
  /** When it took its nickname, if told. */
  since?: number;
}

/** What one change did to a remote session: its entry before and after. */
export interface MemberChange {
  /** Its entry before; undefined when it is new to this node. */
  before: RemoteMember | undefined;
  /** Its entry after; undefined when it is gone (quit, or its node died). */
  after: RemoteMember | undefined;
}

/** One room's remote members, by the room's fold key. */
interface RoomEntry {
  name: string;
  members: Set<RemoteMember>;
}

/** The other nodes' sessions, indexed by node, room and nickname. */
export class RemotePeople {
  readonly #byNode = new Map<string, Map<number, RemoteMember>>();
  readonly #byRoom = new Map<string, RoomEntry>();
  readonly #byNick = new Map<string, RemoteMember>();
  readonly #byAccount = new Map<number, Set<RemoteMember>>();

  /**
   * Sets (or with null, removes) session `sid` of `node`; returns what it
   * was and what it is now.
   */
  set(node: string, sid: number, state: MemberState | null): MemberChange {
    const before = this.#remove(node, sid);
    if (state === null) return { before, after: undefined };
    const after: RemoteMember = {
      node,
      sid,
      nick: state.nick,
      away: state.away,
      isOp: state.op,
      address: state.address,
      rooms: [...state.rooms],
      ...(state.account === undefined ? {} : { account: state.account }),
      ...(state.since === undefined ? {} : { since: state.since }),
    };
    let sessions = this.#byNode.get(node);
    if (sessions === undefined) {
      sessions = new Map();
      this.#byNode.set(node, sessions);
    }
    sessions.set(sid, after);
    this.#byNick.set(foldKey(after.nick), after);
    if (after.account !== undefined) {
      let members = this.#byAccount.get(after.account);
      if (members === undefined) {
        members = new Set();
        this.#byAccount.set(after.account, members);
      }
      members.add(after);
    }
    for (const name of after.rooms) {
      const key = foldKey(name);
      let entry = this.#byRoom.get(key);
      if (entry === undefined) {
        entry = { name, members: new Set() };
        this.#byRoom.set(key, entry);
      }
      entry.members.add(after);
    }
    return { before, after };
  }

  #remove(node: string, sid: number): RemoteMember | undefined {
    const sessions = this.#byNode.get(node);
    const member = sessions?.get(sid);
    if (sessions === undefined || member === undefined) return undefined;
    sessions.delete(sid);
    if (sessions.size === 0) this.#byNode.delete(node);
    const nickKey = foldKey(member.nick);
    if (this.#byNick.get(nickKey) === member) this.#byNick.delete(nickKey);
    if (member.account !== undefined) {
      const members = this.#byAccount.get(member.account);
      members?.delete(member);
      if (members?.size === 0) this.#byAccount.delete(member.account);
    }
    for (const name of member.rooms) {
      const key = foldKey(name);
      const entry = this.#byRoom.get(key);
      if (entry === undefined) continue;
      entry.members.delete(member);
      if (entry.members.size === 0) this.#byRoom.delete(key);
    }
    return member;
  }

  /** Forgets every session of `node`; returns them. */
  dropNode(node: string): RemoteMember[] {
    const sessions = this.#byNode.get(node);
    if (sessions === undefined) return [];
    const gone = [...sessions.values()];
    for (const member of gone) this.#remove(node, member.sid);
    return gone;
  }

  /**
   * Replaces everything known of `node` with `sessions` (a fresh read);
   * returns its sessions before and after, by session id.
   */
  replaceNode(
    node: string,
    sessions: ReadonlyMap<number, MemberState>,
  ): { before: Map<number, RemoteMember>; after: Map<number, RemoteMember> } {
    const before = new Map(
      this.dropNode(node).map((member) => [member.sid, member]),
    );
    const after = new Map<number, RemoteMember>();
    for (const [sid, state] of sessions) {
      after.set(sid, this.set(node, sid, state).after!);
    }
    return { before, after };
  }

  /** A session identified to account `account`, if any. */
  withAccount(account: number): RemoteMember | undefined {
    return this.#byAccount.get(account)?.values().next().value;
  }

  /** The nodes with sessions here. */
  nodes(): string[] {
    return [...this.#byNode.keys()];
  }

  /** Room `name`'s remote members. */
  members(name: string): Iterable<RemoteMember> {
    return this.#byRoom.get(foldKey(name))?.members ?? [];
  }

  /** How many remote members room `name` has. */
  count(name: string): number {
    return this.#byRoom.get(foldKey(name))?.members.size ?? 0;
  }

  /** How many sessions the other nodes have, all rooms together. */
  get size(): number {
    let count = 0;
    for (const sessions of this.#byNode.values()) count += sessions.size;
    return count;
  }

  /** How many of these people connect from `address` (normalized). */
  at(address: string): number {
    let count = 0;
    for (const sessions of this.#byNode.values()) {
      for (const member of sessions.values()) {
        if (normalizeAddress(member.address) === address) count++;
      }
    }
    return count;
  }

  /** Every room with remote members, with how many. */
  rooms(): RemoteRoom[] {
    return [...this.#byRoom.values()].map((entry) => ({
      name: entry.name,
      members: entry.members.size,
    }));
  }

  /**
   * The remote session called `nick`, ignoring case only (as a message is
   * addressed: a look-alike of a name is not that name).
   */
  find(nick: string): RemoteMember | undefined {
    return this.#byNick.get(foldKey(nick));
  }
}
