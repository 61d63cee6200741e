/**
 * The send path of one connection: an ordered queue of encoded bytes drained
 * by a single writer, with large replies pulled in as the reader drains.
 *
 * Its contract, which the broadcast loop relies on:
 * 1. `enqueue` never blocks and never awaits the socket;
 * 2. bytes go out in the order they were queued, replies included;
 * 3. only one write to the socket is in flight at a time;
 * 4. everything queued in one turn of the event loop leaves in one write, so
 *    a burst of lines costs one syscall, while a lone line goes out at once
 *    (unless the server is busy: see coalescing.ts).
 *
 * A queue holds references to the bytes it is given (a broadcast's bytes are
 * shared by every recipient), never copies, except the one batch being
 * written, which is at most {@linkcode MAX_BATCH_BYTES}.
 *
 * Slowness is judged over time, not at the moment bytes arrive (see
 * slowness.ts): the queue only measures its backlog, the bytes the socket
 * has not yet taken, and notes since when that backlog has stayed above the
 * soft limit. It refuses bytes only past the hard limit.
 *
 * Large replies (history pages, the MOTD, waiting messages, member lists) are
 * {@linkcode ReplySource}s: the queue asks them for their next piece only
 * while its backlog is below {@linkcode REPLY_LOW_WATER_BYTES}, so a reply
 * of any size costs the reader no more than one piece of backlog at a time.
 * Whatever is queued after a reply waits behind it, keeping the order.
 *
 * A socket that can take bytes at once (`tryWrite`, libc_socket.ts) is
 * written to synchronously, so many writes a turn for the whole server
 * (sync_write_budget.ts); what its kernel does not take waits on the
 * socket's asynchronous write, through the write gate, as every write
 * does otherwise.
 *
 * @module
 */

import type { ByteWriter } from "../../wire/write_all.ts";
import { END_OF_TURN, type FlushScheduler } from "./coalescing.ts";
import { UNGATED, type WriteGate } from "./write_gate.ts";
import type { SyncWriteBudget } from "./sync_write_budget.ts";

/**
 * Replies are pulled while the backlog is below this. Large enough that a
 * reader on a fast link is never starved between pieces, small enough that
 * a reply never holds much of the soft limit.
 */
export const REPLY_LOW_WATER_BYTES = 64 * 1024;

/**
 * Most bytes joined into one write. The kernel rarely takes more at once,
 * and it bounds the one copy a queue makes, however long its backlog.
 */
export const MAX_BATCH_BYTES = 64 * 1024;

/**
 * Once this many sent chunks sit at the front of the array, it is compacted
 * (bookkeeping, not a limit a user would change).
 */
const COMPACT_AFTER_CHUNKS = 1024;

/** One piece of a reply, and what to do once the socket has taken it. */
export interface ReplyPiece {
  /** The encoded bytes, written as they are. */
  bytes: Uint8Array;
  /** Called once every byte of the piece has been written to the socket. */
  written?: () => void;
}

/**
 * What a reply source gives while its content is not known yet (a history
 * page still being read from Redis): the queue stops pulling, and everything
 * queued after the reply keeps waiting behind it until
 * {@linkcode OutboundQueue.wake} is called.
 */
export const NOT_YET: unique symbol = Symbol("not yet");

/** A reply produced piece by piece as the reader drains. */
export interface ReplySource {
  /**
   * The next piece, null when the reply is complete, or
   * {@linkcode NOT_YET} while its content is still on its way.
   */
  next(): ReplyPiece | null | typeof NOT_YET;
}

/** The last batch {@linkcode concat} built, and the chunks it joined. */
let lastChunks: Uint8Array[] = [];
let lastJoined: Uint8Array = new Uint8Array(0);

/**
 * Joins chunks into one buffer; a single chunk is passed through uncopied.
 *
 * A broadcast queues the same encoded events, in the same order, on every
 * recipient, so their flushes ask for the same join one after another: the
 * last one is kept and reused when the chunks are the very same objects.
 * Batches are never written to after they are built, so sharing is safe.
 */
export function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  if (sameChunks(chunks, lastChunks)) return lastJoined;
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  lastChunks = chunks;
  lastJoined = joined;
  return joined;
}

function sameChunks(a: Uint8Array[], b: Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return false;
  }
  return true;
}

/**
 * Bytes a queue pulls when its turn to write comes, rather than being handed
 * them: a big room's log (room_batch.ts), which every member reads from its
 * own cursor, so a message costs the room O(1) however many are in it.
 */
export interface QueueFeed {
  /** Whether bytes wait to be pulled. */
  pending(): boolean;
  /** Queues what waits ({@linkcode OutboundQueue.enqueue}), now. */
  pull(): void;
  /**
   * The queue has nothing to write: {@linkcode OutboundQueue.poke} it when
   * bytes wait again.
   */
  idle(): void;
}

/** How an {@linkcode OutboundQueue} is bounded and driven. */
export interface OutboundQueueOptions {
  /**
   * The hard limit: `enqueue` refuses bytes that would take the backlog
   * past it.
   */
  maxQueuedBytes: number;
  /**
   * The soft limit: {@linkcode OutboundQueue.overSoftSince} notes since when
   * the backlog has stayed above it. @default {maxQueuedBytes}
   */
  softQueuedBytes?: number;
  /** Called once if a write fails; the queue is then closed. */
  onError: (error: unknown) => void;
  /** The clock, in milliseconds. @default {Date.now} */
  now?: () => number;
  /** When a flush runs (coalescing.ts). @default {END_OF_TURN} */
  scheduler?: FlushScheduler;
  /**
   * How many writes the server starts at once, shared by its connections
   * (write_gate.ts). @default {UNGATED}
   */
  gate?: WriteGate;
  /** Bytes pulled when a write starts (a big room's log). @default none */
  feed?: QueueFeed;
  /**
   * How many writes made at once (a writer with `tryWrite`, libc_socket.ts)
   * run in one turn, shared by the server's connections. @default no bound
   */
  budget?: SyncWriteBudget;
}

/** Where a piece's `written` callback fires: the end of its bytes. */
interface WriteMark {
  end: number;
  written: () => void;
}

/**
 * An ordered, coalescing queue of bytes for one socket.
 *
 * Written without async functions on purpose: it runs once per recipient of
 * every message, so each write costs one promise (the socket's) and two
 * pre-bound callbacks, and the next write starts straight from the previous
 * one's completion.
 */
export class OutboundQueue {
  /** The hard limit on the backlog. */
  readonly maxQueuedBytes: number;
  /** The soft limit on the backlog. */
  readonly softQueuedBytes: number;
  #writer: ByteWriter;
  /** The writer's write made at once, if it has one. */
  #tryWrite: ((bytes: Uint8Array) => number) | null;
  #budget: SyncWriteBudget | null;
  #onError: (error: unknown) => void;
  #now: () => number;
  /** Bytes ready to write, from `#head` on. */
  #chunks: Uint8Array[] = [];
  #head = 0;
  #chunkBytes = 0;
  /** The batch being written, and how much of it the kernel has taken. */
  #inFlight: Uint8Array | null = null;
  #inFlightOffset = 0;
  /**
   * Replies not yet pulled, and the bytes queued behind them: empty unless
   * a reply is under way.
   */
  #later: Array<Uint8Array | ReplySource> = [];
  #laterBytes = 0;
  /** The replies in `#later`, and who waits for there to be fewer. */
  #replies = 0;
  /**
   * Replies accepted but not yet queued: held behind a delivery that waits
   * for the history's commit (see {@linkcode OutboundQueue.promiseReply}).
   */
  #promised = 0;
  #replyWaiters: Array<{ below: number; wake: () => void }> | null = null;
  /** Bytes ever made ready, and ever written: positions for write marks. */
  #readyTotal = 0;
  #writtenTotal = 0;
  /**
   * Pieces waiting to be told they are written, and callers waiting for
   * the queue to go idle: null while there are none, as for most queues
   * most of the time (every idle connection has one).
   */
  #marks: WriteMark[] | null = null;
  #idleWaiters: Array<() => void> | null = null;
  /** A flush is scheduled for the end of this turn. */
  #scheduled = false;
  #closed = false;
  #writeStartedAt = 0;
  #overSoftSince = 0;
  #scheduler: FlushScheduler;
  #gate: WriteGate;
  #feed: QueueFeed | null;
  /** The gate's slot of the write in flight. */
  #slot = 0;
  /** A write has asked the gate for a slot and waits for it. */
  #waitingForGate = false;

  /**
   * Starts empty; nothing is written until a reply is queued.
   * @param writer the socket
   * @param options limits, error callback, clock and scheduler
   */
  constructor(writer: ByteWriter, options: OutboundQueueOptions) {
    this.#writer = writer;
    this.#tryWrite = writer.tryWrite?.bind(writer) ?? null;
    this.#budget = options.budget ?? null;
    this.maxQueuedBytes = options.maxQueuedBytes;
    this.softQueuedBytes = options.softQueuedBytes ?? options.maxQueuedBytes;
    this.#onError = options.onError;
    this.#now = options.now ?? Date.now;
    this.#scheduler = options.scheduler ?? END_OF_TURN;
    this.#gate = options.gate ?? UNGATED;
    this.#feed = options.feed ?? null;
  }

  /**
   * The backlog: bytes queued, being written, or waiting behind a reply,
   * that the socket has not yet taken. A reply's pieces count only once
   * pulled, which happens only below the low-water mark.
   */
  get queuedBytes(): number {
    const inFlight = this.#inFlight === null
      ? 0
      : this.#inFlight.length - this.#inFlightOffset;
    return this.#chunkBytes + inFlight + this.#laterBytes;
  }

  /**
   * When the write now in flight was handed to the socket (by the clock
   * given), or 0 when no write is waiting on the kernel. A reader that never
   * reads shows up here as a write that stays pending; bytes the server has
   * not yet handed over (queued, or waiting at the write gate for the server's
   * own backlog) do not.
   */
  get writePendingSince(): number {
    return this.#writeStartedAt;
  }

  /**
   * Since when the backlog has stayed above the soft limit, or 0 when it is
   * at or below it. Updated as bytes arrive and as the socket takes them.
   */
  get overSoftSince(): number {
    return this.#overSoftSince;
  }

  /**
   * Whether the queue is closed: by its owner, or after a failed write,
   * already reported to `onError`.
   */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether a reply is still being pulled. */
  get replying(): boolean {
    return this.#later.length !== 0;
  }

  /**
   * Replies queued and not yet pulled to their end, and those promised:
   * accepted, and held to be queued in their turn.
   */
  get repliesWaiting(): number {
    return this.#replies + this.#promised;
  }

  /**
   * Counts a reply from the moment it is accepted, although it is queued
   * (with {@linkcode OutboundQueue.enqueueReply}, `promised` set) only in
   * its turn: otherwise one read could accept as many replies as it has
   * lines while they wait behind a message's commit, past any cap on
   * {@linkcode OutboundQueue.repliesWaiting}. A closed queue counts none.
   */
  promiseReply(): void {
    if (!this.#closed) this.#promised++;
  }

  /**
   * Resolves once fewer than `count` replies wait (they are pulled as the
   * reader drains), or the queue is closed; never rejects.
   */
  repliesBelow(count: number): Promise<void> {
    if (this.#closed || this.repliesWaiting < count) {
      return Promise.resolve();
    }
    return new Promise((wake) =>
      (this.#replyWaiters ??= []).push({ below: count, wake })
    );
  }

  /** `count` replies have gone (pulled to their end, or dropped). */
  #repliesGone(count: number): void {
    this.#replies -= count;
    const waiting = this.repliesWaiting;
    const waiters = this.#replyWaiters;
    if (waiters === null) return;
    const still = waiters.filter((w) => waiting >= w.below);
    this.#replyWaiters = still.length === 0 ? null : still;
    for (const waiter of waiters) {
      if (waiting < waiter.below) waiter.wake();
    }
  }

  /**
   * Queues bytes and returns at once. Returns false, queuing nothing, when the
   * queue is closed or the bytes would take the backlog past the hard limit,
   * unless `force` is set (for a last line such as a goodbye, whose size is
   * known).
   */
  enqueue(bytes: Uint8Array, force = false): boolean {
    if (this.#closed) return false;
    const backlog = this.queuedBytes + bytes.length;
    if (!force && backlog > this.maxQueuedBytes) return false;
    if (this.#later.length !== 0) {
      this.#later.push(bytes);
      this.#laterBytes += bytes.length;
    } else {
      this.#chunks.push(bytes);
      this.#chunkBytes += bytes.length;
      this.#readyTotal += bytes.length;
      this.#scheduleFlush();
    }
    if (this.#overSoftSince === 0 && backlog > this.softQueuedBytes) {
      this.#overSoftSince = this.#now();
    }
    return true;
  }

  /**
   * Queues a reply to be pulled piece by piece as the backlog falls below
   * the low-water mark, after everything queued before it. A closed queue
   * drops it. `promised`: it was counted by
   * {@linkcode OutboundQueue.promiseReply} when accepted, so is not counted
   * twice.
   */
  enqueueReply(source: ReplySource, promised = false): void {
    if (promised && this.#promised > 0) this.#promised--;
    if (this.#closed) return;
    this.#later.push(source);
    this.#replies++;
    this.#pull();
    if (this.#chunkBytes !== 0) this.#scheduleFlush();
  }

  /**
   * Starts a write soon if none is under way: the feed has bytes waiting,
   * pulled when the write's turn comes. At the end of this turn, never after
   * the scheduler's hold: the feed spaces its pulls by that hold already,
   * and holding twice would only add to the wait.
   */
  poke(): void {
    if (this.#closed) return;
    if (this.#inFlight === null && !this.#scheduled && !this.#waitingForGate) {
      this.#scheduled = true;
      END_OF_TURN.schedule(this.#flush);
    }
  }

  /**
   * Pulls again after a reply that answered {@linkcode NOT_YET} has its
   * content: what it holds, and what waited behind it, go out now.
   */
  wake(): void {
    if (this.#closed || this.#later.length === 0) return;
    if (this.#inFlight !== null) return; // the write's end pulls
    this.#pull();
    if (this.#chunkBytes !== 0) this.#scheduleFlush();
  }

  /**
   * Drops the replies not yet pulled, keeping every byte queued, in order:
   * for a connection that is closing, which has no use for the rest of a
   * reply (waiting messages not sent stay waiting).
   */
  dropReplies(): void {
    this.#promised = 0;
    if (this.#later.length === 0) return this.#repliesGone(0);
    const later = this.#later;
    this.#later = [];
    this.#laterBytes = 0;
    this.#repliesGone(this.#replies);
    for (const item of later) {
      if (!(item instanceof Uint8Array)) continue;
      this.#chunks.push(item);
      this.#chunkBytes += item.length;
      this.#readyTotal += item.length;
    }
    if (this.#chunkBytes !== 0) this.#scheduleFlush();
  }

  /** Drops every queued byte and reply not yet handed to the socket. */
  discardQueued(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#chunkBytes = 0;
    this.#later = [];
    this.#laterBytes = 0;
    this.#promised = 0;
    this.#repliesGone(this.#replies);
    this.#marks = null;
    if (this.queuedBytes <= this.softQueuedBytes) this.#overSoftSince = 0;
  }

  /**
   * Resolves when everything queued has been written, the queue is closed,
   * or a write failed; never rejects.
   */
  idle(): Promise<void> {
    if (
      this.#closed ||
      (this.#inFlight === null && !this.#scheduled && !this.#waitingForGate)
    ) {
      return Promise.resolve();
    }
    return new Promise((resolve) => (this.#idleWaiters ??= []).push(resolve));
  }

  /** Stops all writing; later `enqueue` calls return false. */
  close(): void {
    this.#closed = true;
    this.discardQueued();
    this.#wakeIdleWaiters();
  }

  #scheduleFlush(): void {
    if (this.#inFlight === null && !this.#scheduled && !this.#waitingForGate) {
      // Let the rest of this turn (or, when busy, of a short hold) queue its
      // lines so they share one write.
      this.#scheduled = true;
      this.#scheduler.schedule(this.#flush);
    }
  }

  /**
   * Moves what waits behind a reply, and the reply's next pieces, into the
   * ready bytes while the backlog the socket holds is below the low-water
   * mark.
   */
  #pull(): void {
    const later = this.#later;
    while (later.length !== 0) {
      const inFlight = this.#inFlight === null
        ? 0
        : this.#inFlight.length - this.#inFlightOffset;
      if (this.#chunkBytes + inFlight >= REPLY_LOW_WATER_BYTES) break;
      const head = later[0]!;
      let bytes: Uint8Array;
      if (head instanceof Uint8Array) {
        later.shift();
        this.#laterBytes -= head.length;
        bytes = head;
      } else {
        const piece = head.next();
        if (piece === NOT_YET) break;
        if (piece === null) {
          later.shift();
          this.#repliesGone(1);
          continue;
        }
        bytes = piece.bytes;
        if (bytes.length === 0) {
          piece.written?.();
          continue;
        }
        if (piece.written !== undefined) {
          (this.#marks ??= []).push({
            end: this.#readyTotal + bytes.length,
            written: piece.written,
          });
        }
      }
      this.#chunks.push(bytes);
      this.#chunkBytes += bytes.length;
      this.#readyTotal += bytes.length;
    }
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#inFlight === null && !this.#waitingForGate) this.#writeNext(true);
  };

  /**
   * Asks the write gate for a slot if anything is ready, or goes idle. The
   * batch is taken only once the slot is given: whatever arrives while the
   * server works through its own backlog joins the same write. `scheduled`
   * when the scheduler called it (a feed's bytes have had their hold).
   */
  #writeNext(scheduled = false): void {
    if (this.#later.length !== 0 && !this.#closed) this.#pull();
    if (
      this.#closed ||
      (this.#chunkBytes === 0 && !(this.#feed?.pending() ?? false))
    ) {
      this.#goIdle();
      return;
    }
    if (this.#chunkBytes === 0 && !scheduled) {
      // Only the feed has bytes: they go when the scheduler says, as queued
      // bytes do, so a busy server's writes carry several lines each.
      this.#inFlight = null;
      this.#writeStartedAt = 0;
      this.#scheduleFlush();
      return;
    }
    if (this.#tryWrite !== null) {
      this.#writeAtOnce();
      return;
    }
    this.#waitingForGate = true;
    this.#gate.request(this.#issue);
  }

  /**
   * Writes at once while the socket takes everything and this turn's budget
   * lasts; waits for the next turn when it is spent, and for the socket
   * (through the gate, as every asynchronous write) when the kernel takes
   * only part. Nothing is in flight in between: a write made at once is
   * done when the call returns. `admitted`: the first write has its place
   * in this turn's budget already.
   */
  #writeAtOnce(admitted = false): void {
    while (true) {
      this.#feed?.pull();
      if (this.#later.length !== 0) this.#pull();
      if (this.#closed || this.#chunkBytes === 0) {
        this.#goIdle();
        return;
      }
      if (!admitted && this.#budget !== null && !this.#budget.admit()) {
        // Waiting for a turn, as for the gate: nothing else starts a write.
        this.#waitingForGate = true;
        this.#budget.later(this.#budgetGiven);
        return;
      }
      admitted = false;
      if (!this.#sendAtOnce()) return;
    }
  }

  /** The budget's turn has come: one write without asking it again. */
  readonly #budgetGiven = (): void => {
    this.#waitingForGate = false;
    this.#writeAtOnce(true);
  };

  /**
   * Hands the ready bytes, up to one batch, to the socket at once: true if
   * it took them all. What it did not take waits for the socket through
   * the gate; a failure closes the queue.
   */
  #sendAtOnce(): boolean {
    const batch = this.#takeBatch();
    // In flight for the length of the call: a piece's written callback
    // that queues more does not start a write of its own.
    this.#inFlight = batch;
    this.#inFlightOffset = 0;
    let count: number;
    try {
      count = this.#tryWrite!(batch);
    } catch (error) {
      this.#failed(error);
      return false;
    }
    this.#inFlightOffset = count;
    this.#taken(count);
    if (this.#closed) {
      this.#inFlight = null;
      return false;
    }
    if (count === batch.length) {
      this.#inFlight = null;
      return true;
    }
    // The socket is full: the rest waits for it, as any write does, known
    // to wait on its reader (write_gate.ts).
    this.#waitingForGate = true;
    this.#gate.request(this.#issue, true);
    return false;
  }

  /** Nothing is being written: tells whoever waits, and the feed. */
  #goIdle(): void {
    this.#inFlight = null;
    this.#writeStartedAt = 0;
    this.#wakeIdleWaiters();
    if (!this.#closed) this.#feed?.idle();
  }

  /**
   * Given a slot: hands the socket the rest of a partly written batch, or
   * the next batch.
   */
  readonly #issue = (slot: number): void => {
    if (this.#inFlight === null && !this.#closed) {
      // Still marked as waiting: what the feed queues now joins this write
      // instead of scheduling one of its own.
      this.#feed?.pull();
      if (this.#later.length !== 0) this.#pull();
      if (this.#chunkBytes !== 0 && !this.#closed) {
        this.#inFlight = this.#takeBatch();
        this.#inFlightOffset = 0;
      }
    }
    this.#waitingForGate = false;
    const batch = this.#inFlight;
    if (batch === null || this.#closed) {
      this.#gate.settled(slot);
      this.#goIdle();
      return;
    }
    this.#slot = slot;
    this.#writeStartedAt = this.#now();
    const rest = this.#inFlightOffset === 0
      ? batch
      : batch.subarray(this.#inFlightOffset);
    let written: Promise<number>;
    try {
      written = this.#writer.write(rest);
    } catch (error) {
      // Called from another queue's completion through the gate: a throw
      // here must be this queue's failed write, not that queue's.
      this.#failed(error);
      return;
    }
    written.then(this.#written, this.#failed);
  };

  /** Takes the ready chunks, up to one batch, off the front. */
  #takeBatch(): Uint8Array {
    const chunks = this.#chunks;
    const head = this.#head;
    if (head === 0 && this.#chunkBytes <= MAX_BATCH_BYTES) {
      // The usual case: everything ready goes, without slicing.
      const length = this.#chunkBytes;
      this.#scheduler.countWrite(chunks.length);
      this.#chunkBytes = 0;
      if (chunks.length === 1) {
        // One chunk goes as it is, and the array is reused.
        const only = chunks[0]!;
        chunks.length = 0;
        return only;
      }
      this.#chunks = [];
      return concat(chunks, length);
    }
    let end = head;
    let length = 0;
    while (
      end < chunks.length &&
      (end === head || length + chunks[end]!.length <= MAX_BATCH_BYTES)
    ) {
      length += chunks[end]!.length;
      end++;
    }
    const batch = chunks.slice(head, end);
    this.#scheduler.countWrite(batch.length);
    this.#chunkBytes -= length;
    if (end === chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (end > COMPACT_AFTER_CHUNKS) {
      this.#chunks = chunks.slice(end);
      this.#head = 0;
    } else {
      this.#head = end;
    }
    return concat(batch, length);
  }

  readonly #written = (count: number): void => {
    this.#gate.settled(this.#slot);
    this.#writeStartedAt = 0;
    const batch = this.#inFlight;
    if (batch === null || this.#closed) {
      this.#inFlight = null;
      return;
    }
    this.#inFlightOffset += count;
    this.#taken(count);
    if (this.#inFlightOffset < batch.length) {
      // A partial write: the kernel took some; send the rest. Where writes
      // are made at once, only a full socket gets here: its reader's pace.
      this.#waitingForGate = true;
      this.#gate.request(this.#issue, this.#tryWrite !== null);
      return;
    }
    this.#inFlight = null;
    this.#writeNext();
  };

  /** The socket took `count` more bytes. */
  #taken(count: number): void {
    this.#writtenTotal += count;
    if (this.#marks !== null) this.#fireMarks(this.#marks);
    if (
      this.#overSoftSince !== 0 && this.queuedBytes <= this.softQueuedBytes
    ) {
      this.#overSoftSince = 0;
    }
  }

  /** Tells every piece whose bytes have all been written. */
  #fireMarks(marks: WriteMark[]): void {
    let done = 0;
    while (done < marks.length && marks[done]!.end <= this.#writtenTotal) {
      done++;
    }
    if (done === 0) return;
    let fired = marks;
    if (done === marks.length) this.#marks = null;
    else fired = marks.splice(0, done);
    for (const mark of fired) mark.written();
  }

  readonly #failed = (error: unknown): void => {
    this.#gate.settled(this.#slot);
    this.#inFlight = null;
    this.#writeStartedAt = 0;
    if (!this.#closed) {
      this.close();
      this.#onError(error);
    }
    this.#wakeIdleWaiters();
  };

  #wakeIdleWaiters(): void {
    const waiters = this.#idleWaiters;
    if (waiters === null) return;
    this.#idleWaiters = null;
    for (const wake of waiters) wake();
  }
}
