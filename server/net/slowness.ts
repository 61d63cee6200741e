/**
 * When a reader is too slow: judged over time, as mature servers do, never
 * by the size of one burst. A reader is slow when
 * - one write has waited on it longer than `--write-timeout` with the kernel
 *   taking nothing (NATS' write deadline): it has stopped reading, or reads
 *   so much slower than it is sent that the kernel's buffers stay full;
 * - its backlog, the bytes the socket could not take, has stayed above
 *   `--send-queue-soft` for `--send-queue-soft-time` without a break
 *   (Redis' soft output limit): it reads, but slower than its rooms talk;
 * - or its backlog passes `--max-send-queue` (Redis' hard limit, NATS'
 *   max pending): memory is bounded whatever the clock says.
 *
 * A burst larger than the soft limit, sent to a reader that drains it, ends
 * nobody. Pure: the queue measures, the server's sweep asks here.
 *
 * @module
 */

import type { Limits } from "../limits.ts";

/** What the judgement needs from a connection's send queue. */
export interface BacklogState {
  /** When the write in flight started, or 0 when none is waiting. */
  writePendingSince: number;
  /** Since when the backlog has stayed above the soft limit, or 0. */
  overSoftSince: number;
}

/** Which rule found a reader slow. */
export type SlowRule = "write_deadline" | "soft_limit" | "hard_limit";

/** Words for the reader and its room: why it was cut off. */
export function slowDetail(rule: SlowRule, limits: Readonly<Limits>): string {
  switch (rule) {
    case "write_deadline":
      return `its connection took nothing new for ${
        seconds(limits.writeTimeoutMs)
      }`;
    case "soft_limit":
      return `more than ${limits.sendQueueSoftBytes} bytes waited for it for ${
        seconds(limits.sendQueueSoftMs)
      }`;
    case "hard_limit":
      return `more than ${limits.maxSendQueueBytes} bytes were waiting for it`;
  }
}

function seconds(ms: number): string {
  const value = ms / 1000;
  return `${value} ${value === 1 ? "second" : "seconds"}`;
}

/**
 * The time rule a connection has broken at `now`, or null. The hard limit is
 * not here: the queue refuses bytes past it as they arrive.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { slowRuleDue } from "./slowness.ts";
 * import { DEFAULT_LIMITS } from "../limits.ts";
 * const busy = { writePendingSince: 0, overSoftSince: 1000 };
 * assert.equal(slowRuleDue(busy, 1000 + DEFAULT_LIMITS.sendQueueSoftMs, DEFAULT_LIMITS), null);
 * assert.equal(slowRuleDue(busy, 1001 + DEFAULT_LIMITS.sendQueueSoftMs, DEFAULT_LIMITS), "soft_limit");
 * ```
 */
export function slowRuleDue(
  queue: BacklogState,
  now: number,
  limits: Readonly<Limits>,
): SlowRule | null {
  const pending = queue.writePendingSince;
  if (pending !== 0 && now - pending > limits.writeTimeoutMs) {
    return "write_deadline";
  }
  const over = queue.overSoftSince;
  if (over !== 0 && now - over > limits.sendQueueSoftMs) return "soft_limit";
  return null;
}
