/**
 * Registered nicknames: who owns which name, by its case key and by its
 * look-alike key, with the password hash that proves it. Kept in the history
 * file (one SQLite connection, shared with HistoryStore) because private
 * history and waiting messages belong to account ids.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { foldKey } from "../../wire/names.ts";
import { skeletonKey } from "../names/lookalikes.ts";
import type { PasswordHash } from "../passwords.ts";

/** A stored account: a nickname claimed with a password. */
export interface Account {
  /**
   * The account's own identity, never reused: private history and waiting
   * messages belong to it, not to the nickname, which a later account may
   * take once this one is dropped.
   */
  id: number;
  /** The nickname as registered. */
  nick: string;
  /** The password hash's salt (passwords.ts). */
  salt: Uint8Array<ArrayBuffer>;
  /** The password hash. */
  hash: Uint8Array<ArrayBuffer>;
  /** The hash's work factor, kept so a raised default leaves it checkable. */
  iterations: number;
  /** When it was registered (ms since the epoch). */
  created: number;
}

/** The accounts table of an open history file. */
export class AccountStore {
  readonly #byName: StatementSync;
  readonly #byLooks: StatementSync;
  readonly #insert: StatementSync;
  readonly #delete: StatementSync;
  readonly #dropPending: StatementSync;
  readonly #highestId: StatementSync;
  readonly #setPassword: StatementSync;

  /**
   * Prepares its statements once, so each lookup is only a bind and a step.
   * @param db the history file's connection, already migrated
   */
  constructor(db: DatabaseSync) {
    const columns = "id, nick, salt, hash, iterations, created";
    this.#byName = db.prepare(
      `SELECT ${columns} FROM accounts WHERE fold_key = ?`,
    );
    this.#byLooks = db.prepare(
      `SELECT ${columns} FROM accounts WHERE skeleton_key = ? LIMIT 1`,
    );
    this.#insert = db.prepare(
      `INSERT INTO accounts
         (fold_key, skeleton_key, nick, salt, hash, iterations, created)
       VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    );
    this.#delete = db.prepare(
      `DELETE FROM accounts WHERE fold_key = ? RETURNING id`,
    );
    this.#dropPending = db.prepare(
      `UPDATE private_messages SET pending = 0
       WHERE recipient_account = ? AND pending = 1`,
    );
    this.#setPassword = db.prepare(
      `UPDATE accounts SET salt = ?, hash = ?, iterations = ? WHERE id = ?`,
    );
    this.#highestId = db.prepare(
      `SELECT max(id) AS id FROM (SELECT max(id) AS id FROM accounts
       UNION ALL SELECT max(sender_account) FROM private_messages
       UNION ALL SELECT max(recipient_account) FROM private_messages)`,
    );
  }

  /**
   * The highest account id this file knows, registered here or named by a
   * stored private message: a cluster's shared ids are kept above it, so a
   * new account never inherits an old one's private history.
   */
  highestId(): number {
    return (this.#highestId.get() as { id: number | null }).id ?? 0;
  }

  /**
   * The account a nickname belongs to: registered under the same name
   * (ignoring case), or under one that looks the same.
   */
  find(nick: string): Account | undefined {
    const row = (this.#byName.get(foldKey(nick)) ??
      this.#byLooks.get(skeletonKey(nick))) as
        | Account
        | undefined;
    return row === undefined ? undefined : {
      ...row,
      salt: new Uint8Array(row.salt),
      hash: new Uint8Array(row.hash),
    };
  }

  /**
   * Registers a nickname; the caller has checked it is free. Returns the
   * new account's id.
   */
  create(account: Omit<Account, "id">): number {
    const row = this.#insert.get(
      foldKey(account.nick),
      skeletonKey(account.nick),
      account.nick,
      account.salt,
      account.hash,
      account.iterations,
      account.created,
    ) as { id: number };
    return row.id;
  }

  /** Replaces account `id`'s password hash; false when it is gone. */
  setPassword(id: number, password: PasswordHash): boolean {
    const result = this.#setPassword.run(
      password.salt,
      password.hash,
      password.iterations,
      id,
    );
    return Number(result.changes) > 0;
  }

  /**
   * Releases a registered nickname; returns whether there was one. Its
   * waiting messages are never delivered: a later holder of the name is
   * someone else.
   */
  delete(nick: string): boolean {
    const row = this.#delete.get(foldKey(nick)) as
      | { id: number }
      | undefined;
    if (row === undefined) return false;
    this.#dropPending.run(row.id);
    return true;
  }
}
