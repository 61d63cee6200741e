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

import process from "node:process";

/** When queued bytes are written: at the end of this turn, or after a hold. */
export class FlushScheduler {
  #delayMs = 0;
  #writes = 0;
  #lines = 0;
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

  /** Counts one write carrying `lines` lines, for the controller. */
  countWrite(lines: number): void {
    this.#writes++;
    this.#lines += lines;
  }

  /**
   * Counts lines that writes carried inside one chunk (a big room's joined
   * batch, room_feed.ts), which {@linkcode FlushScheduler.countWrite} sees
   * as one line.
   */
  countExtraLines(lines: number): void {
    this.#lines += lines;
  }

  /**
   * Lines per write since the last call, and resets the count; null when
   * nothing was written.
   */
  takeLinesPerWrite(): number | null {
    const perWrite = this.#writes === 0 ? null : this.#lines / this.#writes;
    this.#writes = 0;
    this.#lines = 0;
    return perWrite;
  }

  /**
   * Writes everything held now, and keeps holding later output. For output
   * that was already held elsewhere (a big room's batch, room_batch.ts):
   * holding it twice would only add to its wait.
   */
  runNow(): void {
    this.#runDue();
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
 * Writes carrying fewer lines than this are worth coalescing. This and the
 * constants below tune the controller; --write-coalesce is the one knob.
 */
const SPARSE_LINES_PER_WRITE = 2;

/** Writes carrying more lines than this are full enough without a hold. */
const FULL_LINES_PER_WRITE = 8;

/**
 * Holds output only when that helps: the hold doubles (from 1 ms, up to the
 * maximum) each sample in which the server is busy and its writes carry
 * fewer than two lines, and halves (down to 0) each sample in which it is
 * calm or its writes are already well filled; in between it stays put, so it
 * settles instead of swinging. A busy server whose writes already carry many
 * lines (messages arriving together) gains nothing from holding, and a
 * closed-loop sender would only wait longer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoalescingController, FlushScheduler } from "./coalescing.ts";
 * const scheduler = new FlushScheduler();
 * const controller = new CoalescingController(scheduler, { maxDelayMs: 8 });
 * controller.observe(0.9, 1);
 * controller.observe(0.9, 1);
 * assert.equal(scheduler.delayMs, 2);
 * controller.observe(0.1, 1);
 * controller.observe(0.1, 1);
 * assert.equal(scheduler.delayMs, 0);
 * ```
 */
export class CoalescingController {
  readonly #scheduler: FlushScheduler;
  readonly #maxDelayMs: number;
  readonly #busy: number;
  readonly #calm: number;

  /**
   * Takes over the scheduler's hold, which each sample then moves.
   * @param scheduler the scheduler whose hold it sets
   * @param options thresholds and the longest hold
   */
  constructor(scheduler: FlushScheduler, options: CoalescingOptions) {
    this.#scheduler = scheduler;
    this.#maxDelayMs = options.maxDelayMs;
    this.#busy = options.busy ?? 0.6;
    this.#calm = options.calm ?? 0.3;
  }

  /**
   * Takes one sample: CPU use (CPU seconds per second of wall time) and the
   * lines per write meanwhile (null if nothing was written).
   */
  observe(utilization: number, linesPerWrite: number | null): void {
    const current = this.#scheduler.delayMs;
    const sparse = linesPerWrite !== null &&
      linesPerWrite < SPARSE_LINES_PER_WRITE;
    const full = linesPerWrite === null || linesPerWrite > FULL_LINES_PER_WRITE;
    let next = current;
    if (utilization > this.#busy && sparse) {
      next = Math.min(this.#maxDelayMs, current === 0 ? 1 : current * 2);
    } else if (utilization < this.#calm || full) {
      next = current <= 1 ? 0 : Math.floor(current / 2);
    }
    if (next !== current) this.#scheduler.setDelay(next);
  }
}

/** How often {@linkcode sampleLoad} samples. */
const LOAD_SAMPLE_MS = 100;

/**
 * Samples this process's CPU use every 100 ms and lets a
 * {@linkcode CoalescingController} set the scheduler's hold from it and from
 * how full writes were. Returns the function that stops sampling.
 */
export function sampleLoad(
  scheduler: FlushScheduler,
  maxDelayMs: number,
): () => void {
  const controller = new CoalescingController(scheduler, { maxDelayMs });
  let lastCpu = process.cpuUsage();
  let lastAt = performance.now();
  const timer = setInterval(() => {
    const cpu = process.cpuUsage();
    const at = performance.now();
    const cpuMs = (cpu.user + cpu.system - lastCpu.user - lastCpu.system) /
      1000;
    controller.observe(
      cpuMs / Math.max(1, at - lastAt),
      scheduler.takeLinesPerWrite(),
    );
    lastCpu = cpu;
    lastAt = at;
  }, LOAD_SAMPLE_MS);
  return () => clearInterval(timer);
}
