/**
 * How many writes made at once (libc_socket.ts) one turn of the event loop
 * may run before input is read again.
 *
 * A write made at once holds the one thread that runs the server for as
 * long as the kernel takes (15 to 20 µs on loopback). A big room's pass
 * over ten thousand members would hold it for a fifth of a second, and a
 * message arriving meanwhile would wait for the whole pass to end before
 * any member got it, then for the next one. So a turn runs a few dozen, and
 * the rest go on in the next turn, after the runtime has looked at its
 * sockets: a message read meanwhile goes out with the members still to be
 * written in this pass.
 *
 * @module
 */

import { setImmediate } from "node:timers";

/** Writes made at once in one turn, shared by every connection. */
export class SyncWriteBudget {
  readonly #perTurn: number;
  #used = 0;
  /** Writes put off to the next turn, in the order they asked. */
  #waiting: Array<() => void> = [];
  #head = 0;
  #armed = false;

  /**
   * One per server: every connection draws on the same turn's budget.
   * @param perTurn writes made at once in one turn; 0 makes none (every
   *   write is asynchronous)
   */
  constructor(perTurn: number) {
    this.#perTurn = perTurn;
  }

  /** Whether writes are made at once at all. */
  get enabled(): boolean {
    return this.#perTurn > 0;
  }

  /** Writes put off to the next turn (for tests). */
  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  /**
   * Takes one write from this turn's budget: false when it is spent (or
   * others wait before it), and the caller should {@linkcode later}.
   */
  admit(): boolean {
    if (this.#used >= this.#perTurn || this.waiting !== 0) return false;
    this.#used++;
    this.#arm();
    return true;
  }

  /**
   * Runs `write` in a later turn, after those already waiting, with its
   * place in that turn's budget taken: it writes without asking again.
   */
  later(write: () => void): void {
    this.#waiting.push(write);
    this.#arm();
  }

  /**
   * A new turn after the runtime has polled its sockets (an immediate runs
   * after I/O; a timer of 0 would be clamped to 4 ms once nested): the
   * budget is whole again, and those waiting go first.
   */
  #arm(): void {
    if (this.#armed) return;
    this.#armed = true;
    setImmediate(this.#turn);
  }

  readonly #turn = (): void => {
    this.#armed = false;
    this.#used = 0;
    const waiting = this.#waiting;
    // Those waiting take this turn's budget first; admit() refuses anyone
    // else while they wait.
    while (this.#head < waiting.length && this.#used < this.#perTurn) {
      const write = waiting[this.#head]!;
      this.#head++;
      this.#used++;
      write();
    }
    if (this.#head === waiting.length) {
      this.#waiting = [];
      this.#head = 0;
    } else if (this.#head > 1024 && 2 * this.#head > waiting.length) {
      this.#waiting = waiting.slice(this.#head);
      this.#head = 0;
    }
    // Once more after a turn that wrote, so the next starts whole.
    if (this.waiting !== 0 || this.#used !== 0) this.#arm();
  };
}
