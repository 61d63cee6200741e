/**
 * Guards against guessing and churn that no single connection's limits can
 * see: growing delays after wrong passwords (per account and per address),
 * new connections per address, registrations per address, and a small
 * bounded queue for password hashing. Each is keyed by strings, bounded in
 * the keys it remembers, and takes the clock as an argument, so tests drive
 * time instead of sleeping.
 *
 * @module
 */

import { TokenBucket } from "./flood.ts";

/**
 * Most keys a guard remembers. Past it the least recently touched key is
 * forgotten: an attacker cycling through addresses can make the server
 * forget old ones, never grow without bound.
 */
export const MAX_GUARD_KEYS = 100_000;

/** A map that forgets its least recently written key past a bound. */
class BoundedMap<V> {
  readonly #map = new Map<string, V>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get(key: string): V | undefined {
    return this.#map.get(key);
  }

  /** Sets `key`, moving it to the newest place. */
  set(key: string, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.#max) {
      const oldest = this.#map.keys().next().value;
      if (oldest !== undefined) this.#map.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#map.delete(key);
  }

  get size(): number {
    return this.#map.size;
  }
}

/**
 * How long a key's failures are remembered after its last one. A day, not
 * the longest delay: a guesser that went quiet for a while would otherwise
 * start afresh with free tries, several times a day.
 */
export const FORGET_FAILURES_MS = 86_400_000;

/** How the login throttle grows its delays. */
export interface LoginThrottleOptions {
  /** Failures per key before a delay: the next try after them waits. */
  freeFailures: number;
  /** The first delay, doubled for each further failure. */
  firstDelayMs: number;
  /** The longest delay. */
  maxDelayMs: number;
  /** Most keys remembered. @default {MAX_GUARD_KEYS} */
  maxKeys?: number;
}

interface FailureRecord {
  failures: number;
  /** When the next try is allowed. */
  allowedAt: number;
  /** When the last failure was. */
  lastAt: number;
}

/**
 * Growing delays after wrong passwords, as ergo and Dovecot do: a few tries
 * free, then each further failure doubles the wait before the next try is
 * even checked. Keys name what is guessed at (`account:7`) and who guesses
 * (`address:203.0.113.7`); a try waits for the longest of its keys. A key is
 * forgotten a day after its last failure, or on success.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LoginThrottle } from "./guards.ts";
 * const throttle = new LoginThrottle({ freeFailures: 2, firstDelayMs: 1000, maxDelayMs: 4000 });
 * throttle.fail(["a"], 0);
 * assert.equal(throttle.waitMs(["a"], 0), 0);
 * throttle.fail(["a"], 0);
 * assert.equal(throttle.waitMs(["a"], 0), 1000);
 * throttle.fail(["a"], 1000);
 * assert.equal(throttle.waitMs(["a"], 1000), 2000);
 * ```
 */
export class LoginThrottle {
  readonly #options: LoginThrottleOptions;
  readonly #records: BoundedMap<FailureRecord>;

  /**
   * Starts with no failures recorded.
   * @param options free failures and the delays after them
   */
  constructor(options: LoginThrottleOptions) {
    this.#options = options;
    this.#records = new BoundedMap(options.maxKeys ?? MAX_GUARD_KEYS);
  }

  /** How long a try on any of `keys` must still wait (0: it may go now). */
  waitMs(keys: readonly string[], now: number): number {
    let wait = 0;
    for (const key of keys) {
      const record = this.#current(key, now);
      if (record !== undefined) wait = Math.max(wait, record.allowedAt - now);
    }
    return wait;
  }

  /** Records a wrong password against every one of `keys`. */
  fail(keys: readonly string[], now: number): void {
    const { freeFailures, firstDelayMs, maxDelayMs } = this.#options;
    for (const key of keys) {
      const failures = (this.#current(key, now)?.failures ?? 0) + 1;
      const over = failures - freeFailures;
      const delay = over < 0
        ? 0
        : Math.min(maxDelayMs, firstDelayMs * 2 ** Math.min(over, 30));
      this.#records.set(key, { failures, allowedAt: now + delay, lastAt: now });
    }
  }

  /** A right password: `keys` start afresh. */
  succeed(keys: readonly string[]): void {
    for (const key of keys) this.#records.delete(key);
  }

  /** Keys remembered now. */
  get size(): number {
    return this.#records.size;
  }

  #current(key: string, now: number): FailureRecord | undefined {
    const record = this.#records.get(key);
    if (record === undefined) return undefined;
    if (now - record.lastAt > FORGET_FAILURES_MS) {
      this.#records.delete(key);
      return undefined;
    }
    return record;
  }
}

/**
 * New connections per address: a token bucket each (`burst` at once, then
 * `ratePerSecond`), as ergo's connection throttle. An address whose bucket
 * is full again is forgotten.
 */
export class ConnectionRate {
  readonly #burst: number;
  readonly #ratePerSecond: number;
  readonly #buckets = new BoundedMap<TokenBucket>(MAX_GUARD_KEYS);

  /**
   * Starts with no addresses tracked; a rate of 0 admits every connection.
   * @param burst connections allowed at once
   * @param ratePerSecond sustained connections per second (0: no limit)
   */
  constructor(burst: number, ratePerSecond: number) {
    this.#burst = burst;
    this.#ratePerSecond = ratePerSecond;
  }

  /** Takes a token for a connection from `address`; false: refuse it. */
  allow(address: string, now: number): boolean {
    if (this.#ratePerSecond <= 0) return true;
    let bucket = this.#buckets.get(address);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.#burst, this.#ratePerSecond, now);
    }
    const allowed = bucket.take(now);
    this.#buckets.set(address, bucket);
    return allowed;
  }
}

/**
 * Events per key within a sliding window, such as registrations per address
 * per hour.
 */
export class WindowCounter {
  readonly #windowMs: number;
  readonly #times = new BoundedMap<number[]>(MAX_GUARD_KEYS);

  /**
   * Starts with no events counted.
   * @param windowMs how far back events count
   */
  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** Events for `key` within the window ending at `now`. */
  count(key: string, now: number): number {
    const times = this.#times.get(key);
    if (times === undefined) return 0;
    const recent = times.filter((t) => t > now - this.#windowMs);
    if (recent.length === 0) this.#times.delete(key);
    else if (recent.length !== times.length) this.#times.set(key, recent);
    return recent.length;
  }

  /** Records an event for `key`. */
  record(key: string, now: number): void {
    const times = this.#times.get(key) ?? [];
    this.#times.set(key, [
      ...times.filter((t) => t > now - this.#windowMs),
      now,
    ]);
  }
}

/**
 * Password hashes run this many at a time: PBKDF2 is meant to be slow, and
 * on a two-core host two at once leave nothing for the chat itself.
 */
export const HASHES_AT_ONCE = 1;

/**
 * Hash jobs one address may have waiting or running: a guesser with many
 * connections holds at most this many places in the queue, so other
 * people's logins are never stuck behind it.
 */
export const HASHES_PER_ADDRESS = 2;

/** Why a hash job was not queued. */
export type HashRefusal = "queue_full" | "address_busy";

interface HashJob {
  address: string;
  run: () => Promise<void>;
}

/**
 * The password-hashing queue: at most {@linkcode HASHES_AT_ONCE} running,
 * at most `capacity` waiting, at most {@linkcode HASHES_PER_ADDRESS} per
 * address, taken in turn across addresses. A job that does not fit is
 * refused at once (the caller tells the client to retry), so hashing can
 * never pile up work without bound or starve the event loop.
 */
export class HashQueue {
  readonly #capacity: number;
  readonly #waiting: HashJob[] = [];
  readonly #perAddress = new Map<string, number>();
  #running = 0;
  /** When each address with jobs was last served, by a running count. */
  readonly #lastServed = new Map<string, number>();
  #served = 0;

  /**
   * Starts empty.
   * @param capacity jobs that may wait
   */
  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Jobs waiting and running now. */
  get size(): number {
    return this.#waiting.length + this.#running;
  }

  /**
   * Runs `work` when its turn comes; resolves with its result, or with a
   * refusal at once when the queue or the address's share is full.
   */
  run<T>(
    address: string,
    work: () => Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false; why: HashRefusal }> {
    if ((this.#perAddress.get(address) ?? 0) >= HASHES_PER_ADDRESS) {
      return Promise.resolve({ ok: false, why: "address_busy" });
    }
    if (this.#waiting.length >= this.#capacity) {
      return Promise.resolve({ ok: false, why: "queue_full" });
    }
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
    return new Promise((resolve, reject) => {
      this.#waiting.push({
        address,
        run: () => work().then((value) => resolve({ ok: true, value }), reject),
      });
      this.#next();
    });
  }

  #next(): void {
    while (this.#running < HASHES_AT_ONCE && this.#waiting.length > 0) {
      const job = this.#takeFair();
      this.#running++;
      job.run().finally(() => {
        this.#running--;
        const left = (this.#perAddress.get(job.address) ?? 1) - 1;
        if (left <= 0) {
          this.#perAddress.delete(job.address);
          this.#lastServed.delete(job.address);
        } else {
          this.#perAddress.set(job.address, left);
        }
        this.#next();
      }).catch(() => {});
    }
  }

  /**
   * The oldest job of the address served least recently: addresses take
   * turns, so one with two jobs cannot go twice while another waits.
   */
  #takeFair(): HashJob {
    let best = 0;
    let bestServed = Infinity;
    for (let i = 0; i < this.#waiting.length; i++) {
      const served = this.#lastServed.get(this.#waiting[i]!.address) ?? -1;
      if (served < bestServed) {
        best = i;
        bestServed = served;
      }
    }
    const job = this.#waiting.splice(best, 1)[0]!;
    this.#lastServed.set(job.address, ++this.#served);
    return job;
  }
}
