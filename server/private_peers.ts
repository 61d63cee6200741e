/**
 * Whom a session has been writing to in private, by nickname: who held
 * each name when they last exchanged private messages. A nickname nobody
 * registered passes to whoever takes it next, so without this a message
 * meant for the person who left would reach a stranger who took the name.
 * The first message to a name whose holder has changed is refused with a
 * warning; sending again reaches the new holder.
 *
 * @module
 */

import { skeletonKey } from "./names/lookalikes.ts";

/** Names a session remembers; past it the least recently used is forgotten. */
export const MAX_PRIVATE_PEERS = 64;

/**
 * Who holds a nickname, as a string equal for the same person: an account
 * (whatever connection it uses, on any node) or one connection.
 */
export type HolderKey = string;

/** The key of an account's holder, the same on every connection and node. */
export function accountHolder(id: number): HolderKey {
  return `account:${id}`;
}

/** The key of a connection on this node without an account. */
export function localHolder(sessionId: number): HolderKey {
  return `here:${sessionId}`;
}

/** The key of a connection on another node of a cluster without an account. */
export function remoteHolder(node: string, sid: number): HolderKey {
  return `node:${node}/${sid}`;
}

/**
 * Who someone on another node is: their account when their node said they
 * have one, else their connection there.
 */
export function remoteHolderOf(
  member: { node: string; sid: number; account?: number },
): HolderKey {
  return member.account === undefined
    ? remoteHolder(member.node, member.sid)
    : accountHolder(member.account);
}

/**
 * One session's correspondents: nickname to holder, bounded. Names are
 * compared as the nickname registry does, look-alikes as one.
 */
export class PrivatePeers {
  readonly #byNick = new Map<string, HolderKey>();
  readonly #most: number;

  /**
   * Starts with no correspondents.
   * @param most names kept; the least recently used goes first
   */
  constructor(most: number = MAX_PRIVATE_PEERS) {
    this.#most = most;
  }

  /** Notes that `holder` held `nick` when a private message passed. */
  remember(nick: string, holder: HolderKey): void {
    const key = skeletonKey(nick);
    this.#byNick.delete(key);
    this.#byNick.set(key, holder);
    if (this.#byNick.size > this.#most) {
      const oldest = this.#byNick.keys().next().value;
      if (oldest !== undefined) this.#byNick.delete(oldest);
    }
  }

  /**
   * Whether `nick` is held by someone other than whom it was last written
   * to or heard from; either way `holder` is remembered from now, so the
   * next message goes through.
   */
  changedHands(nick: string, holder: HolderKey): boolean {
    const before = this.#byNick.get(skeletonKey(nick));
    this.remember(nick, holder);
    return before !== undefined && before !== holder;
  }

  /** How many names are remembered. */
  get size(): number {
    return this.#byNick.size;
  }
}

/**
 * What a sender is told when the name it writes to has changed hands:
 * nothing was sent, who holds it since when, and that sending again
 * reaches them.
 */
export function changedHandsMessage(nick: string, since?: number): string {
  const when = since === undefined
    ? ""
    : ` since ${
      new Date(since).toISOString().slice(0, 16).replace("T", " ")
    } UTC`;
  return `Not sent: ${nick} is now someone else (another connection has held the nickname${when}); send again to write to the new ${nick}`;
}
