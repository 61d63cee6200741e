/**
 * Bans: which addresses are kept out and until when. Pure, with the clock
 * passed in; the server checks it at accept and operators edit it.
 *
 * @module
 */

import { foldKey } from "../wire/names.ts";
import type { BanSummary } from "../protocol.ts";

/** One ban. */
export interface Ban {
  /** The banned IP address, normalized. */
  address: string;
  /** The nickname that was using the address, when banned by nickname. */
  nick?: string;
  /** When it ends (ms since the epoch); absent for a permanent ban. */
  until?: number;
  reason?: string;
  /** The operator who set it. */
  by: string;
}

const IPV4 = /^(?:\d{1,3}\.){3}\d{1,3}$/;
const IPV6 = /^[0-9a-f:]+(?:%\w+)?$/i;

/**
 * An IP address in one canonical form: IPv4 clients of a dual-stack listener
 * appear as `::ffff:1.2.3.4`, and are the same client as `1.2.3.4`.
 */
export function normalizeAddress(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith("::ffff:") && IPV4.test(lower.slice(7))
    ? lower.slice(7)
    : lower;
}

/** Whether `text` is written as an IP address rather than a nickname. */
export function isIpAddress(text: string): boolean {
  return IPV4.test(text) || (text.includes(":") && IPV6.test(text));
}

/** The ban list. */
export class BanList {
  #bans = new Map<string, Ban>();

  /** Adds or replaces the ban on `ban.address`. */
  add(ban: Ban): void {
    const address = normalizeAddress(ban.address);
    this.#bans.set(address, { ...ban, address });
  }

  /** The ban in force on `address` at `now`, if any. */
  find(address: string, now: number): Ban | undefined {
    const key = normalizeAddress(address);
    const ban = this.#bans.get(key);
    if (ban?.until !== undefined && ban.until <= now) {
      this.#bans.delete(key);
      return undefined;
    }
    return ban;
  }

  /**
   * Lifts the ban on an address, or on the address last used by a banned
   * nickname; returns what was lifted.
   */
  remove(target: string): Ban | undefined {
    const address = normalizeAddress(target);
    const byAddress = this.#bans.get(address);
    if (byAddress !== undefined) {
      this.#bans.delete(address);
      return byAddress;
    }
    for (const [key, ban] of this.#bans) {
      if (ban.nick !== undefined && foldKey(ban.nick) === foldKey(target)) {
        this.#bans.delete(key);
        return ban;
      }
    }
    return undefined;
  }

  /** The bans in force at `now`, for `/bans`. */
  list(now: number): BanSummary[] {
    const summaries: BanSummary[] = [];
    for (const ban of [...this.#bans.values()]) {
      if (this.find(ban.address, now) === undefined) continue;
      const summary: BanSummary = { address: ban.address };
      if (ban.nick !== undefined) summary.nick = ban.nick;
      if (ban.until !== undefined) summary.until = ban.until;
      if (ban.reason !== undefined) summary.reason = ban.reason;
      summaries.push(summary);
    }
    return summaries;
  }
}
