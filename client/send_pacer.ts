/**
 * The client's own pacing of what it sends, to the rate the server says in
 * its welcome: a paste of thirty lines then goes out over a few seconds
 * instead of losing most of them to the server's flood control. Pure: the
 * caller passes the time.
 *
 * @module
 */

/** The sending rate a server announces: steady lines per second and a burst. */
export interface AnnouncedPace {
  ratePerSecond: number;
  burst: number;
}

/** Reads a positive finite number, or null. */
function positive(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) && value > 0
    ? value
    : null;
}

/**
 * The pace a `welcome` event announces, or null when it announces none (an
 * older server, or flood control off): then the client does not pace. Read
 * defensively, as an unknown object: `flood: { rate, burst }`.
 */
export function announcedPace(welcome: unknown): AnnouncedPace | null {
  if (typeof welcome !== "object" || welcome === null) return null;
  const flood = (welcome as Record<string, unknown>).flood;
  if (typeof flood !== "object" || flood === null) return null;
  const fields = flood as Record<string, unknown>;
  const ratePerSecond = positive(fields.rate);
  if (ratePerSecond === null) return null;
  return { ratePerSecond, burst: Math.max(1, positive(fields.burst) ?? 1) };
}

/**
 * How much of the server's allowance the client uses: a little under it, so
 * clock differences and lines the server counts that the client does not
 * (a ping's answer) never push a paste over the limit.
 */
const SAFETY = 0.9;

/** A token bucket mirroring the server's, a little slower. */
export class SendPacer {
  #capacity: number;
  #ratePerMs: number;
  #tokens: number;
  #updatedAt: number;

  /**
   * @param pace what the server announced
   * @param now the time, ms
   */
  constructor(pace: AnnouncedPace, now: number) {
    this.#capacity = Math.max(1, Math.floor(pace.burst * SAFETY));
    this.#ratePerMs = (pace.ratePerSecond * SAFETY) / 1000;
    this.#tokens = this.#capacity;
    this.#updatedAt = now;
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#updatedAt);
    this.#tokens = Math.min(
      this.#capacity,
      this.#tokens + elapsed * this.#ratePerMs,
    );
    this.#updatedAt = now;
  }

  /** Milliseconds until a line may be sent; 0 when one may go now. */
  wait(now: number): number {
    this.#refill(now);
    return this.#tokens >= 1
      ? 0
      : Math.ceil((1 - this.#tokens) / this.#ratePerMs);
  }

  /** Spends one line's allowance; call only when {@linkcode wait} is 0. */
  take(now: number): void {
    this.#refill(now);
    this.#tokens -= 1;
  }

  /** Lines that may go at once from full. */
  get burst(): number {
    return this.#capacity;
  }
}
