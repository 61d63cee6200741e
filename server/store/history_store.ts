/**
 * The history store: room messages, topic changes and private messages of
 * registered accounts, in one SQLite file through the runtime's built-in
 * `node:sqlite` (no download, no setup). The accounts live in the same file
 * (account_store.ts, reached as {@linkcode HistoryStore.accounts}).
 *
 * Writes are queued and committed together in one transaction by
 * {@linkcode HistoryStore.commit}, which the server calls once per turn of the
 * event loop, so a burst costs one commit rather than one per message. The
 * file is in WAL mode with `synchronous=NORMAL`: a commit survives the
 * process being killed (it is in the operating system's hands), while the
 * server never waits for a disk flush.
 *
 * The schema carries a version (`PRAGMA user_version`); {@linkcode MIGRATIONS}
 * upgrades an older file in place, one step at a time, each in a transaction.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import {
  closeDatabase,
  openDatabase,
  SchemaTooNewError,
} from "./open_database.ts";
import { foldKey } from "../../wire/names.ts";
import { skeletonKey } from "../names/lookalikes.ts";
import type { PrivateMessage, RoomMessage } from "../../protocol.ts";
import type { Limits } from "../limits.ts";
import { AccountStore } from "./account_store.ts";

export type { Account } from "./account_store.ts";

/** A topic as last set in a room. */
export interface StoredTopic {
  /** The text, as those who join are shown it. */
  topic: string;
  /** The nickname that set it. */
  by: string;
  /** When it was set (ms since the epoch). */
  ts: number;
}

/**
 * Schema steps, in order; step N takes a file from version N-1 to N.
 * Version 1 held room history only; version 2 added accounts and private
 * messages; version 3 dropped the index on message time; version 4 gives
 * accounts ids that are never reused and keys private messages by them (a
 * row is linked to an account only if the account existed when the message
 * was sent: earlier ones belonged to a previous holder of the name), records
 * the sending address of waiting messages for quotas, and adds the `meta`
 * table (the message id high-water mark, the look-alike key's version).
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE messages (
     id INTEGER PRIMARY KEY,
     room_key TEXT NOT NULL,
     room TEXT NOT NULL,
     kind TEXT NOT NULL,
     sender TEXT NOT NULL,
     text TEXT NOT NULL,
     ts INTEGER NOT NULL
   );
   CREATE INDEX messages_by_room ON messages (room_key, id);
   CREATE INDEX messages_by_time ON messages (ts);`,
  `CREATE TABLE accounts (
     fold_key TEXT PRIMARY KEY,
     skeleton_key TEXT NOT NULL,
     nick TEXT NOT NULL,
     salt BLOB NOT NULL,
     hash BLOB NOT NULL,
     iterations INTEGER NOT NULL,
     created INTEGER NOT NULL
   );
   CREATE INDEX accounts_by_skeleton ON accounts (skeleton_key);
   CREATE TABLE private_messages (
     id INTEGER PRIMARY KEY,
     sender TEXT NOT NULL,
     sender_key TEXT NOT NULL,
     recipient TEXT NOT NULL,
     recipient_key TEXT NOT NULL,
     text TEXT NOT NULL,
     ts INTEGER NOT NULL,
     pending INTEGER NOT NULL DEFAULT 0
   );
      CREATE INDEX private_pending ON private_messages (recipient_key, pending, id);
   CREATE INDEX private_by_pair ON private_messages (sender_key, recipient_key, id);`,
  // Ids grow with time, so pruning by age walks ids; the time index only
  // cost every insert.
  `DROP INDEX messages_by_time;`,
  `CREATE TABLE accounts_v4 (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     fold_key TEXT NOT NULL UNIQUE,
     skeleton_key TEXT NOT NULL,
     nick TEXT NOT NULL,
     salt BLOB NOT NULL,
     hash BLOB NOT NULL,
     iterations INTEGER NOT NULL,
     created INTEGER NOT NULL
   );
   INSERT INTO accounts_v4
     (fold_key, skeleton_key, nick, salt, hash, iterations, created)
     SELECT fold_key, skeleton_key, nick, salt, hash, iterations, created
     FROM accounts ORDER BY created;
   DROP TABLE accounts;
   ALTER TABLE accounts_v4 RENAME TO accounts;
   CREATE INDEX accounts_by_skeleton ON accounts (skeleton_key);
   ALTER TABLE private_messages ADD COLUMN sender_account INTEGER;
   ALTER TABLE private_messages ADD COLUMN recipient_account INTEGER;
   ALTER TABLE private_messages ADD COLUMN sender_address TEXT;
   UPDATE private_messages SET
     sender_account = (SELECT id FROM accounts
       WHERE fold_key = sender_key AND created <= private_messages.ts),
     recipient_account = (SELECT id FROM accounts
       WHERE fold_key = recipient_key AND created <= private_messages.ts);
   UPDATE private_messages SET pending = 0
     WHERE pending = 1 AND recipient_account IS NULL;
   DROP INDEX private_pending;
   DROP INDEX private_by_pair;
   CREATE INDEX private_pending ON private_messages
     (recipient_account, id) WHERE pending = 1;
   CREATE INDEX private_pending_by_address ON private_messages
     (sender_address, ts) WHERE pending = 1;
   CREATE INDEX private_by_sender ON private_messages
     (sender_account, recipient_key, id);
   CREATE INDEX private_by_recipient ON private_messages
     (recipient_account, sender_key, id);
   CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);`,
  // Settings an operator changes at run time (the message of the day), kept
  // as text, so they survive a restart as topics do.
  `CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
];

/**
 * The version of the look-alike key stored with each account: when the
 * skeleton's data changes, stored keys are recomputed at open.
 */
export const SKELETON_VERSION = 2;

/** The parties of a stored private message, beyond their nicknames. */
export interface PrivateParties {
  /** The sender's account, if it was identified. */
  from: number | null;
  /** The recipient's account, if it has one. */
  to: number | null;
  /** Marked for delivery when the recipient next identifies. */
  pending: boolean;
  /**
   * The sender's address key (an IPv6 address by its `--ipv6-prefix`),
   * counted against its waiting-message quota.
   */
  address: string;
}

/** The schema version this code writes. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

/** Room history rows as the queries return them. */
interface MessageRow {
  id: number;
  room: string;
  kind: string;
  sender: string;
  text: string;
  ts: number;
}

/** Private message rows as the queries return them. */
interface PrivateRow {
  id: number;
  sender: string;
  recipient: string;
  text: string;
  ts: number;
}

/**
 * Most room messages one INSERT statement writes. A constant, not a flag:
 * it tunes SQLite's cost per statement and changes nothing a user sees.
 */
const ROWS_PER_INSERT = 32;

/**
 * Recent-history pages kept between writes (one per room joined lately); a
 * constant because it only bounds a cache: past it the cache starts over.
 */
const RECENT_PAGES_KEPT = 1000;

/** A write waiting for the next commit. */
type QueuedWrite =
  | { kind: "room"; message: RoomMessage }
  | { kind: "topic"; room: string; topic: StoredTopic; id: number }
  | { kind: "private"; message: PrivateMessage; parties: PrivateParties };

function toRoomMessage(row: MessageRow): RoomMessage {
  return {
    type: row.kind === "action" ? "action" : "message",
    id: row.id,
    ts: row.ts,
    room: row.room,
    from: row.sender,
    text: row.text,
  };
}

function toPrivateMessage(row: PrivateRow): PrivateMessage {
  return {
    type: "private",
    id: row.id,
    ts: row.ts,
    from: row.sender,
    to: row.recipient,
    text: row.text,
  };
}

/** The store's prepared statements, made once when it opens. */
type Statements = {
  insertMessage: StatementSync;
  insertPrivate: StatementSync;
  recent: StatementSync;
  before: StatementSync;
  topic: StatementSync;
  topics: StatementSync;
  maxId: StatementSync;
  highWater: StatementSync;
  setHighWater: StatementSync;
  pending: StatementSync;
  markDelivered: StatementSync;
  inboxCount: StatementSync;
  addressCount: StatementSync;
  conversation: StatementSync;
  setting: StatementSync;
  setSetting: StatementSync;
};

/** Prepares every statement the store runs. */
function prepareStatements(db: DatabaseSync): Statements {
  const prepare = (sql: string) => db.prepare(sql);
  return {
    insertMessage: prepare(
      `INSERT INTO messages (id, room_key, room, kind, sender, text, ts)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertPrivate: prepare(
      `INSERT INTO private_messages
         (id, sender, sender_key, recipient, recipient_key, text, ts, pending,
          sender_account, recipient_account, sender_address)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    recent: prepare(
      `SELECT id, room, kind, sender, text, ts FROM messages
       WHERE room_key = ? AND kind IN ('message', 'action')
       ORDER BY id DESC LIMIT ?`,
    ),
    before: prepare(
      `SELECT id, room, kind, sender, text, ts FROM messages
       WHERE room_key = ? AND kind IN ('message', 'action') AND id < ?
       ORDER BY id DESC LIMIT ?`,
    ),
    topic: prepare(
      `SELECT sender, text, ts FROM messages
       WHERE room_key = ? AND kind = 'topic' ORDER BY id DESC LIMIT 1`,
    ),
    // SQLite takes a bare column's value from the row max() chose.
    topics: prepare(
      `SELECT room, sender, text, ts, max(id) AS id FROM messages
       WHERE kind = 'topic' GROUP BY room_key`,
    ),
    maxId: prepare(
      `SELECT max(id) AS id FROM (SELECT max(id) AS id FROM messages
       UNION ALL SELECT max(id) FROM private_messages)`,
    ),
    setting: prepare(`SELECT value FROM settings WHERE key = ?`),
    setSetting: prepare(
      `INSERT INTO settings (key, value) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ),
    highWater: prepare(
      `SELECT value FROM meta WHERE key = 'message_id_high_water'`,
    ),
    setHighWater: prepare(
      `INSERT INTO meta (key, value) VALUES ('message_id_high_water', ?)
       ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)`,
    ),
    pending: prepare(
      `SELECT id, sender, recipient, text, ts FROM private_messages
       WHERE recipient_account = ? AND pending = 1 AND ts >= ? ORDER BY id`,
    ),
    markDelivered: prepare(
      `UPDATE private_messages SET pending = 0 WHERE id = ?`,
    ),
    inboxCount: prepare(
      `SELECT count(*) AS n FROM private_messages
       WHERE recipient_account = ? AND pending = 1 AND ts >= ?`,
    ),
    addressCount: prepare(
      `SELECT count(*) AS n FROM private_messages
       WHERE sender_address = ? AND pending = 1 AND ts >= ?`,
    ),
    conversation: prepare(
      `SELECT id, sender, recipient, text, ts,
         CASE WHEN sender_account = ? THEN recipient_account
           ELSE sender_account END AS peer_account
       FROM private_messages
       WHERE ((sender_account = ? AND recipient_key = ?)
           OR (recipient_account = ? AND sender_key = ?)) AND id < ?
       ORDER BY id DESC LIMIT ?`,
    ),
  };
}

/** The history store over one SQLite database. */
export class HistoryStore {
  /** The database file it opened (`:memory:` for none). */
  readonly path: string;
  #db: DatabaseSync;
  #queue: QueuedWrite[] = [];
  /** The last recent page read per room and size, until the next write. */
  #recent = new Map<string, RoomMessage[]>();
  /** Multi-row INSERTs of room messages, by row count, prepared on first use. */
  #insertRows = new Map<number, StatementSync>();
  readonly #statements: Statements;
  /** The registered nicknames, in the same file. */
  readonly accounts: AccountStore;

  /**
   * Opens (creating if needed) the database at `path`, or an in-memory one
   * for `:memory:`, and brings its schema up to date. `maxBytes` (0: none)
   * caps the file's size: past it a commit fails as on a full disk.
   * @throws StoreOpenError if the file cannot be opened, is held by another
   *   process, is damaged, or is newer than this code knows
   */
  constructor(path: string, maxBytes = 0) {
    this.path = path;
    // Locked, checked and migrated; any failure is one line naming the file.
    this.#db = openDatabase(path, (db) => {
      migrate(db);
      refreshSkeletons(db);
    }, maxBytes);
    this.#statements = prepareStatements(this.#db);
    this.accounts = new AccountStore(this.#db);
  }

  /** The schema version of the open file. */
  get schemaVersion(): number {
    return userVersion(this.#db);
  }

  /**
   * The highest message id ever handed out as far as the file knows: the
   * highest stored, or the high-water mark if higher (pruning deletes the
   * newest rows' predecessors, and some messages are never stored), so new
   * ids continue after a restart and never repeat.
   */
  lastMessageId(): number {
    const row = this.#statements.maxId.get() as { id: number | null };
    const mark = this.#statements.highWater.get() as
      | { value: number }
      | undefined;
    return Math.max(row.id ?? 0, mark?.value ?? 0);
  }

  /**
   * Records that ids up to `id` may have been handed out, at once (not in
   * the next batch): the server reserves ids in blocks and calls this once
   * per block, before using any id of it.
   */
  reserveMessageIds(id: number): void {
    this.#statements.setHighWater.run(id);
  }

  /** Writes not yet committed. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Queues a room message or action for the next commit. */
  queueRoomMessage(message: RoomMessage): void {
    this.#queue.push({ kind: "room", message });
    this.#noteRoom(message.room, message.id);
  }

  /**
   * Rooms that have history, by fold key: their name and newest id. Read
   * once at open (an index scan) and kept up to date as messages are
   * queued, so `/rooms` can list rooms nobody is in without a query.
   */
  #roomsWithHistory: Map<string, { name: string; lastId: number }> | null =
    null;

  #noteRoom(room: string, id: number): void {
    this.#roomsWithHistory?.set(foldKey(room), { name: room, lastId: id });
  }

  /** The `limit` rooms with the newest history, newest first. */
  recentRooms(limit: number): string[] {
    if (this.#roomsWithHistory === null) {
      const known = new Map<string, { name: string; lastId: number }>();
      const groups = this.#db.prepare(
        `SELECT room_key, max(id) AS last FROM messages GROUP BY room_key`,
      ).all() as Array<{ room_key: string; last: number }>;
      const nameOf = this.#db.prepare(`SELECT room FROM messages WHERE id = ?`);
      for (const group of groups) {
        const row = nameOf.get(group.last) as { room: string } | undefined;
        if (row !== undefined) {
          known.set(group.room_key, { name: row.room, lastId: group.last });
        }
      }
      this.#roomsWithHistory = known;
    }
    return [...this.#roomsWithHistory.values()]
      .sort((a, b) => b.lastId - a.lastId)
      .slice(0, limit)
      .map((room) => room.name);
  }

  /** Queues a topic change for the next commit. */
  queueTopic(room: string, topic: StoredTopic, id: number): void {
    this.#queue.push({ kind: "topic", room, topic, id });
    this.#noteRoom(room, id);
  }

  /**
   * Queues a private message with the accounts it belongs to; a pending one
   * waits for its recipient's account to identify.
   */
  queuePrivate(message: PrivateMessage, parties: PrivateParties): void {
    this.#queue.push({ kind: "private", message, parties });
  }

  /**
   * Commits every queued write in one transaction. Room messages, most of
   * what is written, go in as many rows per statement as there are (up to
   * 32): a statement call costs about as much as SQLite's work for a row.
   */
  commit(): void {
    if (this.#queue.length === 0) return;
    this.#recent.clear();
    const writes = this.#queue;
    this.#queue = [];
    const { insertMessage, insertPrivate } = this.#statements;
    const rooms: RoomMessage[] = [];
    this.#db.exec("BEGIN");
    try {
      for (const write of writes) {
        switch (write.kind) {
          case "room":
            rooms.push(write.message);
            if (rooms.length === ROWS_PER_INSERT) {
              this.#insertRoomMessages(rooms);
              rooms.length = 0;
            }
            break;
          case "topic":
            insertMessage.run(
              write.id,
              foldKey(write.room),
              write.room,
              "topic",
              write.topic.by,
              write.topic.topic,
              write.topic.ts,
            );
            break;
          case "private": {
            const m = write.message;
            const parties = write.parties;
            insertPrivate.run(
              m.id,
              m.from,
              foldKey(m.from),
              m.to,
              foldKey(m.to),
              m.text,
              m.ts,
              parties.pending ? 1 : 0,
              parties.from,
              parties.to,
              parties.pending ? parties.address : null,
            );
            break;
          }
        }
      }
      if (rooms.length > 0) this.#insertRoomMessages(rooms);
      this.#db.exec("COMMIT");
    } catch (error) {
      // SQLite may already have rolled back (it does on a full disk): a
      // second ROLLBACK would throw and hide the real cause.
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  #insertRoomMessages(messages: RoomMessage[]): void {
    let statement = this.#insertRows.get(messages.length);
    if (statement === undefined) {
      statement = this.#db.prepare(
        `INSERT INTO messages (id, room_key, room, kind, sender, text, ts)
         VALUES ${
          Array(messages.length).fill("(?, ?, ?, ?, ?, ?, ?)").join(", ")
        }`,
      );
      this.#insertRows.set(messages.length, statement);
    }
    const values: Array<string | number> = [];
    for (const m of messages) {
      values.push(m.id, foldKey(m.room), m.room, m.type, m.from, m.text, m.ts);
    }
    statement.run(...values);
  }

  /**
   * Up to `limit` room messages, oldest first: the most recent ones, or
   * those before message `beforeId` when paging back.
   */
  roomMessages(room: string, limit: number, beforeId?: number): RoomMessage[] {
    if (beforeId !== undefined) {
      const rows = this.#statements.before.all(
        foldKey(room),
        beforeId,
        limit,
      ) as unknown as MessageRow[];
      return rows.reverse().map(toRoomMessage);
    }
    // Every join asks for the same recent page: a room of 10,000 filling up
    // asks 10,000 times between two messages. Kept until the next write.
    const key = `${limit} ${foldKey(room)}`;
    let recent = this.#recent.get(key);
    if (recent === undefined) {
      const rows = this.#statements.recent.all(
        foldKey(room),
        limit,
      ) as unknown as MessageRow[];
      recent = rows.reverse().map(toRoomMessage);
      if (this.#recent.size >= RECENT_PAGES_KEPT) this.#recent.clear();
      this.#recent.set(key, recent);
    }
    return recent.slice();
  }

  /** The message of the day last set with `/motd`, if any was. */
  motd(): string[] | undefined {
    const row = this.#statements.setting.get("motd") as
      | { value: string }
      | undefined;
    if (row === undefined) return undefined;
    const lines: unknown = JSON.parse(row.value);
    return Array.isArray(lines) ? lines.map(String) : undefined;
  }

  /** Keeps the message of the day set with `/motd` across restarts. */
  setMotd(lines: readonly string[]): void {
    this.#statements.setSetting.run("motd", JSON.stringify(lines));
  }

  /**
   * Every room's last topic and the id it was stored under: what a node
   * of a cluster puts back into a Redis that forgot them.
   */
  topics(): Array<{ room: string; id: number; topic: StoredTopic }> {
    const rows = this.#statements.topics.all() as Array<
      { room: string; sender: string; text: string; ts: number; id: number }
    >;
    return rows.map((row) => ({
      room: row.room,
      id: row.id,
      topic: { topic: row.text, by: row.sender, ts: row.ts },
    }));
  }

  /** The last topic set in a room, if any. */
  topic(room: string): StoredTopic | undefined {
    const row = this.#statements.topic.get(foldKey(room)) as
      | { sender: string; text: string; ts: number }
      | undefined;
    return row === undefined
      ? undefined
      : { topic: row.text, by: row.sender, ts: row.ts };
  }

  /**
   * Private messages waiting for account `accountId` and sent at or after
   * `since` (older ones have expired), oldest first. They stay waiting
   * until {@linkcode HistoryStore.markDelivered}: the caller marks each once
   * its socket has taken it, so a connection lost midway loses none.
   */
  pendingFor(accountId: number, since = 0): PrivateMessage[] {
    const rows = this.#statements.pending.all(
      accountId,
      since,
    ) as unknown as PrivateRow[];
    return rows.map(toPrivateMessage);
  }

  /** Marks waiting private messages delivered, in one transaction. */
  markDelivered(ids: readonly number[]): void {
    if (ids.length === 0) return;
    this.#db.exec("BEGIN");
    try {
      for (const id of ids) this.#statements.markDelivered.run(id);
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /**
   * Messages waiting for account `accountId` sent at or after `since`,
   * counting those not yet committed.
   */
  inboxSize(accountId: number, since: number): number {
    const row = this.#statements.inboxCount.get(accountId, since) as {
      n: number;
    };
    return row.n + this.#queuedPending((p) => p.to === accountId);
  }

  /**
   * Messages sent from `address` still waiting for their recipients, sent
   * at or after `since`, counting those not yet committed.
   */
  waitingFromAddress(address: string, since: number): number {
    const row = this.#statements.addressCount.get(address, since) as {
      n: number;
    };
    return row.n + this.#queuedPending((p) => p.address === address);
  }

  #queuedPending(match: (parties: PrivateParties) => boolean): number {
    let count = 0;
    for (const write of this.#queue) {
      if (write.kind === "private" && write.parties.pending) {
        if (match(write.parties)) count++;
      }
    }
    return count;
  }

  /**
   * Up to `limit` private messages of account `accountId` with the person
   * called `other`, oldest first. Only rows the account was a party to:
   * what a previous holder of its nickname said or was told is not there.
   * The other side is keyed by nickname, so the rows may span several
   * holders of it: a row whose other party was not account `otherAccount`
   * (the name's account now; null: unregistered now) is marked `earlier`,
   * so it is not shown as said by or to whoever holds the name now.
   */
  conversation(
    accountId: number,
    other: string,
    otherAccount: number | null,
    limit: number,
    beforeId = Number.MAX_SAFE_INTEGER,
  ): PrivateMessage[] {
    const peer = foldKey(other);
    const rows = this.#statements.conversation.all(
      accountId,
      accountId,
      peer,
      accountId,
      peer,
      beforeId,
      limit,
    ) as unknown as Array<PrivateRow & { peer_account: number | null }>;
    return rows.reverse().map((row) => ({
      ...toPrivateMessage(row),
      ...(row.peer_account === otherAccount ? {} : { earlier: true as const }),
    }));
  }

  /**
   * Deletes room history older than `historyMaxAgeMs` (0: no age limit) and
   * beyond the newest `historyMaxPerRoom` messages of each room (0: no count
   * limit);
   * returns how many rows went. Topic changes are kept.
   */
  prune(
    now: number,
    limits: Pick<Limits, "historyMaxAgeMs" | "historyMaxPerRoom">,
  ): number {
    const { historyMaxAgeMs: maxAgeMs, historyMaxPerRoom: maxPerRoom } = limits;
    this.#recent.clear();
    let removed = 0;
    if (maxAgeMs > 0) {
      // Ids grow with time: everything before the first message young
      // enough to keep is old (found by walking ids, without a time index).
      const keep = this.#db.prepare(
        `SELECT id FROM messages WHERE ts >= ? ORDER BY id LIMIT 1`,
      ).get(now - maxAgeMs) as { id: number } | undefined;
      removed += Number(
        this.#db.prepare(
          `DELETE FROM messages WHERE kind != 'topic' AND id < ?`,
        ).run(keep?.id ?? Number.MAX_SAFE_INTEGER).changes,
      );
    }
    if (maxPerRoom > 0) {
      const rooms = this.#db.prepare(
        `SELECT DISTINCT room_key FROM messages`,
      ).all() as unknown as Array<{ room_key: string }>;
      const cut = this.#db.prepare(
        `DELETE FROM messages WHERE room_key = ? AND kind != 'topic' AND id <= (
           SELECT id FROM messages WHERE room_key = ? AND kind != 'topic'
           ORDER BY id DESC LIMIT 1 OFFSET ?)`,
      );
      for (const { room_key: room } of rooms) {
        removed += Number(cut.run(room, room, maxPerRoom).changes);
      }
    }
    return removed;
  }

  /** Commits what is queued and closes the file. */
  close(): void {
    try {
      this.commit();
    } finally {
      closeDatabase(this.#db);
    }
  }
}

function userVersion(db: DatabaseSync): number {
  const row = db.prepare("PRAGMA user_version").get() as {
    user_version: number;
  };
  return row.user_version;
}

/**
 * Recomputes every account's look-alike key when the skeleton's data has
 * changed since they were stored ({@linkcode SKELETON_VERSION}), so a name
 * registered under the old data is still found by looks.
 */
function refreshSkeletons(db: DatabaseSync): void {
  const row = db.prepare(
    `SELECT value FROM meta WHERE key = 'skeleton_version'`,
  ).get() as { value: number } | undefined;
  if (row?.value === SKELETON_VERSION) return;
  db.exec("BEGIN");
  try {
    const accounts = db.prepare(`SELECT id, nick FROM accounts`)
      .all() as unknown as Array<{ id: number; nick: string }>;
    const update = db.prepare(
      `UPDATE accounts SET skeleton_key = ? WHERE id = ?`,
    );
    for (const account of accounts) {
      update.run(skeletonKey(account.nick), account.id);
    }
    db.prepare(
      `INSERT INTO meta (key, value) VALUES ('skeleton_version', ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ).run(SKELETON_VERSION);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/**
 * Brings a database to {@linkcode SCHEMA_VERSION}, one step per transaction.
 * @throws if the file was written by a newer version
 */
export function migrate(db: DatabaseSync, target = SCHEMA_VERSION): void {
  const current = userVersion(db);
  if (current > SCHEMA_VERSION) {
    throw new SchemaTooNewError(current, SCHEMA_VERSION);
  }
  for (let version = current; version < target; version++) {
    db.exec("BEGIN");
    try {
      db.exec(MIGRATIONS[version]!);
      db.exec(`PRAGMA user_version = ${version + 1}`);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }
}

/**
 * Where the database lives by default: `$XDG_DATA_HOME/tern/chat.db`, or
 * `~/.local/share/tern/chat.db`.
 */
export function defaultDatabasePath(
  env: (name: string) => string | undefined,
): string {
  const dataHome = env("XDG_DATA_HOME") ||
    (env("HOME") ? `${env("HOME")}/.local/share` : undefined);
  if (dataHome === undefined) {
    throw new Error("Neither XDG_DATA_HOME nor HOME is set; give --db PATH");
  }
  return `${dataHome}/tern/chat.db`;
}
