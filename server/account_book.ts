/**
 * Where registered accounts and the private messages waiting for them live:
 * this process's own SQLite file on a single server, or Redis on a node of
 * a cluster (cluster/redis_accounts.ts), so an account registered on one
 * node can identify on any other.
 *
 * The seam is async because Redis is; the SQLite book answers at once. The
 * hot paths that read accounts synchronously on a single server (choosing a
 * nickname at login, `/nick`, a private message to someone offline) use
 * {@linkcode AccountBook.local} and await only when it is null.
 *
 * @module
 */

import type { Account, AccountStore } from "./store/account_store.ts";
import type { PrivateMessage } from "../protocol.ts";
import type { PasswordHash } from "./passwords.ts";
import type { SessionAccount } from "./session.ts";

/** What registering came to: the new account's id, or why not. */
export type Registration =
  | { ok: true; id: number }
  | { ok: false; why: "taken" | "quota" };

/** The registration quota a shared book checks, atomically with the write. */
export interface RegistrationQuota {
  /** The registering address. */
  address: string;
  /** Registrations allowed per address per window. */
  max: number;
  /** The window, in milliseconds. */
  windowMs: number;
}

/** Registered accounts, wherever they are kept. */
export interface AccountBook {
  /**
   * The same accounts, read synchronously: this process's own file; null
   * when they are shared across a cluster and every read is awaited.
   */
  readonly local: AccountStore | null;
  /**
   * The account `nick` belongs to: registered under the same name (ignoring
   * case) or one that looks the same.
   * @throws when the accounts cannot be reached
   */
  find(nick: string): Promise<Account | undefined>;
  /**
   * Registers a nickname, atomically refusing one already registered (or
   * looking like one). A shared book also enforces `quota` across every
   * node; a single server counts registrations in its guards instead.
   * @throws when the accounts cannot be reached
   */
  create(
    account: Omit<Account, "id">,
    quota: RegistrationQuota,
  ): Promise<Registration>;
  /**
   * Releases a registered nickname and forgets the messages waiting for
   * it; false when it was not registered.
   * @throws when the accounts cannot be reached
   */
  drop(nick: string): Promise<boolean>;
  /**
   * Replaces `account`'s password; false when it is gone (dropped, or its
   * name registered again by someone else).
   * @throws when the accounts cannot be reached
   */
  setPassword(
    account: SessionAccount,
    password: PasswordHash,
  ): Promise<boolean>;
}

/** A waiting message as a shared inbox hands it out. */
export interface WaitingMessage {
  /** The message as sent, its original id and time. */
  message: PrivateMessage;
  /** The inbox's own handle on it, for marking it delivered. */
  entry: string;
}

/** What leaving a message in a shared inbox came to: its id, or why not. */
export type Left =
  | { ok: true; id: number }
  | { ok: false; why: "inbox_full" | "address_full" };

/**
 * Private messages waiting for offline accounts, shared across a cluster.
 * (A single server keeps them as pending rows of its history file.)
 */
export interface SharedInbox {
  /**
   * Stores `message` for account `accountId` under a new id from the
   * cluster's message counter (so ids stay unique across nodes), unless its
   * inbox holds `limits.maxInbox` messages or `address` has
   * `limits.maxPerAddress` waiting anywhere (both checked in the same atomic
   * step as the write). Resolves once stored.
   * @throws when the inbox cannot be reached
   */
  leave(
    message: Omit<PrivateMessage, "id">,
    accountId: number,
    address: string,
    limits: { maxInbox: number; maxPerAddress: number; expiryMs: number },
  ): Promise<Left>;
  /**
   * Messages waiting for `accountId` sent at or after `since`, oldest first.
   * @throws when the inbox cannot be reached
   */
  waitingFor(accountId: number, since: number): Promise<WaitingMessage[]>;
  /**
   * Removes delivered messages, so no later login gets them again.
   * @throws when the inbox cannot be reached
   */
  markDelivered(
    accountId: number,
    delivered: readonly WaitingMessage[],
  ): Promise<void>;
}

/** A single server's accounts: the history file's table, read at once. */
export class LocalAccountBook implements AccountBook {
  readonly local: AccountStore;

  /**
   * Serves accounts from this server's own history file.
   * @param store the history file's accounts
   */
  constructor(store: AccountStore) {
    this.local = store;
  }

  find(nick: string): Promise<Account | undefined> {
    return settle(() => this.local.find(nick));
  }

  create(account: Omit<Account, "id">): Promise<Registration> {
    return settle((): Registration =>
      this.local.find(account.nick) !== undefined
        ? { ok: false, why: "taken" }
        : { ok: true, id: this.local.create(account) }
    );
  }

  drop(nick: string): Promise<boolean> {
    return settle(() => this.local.delete(nick));
  }

  setPassword(
    account: SessionAccount,
    password: PasswordHash,
  ): Promise<boolean> {
    return settle(() => this.local.setPassword(account.id, password));
  }
}

/** `read`'s value, or its error, as a settled promise (never a throw). */
function settle<T>(read: () => T): Promise<T> {
  try {
    return Promise.resolve(read());
  } catch (error) {
    return Promise.reject(error);
  }
}
