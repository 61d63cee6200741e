/**
 * Flood control that paces instead of refusing, as IRC servers do (ergo's
 * fakelag, InspIRCd's `fakelag="yes"`): a connection over its budget is not
 * read until the budget refills, so its lines are delayed, in order, and
 * none is lost; only the flooder waits, and its own kernel buffers hold the
 * rest. The budget is two token buckets, one in lines and one in bytes.
 * Input that keeps coming past the budget, so that its lines wait for
 * `--flood-disconnect` seconds in all without a pause, ends the connection.
 * Pure and clock-free: the caller passes the time.
 *
 * @module
 */

/**
 * A token bucket: `burst` tokens, refilled at `ratePerSecond`. Pacing asks
 * how long until a cost fits ({@linkcode TokenBucket.waitMs}); limits that
 * refuse take one token or fail ({@linkcode TokenBucket.take}). The clock is
 * passed in, so tests drive time instead of sleeping.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TokenBucket } from "./flood.ts";
 * const bucket = new TokenBucket(2, 1, 0);
 * assert.equal(bucket.take(0), true);
 * assert.equal(bucket.take(0), true);
 * assert.equal(bucket.take(0), false);
 * assert.equal(bucket.waitMs(1, 400), 600);
 * assert.equal(bucket.take(1000), true);
 * ```
 */
export class TokenBucket {
  /** Tokens a full bucket holds: what may go at once. */
  readonly burst: number;
  /** Tokens added back a second: the sustained rate. */
  readonly ratePerSecond: number;
  #tokens: number;
  #updatedAt: number;

  /**
   * Starts full, so a first burst goes at once.
   * @param burst most tokens held, and the starting amount
   * @param ratePerSecond refill rate
   * @param now the clock's current reading, in milliseconds
   */
  constructor(burst: number, ratePerSecond: number, now: number) {
    this.burst = burst;
    this.ratePerSecond = ratePerSecond;
    this.#tokens = burst;
    this.#updatedAt = now;
  }

  /**
   * Milliseconds until `cost` tokens (at most the burst) are there, after
   * refilling for the time since the last call; 0 when they are now.
   */
  waitMs(cost: number, now: number): number {
    const elapsed = Math.max(0, now - this.#updatedAt) / 1000;
    this.#tokens = Math.min(
      this.burst,
      this.#tokens + elapsed * this.ratePerSecond,
    );
    this.#updatedAt = Math.max(this.#updatedAt, now);
    const missing = Math.min(cost, this.burst) - this.#tokens;
    return missing <= 0 ? 0 : Math.ceil(missing / this.ratePerSecond * 1000);
  }

  /** Spends `cost` tokens (at most the burst), after a `waitMs` of 0. */
  spend(cost: number): void {
    this.#tokens -= Math.min(cost, this.burst);
  }

  /** Takes one token if there is one: for limits that refuse. */
  take(now: number): boolean {
    if (this.waitMs(1, now) !== 0) return false;
    this.spend(1);
    return true;
  }
}

/** The budget a connection's input must keep to. */
export interface FloodBudget {
  /** Lines at once, before the rate applies. */
  burstLines: number;
  /** Lines per second, kept up. */
  linesPerSecond: number;
  /** Bytes at once, before the rate applies. */
  burstBytes: number;
  /** Bytes per second, kept up. */
  bytesPerSecond: number;
  /** Lines that wait this long in one spell of pacing end the connection. */
  disconnectAfterMs: number;
}

/** What to do with one line of input. */
export type Pace =
  /** Handle it now; its tokens are taken. */
  | { action: "now" }
  /**
   * Wait `ms`, then ask again; `first` when this begins a spell of pacing
   * (the sender is told once, not per line).
   */
  | { action: "wait"; ms: number; first: boolean }
  /** Input has kept coming past the budget for too long: disconnect. */
  | { action: "disconnect"; pacedForMs: number };

/**
 * One connection's pacing: asks, for each line, whether it goes now or
 * waits. Lines that wait belong to a spell of pacing, which ends once the
 * connection has gone as long as its burst takes to refill without being
 * held back; the sender is told when a spell begins. A spell whose lines
 * have waited longer, in all, than `disconnectAfterMs` is input that keeps
 * coming past the budget: the connection is ended. A client that paces
 * itself to the rate waits little or never, so it is never cut.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FloodPacer } from "./flood.ts";
 * const pacer = new FloodPacer({
 *   burstLines: 2, linesPerSecond: 2, burstBytes: 1000, bytesPerSecond: 500,
 *   disconnectAfterMs: 60_000,
 * }, 0);
 * assert.deepEqual(pacer.admit(1, 10, 0), { action: "now" });
 * assert.deepEqual(pacer.admit(1, 10, 0), { action: "now" });
 * assert.deepEqual(pacer.admit(1, 10, 0), { action: "wait", ms: 500, first: true });
 * assert.deepEqual(pacer.admit(1, 10, 500), { action: "now" });
 * ```
 */
export class FloodPacer {
  /**
   * The rates it enforces, also announced in the welcome and named when it
   * disconnects.
   */
  readonly budget: Readonly<FloodBudget>;
  readonly #lines: TokenBucket;
  readonly #bytes: TokenBucket;
  /** Not held back for this long ends a spell: the line burst's refill. */
  readonly #quietMs: number;
  /** When the last wait ended, or -Infinity before any. */
  #lastWaitEnd = -Infinity;
  /** Time the present spell's lines have waited, in all. */
  #waitedMs = 0;

  /**
   * Starts with full buckets.
   * @param budget the rates, bursts and disconnect time
   * @param now the clock's current reading, in milliseconds
   */
  constructor(budget: FloodBudget, now: number) {
    this.budget = budget;
    this.#lines = new TokenBucket(
      budget.burstLines,
      budget.linesPerSecond,
      now,
    );
    this.#bytes = new TokenBucket(
      budget.burstBytes,
      budget.bytesPerSecond,
      now,
    );
    this.#quietMs = budget.burstLines / budget.linesPerSecond * 1000;
  }

  /**
   * Whether a line costing `lines` (0 or 1) and `bytes` goes now, waits, or
   * ends the connection. After a wait, ask again for the same line.
   */
  admit(lines: number, bytes: number, now: number): Pace {
    const wait = Math.max(
      this.#lines.waitMs(lines, now),
      this.#bytes.waitMs(bytes, now),
    );
    if (wait === 0) {
      this.#lines.spend(lines);
      this.#bytes.spend(bytes);
      return { action: "now" };
    }
    const first = now - this.#lastWaitEnd > this.#quietMs;
    if (first) {
      this.#waitedMs = 0;
    } else if (this.#waitedMs > this.budget.disconnectAfterMs) {
      return { action: "disconnect", pacedForMs: this.#waitedMs };
    }
    this.#waitedMs += wait;
    this.#lastWaitEnd = now + wait;
    return { action: "wait", ms: wait, first };
  }
}

/**
 * Bytes `text` takes in UTF-8, plus its newline: what a line costs the
 * bytes bucket. Counts without encoding.
 */
export function lineBytes(text: string): number {
  let bytes = 1;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code < 0xdc00) {
      bytes += 4; // a surrogate pair: one four-byte character
      i++;
    } else bytes += 3;
  }
  return bytes;
}
