/**
 * Opening the history database safely: one process at a time, checked for
 * damage before the server starts, and every failure turned into one
 * sentence that names the file (missing directory, not a database, a newer
 * schema, read-only, held by another process, damaged).
 *
 * One server per file: a lock file beside it (`chat.db.lock`, holding the
 * pid) is locked with `flock` for as long as the database is open, so a
 * second server on the same file is refused at start instead of both running
 * and each losing the other's writes. The operating system releases the lock
 * when the process dies, so a crash leaves nothing stale. SQLite's own
 * locking stays in its normal mode, so other programs (the export tool, the
 * sqlite3 shell) can still read the file while the server runs.
 *
 * The busy timeout is 0: node:sqlite is synchronous, so waiting for a lock
 * another program holds would stop the whole event loop. A commit that meets
 * such a lock fails at once; the messages in it are refused to their senders
 * (after_commit.ts) and the next commit tries again.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";

/** The history database could not be opened; the message says why. */
export class StoreOpenError extends Error {
  /** The file that could not be opened. */
  readonly path: string;

  /**
   * Names the file, so an operator knows which one to fix.
   * @param path the database file
   * @param reason one line, without the file name
   */
  constructor(path: string, reason: string) {
    super(`cannot open the history database ${path}: ${reason}`);
    this.name = "StoreOpenError";
    this.path = path;
  }
}

/** The message of an SQLite (or any) error, first line only. */
function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0]!;
}

/** The directory part of a path ("." for a bare file name). */
function directoryOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Turns what SQLite said into what an operator can act on. node:sqlite
 * gives only the message (no numeric code), so this reads the message.
 */
export function explainOpenFailure(path: string, error: unknown): string {
  const message = messageOf(error);
  if (message.includes("file is not a database")) {
    return "the file is not an SQLite database (wrong path, or damaged)";
  }
  if (message.includes("database is locked")) {
    return "it is in use by another process (is another tern server running on it?)";
  }
  if (message.includes("readonly") || message.includes("read-only")) {
    return "the file or its directory is read-only";
  }
  if (message.includes("malformed") || message.includes("corrupt")) {
    return `the file is damaged (${message}); restore it from a backup`;
  }
  if (message.includes("unable to open database file")) {
    const directory = directoryOf(path);
    return exists(directory)
      ? `cannot create or open it (is ${directory} writable?)`
      : `the directory ${directory} does not exist`;
  }
  if (message.includes("disk I/O error")) {
    return "disk I/O error (is its directory writable, and the disk not full?)";
  }
  if (message.includes("disk is full")) return "the disk is full";
  return message;
}

/**
 * Opens `path` (`:memory:` for a database that keeps nothing), takes its
 * lock, checks the file for damage, runs `prepare` (schema migration) on it,
 * and caps its size at `maxBytes` (0: no cap).
 * @throws StoreOpenError with a one-line reason naming the file
 */
export function openDatabase(
  path: string,
  prepare: (db: DatabaseSync) => void,
  maxBytes = 0,
): DatabaseSync {
  const lock = path === ":memory:" ? null : takeLock(path);
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path);
    db.exec("PRAGMA busy_timeout = 0");
    if (path !== ":memory:") {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
      const problems = db.prepare("PRAGMA quick_check(1)").all() as Array<
        { quick_check: string }
      >;
      const first = (problems[0]?.quick_check ?? "ok")
        .replace(/^\*\*\* in database \w+ \*\*\*\n/, "")
        .replaceAll("\n", "; ");
      if (first !== "ok") {
        throw new StoreOpenError(
          path,
          `the file is damaged (quick_check: ${first}); restore it from a backup`,
        );
      }
    }
    prepare(db);
    if (maxBytes > 0) {
      const { page_size: pageSize } = db.prepare("PRAGMA page_size").get() as {
        page_size: number;
      };
      // SQLite answers SQLITE_FULL past this many pages (never below the
      // file's current size), exactly as it does on a full disk.
      db.exec(
        `PRAGMA max_page_count = ${
          Math.max(1, Math.floor(maxBytes / pageSize))
        }`,
      );
    }
    if (lock !== null) locks.set(db, lock);
    return db;
  } catch (error) {
    try {
      db?.close();
    } catch {
      // Closing a half-open handle: nothing more to free.
    }
    lock?.close();
    if (error instanceof StoreOpenError) throw error;
    if (error instanceof SchemaTooNewError) {
      throw new StoreOpenError(path, error.message);
    }
    throw new StoreOpenError(path, explainOpenFailure(path, error));
  }
}

/** The lock file held for each open database. */
const locks = new WeakMap<DatabaseSync, Deno.FsFile>();

/** Closes a database from {@linkcode openDatabase} and releases its lock. */
export function closeDatabase(db: DatabaseSync): void {
  try {
    db.close();
  } finally {
    const lock = locks.get(db);
    locks.delete(db);
    lock?.close();
  }
}

/**
 * Locks `PATH.lock` for this process and writes the pid in it.
 * @throws StoreOpenError when another process holds it, naming its pid
 */
function takeLock(path: string): Deno.FsFile {
  const lockPath = `${path}.lock`;
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(lockPath, { read: true, write: true, create: true });
  } catch (error) {
    throw new StoreOpenError(path, explainLockFailure(path, error));
  }
  try {
    if (!file.tryLockSync(true)) {
      const holder = new TextDecoder().decode(Deno.readFileSync(lockPath))
        .trim();
      throw new StoreOpenError(
        path,
        `another process${
          /^\d+$/.test(holder) ? ` (pid ${holder})` : ""
        } is using it (is another tern server running on it?); its lock is ${lockPath}`,
      );
    }
    file.truncateSync(0);
    file.writeSync(new TextEncoder().encode(`${Deno.pid}\n`));
    return file;
  } catch (error) {
    file.close();
    if (error instanceof StoreOpenError) throw error;
    throw new StoreOpenError(path, explainLockFailure(path, error));
  }
}

function explainLockFailure(path: string, error: unknown): string {
  const directory = directoryOf(path);
  if (error instanceof Deno.errors.NotFound) {
    return `the directory ${directory} does not exist`;
  }
  if (
    error instanceof Deno.errors.PermissionDenied ||
    /read-only|readonly/i.test(messageOf(error))
  ) {
    return `the directory ${directory} is read-only`;
  }
  return `cannot create its lock file ${path}.lock: ${messageOf(error)}`;
}

/** The file was written by a newer version of the server. */
export class SchemaTooNewError extends Error {
  /**
   * Names both versions, so an operator knows to upgrade.
   * @param found the file's schema version
   * @param known the newest version this code knows
   */
  constructor(found: number, known: number) {
    super(
      `it has schema version ${found}; this server knows up to ${known} (run a newer tern)`,
    );
    this.name = "SchemaTooNewError";
  }
}
