/**
 * The history store: room messages, topic changes, private messages of
 * registered accounts and the accounts themselves, in one SQLite file through
 * the runtime's built-in `node:sqlite` (no download, no setup).
 *
 * Writes are queued and committed together in one transaction by
 * {@linkcode HistoryStore.flush}, which the server calls once per turn of the
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

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { foldKey } from "../../wire/names.ts";
import { skeletonKey } from "../names/lookalikes.ts";
import type { PrivateMessage, RoomMessage } from "../../protocol.ts";
import type { Limits } from "../limits.ts";

/** A stored account: a nickname claimed with a password. */
export interface Account {
  /** The nickname as registered. */
  nick: string;
  salt: Uint8Array<ArrayBuffer>;
  hash: Uint8Array<ArrayBuffer>;
  iterations: number;
  created: number;
}

/** A topic as last set in a room. */
export interface StoredTopic {
  topic: string;
  by: string;
  ts: number;
}

/**
 * Schema steps, in order; step N takes a file from version N-1 to N.
 * Version 1 held room history only; version 2 added accounts and private
 * messages; version 3 dropped the index on message time.
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
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

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

/** A write waiting for the next flush. */
type QueuedWrite =
  | { kind: "room"; message: RoomMessage }
  | { kind: "topic"; room: string; topic: StoredTopic; id: number }
  | { kind: "private"; message: PrivateMessage; pending: boolean };

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

/** The history store over one SQLite database. */
export class HistoryStore {
  readonly path: string;
  #db: DatabaseSync;
  #queue: QueuedWrite[] = [];
  /** The last recent page read per room and size, until the next write. */
  #recent = new Map<string, RoomMessage[]>();
  /** Multi-row INSERTs of room messages, by row count, prepared on first use. */
  #insertRows = new Map<number, StatementSync>();
  #statements: {
    insertMessage: StatementSync;
    insertPrivate: StatementSync;
    recent: StatementSync;
    before: StatementSync;
    topic: StatementSync;
    maxId: StatementSync;
    account: StatementSync;
    accountBySkeleton: StatementSync;
    insertAccount: StatementSync;
    deleteAccount: StatementSync;
    pending: StatementSync;
    markDelivered: StatementSync;
    conversation: StatementSync;
  };

  /**
   * Opens (creating if needed) the database at `path`, or an in-memory one
   * for `:memory:`, and brings its schema up to date.
   * @throws if the file is not a database, or is newer than this code knows
   */
  constructor(path: string) {
    this.path = path;
    this.#db = new DatabaseSync(path);
    this.#db.exec("PRAGMA journal_mode = WAL");
    this.#db.exec("PRAGMA synchronous = NORMAL");
    this.#db.exec("PRAGMA busy_timeout = 5000");
    migrate(this.#db);
    const prepare = (sql: string) => this.#db.prepare(sql);
    this.#statements = {
      insertMessage: prepare(
        `INSERT INTO messages (id, room_key, room, kind, sender, text, ts)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertPrivate: prepare(
        `INSERT INTO private_messages
           (id, sender, sender_key, recipient, recipient_key, text, ts, pending)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
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
      maxId: prepare(
        `SELECT max(id) AS id FROM (SELECT max(id) AS id FROM messages
         UNION ALL SELECT max(id) FROM private_messages)`,
      ),
      account: prepare(
        `SELECT nick, salt, hash, iterations, created FROM accounts
         WHERE fold_key = ?`,
      ),
      accountBySkeleton: prepare(
        `SELECT nick, salt, hash, iterations, created FROM accounts
         WHERE skeleton_key = ? LIMIT 1`,
      ),
      insertAccount: prepare(
        `INSERT INTO accounts
           (fold_key, skeleton_key, nick, salt, hash, iterations, created)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      deleteAccount: prepare(`DELETE FROM accounts WHERE fold_key = ?`),
      pending: prepare(
        `SELECT id, sender, recipient, text, ts FROM private_messages
         WHERE recipient_key = ? AND pending = 1 ORDER BY id`,
      ),
      markDelivered: prepare(
        `UPDATE private_messages SET pending = 0 WHERE id = ?`,
      ),
      conversation: prepare(
        `SELECT id, sender, recipient, text, ts FROM private_messages
         WHERE ((sender_key = ? AND recipient_key = ?)
             OR (sender_key = ? AND recipient_key = ?)) AND id < ?
         ORDER BY id DESC LIMIT ?`,
      ),
    };
  }

  /** The schema version of the open file. */
  get schemaVersion(): number {
    return userVersion(this.#db);
  }

  /** The highest message id stored, so new ids continue after a restart. */
  lastMessageId(): number {
    const row = this.#statements.maxId.get() as { id: number | null };
    return row.id ?? 0;
  }

  /** Writes not yet committed. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Queues a room message or action for the next flush. */
  queueRoomMessage(message: RoomMessage): void {
    this.#queue.push({ kind: "room", message });
  }

  /** Queues a topic change for the next flush. */
  queueTopic(room: string, topic: StoredTopic, id: number): void {
    this.#queue.push({ kind: "topic", room, topic, id });
  }

  /**
   * Queues a private message; `pending` marks it for delivery when its
   * recipient next identifies.
   */
  queuePrivate(message: PrivateMessage, pending: boolean): void {
    this.#queue.push({ kind: "private", message, pending });
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
            insertPrivate.run(
              m.id,
              m.from,
              foldKey(m.from),
              m.to,
              foldKey(m.to),
              m.text,
              m.ts,
              write.pending ? 1 : 0,
            );
            break;
          }
        }
      }
      if (rooms.length > 0) this.#insertRoomMessages(rooms);
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#db.exec("ROLLBACK");
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
   * The account a nickname belongs to: registered under the same name
   * (ignoring case), or under one that looks the same.
   */
  findAccount(nick: string): Account | undefined {
    const row = (this.#statements.account.get(foldKey(nick)) ??
      this.#statements.accountBySkeleton.get(skeletonKey(nick))) as
        | Account
        | undefined;
    return row === undefined ? undefined : {
      ...row,
      salt: new Uint8Array(row.salt),
      hash: new Uint8Array(row.hash),
    };
  }

  /** Registers a nickname; the caller has checked it is free. */
  createAccount(account: Account): void {
    this.#statements.insertAccount.run(
      foldKey(account.nick),
      skeletonKey(account.nick),
      account.nick,
      account.salt,
      account.hash,
      account.iterations,
      account.created,
    );
  }

  /** Releases a registered nickname; returns whether there was one. */
  deleteAccount(nick: string): boolean {
    return Number(this.#statements.deleteAccount.run(foldKey(nick)).changes) >
      0;
  }

  /**
   * Private messages waiting for `nick`, oldest first. They stay waiting
   * until {@linkcode HistoryStore.markDelivered}: the caller marks each once
   * its socket has taken it, so a connection lost midway loses none.
   */
  pendingFor(nick: string): PrivateMessage[] {
    const rows = this.#statements.pending.all(
      foldKey(nick),
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

  /** Up to `limit` private messages between two people, oldest first. */
  conversation(
    nick: string,
    other: string,
    limit: number,
    beforeId = Number.MAX_SAFE_INTEGER,
  ): PrivateMessage[] {
    const a = foldKey(nick);
    const b = foldKey(other);
    const rows = this.#statements.conversation.all(
      a,
      b,
      b,
      a,
      beforeId,
      limit,
    ) as unknown as PrivateRow[];
    return rows.reverse().map(toPrivateMessage);
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
      this.#db.close();
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
 * Brings a database to {@linkcode SCHEMA_VERSION}, one step per transaction.
 * @throws if the file was written by a newer version
 */
export function migrate(db: DatabaseSync, target = SCHEMA_VERSION): void {
  const current = userVersion(db);
  if (current > SCHEMA_VERSION) {
    throw new Error(
      `History database has schema version ${current}; this server knows up to ${SCHEMA_VERSION}`,
    );
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
