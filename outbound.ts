/**
 * The send path of one connection: a bounded queue of encoded bytes drained
 * by a single writer.
 *
 * Its contract, which the broadcast loop relies on:
 * 1. `enqueue` never blocks and never awaits the socket;
 * 2. bytes go out in the order they were queued;
 * 3. only one write to the socket is in flight at a time;
 * 4. everything queued in one turn of the event loop leaves in one write, so
 *    a burst of lines costs one syscall, while a lone line goes out at once.
 *
 * Memory is bounded: bytes count against the limit until the kernel has taken
 * them, and `enqueue` refuses what would pass it. The caller decides what a
 * refusal means (the server disconnects a reader that fell that far behind).
 *
 * @module
 */

/** The one thing the queue needs from a socket. */
export interface ByteWriter {
  /** May write only part of `bytes`; resolves to how many were taken. */
  write(bytes: Uint8Array): Promise<number>;
}

/**
 * Writes all of `bytes`, continuing after partial writes.
 * @throws whatever the writer throws (a reset peer, a closed socket)
 */
export async function writeAll(
  writer: ByteWriter,
  bytes: Uint8Array,
): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await writer.write(bytes.subarray(offset));
  }
}

/** Joins chunks into one buffer; a single chunk is passed through uncopied. */
function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}

/** A bounded, ordered, coalescing queue of bytes for one socket. */
export class OutboundQueue {
  /** Bytes the queue may hold, counting the write in flight. */
  readonly maxQueuedBytes: number;
  #writer: ByteWriter;
  #onError: (error: unknown) => void;
  #chunks: Uint8Array[] = [];
  #chunkBytes = 0;
  #inFlightBytes = 0;
  #flushing = false;
  #closed = false;
  #writeStartedAt = 0;
  #idleWaiters: Array<() => void> = [];
  #now: () => number;

  /**
   * @param writer the socket
   * @param maxQueuedBytes the bound; see {@linkcode OutboundQueue.enqueue}
   * @param onError called once if a write fails; the queue is then closed
   * @param now clock for {@linkcode OutboundQueue.writePendingSince}
   */
  constructor(
    writer: ByteWriter,
    maxQueuedBytes: number,
    onError: (error: unknown) => void,
    now: () => number = Date.now,
  ) {
    this.#writer = writer;
    this.maxQueuedBytes = maxQueuedBytes;
    this.#onError = onError;
    this.#now = now;
  }

  /** Bytes queued or being written. */
  get queuedBytes(): number {
    return this.#chunkBytes + this.#inFlightBytes;
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
    if (!this.#flushing) {
      this.#flushing = true;
      // Errors are reported through onError; the catch keeps a rejection
      // from ever escaping as an unhandled one.
      this.#flush().catch(this.#onError);
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
    if (!this.#flushing || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops all writing; later `enqueue` calls return false. */
  close(): void {
    this.#closed = true;
    this.discardQueued();
    this.#wakeIdleWaiters();
  }

  async #flush(): Promise<void> {
    try {
      // Let the rest of this turn queue its lines so they share one write.
      await Promise.resolve();
      while (this.#chunks.length > 0 && !this.#closed) {
        const batch = concat(this.#chunks, this.#chunkBytes);
        this.#chunks = [];
        this.#inFlightBytes = batch.length;
        this.#chunkBytes = 0;
        this.#writeStartedAt = this.#now();
        await writeAll(this.#writer, batch);
        this.#inFlightBytes = 0;
        this.#writeStartedAt = 0;
      }
    } catch (error) {
      if (!this.#closed) {
        this.close();
        this.#onError(error);
      }
    } finally {
      this.#inFlightBytes = 0;
      this.#writeStartedAt = 0;
      this.#flushing = false;
      this.#wakeIdleWaiters();
    }
  }

  #wakeIdleWaiters(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
