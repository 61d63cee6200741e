/**
 * The send path of one connection: a bounded queue of encoded bytes drained
 * by a single writer.
 *
 * Its contract, which the broadcast loop relies on:
 * 1. `enqueue` never blocks and never awaits the socket;
 * 2. bytes go out in the order they were queued;
 * 3. only one write to the socket is in flight at a time;
 * 4. everything queued in one turn of the event loop leaves in one write, so
 *    a burst of lines costs one syscall, while a lone line goes out at once
 *    (unless the server is busy: see coalescing.ts).
 *
 * Memory is bounded: bytes count against the limit until the kernel has taken
 * them, and `enqueue` refuses what would pass it. The caller decides what a
 * refusal means (the server disconnects a reader that fell that far behind).
 *
 * @module
 */

import type { ByteWriter } from "../../wire/write_all.ts";
import { END_OF_TURN, type FlushScheduler } from "./coalescing.ts";

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
 * A bounded, ordered, coalescing queue of bytes for one socket.
 *
 * Written without async functions on purpose: it runs once per recipient of
 * every message, so each write costs one promise (the socket's) and two
 * pre-bound callbacks, and the next write starts straight from the previous
 * one's completion.
 */
export class OutboundQueue {
  /** Bytes the queue may hold, counting the write in flight. */
  readonly maxQueuedBytes: number;
  #writer: ByteWriter;
  #onError: (error: unknown) => void;
  #now: () => number;
  #chunks: Uint8Array[] = [];
  #chunkBytes = 0;
  /** The batch being written, and how much of it the kernel has taken. */
  #inFlight: Uint8Array | null = null;
  #inFlightOffset = 0;
  /** A flush is scheduled for the end of this turn. */
  #scheduled = false;
  #closed = false;
  #writeStartedAt = 0;
  #idleWaiters: Array<() => void> = [];
  #scheduler: FlushScheduler;

  /**
   * @param writer the socket
   * @param maxQueuedBytes the bound; see {@linkcode OutboundQueue.enqueue}
   * @param onError called once if a write fails; the queue is then closed
   * @param now clock for {@linkcode OutboundQueue.writePendingSince}
   * @param scheduler when a flush runs (coalescing.ts); by default at the
   *   end of the turn
   */
  constructor(
    writer: ByteWriter,
    maxQueuedBytes: number,
    onError: (error: unknown) => void,
    now: () => number = Date.now,
    scheduler: FlushScheduler = END_OF_TURN,
  ) {
    this.#writer = writer;
    this.maxQueuedBytes = maxQueuedBytes;
    this.#onError = onError;
    this.#now = now;
    this.#scheduler = scheduler;
  }

  /** Bytes queued or being written. */
  get queuedBytes(): number {
    const inFlight = this.#inFlight === null
      ? 0
      : this.#inFlight.length - this.#inFlightOffset;
    return this.#chunkBytes + inFlight;
  }

  /**
   * When the write now in flight started (by the clock given), or 0 when no
   * write is waiting on the kernel. A reader that never reads shows up here as
   * a write that stays pending.
   */
  get writePendingSince(): number {
    return this.#writeStartedAt;
  }

  /**
   * Queues bytes and returns at once. Returns false, queuing nothing, when the
   * queue is closed or the bytes would take it past `maxQueuedBytes`, unless
   * `force` is set (for a last line such as a goodbye, whose size is known).
   */
  enqueue(bytes: Uint8Array, force = false): boolean {
    if (this.#closed) return false;
    if (!force && this.queuedBytes + bytes.length > this.maxQueuedBytes) {
      return false;
    }
    this.#chunks.push(bytes);
    this.#chunkBytes += bytes.length;
    if (this.#inFlight === null && !this.#scheduled) {
      // Let the rest of this turn (or, when busy, of a short hold) queue its
      // lines so they share one write.
      this.#scheduled = true;
      this.#scheduler.schedule(this.#flush);
    }
    return true;
  }

  /** Drops every queued byte not yet handed to the socket. */
  discardQueued(): void {
    this.#chunks = [];
    this.#chunkBytes = 0;
  }

  /**
   * Resolves when everything queued has been written, the queue is closed,
   * or a write failed; never rejects.
   */
  idle(): Promise<void> {
    if (this.#closed || (this.#inFlight === null && !this.#scheduled)) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops all writing; later `enqueue` calls return false. */
  close(): void {
    this.#closed = true;
    this.discardQueued();
    this.#wakeIdleWaiters();
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#inFlight === null) this.#writeNext();
  };

  /** Starts writing everything queued, or goes idle. */
  #writeNext(): void {
    if (this.#closed || this.#chunks.length === 0) {
      this.#inFlight = null;
      this.#writeStartedAt = 0;
      this.#wakeIdleWaiters();
      return;
    }
    this.#scheduler.countWrite(this.#chunks.length);
    this.#inFlight = concat(this.#chunks, this.#chunkBytes);
    this.#inFlightOffset = 0;
    this.#chunks = [];
    this.#chunkBytes = 0;
    this.#writeStartedAt = this.#now();
    this.#writer.write(this.#inFlight).then(this.#written, this.#failed);
  }

  readonly #written = (count: number): void => {
    const batch = this.#inFlight;
    if (batch === null || this.#closed) {
      this.#inFlight = null;
      this.#writeStartedAt = 0;
      return;
    }
    this.#inFlightOffset += count;
    if (this.#inFlightOffset < batch.length) {
      // A partial write: the kernel took some; send the rest.
      this.#writer.write(batch.subarray(this.#inFlightOffset))
        .then(this.#written, this.#failed);
      return;
    }
    this.#writeNext();
  };

  readonly #failed = (error: unknown): void => {
    this.#inFlight = null;
    this.#writeStartedAt = 0;
    if (!this.#closed) {
      this.close();
      this.#onError(error);
    }
    this.#wakeIdleWaiters();
  };

  #wakeIdleWaiters(): void {
    if (this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
