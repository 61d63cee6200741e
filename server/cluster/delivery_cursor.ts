/**
 * Where a node stands in the cluster's room messages, and what it does with
 * each one so that every room's members get every message once, in order,
 * across a lost subscription (Redis restarted, or the node cut off for
 * falling behind).
 *
 * Every room's messages cross one pub/sub channel in id order, so while the
 * subscription holds, one number says where the node stands: the newest id
 * it has taken. When the subscription drops, the node is behind: what
 * arrives once it is back is held, each room with members here is read from
 * its stream past that number (the catch-up), and the held messages follow,
 * each room's only past what its catch-up delivered. The stream is read
 * after the subscription is back, so every message is in the read, in the
 * held ones, or in both (and then delivered once).
 *
 * Pure: the I/O is room_streams.ts's.
 *
 * @module
 */

import type { Relay } from "./relay.ts";
import { foldKey } from "../../wire/names.ts";

/**
 * Messages held while a catch-up runs, at most. Past it they are dropped
 * and every room is read again (its stream has them): a bound on memory, not
 * a loss.
 */
export const HELD_MAX = 100_000;

/** What became of a live message. */
export type LiveVerdict =
  /** Deliver it now. */
  | "deliver"
  /** Already delivered (or from before the node joined): dropped. */
  | "duplicate"
  /** Behind: kept until the catch-up ends. */
  | "held"
  /** Behind, and too many held: all dropped, every room to be read again. */
  | "overflow";

/** The state of a node's delivery of room messages. */
export class DeliveryCursor {
  /** Every message with an id up to this has been delivered (or had nobody to go to). */
  #newest = 0;
  #behind = true;
  /** Rooms caught up since the subscription came back: the newest id delivered. */
  readonly #floors = new Map<string, number>();
  /** Rooms read since the catch-up (re)started. */
  readonly #read = new Set<string>();
  #held: Relay[] = [];
  readonly #heldMax: number;

  /**
   * Starts behind, with nothing delivered: the first catch-up sets where it
   * stands.
   * @param heldMax see {@linkcode HELD_MAX}
   */
  constructor(heldMax: number = HELD_MAX) {
    this.#heldMax = heldMax;
  }

  /** The newest id delivered while live. */
  get newest(): number {
    return this.#newest;
  }

  /** Whether the node is behind: the subscription dropped, or not yet caught up. */
  get behind(): boolean {
    return this.#behind;
  }

  /**
   * A message from the subscription: delivered at once when live and new,
   * else held or dropped.
   */
  live(relay: Relay): LiveVerdict {
    if (this.#behind) {
      if (this.#held.length >= this.#heldMax) {
        this.#held = [];
        this.#read.clear();
        return "overflow";
      }
      this.#held.push(relay);
      return "held";
    }
    if (relay.id <= this.#newest) return "duplicate";
    this.#newest = relay.id;
    return "deliver";
  }

  /** The subscription dropped: hold everything until a catch-up ends. */
  lost(): void {
    this.#behind = true;
  }

  /** Whether `room` was read in the catch-up under way. */
  caught(room: string): boolean {
    return this.#read.has(foldKey(room));
  }

  /** The id a catch-up read of `room` starts after. */
  from(room: string): number {
    return this.#floors.get(foldKey(room)) ?? this.#newest;
  }

  /**
   * Messages read from `room`'s stream past {@linkcode from} (a page, ids
   * increasing): those to deliver, in order. Marks the room caught up, even
   * when the page is empty.
   */
  caughtUp(room: string, read: readonly Relay[]): Relay[] {
    const key = foldKey(room);
    let floor = this.from(room);
    const deliver: Relay[] = [];
    for (const relay of read) {
      if (relay.id <= floor) continue;
      floor = relay.id;
      deliver.push(relay);
    }
    this.#floors.set(key, floor);
    this.#read.add(key);
    return deliver;
  }

  /**
   * Ends the catch-up: the held messages to deliver now, in order (each
   * room's only past what was delivered), and live again.
   */
  finish(): Relay[] {
    const deliver: Relay[] = [];
    let newest = this.#newest;
    for (const relay of this.#held) {
      const key = foldKey(relay.message.room);
      const floor = this.#floors.get(key) ?? this.#newest;
      newest = Math.max(newest, relay.id);
      if (relay.id <= floor) continue;
      this.#floors.set(key, relay.id);
      deliver.push(relay);
    }
    for (const floor of this.#floors.values()) {
      newest = Math.max(newest, floor);
    }
    this.#newest = newest;
    this.#floors.clear();
    this.#read.clear();
    this.#held = [];
    this.#behind = false;
    return deliver;
  }

  /**
   * Starts (or restarts) from Redis's id counter: everything up to it is
   * history. Held messages past it are returned, to deliver.
   */
  start(counter: number): Relay[] {
    this.#newest = Math.max(this.#newest, counter);
    return this.finish();
  }

  /**
   * The newest id a history read of `room` may show: what its members here
   * have been sent, so what comes after reaches them live, never twice.
   */
  shown(room: string): number {
    return Math.max(this.#newest, this.#floors.get(foldKey(room)) ?? 0);
  }
}
