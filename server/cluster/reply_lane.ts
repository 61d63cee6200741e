/**
 * One connection's answers held behind its room messages in flight to Redis.
 *
 * On a node of a cluster a room message's confirmation comes back from
 * Redis, a round trip after it was sent, while the answer to a request made
 * right after it could go at once. So the answers a connection is owed (a
 * refused message's error, say) wait in its lane behind the sends made
 * before them, and go as soon as those have been answered: confirmed, or
 * refused. The requests that are not room messages wait for the lane to
 * empty before they run at all (dispatch.ts), so that what they send (a
 * part, a topic, an away) comes after too. A send keeps its place for at
 * most `timeoutMs` (`--redis-timeout`), counted from the moment it was sent
 * whatever held it up (Redis silent, or its copy lost on the way back):
 * then its `expired` runs in its place, which tells its sender it is
 * unconfirmed, and the answers behind it go. One deadline per send, so an
 * answer never waits longer than one `--redis-timeout` behind it.
 *
 * Pure: redis_node.ts marks the sends and settles them; time comes from the
 * given clock.
 *
 * @module
 */

/** Time, and one timer, as the lane needs them (tests give their own). */
export interface LaneClock {
  /** Milliseconds, from any fixed start. */
  now(): number;
  /** Calls `wake` in `ms` milliseconds; returns a handle for `clear`. */
  set(wake: () => void, ms: number): unknown;
  /** Cancels a timer `set` returned. */
  clear(handle: unknown): void;
}

/** The runtime's clock and timers. */
export const RUNTIME_CLOCK: LaneClock = {
  now: () => performance.now(),
  set: (wake, ms) => setTimeout(wake, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** A send in flight: its token, and when it stops holding the lane. */
interface InFlight {
  token: number;
  deadline: number;
  /** Runs, in the send's place, if its time is up before it settles. */
  expired: (() => void) | undefined;
}

/** What a lane is told by its owner. */
export interface LaneOptions {
  /** Longest a send holds the answers behind it, in milliseconds. */
  timeoutMs: number;
  /**
   * Where each hold's deadline is read from; tests pass a fake.
   * @default {RUNTIME_CLOCK}
   */
  clock?: LaneClock;
  /** Told when the lane has emptied (its owner may forget it). */
  emptied?: () => void;
  /** Told when a held answer (or a send's `expired`) threw; the rest still go. */
  failed?: (error: unknown) => void;
}

/** Sends in flight and the answers held behind them, in request order. */
export class ReplyLane {
  readonly #timeoutMs: number;
  readonly #clock: LaneClock;
  readonly #emptied: () => void;
  readonly #failed: (error: unknown) => void;
  #queue: Array<InFlight | (() => void)> = [];
  #timer: unknown = null;
  #drainWaiters: Array<() => void> = [];

  /**
   * Starts empty: nothing in flight, nothing held.
   * @param options the longest hold, the clock, whom to tell
   */
  constructor(options: LaneOptions) {
    this.#timeoutMs = options.timeoutMs;
    this.#clock = options.clock ?? RUNTIME_CLOCK;
    this.#emptied = options.emptied ?? (() => {});
    this.#failed = options.failed ?? (() => {});
  }

  /** Whether a send is in flight: an answer now would overtake it. */
  get busy(): boolean {
    return this.#queue.length !== 0;
  }

  /**
   * A room message went to Redis as send `token`. Should it not settle
   * within `timeoutMs`, `expired` runs in its place (before the answers
   * held behind it) and the lane goes on without it.
   */
  sent(token: number, expired?: () => void): void {
    this.#queue.push({
      token,
      deadline: this.#clock.now() + this.#timeoutMs,
      expired,
    });
    this.#arm();
  }

  /** Whether send `token` still holds the lane: not settled, time not up. */
  holds(token: number): boolean {
    return this.#queue.some((item) =>
      typeof item !== "function" && item.token === token
    );
  }

  /**
   * Holds `action` (an answer) behind the sends in flight; false, and
   * nothing held, when there are none (the caller runs it now).
   */
  hold(action: () => void): boolean {
    if (this.#queue.length === 0) return false;
    this.#queue.push(action);
    return true;
  }

  /**
   * Send `token` has been answered (its confirmation or its refusal has
   * been sent): the answers behind it go, up to the next send in flight.
   * A token not in the lane (settled already, or let go) is ignored.
   */
  settle(token: number): void {
    const at = this.#queue.findIndex((item) =>
      typeof item !== "function" && item.token === token
    );
    if (at === -1) return;
    this.#queue.splice(at, 1);
    if (at === 0) this.#release();
  }

  /** Settles once the lane is empty; undefined when it is already. */
  drained(): Promise<void> | undefined {
    if (this.#queue.length === 0) return undefined;
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Drops everything held and stops the timer (the node is closing). */
  close(): void {
    this.#queue = [];
    this.#stop();
    this.#wakeDrainWaiters();
  }

  /**
   * Runs the answers now at the front, and lets go of the sends at the
   * front whose time is up, until a send that still holds the lane.
   */
  #release(): void {
    const now = this.#clock.now();
    const queue = this.#queue;
    while (queue.length !== 0) {
      const head = queue[0]!;
      if (typeof head !== "function" && head.deadline > now) break;
      queue.shift();
      try {
        if (typeof head === "function") head();
        else head.expired?.();
      } catch (error) {
        this.#failed(error);
      }
    }
    if (queue.length !== 0) return this.#arm();
    this.#stop();
    this.#wakeDrainWaiters();
    this.#emptied();
  }

  /** Wakes the lane when the send at its front runs out of time. */
  #arm(): void {
    if (this.#timer !== null) return;
    const head = this.#queue[0];
    if (head === undefined || typeof head === "function") return;
    const wait = Math.max(0, head.deadline - this.#clock.now());
    this.#timer = this.#clock.set(this.#expired, wait);
  }

  readonly #expired = (): void => {
    this.#timer = null;
    this.#release();
  };

  #stop(): void {
    if (this.#timer === null) return;
    this.#clock.clear(this.#timer);
    this.#timer = null;
  }

  #wakeDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }
}
