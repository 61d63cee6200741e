/**
 * Fan-out for big rooms. Queuing every event on every member costs a room of
 * ten thousand ten thousand queue operations per message, and as many writes:
 * at 100 messages a second that is a million of each, far more than a core
 * can do. A {@linkcode RoomBatch} keeps a big room's recent events in one log
 * instead, and each member a cursor into it: a message costs O(1) to add, and
 * a member pulls everything past its cursor, joined into one chunk, when its
 * connection's turn to write comes (net/outbound_queue.ts asks, through the
 * write gate). So each write carries every message that arrived before it
 * left, however many that is: under load the members are written in turn,
 * over and over, and a message waits at most one pass over the room's
 * writes, which is as fast as the server can go.
 *
 * A member whose queue has gone idle tells the batch so; the next event
 * wakes it (O(1) per member, and only once per write). A member's pulls are
 * spaced (`spacingMs`), so that in a room small enough to be written in a
 * moment each write still carries several messages; members waiting out
 * their spacing are woken, and pulled, together. The members that pull the
 * same span of events in the same codec share one joined chunk.
 *
 * Order is kept: anything sent straight to a member first pulls its share
 * of the log ({@linkcode RoomBatch.pullFor}), and joining and leaving set
 * the cursor, so nobody gets an event from before they joined or misses one
 * from while they were there: one accepted before a member left but still
 * waiting for the history's commit reaches it when added (a JSON sender that
 * parts in the same breath still gets its confirmation). Across rooms too: the batches of one server
 * number their events from one {@linkcode AcceptedOrder}, and a pull for a
 * member in several big rooms takes from all of them, merged in that order,
 * so a line said in one room never overtakes a line said earlier in another.
 *
 * A sender's own copy differs from everyone else's: a text-mode sender gets
 * none, a JSON one may get a confirmation carrying its request's `ref`. A
 * member whose span holds an event of its own gets a chunk of its own, built
 * from the same events in the same order with its copies swapped in.
 *
 * @module
 */

import { type Codec, EncodedEvent } from "../protocol.ts";
import { concatBytes } from "../wire/bytes.ts";

/** What a member's connection asks of each big room it is in. */
export interface MemberFeed<M> {
  /** Whether `member` has events to pull now (see `spacingMs`). */
  dueFor(member: M): boolean;
  /**
   * Queues on `member` every event past its cursor, in this and its other
   * big rooms, in accepted order.
   */
  pullFor(member: M): void;
  /** The same, if its spacing has passed: when its write's turn comes. */
  pullDue(member: M): void;
  /** `member`'s connection has nothing left to write. */
  idle(member: M): void;
  /**
   * The number of the first event `member` has still to pull here, or
   * Infinity: how a pull across rooms merges them.
   */
  nextFor(member: M): number;
  /** Queues on `member` the events here numbered below `limit`, as one chunk. */
  pullBefore(member: M, limit: number): void;
}

/**
 * Numbers events in the order they were accepted, for every batch that
 * shares it: one per server, so a member in several big rooms can be sent
 * their events merged in the order they were said.
 */
export class AcceptedOrder {
  #last = 0;

  /** The number of the latest event accepted. */
  get last(): number {
    return this.#last;
  }

  /** Numbers the next event. */
  next(): number {
    return ++this.#last;
  }
}

/**
 * Queues on `member` every event its big rooms hold for it, merged across
 * rooms in accepted order: each run of one room's events that comes before
 * the next event of any other goes as one chunk.
 */
export function pullInOrder<M extends BatchMember>(member: M): void {
  const feeds = member.feeds as MemberFeed<M>[];
  if (feeds.length === 1) return feeds[0]!.pullBefore(member, Infinity);
  // Each round pulls at least one event: bounded by the events waiting.
  while (true) {
    let first: MemberFeed<M> | null = null;
    let firstNext = Infinity;
    let secondNext = Infinity;
    for (let i = 0; i < feeds.length; i++) {
      const next = feeds[i]!.nextFor(member);
      if (next < firstNext) {
        secondNext = firstNext;
        firstNext = next;
        first = feeds[i]!;
      } else if (next < secondNext) {
        secondNext = next;
      }
    }
    if (first === null) return;
    first.pullBefore(member, secondNext);
  }
}

/** What the batch needs of a member. */
export interface BatchMember {
  /** Text or JSON: which encoding of each event the member pulls. */
  readonly codec: Codec;
  /**
   * The big rooms' batches this member has a cursor in, kept by the
   * batches themselves: what its connection pulls from when it writes.
   */
  readonly feeds: MemberFeed<this>[];
  /** Queues bytes already encoded for this member's codec. */
  sendBytes(bytes: Uint8Array): void;
  /**
   * Asks the member's connection to write soon: it will pull what waits
   * for it ({@linkcode RoomBatch.pullFor}) when its turn comes.
   */
  poke(): void;
}

/** Where a member is in the log. */
interface Place {
  /** The number of the last event it has pulled. */
  cursor: number;
  /**
   * The last event it gets: Infinity while it is in the room; once it has
   * left, the last accepted before it left, which it still waits for.
   */
  until: number;
  /** Whether it is listed to be woken by the next event. */
  idle: boolean;
  /** When it last pulled events, by the batch's clock. */
  pulledAt: number;
  /** Whether it is listed to be woken once its spacing has passed. */
  deferred: boolean;
}

/** One logged event and who, if anyone, gets a copy of it of their own. */
interface LoggedEvent<M> {
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
  /** The room's members when the batch is made (they have seen nothing). */
  members(): Iterable<M>;
  /**
   * Told of each pull, with how many lines its chunk carries beyond one
   * (so write coalescing sees how full the writes are).
   */
  pulled?(extraLines: number): void;
  /**
   * Whether this room is not `member`'s current one, so text mode tags its
   * lines with the room. @default never
   */
  elsewhere?(member: M): boolean;
  /**
   * Where event numbers come from: shared by every batch of a server, so
   * that a pull across rooms keeps the order events were said in.
   * @default a counter of this batch's own
   */
  order?: AcceptedOrder;
  /**
   * Least time, in milliseconds, between two pulls of one member, while
   * events keep coming: a small room whose members are each written in a
   * moment would otherwise write every member once or twice per message,
   * where a few milliseconds' wait lets each write carry many. A room so
   * big that one pass over its members takes longer never waits on it.
   * @default {0}
   */
  spacingMs?(): number;
  /** The clock, in milliseconds. @default {performance.now} */
  now?(): number;
}

/**
 * A deferred member this close to its spacing is woken with the others due:
 * one timer for a group, not one each.
 */
const DEFER_SLACK_MS = 1;

/**
 * Events kept before the log is trimmed of what every member has pulled
 * (bookkeeping: the log holds only what some member has still to pull).
 */
const TRIM_AFTER_EVENTS = 256;

/** A big room's log of recent events, and where each member is in it. */
export class RoomBatch<M extends BatchMember> implements MemberFeed<M> {
  readonly #options: BatchOptions<M>;
  /** Events not yet pulled by every member, in accepted order. */
  #log: LoggedEvent<M>[] = [];
  readonly #order: AcceptedOrder;
  /** The number of the last event accepted here. */
  #acceptedHere = 0;
  /** Members that left with events accepted for them not yet added. */
  #departing: M[] = [];
  /** The number of the last event added (added in accepted order). */
  #added = 0;
  /** Where each member is in the log. */
  readonly #places = new Map<M, Place>();
  /** Members whose connection has nothing to write: woken by the next add. */
  #idle: M[] = [];
  /** The number of each sender's latest event with a copy of its own. */
  readonly #lastOwn = new Map<M, number>();
  /**
   * Chunks of the log past a cursor, to its end, by cursor, codec and tag:
   * shared by every member pulling the same span; emptied by each add.
   */
  #shared = new Map<number, Uint8Array>();
  #trimAt = TRIM_AFTER_EVENTS;
  /** Members with events to pull, waiting for their spacing to pass. */
  #deferred: M[] = [];
  #deferTimer: ReturnType<typeof setTimeout> | null = null;
  readonly #now: () => number;
  /**
   * The latest reading of the clock: never ahead of it, so a member due by
   * it is due now. Reading the clock is a call into the runtime, and a write
   * would otherwise read it four times (due? due? pull, pulled at).
   */
  #clock = -Infinity;

  /**
   * Enters every current member at the log's start: the first event wakes them
   * all.
   * @param options the room's members, and whom to tell of pulls
   */
  constructor(options: BatchOptions<M>) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#order = options.order ?? new AcceptedOrder();
    // Nobody here has pulled anything yet: the first event wakes them all.
    for (const member of options.members()) this.#enter(member, 0);
  }

  /** Events some member has still to pull (for tests and logs). */
  get logged(): number {
    return this.#log.length;
  }

  /**
   * Numbers an event in the order it was accepted, which may be before it
   * can be delivered (it waits for the history to commit); give the number to
   * {@linkcode RoomBatch.add}.
   */
  accept(): number {
    return this.#acceptedHere = this.#order.next();
  }

  /**
   * Call just before `member` joins: it gets no event accepted before now,
   * even one still waiting to be added.
   */
  joining(member: M): void {
    this.#enter(member, this.#order.last);
  }

  /**
   * Call just before `member` leaves: it gets what is logged, and what was
   * accepted before now once it is added, then no more.
   */
  leaving(member: M): void {
    this.pullFor(member);
    const place = this.#places.get(member);
    if (place !== undefined && this.#acceptedHere > this.#added) {
      if (place.until === Infinity) this.#departing.push(member);
      place.until = this.#acceptedHere;
      return;
    }
    this.#forget(member);
  }

  /** Takes `member` out of the batch. */
  #forget(member: M): void {
    if (this.#places.delete(member)) this.#unlink(member);
    this.#lastOwn.delete(member);
  }

  /**
   * Sends the members that left what has come of what they wait for, and
   * forgets them once it has all come (or been passed: an event that could
   * not be stored is never added).
   */
  #releaseDeparted(): void {
    const departing = this.#departing;
    let kept = 0;
    for (const member of departing) {
      const place = this.#places.get(member);
      if (place === undefined || place.until === Infinity) continue;
      pullInOrder(member);
      if (this.#added < place.until) departing[kept++] = member;
      else this.#forget(member);
    }
    departing.length = kept;
  }

  /**
   * Gives `member` a cursor at `cursor`, and this feed to its connection;
   * the next event wakes it, whatever its connection is doing now.
   */
  #enter(member: M, cursor: number): void {
    const place = this.#places.get(member);
    if (place !== undefined) {
      // Back before what it waited for since leaving came: it keeps its
      // place, and gets that too.
      if (place.until === Infinity) place.cursor = cursor;
      else place.until = Infinity;
      return;
    }
    member.feeds.push(this);
    this.#places.set(member, {
      cursor,
      until: Infinity,
      idle: true,
      pulledAt: -Infinity,
      deferred: false,
    });
    this.#idle.push(member);
  }

  /** Takes this feed from `member`'s connection. */
  #unlink(member: M): void {
    const feeds = member.feeds as MemberFeed<M>[];
    const at = feeds.indexOf(this);
    if (at !== -1) feeds.splice(at, 1);
  }

  /**
   * Logs an event for every member. Its `sender`, if any, gets
   * `confirmation` in its place when in JSON mode (the same event with the
   * request's `ref`; the shared copy when there is none), and nothing when
   * in text mode. Members with nothing to write are woken.
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
    this.#log.push({ encoded, seq, sender: personal ? sender : null, own });
    if (personal) this.#lastOwn.set(sender, seq);
    if (this.#shared.size !== 0) this.#shared = new Map();
    if (this.#idle.length !== 0) {
      const idle = this.#idle;
      this.#idle = [];
      for (const member of idle) {
        const place = this.#places.get(member);
        // Gone since, or woken another way and listed again.
        if (place === undefined || !place.idle) continue;
        place.idle = false;
        member.poke();
      }
    }
    if (this.#departing.length !== 0) this.#releaseDeparted();
    if (this.#log.length >= this.#trimAt) this.#trim();
  }

  /** Whether `member` has events still to pull. */
  hasFor(member: M): boolean {
    const place = this.#places.get(member);
    return place !== undefined && this.#hasEvents(place);
  }

  /** Whether `member` has events to pull and its spacing has passed. */
  dueFor(member: M): boolean {
    const place = this.#places.get(member);
    return place !== undefined && this.#hasEvents(place) &&
      this.#waitFor(place) <= DEFER_SLACK_MS;
  }

  /** {@linkcode RoomBatch.pullFor} if `member` is due. */
  pullDue(member: M): void {
    const place = this.#places.get(member);
    if (
      place !== undefined && this.#hasEvents(place) &&
      this.#waitFor(place) <= DEFER_SLACK_MS
    ) {
      pullInOrder(member);
    }
  }

  /** How long `place` must still wait for its spacing, in milliseconds. */
  #waitFor(place: Place): number {
    const spacing = this.#options.spacingMs?.() ?? 0;
    if (spacing <= 0) return 0;
    const due = place.pulledAt + spacing;
    // Under load a member's turn comes long after its spacing has passed.
    if (due <= this.#clock) return 0;
    return due - (this.#clock = this.#now());
  }

  /**
   * Queues on `member` every event past its cursor, and what its other big
   * rooms hold for it, merged in accepted order ({@linkcode pullInOrder}):
   * called when its connection is about to write, and before anything is
   * sent to it directly.
   */
  pullFor(member: M): void {
    pullInOrder(member);
  }

  /** The number of the first event `member` has still to pull, or Infinity. */
  nextFor(member: M): number {
    const place = this.#places.get(member);
    if (place === undefined || place.cursor >= this.#added) return Infinity;
    return this.#nextAt(place);
  }

  /** Whether `place` has events to pull: O(1) for a member still here. */
  #hasEvents(place: Place): boolean {
    return place.cursor < this.#added &&
      (place.until === Infinity || this.#nextAt(place) !== Infinity);
  }

  /** The number of the next event `place` gets, or Infinity. */
  #nextAt(place: Place): number {
    const next = this.#log[this.#firstAfter(place.cursor)]?.seq ?? Infinity;
    return next > place.until ? Infinity : next;
  }

  /**
   * Queues on `member` the events past its cursor numbered below `limit`,
   * as one chunk, and moves its cursor past them.
   */
  pullBefore(member: M, limit: number): void {
    const place = this.#places.get(member);
    if (place === undefined || place.cursor >= this.#added) return;
    limit = Math.min(limit, place.until + 1);
    const cursor = place.cursor;
    const log = this.#log;
    const from = this.#firstAfter(cursor);
    const whole = limit > this.#added;
    const to = whole ? log.length : this.#firstAfter(limit - 1);
    const count = to - from;
    if (count <= 0) {
      if (whole) place.cursor = this.#added;
      return;
    }
    place.cursor = whole ? this.#added : log[to - 1]!.seq;
    place.pulledAt = this.#clock = this.#now();
    const elsewhere = this.#options.elsewhere?.(member) ?? false;
    const bytes = (this.#lastOwn.get(member) ?? 0) > cursor
      ? join(ownChunks(log, from, to, member, elsewhere))
      : whole
      ? this.#sharedChunk(from, cursor, member.codec, elsewhere)
      : join(sharedChunks(log, from, to, member.codec, elsewhere));
    this.#options.pulled?.(count - 1);
    if (bytes.length !== 0) member.sendBytes(bytes);
  }

  /**
   * `member`'s connection has nothing left to write: the next event wakes
   * it (at once, if one already waits; once its spacing has passed, if that
   * is later).
   */
  idle(member: M): void {
    const place = this.#places.get(member);
    if (place === undefined) return;
    if (this.#hasEvents(place)) {
      const wait = this.#waitFor(place);
      if (wait > 0) return this.#defer(member, place, wait);
      place.idle = false;
      member.poke();
    } else if (!place.idle) {
      place.idle = true;
      this.#idle.push(member);
    }
  }

  /** Wakes `member` in `wait` milliseconds (with whoever else is due). */
  #defer(member: M, place: Place, wait: number): void {
    if (!place.deferred) {
      place.deferred = true;
      this.#deferred.push(member);
    }
    this.#deferTimer ??= setTimeout(this.#wakeDeferred, wait);
  }

  /**
   * Wakes the deferred members whose spacing has passed (within a
   * millisecond), in the order they were deferred, and waits again for the
   * rest: they pulled in that order, so they fall due in it.
   */
  readonly #wakeDeferred = (): void => {
    this.#deferTimer = null;
    const deferred = this.#deferred;
    let woken = 0;
    for (; woken < deferred.length; woken++) {
      const member = deferred[woken]!;
      const place = this.#places.get(member);
      if (place === undefined || !place.deferred) continue;
      const wait = this.#waitFor(place);
      if (wait > DEFER_SLACK_MS) {
        this.#deferTimer = setTimeout(this.#wakeDeferred, wait);
        break;
      }
      place.deferred = false;
      // Not pulled now: its write may wait in line, and what arrives
      // meanwhile should go with it.
      member.poke();
    }
    this.#deferred = woken === deferred.length ? [] : deferred.slice(woken);
  };

  /** Queues on every member what it has still to pull. */
  flush(): void {
    for (const member of this.#places.keys()) this.pullFor(member);
  }

  /**
   * Sends what is logged and forgets the members; call when the room goes.
   * A member that left with events accepted for it but not yet added (its
   * own message's confirmation, waiting for the history's commit) is kept
   * until they are, as {@linkcode RoomBatch.leaving} promised: the last one
   * out of a room still gets the confirmation of what it said there.
   */
  close(): void {
    this.flush();
    this.#idle = [];
    this.#deferred = [];
    if (this.#deferTimer !== null) clearTimeout(this.#deferTimer);
    this.#deferTimer = null;
    this.#log = [];
    for (const [member, place] of this.#places) {
      if (place.until === Infinity || place.until <= this.#added) {
        this.#forget(member);
      }
    }
    this.#departing = this.#departing.filter((member) =>
      this.#places.has(member)
    );
  }

  /** Index in the log of the first event numbered after `cursor`. */
  #firstAfter(cursor: number): number {
    const log = this.#log;
    let low = 0;
    let high = log.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (log[mid]!.seq <= cursor) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** The log from index `from` to its end, as everyone but a sender sees it. */
  #sharedChunk(
    from: number,
    cursor: number,
    codec: Codec,
    elsewhere: boolean,
  ): Uint8Array {
    const key = cursor * 4 + (codec === "json" ? 2 : 0) +
      (elsewhere && codec !== "json" ? 1 : 0);
    let bytes = this.#shared.get(key);
    if (bytes === undefined) {
      const log = this.#log;
      bytes = join(sharedChunks(log, from, log.length, codec, elsewhere));
      this.#shared.set(key, bytes);
    }
    return bytes;
  }

  /** Drops the events every member has pulled. */
  #trim(): void {
    let oldest = this.#added;
    for (const place of this.#places.values()) {
      if (place.cursor < oldest) oldest = place.cursor;
    }
    const keep = this.#firstAfter(oldest);
    if (keep > 0) this.#log = this.#log.slice(keep);
    this.#trimAt = Math.max(TRIM_AFTER_EVENTS, 2 * this.#log.length);
  }
}

/** Everyone's copies of the logged events from index `from` to `to`. */
function sharedChunks<M extends BatchMember>(
  log: readonly LoggedEvent<M>[],
  from: number,
  to: number,
  codec: Codec,
  elsewhere: boolean,
): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = from; i < to; i++) {
    chunks.push(log[i]!.encoded.bytes(codec, elsewhere));
  }
  return chunks;
}

/**
 * `member`'s copies of the logged events from index `from` to `to`, in
 * order: its own copy of the events it sent (none for a text-mode sender),
 * the shared one of the rest.
 */
function ownChunks<M extends BatchMember>(
  log: readonly LoggedEvent<M>[],
  from: number,
  to: number,
  member: M,
  elsewhere: boolean,
): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = from; i < to; i++) {
    const event = log[i]!;
    const copy = event.sender === member ? event.own : event.encoded;
    if (copy !== null) chunks.push(copy.bytes(member.codec, elsewhere));
  }
  return chunks;
}

/** The chunks as one buffer (the chunk itself when there is one). */
function join(chunks: Uint8Array[]): Uint8Array {
  return chunks.length === 1 ? chunks[0]! : concatBytes(chunks);
}
