/**
 * Repeated log events from one connection, limited: a client that sends a
 * thousand bad lines must not write a thousand identical lines to the log
 * (filling the disk, hiding everything else). Each event name may be logged
 * `limit` times per window; the rest are counted, and the count is reported
 * on the next line that gets through or when the connection ends. Pure: the
 * clock is passed in.
 *
 * @module
 */

/** How long a connection's repeat budget lasts before it refills. */
export const LOG_REPEAT_WINDOW_MS = 60_000;

/** One event name's budget in the current window. */
interface Budget {
  windowStart: number;
  written: number;
  suppressed: number;
}

/** Whether to write one occurrence, and how many went unwritten before it. */
export interface RepeatVerdict {
  /**
   * Whether to write this occurrence; false once the event is over its budget.
   */
  write: boolean;
  /** Occurrences suppressed since the last one written (when `write`). */
  suppressed: number;
}

/**
 * Per-event budgets for one connection.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RepeatedEvents } from "./log_repeats.ts";
 * const repeats = new RepeatedEvents(2, 1000);
 * assert.equal(repeats.admit("bad_line", 0).write, true);
 * assert.equal(repeats.admit("bad_line", 1).write, true);
 * assert.equal(repeats.admit("bad_line", 2).write, false);
 * assert.deepEqual(repeats.admit("bad_line", 1000), { write: true, suppressed: 1 });
 * ```
 */
export class RepeatedEvents {
  /** Occurrences of one event written per window; the rest are counted. */
  readonly limit: number;
  /** The window's length, in milliseconds. */
  readonly windowMs: number;
  #budgets = new Map<string, Budget>();

  /**
   * Starts with every event's budget full.
   * @param limit occurrences of one event written per window
   * @param windowMs the window
   */
  constructor(limit: number, windowMs: number = LOG_REPEAT_WINDOW_MS) {
    this.limit = limit;
    this.windowMs = windowMs;
  }

  /** Counts one occurrence of `event` at `now`. */
  admit(event: string, now: number): RepeatVerdict {
    let budget = this.#budgets.get(event);
    if (budget === undefined) {
      budget = { windowStart: now, written: 0, suppressed: 0 };
      this.#budgets.set(event, budget);
    } else if (now - budget.windowStart >= this.windowMs) {
      budget.windowStart = now;
      budget.written = 0;
    }
    if (budget.written >= this.limit) {
      budget.suppressed++;
      return { write: false, suppressed: 0 };
    }
    budget.written++;
    const suppressed = budget.suppressed;
    budget.suppressed = 0;
    return { write: true, suppressed };
  }

  /** Events with occurrences not yet reported, and how many; then forgets. */
  takeSuppressed(): Array<[event: string, count: number]> {
    const left: Array<[string, number]> = [];
    for (const [event, budget] of this.#budgets) {
      if (budget.suppressed > 0) left.push([event, budget.suppressed]);
    }
    this.#budgets.clear();
    return left;
  }
}
