/**
 * Which connections have identified to which account, so that a message to
 * a registered nickname finds its owner under whatever nickname they use now
 * without a pass over every connection, and dropping an account reaches the
 * connections identified to it.
 *
 * @module
 */

import type { SessionAccount } from "./session.ts";

/** What the index needs of a connection: the account it identified to. */
export interface Identifiable {
  /** Its account; written only through {@linkcode AccountSessions.set}. */
  account: SessionAccount | null;
}

/**
 * Connections by account id. A connection's `account` is set through
 * {@linkcode AccountSessions.set}, which keeps the index in step.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AccountSessions } from "./account_sessions.ts";
 * const index = new AccountSessions();
 * const alice = { account: null };
 * index.set(alice, { id: 7, nick: "alice" });
 * assert.deepEqual([...index.of(7)], [alice]);
 * index.forget(alice);
 * assert.deepEqual([...index.of(7)], []);
 * ```
 */
export class AccountSessions<S extends Identifiable = Identifiable> {
  readonly #byId = new Map<number, Set<S>>();

  /** Sets `session.account` to `account` (null: none) and indexes it. */
  set(session: S, account: SessionAccount | null): void {
    this.forget(session);
    session.account = account;
    if (account === null) return;
    let sessions = this.#byId.get(account.id);
    if (sessions === undefined) {
      sessions = new Set();
      this.#byId.set(account.id, sessions);
    }
    sessions.add(session);
  }

  /**
   * Takes `session` out of the index (its connection is gone); its
   * `account` stays as it was, for what still reads it.
   */
  forget(session: S): void {
    const id = session.account?.id;
    if (id === undefined) return;
    const sessions = this.#byId.get(id);
    if (sessions === undefined) return;
    sessions.delete(session);
    if (sessions.size === 0) this.#byId.delete(id);
  }

  /** The connections identified to account `id`, in the order they did. */
  of(id: number): Iterable<S> {
    return this.#byId.get(id) ?? [];
  }
}
