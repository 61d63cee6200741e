/**
 * The client's own pacing of what it sends, to the rate the server says in
 * its welcome: a paste of thirty lines then goes out over a few seconds
 * instead of losing most of them to the server's flood control. Pure: the
 * caller passes the time.
 *
 * @module
 */

/**
 * The sending budget a server announces in its welcome (`rate`): steady
 * lines and bytes a second, and how many of each may go at once.
 */
export interface AnnouncedPace {
  /** Steady lines a second the server lets through. */
  lines: number;
  /** Lines that may go at once before the steady rate holds them back. */
  burst: number;
  /** Absent: bytes are not limited. */
  bytes?: number;
  /** Bytes that may go at once; absent: as many as `bytes`. */
  burstBytes?: number;
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
 * defensively, as an unknown object: `rate: { lines, burst, bytes?,
 * burstBytes? }`.
 */
export function announcedPace(welcome: unknown): AnnouncedPace | null {
  if (typeof welcome !== "object" || welcome === null) return null;
  const rate = (welcome as Record<string, unknown>).rate;
  if (typeof rate !== "object" || rate === null) return null;
  const fields = rate as Record<string, unknown>;
  const lines = positive(fields.lines);
  if (lines === null) return null;
  const pace: AnnouncedPace = {
    lines,
    burst: Math.max(1, positive(fields.burst) ?? 1),
  };
  const bytes = positive(fields.bytes);
  if (bytes !== null) {
    pace.bytes = bytes;
    pace.burstBytes = Math.max(bytes, positive(fields.burstBytes) ?? bytes);
  }
  return pace;
}

/**
 * How much of the server's allowance the client uses: a little under it, so
 * clock differences and lines the server counts that the client does not
 * (a ping's answer) never push a paste over the limit.
 */
const SAFETY = 0.9;

/** One token bucket: `capacity` at most, refilled at `perMs`. */
class Bucket {
  #capacity: number;
  #perMs: number;
  #tokens: number;
  #updatedAt: number;

  constructor(capacity: number, perSecond: number, now: number) {
    this.#capacity = capacity;
    this.#perMs = perSecond / 1000;
    this.#tokens = capacity;
    this.#updatedAt = now;
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#updatedAt);
    this.#tokens = Math.min(
      this.#capacity,
      this.#tokens + elapsed * this.#perMs,
    );
    this.#updatedAt = now;
  }

  /** Ms until `cost` is available (a cost over capacity waits for full). */
  wait(now: number, cost: number): number {
    this.#refill(now);
    const need = Math.min(cost, this.#capacity);
    return this.#tokens >= need
      ? 0
      : Math.ceil((need - this.#tokens) / this.#perMs);
  }

  take(now: number, cost: number): void {
    this.#refill(now);
    this.#tokens -= cost;
  }
}

/** Token buckets mirroring the server's, a little slower. */
export class SendPacer {
  #lines: Bucket;
  #bytes: Bucket | null;

  /**
   * Starts with full buckets, each a margin under the server's so it never
   * trips the server's flood control.
   * @param pace what the server announced
   * @param now the time, ms
   */
  constructor(pace: AnnouncedPace, now: number) {
    this.#lines = new Bucket(
      Math.max(1, Math.floor(pace.burst * SAFETY)),
      pace.lines * SAFETY,
      now,
    );
    this.#bytes = pace.bytes === undefined ? null : new Bucket(
      Math.max(1, Math.floor((pace.burstBytes ?? pace.bytes) * SAFETY)),
      pace.bytes * SAFETY,
      now,
    );
  }

  /** Milliseconds until a line of `bytes` may be sent; 0 when it may go now. */
  wait(now: number, bytes: number): number {
    return Math.max(
      this.#lines.wait(now, 1),
      this.#bytes?.wait(now, bytes) ?? 0,
    );
  }

  /** Spends a line's allowance; call only when {@linkcode wait} is 0. */
  take(now: number, bytes: number): void {
    this.#lines.take(now, 1);
    this.#bytes?.take(now, bytes);
  }
}
