/**
 * Flood control's two primitives, pure and clock-free (the caller passes
 * the time): a token bucket for the rate of lines, and a count of recent
 * events for "refused too often lately".
 *
 * @module
 */

/**
 * A token bucket: `burst` tokens, refilled at `ratePerSecond`. Each line
 * takes one; an empty bucket refuses. The clock is passed in, so tests drive
 * time instead of sleeping.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TokenBucket } from "./flood.ts";
 * const bucket = new TokenBucket(2, 1, 0);
 * assert.equal(bucket.take(0), true);
 * assert.equal(bucket.take(0), true);
 * assert.equal(bucket.take(0), false);
 * assert.equal(bucket.take(1000), true);
 * ```
 */
export class TokenBucket {
  readonly burst: number;
  readonly ratePerSecond: number;
  #tokens: number;
  #updatedAt: number;

  /**
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

  /** Takes one token if there is one. */
  take(now: number): boolean {
    const elapsed = Math.max(0, now - this.#updatedAt) / 1000;
    this.#tokens = Math.min(
      this.burst,
      this.#tokens + elapsed * this.ratePerSecond,
    );
    this.#updatedAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/**
 * Counts events in a sliding window, for "too many refusals lately". Keeps
 * at most `limit` timestamps.
 */
export class RecentEvents {
  readonly windowMs: number;
  readonly limit: number;
  #times: number[] = [];

  /**
   * @param windowMs how far back events count
   * @param limit the count that {@linkcode RecentEvents.record} reports
   */
  constructor(windowMs: number, limit: number) {
    this.windowMs = windowMs;
    this.limit = limit;
  }

  /** Records an event; returns true once `limit` fall within the window. */
  record(now: number): boolean {
    this.#times.push(now);
    while (this.#times.length > 0 && this.#times[0]! <= now - this.windowMs) {
      this.#times.shift();
    }
    if (this.#times.length > this.limit) this.#times.shift();
    return this.#times.length >= this.limit;
  }
}
