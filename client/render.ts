/**
 * How the terminal client shows events: local timestamps, a stable color per
 * nickname, and notices set apart from messages. Pure, so the look is tested
 * without a terminal. Everything from the wire is sanitized again here: the
 * client does not trust a server to have done it.
 *
 * @module
 */

import { foldKey } from "../wire/names.ts";
import { EARLIER_HOLDER } from "../wire/text_codec.ts";
import {
  bigRoomSize,
  describeBan,
  describeNotice,
  describeRooms,
  helpLines,
  readerText,
  type RoomMessage,
  sanitizeText,
  type ServerEvent,
  whoPastEnd,
} from "../protocol.ts";

/** Who is looking, and whether their terminal takes colors. */
export interface RenderOptions {
  /** The viewer's nickname, to mark their own lines and mentions. */
  self: string;
  /** Whether to paint ANSI colors; off under `--no-color` and `NO_COLOR`. */
  color: boolean;
  /**
   * Hands out nickname colors so that nicknames seen together differ; without
   * one, each nickname gets its hash's color ({@linkcode nickColor}).
   */
  palette?: NickPalette;
  /** Times carry the date when it is not today (history). */
  dated?: boolean;
}

/** Bright, readable foreground colors for nicknames. */
const NICK_COLORS = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96];

function paint(code: string, text: string, color: boolean): string {
  return color ? `\x1b[${code}m${text}\x1b[0m` : text;
}

/** FNV-1a over the folded name's UTF-8, then mixed so close names differ. */
function nickHash(nick: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(foldKey(nick))) {
    hash = Math.imul(hash ^ byte, 0x01000193);
  }
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}

/** A nickname's preferred color, the same in every session. */
export function nickColor(nick: string): number {
  return NICK_COLORS[nickHash(nick) % NICK_COLORS.length]!;
}

/**
 * Nickname colors for one viewer: each nickname keeps the color it first
 * got, starting from its preferred one but moving on to the least used, so
 * that the few people in a conversation rarely share one (with a hash alone,
 * two of any four nicknames share a color two times in five).
 */
export class NickPalette {
  #assigned = new Map<string, number>();
  #uses = new Map<number, number>(NICK_COLORS.map((code) => [code, 0]));

  /** The color of `nick`, assigning one on first sight. */
  colorOf(nick: string): number {
    const key = foldKey(nick);
    const known = this.#assigned.get(key);
    if (known !== undefined) return known;
    const start = nickHash(nick) % NICK_COLORS.length;
    let best = NICK_COLORS[start]!;
    for (let step = 0; step < NICK_COLORS.length; step++) {
      const code = NICK_COLORS[(start + step) % NICK_COLORS.length]!;
      if (this.#uses.get(code)! < this.#uses.get(best)!) best = code;
    }
    this.#uses.set(best, this.#uses.get(best)! + 1);
    this.#assigned.set(key, best);
    return best;
  }
}

/** `HH:MM` in the viewer's local time. */
export function localTime(ts: number): string {
  const date = new Date(ts);
  return `${String(date.getHours()).padStart(2, "0")}:${
    String(date.getMinutes()).padStart(2, "0")
  }`;
}

/** `HH:MM`, with the local date in front when it is not today. */
export function localStamp(ts: number, now = Date.now()): string {
  const date = new Date(ts);
  const today = new Date(now);
  const sameDay = date.getFullYear() === today.getFullYear() &&
    date.getMonth() === today.getMonth() && date.getDate() === today.getDate();
  if (sameDay) return localTime(ts);
  return `${date.getFullYear()}-${
    String(date.getMonth() + 1).padStart(2, "0")
  }-${String(date.getDate()).padStart(2, "0")} ${localTime(ts)}`;
}

/**
 * Lines from a room other than the current one, with the room's name in
 * front in cyan, as in `[#dev] 12:01 <bob> hi`: the terminal client's
 * version of text mode's tag.
 */
export function tagRoom(
  lines: string[],
  room: string,
  color: boolean,
): string[] {
  const tag = paint("36", `[${sanitizeText(room)}]`, color);
  return lines.map((line) => `${tag} ${line}`);
}

/** How a history event came to be shown. */
export interface HistoryView extends RenderOptions {
  /** Cut to what the viewer missed while disconnected. */
  missed: boolean;
}

/**
 * Renders a history event: the replay on joining, what was missed while
 * disconnected, or a page the viewer asked for, which says which page it is
 * and ends with the command for the one before it.
 */
export function renderHistory(
  event: ServerEvent & { type: "history" },
  view: HistoryView,
): string[] {
  const note = (text: string) =>
    paint("2", `-- ${sanitizeText(text)}`, view.color);
  const lines = event.messages.flatMap((message) =>
    renderEvent(message, { ...view, dated: true })
  );
  const page = event.reply;
  if (page === undefined) {
    if (event.messages.length === 0) return [];
    const count = event.messages.length;
    return [
      note(
        view.missed
          ? `${count} new ${
            count === 1 ? "message" : "messages"
          } in ${event.room} while you were away:`
          : `Recent messages in ${event.room}:`,
      ),
      ...lines,
    ];
  }
  const after = page.before === undefined ? "" : ` before ${page.before}`;
  if (event.messages.length === 0) {
    return [note(`No messages in ${event.room}${after}`)];
  }
  return [
    note(
      `History of ${event.room}${
        page.before === undefined
          ? ", the latest"
          : `, older than ${page.before}`
      }:`,
    ),
    ...lines,
    note(
      event.more
        ? `Older messages: /history ${event.room} before ${
          event.messages[0]!.id
        }`
        : `That is the start of ${event.room}`,
    ),
  ];
}

/**
 * Renders a page of private messages as {@linkcode renderHistory} renders a
 * room's: which page it is, dated lines, and the command for the page
 * before, so `/history @bob` pages back as far as the server keeps.
 */
function renderConversation(
  event: ServerEvent & { type: "conversation" },
  options: RenderOptions,
): string[] {
  const note = (text: string) =>
    paint("2", `-- ${sanitizeText(text)}`, options.color);
  const before = event.reply?.before;
  const first = event.messages[0];
  if (first === undefined) {
    return [
      note(
        `No private messages with ${event.with}${
          before === undefined ? "" : ` before ${before}`
        }`,
      ),
    ];
  }
  return [
    note(
      `Private messages with ${event.with}, ${
        before === undefined ? "the latest" : `older than ${before}`
      }:`,
    ),
    ...event.messages.flatMap((message) =>
      renderEvent(message, { ...options, dated: true })
    ),
    note(
      event.more
        ? `Older messages: /history @${event.with} before ${first.id}`
        : `That is the start of your private messages with ${event.with}`,
    ),
  ];
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
  // What others typed, blanks collapsed (readerText): padding could push
  // the rest of a message to the start of a screen line, posing as a note.
  const clean = readerText;
  const nick = (name: string) =>
    paint(
      foldKey(name) === foldKey(options.self)
        ? "1"
        : String(options.palette?.colorOf(name) ?? nickColor(name)),
      clean(name),
      color,
    );
  const stamp = (ts: number) =>
    paint("2", options.dated ? localStamp(ts) : localTime(ts), color);
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
    case "private": {
      // A line of /history @NICK with an earlier holder of the name.
      const earlier = event.earlier ? ` ${EARLIER_HOLDER}` : "";
      return [
        foldKey(event.from) === foldKey(options.self)
          ? `${stamp(event.ts)} -> *${nick(event.to)}${earlier}* ${
            clean(event.text)
          }`
          : `${stamp(event.ts)} *${nick(event.from)}${earlier}* ${
            clean(event.text)
          }`,
      ];
    }
    case "join":
    case "leave":
    case "nick":
    case "away":
    case "back":
      return [`${stamp(event.ts)} ${note(describeNotice(event))}`];
    case "topic":
      return [note(describeNotice(event))];
    case "rooms":
      return [note(describeRooms(event))];
    case "who":
      if (event.members.length === 0 && event.count !== undefined) {
        return [note(whoPastEnd(event.room, event.count))];
      }
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
      return [note(bigRoomSize(event.room, event.count))];
    case "count":
      // The terminal shows no member count to move.
      return [];
    case "history":
      return renderHistory(event, { ...options, missed: false });
    case "help":
      // The help table keeps its columns.
      return helpLines(event).map((line) =>
        paint("2", `-- ${sanitizeText(line)}`, color)
      );
    case "notice":
      return [note(event.text)];
    case "error":
      return [paint("31", `!! ${clean(event.message)}`, color)];
    case "pong":
      return [note("pong")];
    case "ping":
      return [];
    case "conversation":
      return renderConversation(event, options);

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
    case "switch":
      return [note(`Now talking in ${event.room}`)];
  }
}
