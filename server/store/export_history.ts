/**
 * Prints a room's history as JSON lines, oldest first, straight from the
 * database file: no running server needed, and the file is opened read-only.
 *
 *   deno task export-history --room #lobby [--db PATH] [--limit N]
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import { firstLine, readEnv } from "../../wire/endpoint.ts";
import { defaultDatabasePath } from "./history_store.ts";
import { checkRoom, foldKey } from "../../wire/names.ts";
import type { RoomMessage } from "../../protocol.ts";

/** One exported line: a room message, action or topic change. */
export interface ExportedMessage {
  id: number;
  ts: number;
  room: string;
  type: RoomMessage["type"] | "topic";
  from: string;
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

/** The `--help` text. */
const USAGE = `Usage: deno task export-history --room ROOM [options]

Prints a room's history as JSON lines, oldest first, from the database file
(opened read-only: the server may be running).

  --room ROOM   the room, e.g. #lobby (required)
  --db PATH     the database (default the server's: $XDG_DATA_HOME/tern/chat.db
                or ~/.local/share/tern/chat.db)
  --limit N     only the newest N messages
  --help        show this help`;

/** Runs the export from the command line; resolves to the exit code. */
export function main(args: string[]): number {
  let room: string;
  let path: string;
  let limit: number | undefined;
  try {
    const { values } = parseArgs({
      args,
      strict: true,
      options: {
        room: { type: "string" },
        db: { type: "string" },
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
    messages = exportRoom(path, room, limit);
  } catch (error) {
    console.error(`export-history: cannot read ${path}: ${firstLine(error)}`);
    return 1;
  }
  const lines = messages.map((message) => JSON.stringify(message)).join("\n");
  if (lines !== "") console.log(lines);
  return 0;
}

if (import.meta.main) {
  Deno.exit(main(Deno.args));
}
