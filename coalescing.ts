/**
 * Write coalescing under load. Every recipient of a message costs a write,
 * and a write's system call is most of what a delivery costs. When the
 * server is idle, bytes go out at the end of the turn that queued them: the
 * lowest latency. When it is busy, holding each connection's bytes for a few
 * milliseconds lets several lines share one write, so the server spends its
 * time delivering instead of queueing, and the tail latency drops.
 *
 * {@linkcode FlushScheduler} decides when queued bytes go out;
 * {@linkcode CoalescingController} sets its hold from the process's CPU use.
 *
 * @module
 */

/** When queued bytes are written: at the end of this turn, or after a hold. */
export class FlushScheduler {
  #delayMs = 0;
  #due: Array<() => void> = [];
  #timer: ReturnType<typeof setTimeout> | null = null;

  /** The current hold in milliseconds; 0 writes at the end of each turn. */
  get delayMs(): number {
    return this.#delayMs;
  }

  /** Changes the hold; a change to 0 writes what is held at once. */
  setDelay(ms: number): void {
    this.#delayMs = ms;
    if (ms === 0) this.#runDue();
  }

  /** Arranges for `flush` to run: after this turn, or at the next tick. */
  schedule(flush: () => void): void {
    if (this.#delayMs === 0) {
      queueMicrotask(flush);
      return;
    }
    this.#due.push(flush);
    this.#timer ??= setTimeout(this.#tick, this.#delayMs);
  }

  /** Runs everything held and stops holding. */
  close(): void {
    this.#delayMs = 0;
    this.#runDue();
  }

  readonly #tick = (): void => {
    this.#timer = null;
    this.#runDue();
  };

  #runDue(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    const due = this.#due;
    this.#due = [];
    for (const flush of due) flush();
  }
}

/** A scheduler that never holds: what a queue uses when given none. */
export const END_OF_TURN: FlushScheduler = new FlushScheduler();

/** The controller's thresholds. */
export interface CoalescingOptions {
  /** Longest hold, in milliseconds; 0 turns coalescing off. */
  maxDelayMs: number;
  /** CPU use (1 = one core) above which the hold grows. @default {0.6} */
  busy?: number;
  /** CPU use below which the hold shrinks. @default {0.3} */
  calm?: number;
}

/**
 * Grows the hold while the server is busy and shrinks it while calm: it
 * doubles (from 1 ms, up to the maximum) each sample above `busy`, halves
 * (down to 0) each sample below `calm`, and stays put between the two, so it
 * settles instead of swinging.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoalescingController, FlushScheduler } from "./coalescing.ts";
 * const scheduler = new FlushScheduler();
 * const controller = new CoalescingController(scheduler, { maxDelayMs: 8 });
 * controller.observe(0.9);
 * controller.observe(0.9);
 * assert.equal(scheduler.delayMs, 2);
 * controller.observe(0.1);
 * controller.observe(0.1);
 * assert.equal(scheduler.delayMs, 0);
 * ```
 */
export class CoalescingController {
  readonly #scheduler: FlushScheduler;
  readonly #maxDelayMs: number;
  readonly #busy: number;
  readonly #calm: number;

  /**
   * @param scheduler the scheduler whose hold it sets
   * @param options thresholds and the longest hold
   */
  constructor(scheduler: FlushScheduler, options: CoalescingOptions) {
    this.#scheduler = scheduler;
    this.#maxDelayMs = options.maxDelayMs;
    this.#busy = options.busy ?? 0.6;
    this.#calm = options.calm ?? 0.3;
  }

  /** Takes one sample of CPU use (CPU seconds per second of wall time). */
  observe(utilization: number): void {
    const current = this.#scheduler.delayMs;
    let next = current;
    if (utilization > this.#busy) {
      next = Math.min(this.#maxDelayMs, current === 0 ? 1 : current * 2);
    } else if (utilization < this.#calm) {
      next = current <= 1 ? 0 : Math.floor(current / 2);
    }
    if (next !== current) this.#scheduler.setDelay(next);
  }
}
