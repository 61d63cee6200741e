/**
 * Prints a room's history as JSON lines, oldest first, straight from the
 * database file: no running server needed, and the file is opened read-only.
 * For a cluster, `--redis URL` reads the room's stream in Redis instead
 * (cluster/room_streams.ts), which only reads.
 *
 *   deno task export-history --room #lobby [--db PATH | --redis URL] [--limit N]
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import { firstLine, readEnv } from "../../wire/endpoint.ts";
import { REDIS_URL_ENV } from "../options.ts";
import { defaultDatabasePath } from "./history_store.ts";
import { checkRoom, foldKey } from "../../wire/names.ts";
import type { RoomMessage } from "../../protocol.ts";

/** One exported line: a room message, action or topic change. */
export interface ExportedMessage {
  /** The message id, which orders the lines. */
  id: number;
  /** When it was sent (ms since the epoch). */
  ts: number;
  /** The room's display name. */
  room: string;
  /** A message, an action, or `topic` for a topic change. */
  type: RoomMessage["type"] | "topic";
  /** Who sent it, or set the topic. */
  from: string;
  /** The words, or the new topic. */
  text: string;
}

/**
 * A room's messages, actions and topic changes, oldest first (the newest
 * `limit` when given).
 */
export function exportRoom(
  path: string,
  room: string,
  limit?: number,
): ExportedMessage[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const rows = db.prepare(
      `SELECT id, ts, room, kind, sender, text FROM messages
       WHERE room_key = ? ORDER BY id DESC LIMIT ?`,
    ).all(foldKey(room), limit ?? -1) as unknown as Array<{
      id: number;
      ts: number;
      room: string;
      kind: string;
      sender: string;
      text: string;
    }>;
    return rows.reverse().map((row) => ({
      id: row.id,
      ts: row.ts,
      room: row.room,
      type: row.kind as ExportedMessage["type"],
      from: row.sender,
      text: row.text,
    }));
  } finally {
    db.close();
  }
}

/**
 * A cluster room's messages and actions from its Redis stream, oldest
 * first (the newest `limit` when given). The Redis client is loaded only
 * for this.
 */
export async function exportRoomFromRedis(
  url: string,
  room: string,
  limit?: number,
): Promise<ExportedMessage[]> {
  const { createClient } = await import("npm:redis@5.12.1");
  const { messagesOf, roomStreamKey } = await import(
    "../cluster/room_streams.ts"
  );
  const client = createClient({
    url,
    RESP: 2,
    disableOfflineQueue: true,
    socket: { reconnectStrategy: false },
  });
  client.on("error", () => {}); // the failing command says it
  await client.connect();
  try {
    const key = roomStreamKey(room);
    const messages: RoomMessage[] = [];
    if (limit !== undefined) {
      messages.push(
        ...messagesOf(await client.xRevRange(key, "+", "-", { COUNT: limit })),
      );
    } else {
      // Page by page, each after the last id read.
      let start = "-";
      while (true) {
        const entries = await client.xRange(key, start, "+", {
          COUNT: EXPORT_PAGE,
        });
        const page = messagesOf(entries);
        messages.push(...page);
        if (entries.length < EXPORT_PAGE || page.length === 0) break;
        start = String(page.at(-1)!.id + 1);
      }
    }
    return messages.map(({ id, ts, room, type, from, text }) => ({
      id,
      ts,
      room,
      type,
      from,
      text,
    }));
  } finally {
    client.destroy();
  }
}

/** Stream entries read per round trip by {@linkcode exportRoomFromRedis}. */
const EXPORT_PAGE = 1000;

/** The `--help` text. */
const USAGE = `Usage: deno task export-history --room ROOM [options]

Prints a room's history as JSON lines, oldest first, from the database file
(opened read-only: the server may be running), or from a cluster's Redis.

  --room ROOM   the room, e.g. #lobby (required)
  --db PATH     the database (default the server's: $XDG_DATA_HOME/tern/chat.db
                or ~/.local/share/tern/chat.db)
  --redis URL   a cluster's Redis (redis:// or rediss://; or $TERN_REDIS_URL):
                read the room's stream there instead of a database file
                (messages and actions; topic changes are not in it)
  --limit N     only the newest N messages
  --help        show this help`;

/** Runs the export from the command line; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  let room: string;
  let path: string;
  let redis: string | undefined;
  let limit: number | undefined;
  try {
    const { values } = parseArgs({
      args,
      strict: true,
      options: {
        room: { type: "string" },
        db: { type: "string" },
        redis: { type: "string" },
        limit: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (values.room === undefined) throw new Error("--room is required");
    const checked = checkRoom(values.room);
    if (!checked.ok) throw new Error(`--room: ${checked.reason}`);
    room = checked.name;
    path = values.db ?? defaultDatabasePath(readEnv);
    redis = values.redis ??
      (values.db === undefined
        ? readEnv(REDIS_URL_ENV) || undefined
        : undefined);
    if (redis !== undefined && values.db !== undefined) {
      throw new Error("--db and --redis name two different histories");
    }
    if (redis !== undefined && !/^rediss?:\/\//.test(redis)) {
      throw new Error(`--redis must start with redis:// or rediss://`);
    }
    if (values.limit !== undefined) {
      limit = Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1) {
        throw new Error(`--limit must be a whole number above 0`);
      }
    }
  } catch (error) {
    console.error(`export-history: ${firstLine(error)}`);
    return 2;
  }
  let messages: ExportedMessage[];
  try {
    messages = redis === undefined
      ? exportRoom(path, room, limit)
      : await exportRoomFromRedis(redis, room, limit);
  } catch (error) {
    const source = redis === undefined ? path : redisAddress(redis);
    console.error(`export-history: cannot read ${source}: ${firstLine(error)}`);
    return 1;
  }
  const lines = messages.map((message) => JSON.stringify(message)).join("\n");
  if (lines !== "") console.log(lines);
  return 0;
}

/** host:port of a Redis URL, never its password. */
function redisAddress(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "Redis";
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
