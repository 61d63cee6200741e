/**
 * Deliveries that wait for the history to commit. A message is stored before
 * anyone receives it (so a crash cannot lose what a client saw), and
 * everything delivered after it — other messages, joins, replies — keeps its
 * place behind it. Everything accepted in one turn of the event loop shares
 * one transaction.
 *
 * When a commit fails (a full disk, say), the messages in it are not
 * delivered: each sender is told instead, the cause is logged once, and the
 * next commit tries again, so storing resumes as soon as space returns.
 *
 * @module
 */

import type { HistoryStore } from "./history_store.ts";
import { describeError, type LogFields, type LogLevel } from "../log.ts";

/** Where the queue reports failures and recoveries. */
export type CommitLog = (
  level: LogLevel,
  event: string,
  fields: LogFields,
) => void;

/** A delivery waiting on the commit, with what to do if it fails. */
interface Waiting {
  action: () => void;
  /** Set for deliveries of what the commit stores: run instead of `action`. */
  refuse?: (error: unknown) => void;
}

/**
 * What a sender is told about a message the history could not store: the
 * cause in plain words, from SQLite's message.
 */
export function notStoredReason(error: unknown): string {
  return `Not sent: the server could not store your message (${
    storeFailureCause(error)
  }); nobody received it, try again later`;
}

/**
 * Why the database refused a write, in a user's words, from SQLite's
 * message: "its disk is full", "its database is held by another program",
 * or "it cannot write its history".
 */
export function storeFailureCause(error: unknown): string {
  const message = describeError(error);
  return /full/i.test(message)
    ? "its disk is full"
    : /locked|busy/i.test(message)
    ? "its database is held by another program"
    : "it cannot write its history";
}

/** The ordered queue of deliveries waiting on the history's commit. */
export class AfterCommit {
  readonly #history: HistoryStore;
  readonly #log: CommitLog;
  #pending: Waiting[] = [];
  #scheduled = false;
  /** Commits failed in a row, and messages refused since the first. */
  #failedCommits = 0;
  #refused = 0;

  /**
   * Starts empty: nothing waits.
   * @param history the store whose writes deliveries wait for
   * @param log told when a commit or a delivery throws, and when storing
   *   resumes; the rest go on
   */
  constructor(history: HistoryStore, log: CommitLog) {
    this.#history = history;
    this.#log = log;
  }

  /** Whether a write or a delivery waits: anything sent now would overtake it. */
  get busy(): boolean {
    return this.#pending.length > 0 || this.#history.queued > 0;
  }

  /** Whether the last commit failed (storing is refused until one works). */
  get failing(): boolean {
    return this.#failedCommits > 0;
  }

  /** Runs `action` now if nothing waits, else after the next commit. */
  run(action: () => void): void {
    if (!this.busy) {
      action();
      return;
    }
    this.#wait({ action });
  }

  /**
   * For the delivery of something just queued for storing: runs `deliver`
   * after the commit stores it, or `refuse` if the commit fails.
   */
  runIfStored(deliver: () => void, refuse: (error: unknown) => void): void {
    this.#wait({ action: deliver, refuse });
  }

  #wait(waiting: Waiting): void {
    this.#pending.push(waiting);
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
    let failure: { error: unknown } | null = null;
    const wrote = this.#history.queued > 0;
    try {
      this.#history.commit();
    } catch (error) {
      failure = { error };
    }
    const actions = this.#pending;
    this.#pending = [];
    let refused = 0;
    for (const { action, refuse } of actions) {
      try {
        if (failure !== null && refuse !== undefined) {
          refused++;
          refuse(failure.error);
        } else {
          action();
        }
      } catch (error) {
        this.#log("error", "delivery_failed", { error: describeError(error) });
      }
    }
    if (failure !== null) this.#failed(failure.error, refused);
    else if (wrote && this.#failedCommits > 0) this.#resumed();
  };

  #failed(error: unknown, refused: number): void {
    this.#failedCommits++;
    this.#refused += refused;
    // Said once per outage, with SQLite's own words for the cause; the
    // summary comes when storing works again.
    if (this.#failedCommits === 1) {
      this.#log("error", "history_write_failed", {
        error: describeError(error),
        refused,
        effect: "messages are refused to their senders until a write succeeds",
      });
    }
  }

  #resumed(): void {
    this.#log("warn", "history_write_resumed", {
      failedCommits: this.#failedCommits,
      refused: this.#refused,
    });
    this.#failedCommits = 0;
    this.#refused = 0;
  }
}
