/**
 * A node's room messages in flight: each send's sender and ref, kept until
 * its copy comes back from Redis (the sender's confirmation) or it is
 * certain none will: Redis refused it, or delivery went past its id without
 * it (its room had nobody here left to read it for, so a catch-up skipped
 * it). Whichever of "Redis gave it an id" and "a catch-up ended" comes
 * second does the forgetting, so no send outlives both. And none outlives
 * `keepMs`: a copy lost on the subscription with no catch-up to skip it
 * would otherwise be kept for as long as the node runs, and its sender with
 * it; its sender was told it is unconfirmed long before, and is told when
 * it is forgotten that what came of it is not known.
 *
 * Pure: redis_node.ts sends and delivers.
 *
 * @module
 */

/** The sender of a message in flight, for its confirmation. */
export interface PendingSend<S> {
  /** Who sent it: the one told when it is confirmed or lost. */
  session: S;
  /** The request's ref, echoed so the sender's client can match the answer. */
  ref: string | undefined;
  /** The id Redis gave it, once the script has answered. */
  id?: number;
  /** When it was sent (the clock `add` was given). */
  sentAt: number;
  /**
   * Told when its copy comes back (`delivered`) with its id: a sender
   * told it was unconfirmed learns here that it went after all.
   */
  copied?: (id: number) => void;
  /**
   * Told when it is forgotten for its age (`expire`), its copy never back:
   * with its id if Redis gave one, so its sender, told it is unconfirmed,
   * gets a last word rather than silence.
   */
  forgotten?: (id: number | undefined) => void;
}

/** What a send's sender is told as it goes (see {@linkcode PendingSend}). */
export interface SendWatch {
  /** Its copy came back with this id. */
  copied?: (id: number) => void;
  /** It was forgotten for its age, its copy never back. */
  forgotten?: (id: number | undefined) => void;
}

/** Where delivery stands (DeliveryCursor's view). */
export interface DeliveryPoint {
  /** Whether a catch-up is due or under way. */
  readonly behind: boolean;
  /** Every message up to this id has been delivered or skipped. */
  readonly newest: number;
}

/** Sends in flight, by token (the relay carries it back). */
export class PendingSends<S> {
  readonly #byToken = new Map<number, PendingSend<S>>();
  readonly #keepMs: number;
  #nextToken = 1;

  /**
   * Starts with nothing in flight.
   * @param keepMs longest a send is waited for, its copy or its fate
   */
  constructor(keepMs: number) {
    this.#keepMs = keepMs;
  }

  /** Sends still waiting for their copy. */
  get size(): number {
    return this.#byToken.size;
  }

  /**
   * A new send by `session` at `now`: its token. Sends older than `keepMs`
   * are forgotten first (`expire`).
   */
  add(
    session: S,
    ref: string | undefined,
    now: number,
    watch: SendWatch = {},
  ): number {
    this.expire(now);
    const token = this.#nextToken++;
    this.#byToken.set(token, { session, ref, sentAt: now, ...watch });
    return token;
  }

  /**
   * Forgets the sends older than `keepMs` at `now`, each told so through
   * its `forgotten` (the map keeps them oldest first, so this costs one
   * look plus one per send forgotten).
   */
  expire(now: number): void {
    for (const [token, pending] of this.#byToken) {
      if (now - pending.sentAt <= this.#keepMs) break;
      this.#byToken.delete(token);
      pending.forgotten?.(pending.id);
    }
  }

  /** When the oldest send is due to be forgotten; undefined with none. */
  get nextExpiry(): number | undefined {
    for (const pending of this.#byToken.values()) {
      return pending.sentAt + this.#keepMs;
    }
    return undefined;
  }

  /**
   * Redis stored send `token` as message `id`. Forgotten at once when
   * delivery is live and already past `id` without it: its copy was
   * skipped (a catch-up that has ended did not read its room).
   */
  stored(token: number, id: number, at: DeliveryPoint): void {
    const pending = this.#byToken.get(token);
    if (pending === undefined) return;
    pending.id = id;
    if (!at.behind && id <= at.newest) this.#byToken.delete(token);
  }

  /** Redis refused send `token`: its sender, told here, is forgotten. */
  failed(token: number): PendingSend<S> | undefined {
    const pending = this.#byToken.get(token);
    this.#byToken.delete(token);
    return pending;
  }

  /** Send `token`'s copy came back: its sender, once. */
  delivered(token: number): PendingSend<S> | undefined {
    const pending = this.#byToken.get(token);
    this.#byToken.delete(token);
    return pending;
  }

  /**
   * A catch-up ended with everything up to `newest` delivered or skipped:
   * sends stored at or below it whose copy did not come are forgotten
   * (those whose id is not known yet are when it is, by `stored`).
   */
  caughtUp(newest: number): void {
    for (const [token, pending] of this.#byToken) {
      if (pending.id !== undefined && pending.id <= newest) {
        this.#byToken.delete(token);
      }
    }
  }
}
