/**
 * How the terminal client shows events: local timestamps, a stable color per
 * nickname, and notices set apart from messages. Pure, so the look is tested
 * without a terminal. Everything from the wire is sanitized again here: the
 * client does not trust a server to have done it.
 *
 * @module
 */

import { foldKey } from "../wire/names.ts";
import {
  describeBan,
  describeNotice,
  type RoomMessage,
  sanitizeText,
  type ServerEvent,
} from "../protocol.ts";

/** Who is looking, and whether their terminal takes colors. */
export interface RenderOptions {
  /** The viewer's nickname, to mark their own lines and mentions. */
  self: string;
  color: boolean;
}

/** Bright, readable foreground colors for nicknames. */
const NICK_COLORS = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96];

function paint(code: string, text: string, color: boolean): string {
  return color ? `\x1b[${code}m${text}\x1b[0m` : text;
}

/** A nickname's color, the same in every session and for every viewer. */
export function nickColor(nick: string): number {
  let hash = 0;
  for (const char of foldKey(nick)) {
    hash = (hash * 31 + char.codePointAt(0)!) >>> 0;
  }
  return NICK_COLORS[hash % NICK_COLORS.length]!;
}

/** `HH:MM` in the viewer's local time. */
export function localTime(ts: number): string {
  const date = new Date(ts);
  return `${String(date.getHours()).padStart(2, "0")}:${
    String(date.getMinutes()).padStart(2, "0")
  }`;
}

/**
 * Renders one event as terminal lines (without newlines).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderEvent } from "./render.ts";
 * const [line] = renderEvent(
 *   { type: "message", id: 1, ts: 0, room: "#lobby", from: "bob", text: "hi" },
 *   { self: "alice", color: false },
 * );
 * assert.match(line!, /^\d\d:\d\d <bob> hi$/);
 * ```
 */
export function renderEvent(
  event: ServerEvent,
  options: RenderOptions,
): string[] {
  const { color } = options;
  const clean = sanitizeText;
  const nick = (name: string) =>
    paint(
      foldKey(name) === foldKey(options.self) ? "1" : String(nickColor(name)),
      clean(name),
      color,
    );
  const stamp = (ts: number) => paint("2", localTime(ts), color);
  const note = (text: string) => paint("2", `-- ${clean(text)}`, color);
  const roomLine = (message: RoomMessage) => {
    const mentioned = message.from !== options.self &&
      foldKey(message.text).includes(foldKey(options.self));
    const text = mentioned
      ? paint("1;4", clean(message.text), color)
      : clean(message.text);
    return message.type === "message"
      ? `${stamp(message.ts)} <${nick(message.from)}> ${text}`
      : `${stamp(message.ts)} * ${nick(message.from)} ${text}`;
  };
  switch (event.type) {
    case "welcome":
      return [note(`Connected to ${event.server} as ${event.nick}`)];
    case "message":
    case "action":
      return [roomLine(event)];
    case "private":
      return [
        foldKey(event.from) === foldKey(options.self)
          ? `${stamp(event.ts)} -> *${nick(event.to)}* ${clean(event.text)}`
          : `${stamp(event.ts)} *${nick(event.from)}* ${clean(event.text)}`,
      ];
    case "join":
    case "leave":
    case "nick":
    case "away":
    case "back":
      return [`${stamp(event.ts)} ${note(describeNotice(event))}`];
    case "topic":
      return [note(describeNotice(event))];
    case "rooms":
      return [
        note(
          `Rooms: ${
            event.rooms.map((r) => `${r.name} (${r.members})`).join(", ")
          }`,
        ),
      ];
    case "who":
      return [
        note(
          `${event.room} (${event.count ?? event.members.length}): ${
            event.members.map((m) =>
              `${m.op ? "@" : ""}${m.nick}${
                m.away === undefined ? "" : " (away)"
              }`
            ).join(", ")
          }${
            event.next === undefined
              ? ""
              : `; more: /who ${event.room} after ${event.next}`
          }`,
        ),
      ];
    case "members":
      return [
        note(
          `${event.room} has ${event.count} members; /who lists them a page at a time`,
        ),
      ];
    case "history":
      return event.messages.length === 0 ? [] : [
        note(`Recent messages in ${event.room}:`),
        ...event.messages.map(roomLine),
      ];
    case "help": {
      const width = Math.max(...event.commands.map((c) => c.usage.length));
      return [
        note("Commands:"),
        ...event.commands.map((c) =>
          note(`  ${c.usage.padEnd(width)}  ${c.summary}`)
        ),
      ];
    }
    case "notice":
      return [note(event.text)];
    case "error":
      return [paint("31", `!! ${clean(event.message)}`, color)];
    case "pong":
      return [note("pong")];
    case "ping":
      return [];
    case "conversation":
      return event.messages.length === 0
        ? [note(`No private messages with ${event.with}`)]
        : [
          note(`Private messages with ${event.with}:`),
          ...event.messages.map((m) => renderEvent(m, options)[0]!),
        ];

    case "motd":
      return event.lines.length === 0
        ? [note("There is no message of the day")]
        : event.lines.map((line) => note(line));
    case "bans":
      return [
        note(
          event.bans.length === 0
            ? "No bans"
            : `Bans: ${event.bans.map(describeBan).join(", ")}`,
        ),
      ];
    case "bye":
      return [note(`Disconnected: ${event.reason}`)];
  }
}
