/**
 * The connection tasks a server waits for when it closes, counted rather
 * than kept. A set of promises, each with a callback to remove itself and
 * one to log its failure, cost every idle connection three more promises
 * and four closures; a count costs one reaction on the task, whose
 * callbacks are shared.
 *
 * @module
 */

/** Running tasks, and a way to wait until none is left. */
export class TaskCount {
  #running = 0;
  #waiters: Array<() => void> = [];
  readonly #onError: (error: unknown) => void;

  /**
   * Starts with none running.
   * @param onError told of each task that rejects; it then counts as ended
   */
  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  /** How many tasks have not yet settled. */
  get running(): number {
    return this.#running;
  }

  /** Counts `task` until it settles. */
  add(task: Promise<void>): void {
    this.#running++;
    // Neither callback throws, so the promise `then` makes never rejects
    // and needs no `.catch` (one more promise for every connection).
    task.then(this.#ended, this.#failed);
  }

  /** Resolves once no task is running (at once if none is). */
  idle(): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  readonly #ended = (): void => {
    this.#running--;
    if (this.#running !== 0 || this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  };

  readonly #failed = (error: unknown): void => {
    try {
      this.#onError(error);
    } catch {
      // A failing report must not leave the task counted, nor reject.
    }
    this.#ended();
  };
}
