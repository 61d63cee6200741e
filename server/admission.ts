/**
 * Admission: whether a new connection may in, decided before it costs a
 * session. A banned address, a full server and an address over its share are
 * refused with one line saying why. Pure: the caller passes what it knows.
 *
 * @module
 */

import type { Ban } from "./ban_list.ts";
import type { Limits } from "./limits.ts";
import { banEnd } from "../protocol.ts";

/**
 * Whether `address` is this machine's own: exempt from the connection rate,
 * as ergo exempts localhost, so local bots, tests and benchmarks are not
 * throttled (the server's own host is trusted anyway).
 */
export function isLoopback(address: string): boolean {
  return address === "::1" || /^127\.\d+\.\d+\.\d+$/.test(address);
}

/**
 * What per-address limits count `address` as: an IPv4 address, or a
 * loopback one, as itself; an IPv6 address as its first `ipv6Prefix` bits
 * (`2001:db8:1:2::/64`), since a host is usually given a whole /64 and
 * could otherwise take a fresh address for every connection, guess and
 * registration. `address` is canonical (ban_list.ts `normalizeAddress`);
 * anything that is no IPv6 address is its own key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addressKey } from "./admission.ts";
 * assert.equal(addressKey("2001:db8:1:2:aaaa::1", 64), "2001:db8:1:2::/64");
 * assert.equal(addressKey("2001:db8:1:2:bbbb::9", 64), "2001:db8:1:2::/64");
 * assert.equal(addressKey("2001:db8::1", 128), "2001:db8::1");
 * assert.equal(addressKey("203.0.113.7", 64), "203.0.113.7");
 * ```
 */
export function addressKey(address: string, ipv6Prefix: number): string {
  if (!address.includes(":") || ipv6Prefix >= 128 || isLoopback(address)) {
    return address;
  }
  const groups = expandIpv6(address);
  if (groups === null) return address;
  const kept = groups.map((group, i) => {
    const bits = Math.min(16, Math.max(0, ipv6Prefix - i * 16));
    return bits === 0 ? 0 : group & (0xffff << (16 - bits)) & 0xffff;
  });
  const text = new URL(`http://[${kept.map((g) => g.toString(16)).join(":")}]/`)
    .hostname.slice(1, -1);
  return `${text}/${ipv6Prefix}`;
}

/** The eight 16-bit groups of an IPv6 address, or null if it is none. */
function expandIpv6(address: string): number[] | null {
  let host: string;
  try {
    host = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
  // The URL standard writes it compressed, hex only (no dotted tail).
  const [head = "", tail] = host.split("::");
  const front = head === "" ? [] : head.split(":");
  const back = tail === undefined || tail === "" ? [] : tail.split(":");
  const zeros = tail === undefined ? 0 : 8 - front.length - back.length;
  const groups = [...front, ...Array(zeros).fill("0"), ...back].map((g) =>
    parseInt(g, 16)
  );
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff)
    ? groups
    : null;
}

/** What admission looks at for one new connection. */
export interface Arrival {
  /** The ban on its address, if any is in force. */
  ban: Ban | undefined;
  /** Connections open now, logged in or not. */
  open: number;
  /** Connections open now from the same address. */
  fromAddress: number;
  /** Whether the address is opening connections faster than allowed. */
  tooFast?: boolean;
}

/**
 * What an address opening connections faster than its rate is told: the
 * last refusal {@linkcode admissionRefusal} gives, after bans and caps.
 */
export const TOO_FAST_REFUSAL =
  "Too many new connections from your address; wait a few seconds";

/**
 * The line a refused connection is told, or null to let it in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { admissionRefusal } from "./admission.ts";
 * const limits = { maxConnections: 2, maxPerAddress: 1 };
 * assert.equal(admissionRefusal({ ban: undefined, open: 0, fromAddress: 0 }, limits), null);
 * assert.equal(
 *   admissionRefusal({ ban: undefined, open: 2, fromAddress: 0 }, limits),
 *   "The server is full; try again later",
 * );
 * ```
 */
export function admissionRefusal(
  arrival: Arrival,
  limits: Pick<Limits, "maxConnections" | "maxPerAddress">,
): string | null {
  const { ban } = arrival;
  if (ban !== undefined) {
    return `You are banned${
      ban.until === undefined ? "" : ` ${banEnd(ban.until)}`
    }${ban.reason ? `: ${ban.reason}` : ""}`;
  }
  if (arrival.open >= limits.maxConnections) {
    return "The server is full; try again later";
  }
  if (limits.maxPerAddress > 0 && arrival.fromAddress >= limits.maxPerAddress) {
    return `Too many connections from your address (at most ${limits.maxPerAddress})`;
  }
  if (arrival.tooFast) return TOO_FAST_REFUSAL;
  return null;
}

/** Open connections per address, for the per-address cap. */
export class AddressCounts {
  readonly #counts = new Map<string, number>();

  /** Connections open from `address`. */
  get(address: string): number {
    return this.#counts.get(address) ?? 0;
  }

  /** One more from `address`. */
  add(address: string): void {
    this.#counts.set(address, this.get(address) + 1);
  }

  /** One fewer from `address`; an address at zero is forgotten. */
  remove(address: string): void {
    const left = this.get(address) - 1;
    if (left <= 0) this.#counts.delete(address);
    else this.#counts.set(address, left);
  }
}
