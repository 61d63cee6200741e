/**
 * Fan-out for big rooms. Queuing every event on every member costs a room of
 * ten thousand ten thousand queue operations and, soon after, ten thousand
 * writes per message: at 100 messages a second that is a million of each, far
 * more than a core can do. A {@linkcode RoomBatch} collects a big room's events
 * for a short hold, joins them once per codec (and, for text, once more with
 * each line tagged for members whose current room is another), and queues
 * that one chunk on
 * each member: the cost per message becomes O(1), and per member O(1) per
 * hold, however many messages the hold gathered.
 *
 * The hold follows the server's write coalescing (coalescing.ts): none while
 * the server is calm, so a quiet big room is as prompt as a small one; under
 * load, the connection hold scaled by the room's size, because a big room's
 * every message costs a write per member.
 *
 * Order is kept: anything sent straight to a member first lets the batch go
 * ({@linkcode RoomBatch.flush}), and membership changes flush it too, so
 * nobody gets an event from before they joined or misses one from while they
 * were there.
 *
 * A sender's own copy differs from everyone else's: a text-mode sender gets
 * none, a JSON one may get a confirmation carrying its request's `ref`. The
 * few senders of a hold get a chunk of their own, built from the same held
 * events in the same order with their copies swapped in; everyone else still
 * gets the shared one.
 *
 * @module
 */

import { type Codec, EncodedEvent } from "../protocol.ts";
import { concatBytes } from "../wire/bytes.ts";

/** What the batch needs of a member. */
export interface BatchMember {
  readonly codec: Codec;
  /** Queues bytes already encoded for this member's codec. */
  sendBytes(bytes: Uint8Array): void;
}

/** One held event and who, if anyone, gets a copy of it of their own. */
interface HeldEvent<M> {
  encoded: EncodedEvent;
  /** Accepted-order number, see {@linkcode RoomBatch.accept}. */
  seq: number;
  /** A sender whose copy is not `encoded`; null when everyone's is. */
  sender: M | null;
  /**
   * The sender's copy (its confirmation), or null for none: a text-mode
   * sender gets no copy of its own line.
   */
  own: EncodedEvent | null;
}

/** What a batch is told by the room around it. */
export interface BatchOptions<M> {
  /** The room's members now. */
  members(): Iterable<M>;
  /**
   * How long to hold, in milliseconds, a batch starting now, given how long
   * ago the last flush was.
   */
  holdMs(sinceLastFlushMs: number): number;
  /**
   * Told after each flush, with how many lines its chunks carry beyond one
   * each (so write coalescing sees how full the writes are).
   */
  flushed?(extraLines: number): void;
  /**
   * Whether this room is not `member`'s current one, so text mode tags its
   * lines with the room. @default never
   */
  elsewhere?(member: M): boolean;
}

/** A big room's held broadcasts. */
export class RoomBatch<M extends BatchMember> {
  readonly #options: BatchOptions<M>;
  #held: HeldEvent<M>[] = [];
  #accepted = 0;
  /** The number of the last event added (added in accepted order). */
  #added = 0;
  /** Members who joined while events accepted before them were pending. */
  #lateJoiners = new Map<M, number>();
  #timer: ReturnType<typeof setTimeout> | null = null;
  #microtask = false;
  #lastFlushAt = -Infinity;

  /** @param options the room's members and hold */
  constructor(options: BatchOptions<M>) {
    this.#options = options;
  }

  /** Whether events are held. */
  get pending(): boolean {
    return this.#held.length > 0;
  }

  /**
   * Numbers an event in the order it was accepted, which may be before it
   * can be delivered (it waits for the history to commit); give the number to
   * {@linkcode RoomBatch.add}.
   */
  accept(): number {
    return ++this.#accepted;
  }

  /**
   * Call just before `member` joins: it must not get events accepted before
   * now, even those still waiting to be added.
   */
  joining(member: M): void {
    this.flush();
    // Only events still waiting to be added can precede the newcomer.
    if (this.#accepted > this.#added) {
      this.#lateJoiners.set(member, this.#accepted + 1);
    }
  }

  /** Call just before `member` leaves: it gets what is held, then no more. */
  leaving(member: M): void {
    this.flush();
    this.#lateJoiners.delete(member);
  }

  /**
   * Holds an event for every member. Its `sender`, if any, gets
   * `confirmation` in its place when in JSON mode (the same event with the
   * request's `ref`; the shared copy when there is none), and nothing when
   * in text mode.
   */
  add(
    encoded: EncodedEvent,
    seq: number,
    sender: M | null,
    confirmation?: EncodedEvent,
  ): void {
    this.#added = seq;
    const own = sender?.codec === "text" ? null : confirmation ?? encoded;
    // Only a sender whose copy differs needs a chunk of its own.
    const personal = sender !== null && own !== encoded;
    this.#held.push({ encoded, seq, sender: personal ? sender : null, own });
    if (this.#timer !== null || this.#microtask) return;
    const hold = this.#options.holdMs(performance.now() - this.#lastFlushAt);
    if (hold <= 0) {
      this.#microtask = true;
      queueMicrotask(this.flush);
    } else {
      this.#timer = setTimeout(this.flush, hold);
    }
  }

  /** Sends everything held to every member, now. */
  readonly flush = (): void => {
    this.#microtask = false;
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    const held = this.#held;
    if (held.length === 0) return;
    this.#held = [];
    this.#lastFlushAt = performance.now();
    // The senders of a hold (few) get chunks of their own.
    const senders = new Set<M>();
    for (const event of held) {
      if (event.sender !== null) senders.add(event.sender);
    }
    // At most three joined chunks: JSON, text, and text tagged with the room.
    const joined = new Map<string, Uint8Array>();
    const whole = (codec: Codec, elsewhere: boolean) => {
      const key = codec === "json" ? codec : `${codec}:${elsewhere}`;
      let bytes = joined.get(key);
      if (bytes === undefined) {
        bytes = join(held.map((e) => e.encoded.bytes(codec, elsewhere)));
        joined.set(key, bytes);
      }
      return bytes;
    };
    const late = this.#lateJoiners;
    const isElsewhere = this.#options.elsewhere ?? (() => false);
    let sends = 0;
    for (const member of this.#options.members()) {
      const from = late.get(member);
      const elsewhere = isElsewhere(member);
      const bytes = from === undefined && !senders.has(member)
        ? whole(member.codec, elsewhere)
        : join(ownChunks(held, member, from ?? 0, elsewhere));
      if (bytes.length === 0) continue;
      member.sendBytes(bytes);
      sends++;
    }
    const last = held.at(-1)!.seq;
    for (const [member, from] of late) {
      if (from <= last + 1) late.delete(member);
    }
    this.#options.flushed?.(sends * (held.length - 1));
  };

  /** Sends what is held and stops the timer; call when the room goes. */
  close(): void {
    this.flush();
    this.#lateJoiners.clear();
  }
}

/**
 * `member`'s copies of the events held from `from` on, in order: its own
 * copy of the events it sent (none for a text-mode sender), the shared one
 * of the rest.
 */
function ownChunks<M extends BatchMember>(
  held: readonly HeldEvent<M>[],
  member: M,
  from: number,
  elsewhere: boolean,
): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (const event of held) {
    if (event.seq < from) continue;
    const copy = event.sender === member ? event.own : event.encoded;
    if (copy !== null) chunks.push(copy.bytes(member.codec, elsewhere));
  }
  return chunks;
}

/** The chunks as one buffer (the chunk itself when there is one). */
function join(chunks: Uint8Array[]): Uint8Array {
  return chunks.length === 1 ? chunks[0]! : concatBytes(chunks);
}
