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
 * each stalled write on its own clock, so stalled readers never hold up
 * everyone else, however many of them there are and however busy the rest.
 *
 * A write already known to wait on its reader (the kernel took only part of
 * a write made at once, net/libc_socket.ts) stops counting after
 * `releaseAfterMs` whatever the server's pace, and its settle time is not
 * taken for that pace: it measures its reader, not the runtime. Where every
 * healthy write is made at once, the only writes left to learn from would
 * be those, and one reader that took seconds to make room would teach the
 * gate to let readers that never read hold every slot for four times as
 * long, while everyone else's waited behind them.
 *
 * @module
 */

/** How a {@linkcode WriteGate} paces writes. */
export interface WriteGateOptions {
  /** Most writes started and not yet settled; Infinity for no gate. */
  maxInFlight: number;
  /**
   * How long, in milliseconds, a write in flight holds its slot at least;
   * one still unsettled after this (and after four times the recent mean
   * settle time, when that is longer) waits on its reader, not on the
   * runtime, and stops counting. @default {5}
   */
  releaseAfterMs?: number;
  /** The clock, in milliseconds. @default {performance.now} */
  now?: () => number;
}

/** Starts one write; given the slot to hand back to `settled`. */
export type WriteStart = (slot: number) => void;

/**
 * Writes started from the front of the line before the line is compacted
 * (bookkeeping, not a limit a user would change).
 */
const COMPACT_AFTER = 4096;

/** Weight of the newest settle time in the moving mean. */
const SETTLE_WEIGHT = 0.1;
/** A write this many times slower than the recent mean waits on its reader. */
const SLOWER_THAN_USUAL = 4;

/** Paces the start of socket writes, shared by every connection. */
export class WriteGate {
  readonly #maxInFlight: number;
  readonly #releaseAfterMs: number;
  readonly #now: () => number;
  /**
   * Writes holding a slot, by slot, with when each started; oldest first,
   * since slots are numbered in the order writes start.
   */
  readonly #holding = new Map<number, number>();
  /** The slots of writes known to wait on their readers. */
  readonly #onReader = new Set<number>();
  #nextSlot = 1;
  #waiting: WriteStart[] = [];
  /** Whether each waiting write is known to wait on its reader. */
  #waitingOnReader: boolean[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  /** Recent time from start to settle of writes that settled (moving mean). */
  #settleMs = 0;

  /**
   * Starts with no writes in flight.
   * @param options how many writes at once, and when a slot is let go
   */
  constructor(options: WriteGateOptions) {
    this.#maxInFlight = options.maxInFlight;
    this.#releaseAfterMs = options.releaseAfterMs ?? 5;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Room the line of waiting writes takes, for tests: stays bounded. */
  get lineCapacity(): number {
    return this.#waiting.length;
  }

  /** Writes waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  /** Writes holding a slot now. */
  get inFlight(): number {
    return this.#holding.size;
  }

  /**
   * Calls `start` now if a slot is free (and nobody waits before it), else
   * when one is. `start` must hand its slot to `settled` once its write
   * settles, however it settles. `onReader` when the write is known to
   * wait on its reader: it counts for `releaseAfterMs` at most, and its
   * settle time teaches the gate nothing.
   */
  request(start: WriteStart, onReader = false): void {
    if (this.#holding.size < this.#maxInFlight && this.waiting === 0) {
      this.#start(start, onReader, this.#now());
      return;
    }
    this.#waiting.push(start);
    this.#waitingOnReader.push(onReader);
    this.#armRelease();
  }

  /**
   * The write given `slot` has settled: its slot goes to the next in line.
   * A slot already let go (its write outlived `releaseAfterMs`) changes
   * nothing.
   */
  settled(slot: number): void {
    const startedAt = this.#holding.get(slot);
    if (startedAt === undefined) return;
    this.#holding.delete(slot);
    // One clock reading serves the settle time and the writes it starts.
    const now = this.#now();
    if (!this.#onReader.delete(slot)) {
      this.#settleMs += (now - startedAt - this.#settleMs) * SETTLE_WEIGHT;
    }
    this.#pump(now);
  }

  /** Starts every waiting write and stops pacing (the server is closing). */
  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#pump(this.#now());
  }

  #start(start: WriteStart, onReader: boolean, now: number): void {
    const slot = this.#nextSlot++;
    this.#holding.set(slot, now);
    if (onReader) this.#onReader.add(slot);
    start(slot);
  }

  /** Starts waiting writes while slots are free; `now` is the clock's time. */
  #pump(now: number): void {
    while (
      this.waiting !== 0 &&
      (this.#closed || this.#holding.size < this.#maxInFlight)
    ) {
      const start = this.#waiting[this.#head]!;
      const onReader = this.#waitingOnReader[this.#head]!;
      this.#head++;
      if (this.#head === this.#waiting.length) {
        this.#waiting = [];
        this.#waitingOnReader = [];
        this.#head = 0;
      } else if (
        this.#head >= COMPACT_AFTER && 2 * this.#head >= this.#waiting.length
      ) {
        // A line that never empties (a big room written in turn, over and
        // over) would otherwise grow without end.
        this.#waiting = this.#waiting.slice(this.#head);
        this.#waitingOnReader = this.#waitingOnReader.slice(this.#head);
        this.#head = 0;
      }
      this.#start(start, onReader, now);
    }
  }

  /**
   * How long a write may hold its slot: `releaseAfterMs`, or longer while
   * the server is so busy that healthy writes take longer to settle (the
   * runtime polls them less often), so a busy server does not mistake its
   * own slowness for stalled readers and open the gate wide.
   */
  #patienceMs(): number {
    return Math.max(this.#releaseAfterMs, SLOWER_THAN_USUAL * this.#settleMs);
  }

  /** How long the write in `slot` may hold it, given the server's pace. */
  #patienceFor(slot: number, patienceMs: number): number {
    return this.#onReader.has(slot) ? this.#releaseAfterMs : patienceMs;
  }

  /** While writes wait, looks again when the first slot would be let go. */
  #armRelease(): void {
    if (this.#timer !== null || this.#closed || this.waiting === 0) return;
    const patienceMs = this.#patienceMs();
    const now = this.#now();
    let delay = patienceMs;
    // Oldest first, but a write on its reader may be let go sooner than an
    // older one: at most maxInFlight slots to look at.
    for (const [slot, startedAt] of this.#holding) {
      const due = startedAt + this.#patienceFor(slot, patienceMs) - now;
      delay = Math.min(delay, Math.max(0, due));
    }
    this.#timer = setTimeout(this.#release, delay);
  }

  /**
   * Each write in flight for `releaseAfterMs` or more waits on its reader,
   * not on the runtime: it stops counting, one by one, however the others
   * fare, so readers that do not read never hold up the rest.
   */
  readonly #release = (): void => {
    this.#timer = null;
    const now = this.#now();
    const patienceMs = this.#patienceMs();
    for (const [slot, startedAt] of this.#holding) {
      if (now - startedAt < this.#patienceFor(slot, patienceMs)) continue;
      this.#holding.delete(slot);
      this.#onReader.delete(slot);
    }
    this.#pump(now);
    this.#armRelease();
  };
}

/** No pacing: every write starts at once (a queue given no gate). */
export const UNGATED: WriteGate = new WriteGate({ maxInFlight: Infinity });
