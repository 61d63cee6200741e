/**
 * Which deadline, if any, a connection has passed: a write stuck on a peer
 * that does not read, a login that takes too long, a silent JSON client due
 * a ping or past answering one, an idle text client. Pure, with the clock
 * passed in, so the server's one sweep timer only acts on the verdict.
 *
 * @module
 */

import type { Limits } from "../limits.ts";
import type { Codec } from "../../protocol.ts";
import { type BacklogState, slowDetail, slowRuleDue } from "./slowness.ts";

/** The parts of a connection's state the deadlines depend on. */
export interface DeadlineState extends BacklogState {
  /** Where the connection is in its life: a login has its own deadline. */
  state: "login" | "active" | "closing";
  /** JSON clients are pinged; text clients are timed out when idle. */
  codec: Codec;
  /** When it connected (ms), for the login deadline. */
  connectedAt: number;
  /**
   * When the peer last sent anything (ms): the idle and ping clocks start
   * there.
   */
  lastInputAt: number;
  /** The unanswered ping's token, or null. */
  pingToken: string | null;
  /** When the unanswered ping went (ms), for its timeout. */
  pingSentAt: number;
}

/** What is due for a connection now. */
export type Deadline =
  | { action: "disconnect"; reason: "slow" | "timeout"; detail: string }
  | { action: "ping" };

/**
 * The deadline `connection` has reached at `now`, or null. Disconnections
 * win over pings; slowness (slowness.ts) is checked first, whatever the
 * state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dueDeadline } from "./deadlines.ts";
 * import { DEFAULT_LIMITS } from "../limits.ts";
 * const fresh = {
 *   state: "login", codec: "text", connectedAt: 0, lastInputAt: 0,
 *   pingToken: null, pingSentAt: 0, writePendingSince: 0, overSoftSince: 0,
 * } as const;
 * assert.equal(dueDeadline(fresh, 1000, DEFAULT_LIMITS), null);
 * assert.deepEqual(dueDeadline(fresh, 61_000, DEFAULT_LIMITS), {
 *   action: "disconnect", reason: "timeout", detail: "login took too long",
 * });
 * ```
 */
export function dueDeadline(
  connection: DeadlineState,
  now: number,
  limits: Readonly<Limits>,
): Deadline | null {
  if (connection.state === "closing") return null;
  const slow = slowRuleDue(connection, now, limits);
  if (slow !== null) {
    return {
      action: "disconnect",
      reason: "slow",
      detail: slowDetail(slow, limits),
    };
  }
  if (connection.state === "login") {
    return now - connection.connectedAt > limits.loginTimeoutMs
      ? {
        action: "disconnect",
        reason: "timeout",
        detail: "login took too long",
      }
      : null;
  }
  const silentFor = now - connection.lastInputAt;
  if (connection.codec === "json") {
    if (connection.pingToken === null) {
      return silentFor > limits.pingIntervalMs ? { action: "ping" } : null;
    }
    return now - connection.pingSentAt > limits.pingTimeoutMs
      ? { action: "disconnect", reason: "timeout", detail: "no answer to ping" }
      : null;
  }
  return limits.idleTimeoutMs > 0 && silentFor > limits.idleTimeoutMs
    ? { action: "disconnect", reason: "timeout", detail: "idle too long" }
    : null;
}

/**
 * How often to sweep: a quarter of the shortest deadline, between 20 ms
 * and 1 s, so a deadline is enforced at most a quarter late.
 */
export function sweepIntervalMs(limits: Readonly<Limits>): number {
  const deadlines = [
    limits.writeTimeoutMs,
    limits.sendQueueSoftMs,
    limits.loginTimeoutMs,
    limits.pingIntervalMs,
    limits.pingTimeoutMs,
    ...(limits.idleTimeoutMs > 0 ? [limits.idleTimeoutMs] : []),
    ...(limits.bigRoomCountMs > 0 ? [limits.bigRoomCountMs] : []),
  ];
  return Math.max(20, Math.min(1000, Math.min(...deadlines) / 4));
}
