/**
 * Bans: which addresses are kept out and until when. Pure, with the clock
 * passed in; the server checks it at accept and operators edit it.
 *
 * @module
 */

import { foldKey } from "../wire/names.ts";
import { banEnd, type BanSummary } from "../protocol.ts";
import { addressKey } from "./admission.ts";

/** One ban. */
export interface Ban {
  /**
   * The banned IP address, normalized; an IPv6 one as the prefix it stands
   * for (`2001:db8:1:2::/64`, see {@linkcode BanList}).
   */
  address: string;
  /** The nickname that was using the address, when banned by nickname. */
  nick?: string;
  /** When it ends (ms since the epoch); absent for a permanent ban. */
  until?: number;
  /** The operator's reason, if given, shown with the ban. */
  reason?: string;
  /** The operator who set it. */
  by: string;
}

/**
 * What follows "Banned" in the goodbye of someone a ban disconnects: by whom,
 * until when (a ban of days must not read as ending at a time today) and why.
 */
export function banGoodbye(ban: Ban): string {
  return `by ${ban.by} ${banEnd(ban.until)}${
    ban.reason ? `: ${ban.reason}` : ""
  }`;
}

/** Dotted IPv4 with each part 0-255 and no leading zero (`010` is octal to some). */
const IPV4 =
  /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Something an operator meant as an address: nicknames hold no dot or colon. */
const ADDRESS_LIKE = /[.:]/;

/** The characters an IPv6 address may hold (before the URL parser's check). */
const IPV6_CHARACTERS = /^[0-9a-f:.]+$/i;

/**
 * An IP address in its one canonical form, or undefined if `text` is not
 * exactly an IP address: IPv4 in plain dotted form; IPv6 compressed and
 * lower-cased as the URL standard writes it; an IPv4 client of a dual-stack
 * listener (`::ffff:1.2.3.4`) as its IPv4 address. Strict, so a typo such as
 * `127.0.0.02` is refused rather than stored as a ban that matches nobody.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIpAddress } from "./ban_list.ts";
 * assert.equal(parseIpAddress("::FFFF:10.0.0.1"), "10.0.0.1");
 * assert.equal(parseIpAddress("2001:db8:0:0::1"), "2001:db8::1");
 * assert.equal(parseIpAddress("127.0.0.02"), undefined);
 * ```
 */
export function parseIpAddress(text: string): string | undefined {
  if (IPV4.test(text)) return text;
  if (!text.includes(":") || !IPV6_CHARACTERS.test(text)) return undefined;
  const lower = text.toLowerCase();
  if (lower.startsWith("::ffff:") && IPV4.test(lower.slice(7))) {
    return lower.slice(7);
  }
  let host: string;
  try {
    host = new URL(`http://[${text}]/`).hostname;
  } catch {
    return undefined;
  }
  const canonical = host.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (mapped === null) return canonical;
  const high = parseInt(mapped[1]!, 16);
  const low = parseInt(mapped[2]!, 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join(".");
}

/**
 * A connection's address in canonical form (see
 * {@linkcode parseIpAddress}); anything unparsable is kept lower-cased.
 */
export function normalizeAddress(address: string): string {
  return parseIpAddress(address) ?? address.toLowerCase();
}

/**
 * Whether an operator wrote `text` as an address rather than a nickname
 * (nicknames have neither dots nor colons); {@linkcode parseIpAddress} then
 * says whether it is a valid one.
 */
export function isIpAddress(text: string): boolean {
  return ADDRESS_LIKE.test(text);
}

/** Whether `ms` since the epoch is a time a `Date` can hold. */
function isRepresentableTime(ms: number): boolean {
  return Number.isFinite(new Date(ms).getTime());
}

/**
 * The ban list. An IPv6 address is banned with the first `ipv6Prefix` bits
 * it shares with its neighbours (admission.ts `addressKey`): a host given a
 * /64 would otherwise step around a ban by taking another address from it.
 */
export class BanList {
  #bans = new Map<string, Ban>();
  readonly #ipv6Prefix: number;

  /**
   * Starts with no bans.
   * @param ipv6Prefix bits of an IPv6 address a ban covers (128: itself)
   */
  constructor(ipv6Prefix = 128) {
    this.#ipv6Prefix = ipv6Prefix;
  }

  /**
   * What a ban on `address` covers, as {@linkcode Ban.address} holds it: the
   * address itself, or an IPv6 address's prefix. An address already in that
   * form (`2001:db8::/64`, as `/bans` lists it) is its own key.
   */
  keyOf(address: string): string {
    return addressKey(normalizeAddress(address), this.#ipv6Prefix);
  }

  /**
   * Adds or replaces the ban on `ban.address` (an address, or a prefix as
   * {@linkcode BanList.keyOf} writes it); refuses (returning false,
   * changing nothing) an address that does not parse or an end that is not
   * a representable time, so no later read of the list can fail on it.
   */
  add(ban: Ban): boolean {
    const [text = "", bits] = ban.address.split("/");
    const parsed = parseIpAddress(text);
    if (parsed === undefined) return false;
    const address = addressKey(parsed, this.#ipv6Prefix);
    if (bits !== undefined && address !== ban.address.toLowerCase()) {
      return false;
    }
    if (ban.until !== undefined && !isRepresentableTime(ban.until)) {
      return false;
    }
    this.#bans.set(address, { ...ban, address });
    return true;
  }

  /** The ban in force on `address` at `now`, if any. */
  find(address: string, now: number): Ban | undefined {
    const key = this.keyOf(address);
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
    const address = target.includes("/")
      ? target.toLowerCase()
      : this.keyOf(target);
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

  /** The bans in force at `now`, whole (a cluster node re-asserts them). */
  inForce(now: number): Ban[] {
    return [...this.#bans.values()].filter((ban) =>
      this.find(ban.address, now) !== undefined
    );
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
