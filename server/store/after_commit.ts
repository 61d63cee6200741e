/**
 * Deliveries that wait for the history to commit. A message is stored before
 * anyone receives it (so a crash cannot lose what a client saw), and
 * everything delivered after it — other messages, joins, replies — keeps its
 * place behind it. Everything accepted in one turn of the event loop shares
 * one transaction.
 *
 * @module
 */

import type { HistoryStore } from "./history_store.ts";

/** The ordered queue of deliveries waiting on the history's commit. */
export class AfterCommit {
  readonly #history: HistoryStore;
  readonly #onError: (event: string, error: unknown) => void;
  #pending: Array<() => void> = [];
  #scheduled = false;

  /**
   * @param history the store whose writes deliveries wait for
   * @param onError told when a commit or a delivery throws; the rest go on
   */
  constructor(
    history: HistoryStore,
    onError: (event: string, error: unknown) => void,
  ) {
    this.#history = history;
    this.#onError = onError;
  }

  /** Whether a write or a delivery waits: anything sent now would overtake it. */
  get busy(): boolean {
    return this.#pending.length > 0 || this.#history.queued > 0;
  }

  /** Runs `action` now if nothing waits, else after the next commit. */
  run(action: () => void): void {
    if (!this.busy) {
      action();
      return;
    }
    this.#pending.push(action);
    if (this.#scheduled) return;
    this.#scheduled = true;
    // A microtask runs after every read handled in this turn of the event
    // loop, so one transaction covers them all and delivery waits for it.
    queueMicrotask(this.#runWaiting);
  }

  /** Commits what is queued and runs the waiting deliveries, now. */
  runNow(): void {
    this.#runWaiting();
  }

  readonly #runWaiting = (): void => {
    this.#scheduled = false;
    try {
      this.#history.commit();
    } catch (error) {
      // Delivery goes on: losing history beats losing the conversation.
      this.#onError("history_write_failed", error);
    }
    const actions = this.#pending;
    this.#pending = [];
    for (const action of actions) {
      try {
        action();
      } catch (error) {
        this.#onError("delivery_failed", error);
      }
    }
  };
}
