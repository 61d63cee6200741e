/**
 * How many socket writes the server has started and not yet seen settle.
 *
 * Deno runs every socket operation on the one thread that runs the server,
 * and its runtime (tokio) lets one turn of the event loop make progress on
 * only so many of them, about a hundred; the rest are put off to a later
 * turn, where every write still waiting is polled again. A big room's flush
 * starts a write on each of thousands of connections at once: most of them
 * were put off, each turn polled all of them and finished a hundred, and the
 * cost per write grew with the number waiting. In a room of 10,000
 * (BENCHMARKS.md, "Big rooms") the writes stayed unsettled for seconds
 * while the kernel's send queues stood empty, and the server's CPU outside
 * the kernel was 40 to 50 µs a write; 32 at a time, 6 to 10 µs, and no wait
 * beyond the kernel's own.
 *
 * So writes start through a {@linkcode WriteGate}: at most `maxInFlight` at
 * a time, the others in the order they asked, each as one settles. A write
 * the kernel cannot take (its reader is not reading) would hold its slot
 * for as long as its reader waits; after `releaseAfterMs` it stops counting,
 * so stalled readers never hold up everyone else.
 *
 * @module
 */

/** How a {@linkcode WriteGate} paces writes. */
export interface WriteGateOptions {
  /** Most writes started and not yet settled; Infinity for no gate. */
  maxInFlight: number;
  /**
   * How long, in milliseconds, a write waits at the gate before the writes
   * in flight stop counting (they are then waiting on their readers, not on
   * the runtime). @default {5}
   */
  releaseAfterMs?: number;
}

/** Starts one write; given the slot to hand back to `settled`. */
export type WriteStart = (slot: number) => void;

/** Paces the start of socket writes, shared by every connection. */
export class WriteGate {
  readonly #maxInFlight: number;
  readonly #releaseAfterMs: number;
  /** Writes started in this generation and not yet settled. */
  #inFlight = 0;
  /** Bumped when the writes in flight stop counting. */
  #generation = 0;
  #waiting: WriteStart[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** Whether a write settled since the timer was set. */
  #progress = false;
  #closed = false;

  /** @param options how many writes at once, and when a slot is let go */
  constructor(options: WriteGateOptions) {
    this.#maxInFlight = options.maxInFlight;
    this.#releaseAfterMs = options.releaseAfterMs ?? 5;
  }

  /** Writes waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  /** Writes holding a slot now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Calls `start` now if a slot is free (and nobody waits before it), else
   * when one is. `start` must hand its slot to `settled` once its write
   * settles, however it settles.
   */
  request(start: WriteStart): void {
    if (this.#inFlight < this.#maxInFlight && this.waiting === 0) {
      this.#inFlight++;
      start(this.#generation);
      return;
    }
    this.#waiting.push(start);
    if (this.#timer === null) {
      this.#progress = false;
      this.#timer = setTimeout(this.#release, this.#releaseAfterMs);
    }
  }

  /** The write given `slot` has settled: its slot goes to the next in line. */
  settled(slot: number): void {
    if (slot !== this.#generation) return;
    this.#progress = true;
    this.#inFlight--;
    this.#pump();
  }

  /** Starts every waiting write and stops pacing (the server is closing). */
  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#release();
  }

  #pump(): void {
    while (
      this.waiting !== 0 &&
      (this.#closed || this.#inFlight < this.#maxInFlight)
    ) {
      const start = this.#waiting[this.#head]!;
      this.#head++;
      if (this.#head === this.#waiting.length) {
        this.#waiting = [];
        this.#head = 0;
      }
      this.#inFlight++;
      start(this.#generation);
    }
  }

  /**
   * Writes have waited `releaseAfterMs`. If none settled meanwhile, those in
   * flight wait on their readers, so they stop counting.
   */
  readonly #release = (): void => {
    this.#timer = null;
    if (!this.#progress || this.#closed) {
      this.#generation++;
      this.#inFlight = 0;
      this.#pump();
    }
    this.#progress = false;
    if (this.waiting !== 0 && !this.#closed) {
      this.#timer = setTimeout(this.#release, this.#releaseAfterMs);
    }
  };
}

/** No pacing: every write starts at once (a queue given no gate). */
export const UNGATED: WriteGate = new WriteGate({ maxInFlight: Infinity });
