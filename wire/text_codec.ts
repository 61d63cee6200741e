/**
 * The text codec, for people on `nc` and `telnet`: lines and `/commands` in,
 * human-readable lines out. A room message is exactly `<nick> text`;
 * everything the server says itself starts with `***`. The command table is
 * the one source of the parser, the encoder and `/help`.
 *
 * @module
 */

import {
  DURATION_PATTERN,
  REQUESTS,
  type RequestTable,
  type TextSyntax,
} from "./commands.ts";
import {
  type BanSummary,
  type ClientRequest,
  type CommandHelp,
  type ErrorEvent,
  errorEvent,
  type Hints,
  type HistoryReply,
  type LeaveReason,
  type PrivateMessage,
  type RequestType,
  type RoomMessage,
  type RoomSummary,
  type ServerEvent,
} from "./events.ts";
import { byeLine } from "./bye.ts";
import { printableText, readerText } from "./framing.ts";
import { foldKey } from "./names.ts";

/** A text-mode command: its row's text syntax, with the facts `/help` shows. */
export interface TextCommand extends TextSyntax<RequestType> {
  /** The request this command produces. */
  request: RequestType;
  /** Whether only operators may use it (always, not just to change). */
  operator: boolean;
}

/**
 * Every text-mode command, in the order `/help` lists them, drawn from the
 * command table ({@linkcode REQUESTS}): the parser, the help text and the
 * encoder all come from there.
 */
export const COMMANDS: readonly TextCommand[] = Object.entries(
  REQUESTS as RequestTable,
).flatMap(([request, spec]) =>
  spec.text === undefined ? [] : [{
    ...(spec.text as TextSyntax<RequestType>),
    request: request as RequestType,
    operator: spec.policy.operator === true,
  }]
);

/** Splits the first word off `args`. */
function firstWord(args: string): [string, string] {
  const space = args.search(/\s/);
  return space === -1
    ? [args, ""]
    : [args.slice(0, space), args.slice(space + 1).trim()];
}

const commandsByName = new Map<string, TextCommand>(
  COMMANDS.flatMap((c) => [c.name, ...c.aliases].map((n) => [n, c])),
);

const commandsByRequest = new Map<RequestType, TextCommand>(
  COMMANDS.map((c) => [c.request, c]),
);

/** One command's `help` row: usage, summary, and the facts worth knowing. */
function helpRow(command: TextCommand): CommandHelp {
  return {
    usage: command.usage,
    summary: command.summary,
    ...(command.operator ? { operator: true } : {}),
    ...(command.aliases.length === 0
      ? {}
      : { aliases: command.aliases.map((alias) => `/${alias}`) }),
  };
}

/** The row of `//TEXT`, a message and not a command, which `/help` lists. */
const SLASH_MESSAGE: CommandHelp = {
  usage: "//TEXT",
  summary: "send a message that starts with /",
};

/** The `help` reply's rows, from {@linkcode COMMANDS}. */
export function commandHelp(): CommandHelp[] {
  return [...COMMANDS.map(helpRow), SLASH_MESSAGE];
}

/**
 * The command a word names (`join`, `/j`, `JOIN`: by name or alias, with or
 * without its slash), or undefined.
 */
export function findCommand(word: string): TextCommand | undefined {
  return commandsByName.get(word.replace(/^\//, "").toLowerCase());
}

/**
 * The `help` reply about one command, or an error naming the word: in the
 * words of one who types commands, or with `hints` of `requests`, of a
 * program, which names the command in a `help` request's `command`.
 */
export function oneCommandHelp(
  word: string,
  hints: Hints = "commands",
): (ServerEvent & { type: "help" }) | ErrorEvent {
  const command = findCommand(word);
  if (command !== undefined) {
    return {
      type: "help",
      command: command.name,
      commands: [helpRow(command)],
    };
  }
  // `/help` lists `//TEXT`, so `/help //` explains it.
  if (/^\/?\/(TEXT)?$/i.test(word)) {
    return { type: "help", command: "//", commands: [SLASH_MESSAGE] };
  }
  return errorEvent(
    "unknown_command",
    hints === "commands"
      ? noSuchCommand("No command", word)
      : noSuchHelpCommand(word),
  );
}

/**
 * `No command "jion"; did you mean "join"? a "help" request without
 * "command" lists them`: {@linkcode noSuchCommand} for a program, which
 * sends the name in a field and types no `/help`.
 */
function noSuchHelpCommand(word: string): string {
  const typed = word.replace(/^\//, "");
  const guess = suggestCommand(typed)?.replace(/^\//, "");
  return `No command "${typed}"; ${
    guess === undefined ? "" : `did you mean "${guess}"? `
  }a "help" request without "command" lists them`;
}

/**
 * Edits (insert, delete, replace, swap two neighbours) from `a` to `b`,
 * giving up past `most`: what a typed command is from the one meant.
 */
function typoDistance(a: string, b: string, most: number): number {
  if (Math.abs(a.length - b.length) > most) return most + 1;
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + cost,
      );
      if (
        i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]
      ) {
        best = Math.min(best, before[j - 2]! + 1);
      }
      current.push(best);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The command a mistyped word most likely meant (`jion` is `/join`, `hist`
 * is `/history`), or undefined when none is close: one slip in a short
 * name, two in a longer one, or the start of exactly one command's name.
 */
export function suggestCommand(word: string): string | undefined {
  const typed = word.replace(/^\//, "").toLowerCase();
  if (typed.length < 3) return undefined;
  const names = [...commandsByName.keys()].filter((name) => name.length >= 3);
  const most = typed.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = most + 1;
  for (const name of names) {
    const distance = typoDistance(typed, name, most);
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  if (best !== undefined) return `/${best}`;
  const starts = COMMANDS.filter((c) => c.name.startsWith(typed));
  return starts.length === 1 ? `/${starts[0]!.name}` : undefined;
}

/**
 * `Unknown command /jion; did you mean /join? /help lists the commands`:
 * what was wrong, the likely command, and where the rest are.
 */
function noSuchCommand(what: string, word: string): string {
  const typed = word.replace(/^\//, "");
  const guess = suggestCommand(typed);
  return `${what} /${typed}; ${
    guess === undefined ? "" : `did you mean ${guess}? `
  }/help lists the commands`;
}

/**
 * A `help` reply as lines of text: the table of commands, or the one
 * command asked about as `/join #ROOM (also /j): what it does`.
 */
export function helpLines(event: ServerEvent & { type: "help" }): string[] {
  const marks = (row: CommandHelp) => row.operator ? " (operators)" : "";
  const only = event.commands[0];
  if (event.command !== undefined && only !== undefined) {
    const also = only.aliases === undefined || only.aliases.length === 0
      ? ""
      : ` (also ${only.aliases.join(", ")})`;
    return [`${only.usage}${also}: ${only.summary}${marks(only)}`];
  }
  const width = Math.max(...event.commands.map((c) => c.usage.length));
  return [
    "Commands:",
    ...event.commands.map((c) =>
      `  ${c.usage.padEnd(width)}  ${c.summary}${marks(c)}`
    ),
  ];
}

/** Milliseconds in a duration such as `30m`; undefined if it is not one. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION_PATTERN.test(text)) return undefined;
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    text.at(-1) as "s" | "m" | "h" | "d"
  ];
  return Number(text.slice(0, -1)) * unit;
}

/**
 * Reads one text-mode line: a plain line is a room message, `/word ...` a
 * command, `//...` a message starting with a slash. Blank lines give `null`
 * (ignored, as every chat server does); a bad command gives an error event.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeTextRequest } from "../protocol.ts";
 * assert.deepEqual(decodeTextRequest("/msg bob hi there"), {
 *   type: "private", to: "bob", text: "hi there",
 * });
 * assert.deepEqual(decodeTextRequest("hello"), { type: "message", text: "hello" });
 * ```
 */
export function decodeTextRequest(
  line: string,
): ClientRequest | ErrorEvent | null {
  if (line.trim() === "") return null;
  if (!line.startsWith("/") || line.startsWith("//")) {
    return {
      type: "message",
      text: line.startsWith("//") ? line.slice(1) : line,
    };
  }
  const [word, args] = firstWord(line.slice(1).trim());
  const command = commandsByName.get(word.toLowerCase());
  if (command === undefined) {
    return errorEvent(
      "unknown_command",
      noSuchCommand("Unknown command", word),
    );
  }
  const parsed = command.parse(args.trim());
  return typeof parsed === "string"
    ? errorEvent("usage", `Usage: ${parsed}`)
    : parsed;
}

/**
 * Writes a request as the text-mode line a person would type; the inverse of
 * {@linkcode decodeTextRequest} for every request but `hello`, which text mode
 * expresses as the bare first line.
 */
export function encodeTextRequest(request: ClientRequest): string {
  switch (request.type) {
    case "hello":
      return request.nick;
    case "message":
      return request.text.startsWith("/") ? `/${request.text}` : request.text;
    default: {
      const command = commandsByRequest.get(request.type);
      if (command === undefined) {
        throw new TypeError(`Cannot encode request: ${request.type}`);
      }
      return command.format(request);
    }
  }
}

/** `HH:MM:SS` in UTC: the server does not know its readers' time zones. */
export function clockTime(ts: number): string {
  const date = new Date(ts);
  // A time no Date can hold reads as unknown rather than throwing.
  return Number.isFinite(date.getTime())
    ? date.toISOString().slice(11, 19)
    : "--:--:--";
}

/**
 * `YYYY-MM-DD HH:MM:SS` in UTC: a time that may be days away, such as the end
 * of a ban, which a clock time alone would pass off as today's.
 */
export function utcDateTime(ts: number): string {
  const date = new Date(ts);
  return Number.isFinite(date.getTime())
    ? date.toISOString().slice(0, 19).replace("T", " ")
    : "----------- --:--:--";
}

/** When a ban ends, in words: `until 2026-12-05 07:54:10 UTC`, or for good. */
export function banEnd(until: number | undefined): string {
  return until === undefined ? "for good" : `until ${utcDateTime(until)} UTC`;
}

/** How each leave reason reads in a notice. */
const LEAVE_WORDS: Readonly<Record<LeaveReason, string>> = {
  part: "left",
  quit: "quit",
  lost: "lost connection",
  kicked: "kicked",
  banned: "banned",
  flood: "flooding",
  slow: "could not keep up",
  timeout: "timed out",
  shutdown: "server shutting down",
};

/** One ban as a person reads it. */
export function describeBan(ban: BanSummary): string {
  const details = [
    ban.nick,
    ban.until === undefined ? "permanent" : banEnd(ban.until),
    ban.reason,
  ].filter((detail) => detail !== undefined && detail !== "");
  return `${ban.address} (${details.join(", ")})`;
}

/** Room events that both the text codec and the terminal client word alike. */
export type RoomNotice = ServerEvent & {
  type: "join" | "leave" | "nick" | "away" | "back" | "topic";
};

/**
 * A room event in words, such as `alice left #dev (quit: bye)`: one wording
 * for text-mode clients and the terminal client alike.
 */
export function describeNotice(event: RoomNotice): string {
  switch (event.type) {
    case "join":
      return `${event.nick} joined ${event.room}`;
    case "leave":
      return event.reason === "part"
        ? `${event.nick} left ${event.room}`
        : `${event.nick} left ${event.room} (${LEAVE_WORDS[event.reason]}${
          event.message ? `: ${event.message}` : ""
        })`;
    case "nick":
      return `${event.old} is now known as ${event.nick}`;
    case "away":
      return `${event.nick} is away${event.reason ? `: ${event.reason}` : ""}`;
    case "back":
      return `${event.nick} is back`;
    case "topic":
      return event.topic === ""
        ? `${event.room} has no topic`
        : `Topic for ${event.room}: ${event.topic}${
          event.by ? ` (set by ${event.by})` : ""
        }`;
  }
}

/** The UTC day of a time, `YYYY-MM-DD`. */
export function utcDay(ts: number): string {
  return new Date(ts).toISOString().slice(0, 10);
}

/**
 * History lines with their time in front, and a `*** YYYY-MM-DD (UTC)` line
 * before the first and wherever the day changes, so every time has a date.
 */
function datedLines<T extends { ts: number }>(
  messages: readonly T[],
  line: (message: T) => string,
): string {
  let day = "";
  let text = "";
  for (const message of messages) {
    const today = utcDay(message.ts);
    if (today !== day) {
      day = today;
      text += `*** ${day} (UTC)\n`;
    }
    text += `[${clockTime(message.ts)}] ${line(message)}\n`;
  }
  return text;
}

/** `2026-12-01` or `2026-12-01 to 2026-12-02`: the days a page spans. */
function daySpan(messages: readonly { ts: number }[]): string {
  const first = utcDay(messages[0]!.ts);
  const last = utcDay(messages.at(-1)!.ts);
  return first === last ? first : `${first} to ${last}`;
}

/**
 * A page of history in words: which page it is and the days it spans, the
 * lines, and how to get the page before it. `what` names the room or
 * conversation as `/history` takes it (`#dev`, `@bob`); `none` is what an
 * empty page says there is none of (`messages in #dev`, `private messages
 * with bob`).
 */
function pageText<T extends { id: number; ts: number }>(
  what: string,
  title: string,
  none: string,
  messages: readonly T[],
  page: HistoryReply & { more?: true },
  line: (message: T) => string,
): string {
  const after = page.before === undefined ? "" : ` before ${page.before}`;
  if (messages.length === 0) return `*** No ${none}${after}\n`;
  const count = messages.length === 1
    ? "1 message"
    : `${messages.length} messages`;
  const which = page.before === undefined
    ? "the latest"
    : `older than ${page.before}`;
  return `*** History of ${title}: ${count}, ${which}, ${
    daySpan(messages)
  } (UTC)\n` +
    datedLines(messages, line) +
    (page.more
      ? `*** Older messages: /history ${what} before ${messages[0]!.id}\n`
      : `*** That is the start of ${title}\n`);
}

/** A `history` event in words: a join replay, or a page that was asked for. */
function historyText(event: ServerEvent & { type: "history" }): string {
  if (event.reply === undefined) {
    if (event.messages.length === 0) return "";
    return `*** Recent messages in ${event.room}:\n` +
      datedLines(event.messages, roomLine) +
      olderPage(event.room, event.messages, event.more);
  }
  return pageText(
    event.room,
    event.room,
    `messages in ${event.room}`,
    event.messages,
    { ...event.reply, ...(event.more ? { more: true } : {}) },
    roomLine,
  );
}

/**
 * What follows a nickname in a private line of a `conversation` page that
 * was with an earlier holder of it; a nickname holds no blanks, so no name
 * can pose as it.
 */
export const EARLIER_HOLDER = "(earlier holder)";

/** A `conversation` event in words. */
function conversationText(
  event: ServerEvent & { type: "conversation" },
): string {
  // The other side is keyed by nickname: a line with an earlier holder of
  // it says so, rather than pass as said by or to whoever holds it now.
  const peer = foldKey(event.with);
  const party = (nick: string, m: PrivateMessage) =>
    m.earlier && foldKey(nick) === peer ? `${nick} ${EARLIER_HOLDER}` : nick;
  const line = (m: PrivateMessage) =>
    `*${party(m.from, m)} -> ${party(m.to, m)}* ${readerText(m.text)}`;
  const title = `private messages with ${event.with}`;
  if (event.reply === undefined) {
    return event.messages.length === 0
      ? `*** No ${title}\n`
      : `*** Private messages with ${event.with}:\n` +
        datedLines(event.messages, line) +
        olderPage(`@${event.with}`, event.messages, event.more);
  }
  return pageText(
    `@${event.with}`,
    title,
    title,
    event.messages,
    { ...event.reply, ...(event.more ? { more: true } : {}) },
    line,
  );
}

/**
 * How a room line looks in text mode; history adds the time in front. The
 * text is as a terminal shows it ({@linkcode readerText}): blanks padding a
 * line out to the terminal's edge could make what follows pose as the
 * server's `***`. Names hold no blanks or invisible characters (names.ts).
 */
function roomLine(message: RoomMessage): string {
  const text = readerText(message.text);
  return message.type === "message"
    ? `<${message.from}> ${text}`
    : `* ${message.from} ${text}`;
}

/** The line that ends a history page with older messages: how to get them. */
function olderPage(
  where: string,
  messages: ReadonlyArray<{ id: number }>,
  more: true | undefined,
): string {
  const first = messages[0];
  return more && first !== undefined
    ? `*** Older messages: /history ${where} before ${first.id}\n`
    : "";
}

/** The events a room broadcasts: the ones that may come from another room. */
export type RoomBroadcast = RoomMessage | RoomNotice;

/**
 * Renders a room's broadcast for a member whose current room is another:
 * each line gets the room's name in front, as in `[#dev] <bob> hi`, so a
 * person in many rooms sees where a line comes from, while lines of the
 * current room stay exactly as {@linkcode encodeTextEvent} writes them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeTextEventElsewhere } from "../protocol.ts";
 * const message = {
 *   type: "message", id: 1, ts: 0, room: "#dev", from: "bob", text: "hi",
 * } as const;
 * assert.equal(encodeTextEventElsewhere(message), "[#dev] <bob> hi\n");
 * ```
 */
export function encodeTextEventElsewhere(event: RoomBroadcast): string {
  const tag = `[${event.room}] `;
  return encodeTextEvent(event).split("\n").map((line) =>
    line === "" ? line : tag + line
  ).join("\n");
}

/** Whether `event` is one a room broadcasts, so it may be tagged. */
export function isRoomBroadcast(event: ServerEvent): event is RoomBroadcast {
  switch (event.type) {
    case "message":
    case "action":
    case "join":
    case "leave":
    case "nick":
    case "away":
    case "back":
    case "topic":
      return true;
    default:
      return false;
  }
}

/**
 * One row of `/rooms`. The marks show only to someone in more than one
 * room: a person in one room knows where they are, and sees the list as it
 * always was.
 */
function describeRoomRow(row: RoomSummary, marked: boolean): string {
  const mark = !marked
    ? ""
    : row.current
    ? ", current"
    : row.joined
    ? ", joined"
    : "";
  return `${row.name} (${row.members}${mark})`;
}

/**
 * A `rooms` reply in words: `Rooms (3): #dev (3, current), #lobby (5,
 * joined), #ops (1)`, yours marked only when you are in more than one.
 */
export function describeRooms(event: ServerEvent & { type: "rooms" }): string {
  const marked = event.rooms.filter((r) => r.joined).length > 1;
  return `Rooms (${event.rooms.length}): ` +
    event.rooms.map((r) => describeRoomRow(r, marked)).join(", ");
}

/**
 * Renders an event as the lines a person on `nc` reads, newline-terminated.
 * A room message is exactly `<nick> text`; everything the server says itself
 * starts with `***`, so it cannot be mistaken for a message. What others
 * typed shows as {@linkcode readerText} makes it, so no run of blanks or
 * invisible characters can push a fake `***` to the start of a screen line.
 */
export function encodeTextEvent(event: ServerEvent): string {
  // Server lines may quote what a client typed (an unknown command, a
  // nickname that is not there, a topic, a reason): nothing in them reaches
  // a terminal raw, or padded with blanks.
  const notice = (text: string) => `*** ${readerText(text)}\n`;
  // The server's own layout (the help table's columns), kept as it is.
  const laidOut = (text: string) => `*** ${printableText(text)}\n`;
  switch (event.type) {
    case "welcome":
      return notice(
        `Welcome, ${event.nick}! You are on ${event.server}. Type /help for commands.`,
      ) + (event.rate === undefined ? "" : notice(
        `You may send ${event.rate.burst} lines at once, then ${event.rate.lines} a second (${event.rate.bytes} bytes); faster lines wait their turn, and none is dropped.`,
      ));
    case "message":
    case "action":
      return roomLine(event) + "\n";
    case "private":
      return `*${event.from} -> ${event.to}* ${readerText(event.text)}\n`;
    case "join":
    case "leave":
    case "nick":
    case "away":
    case "back":
    case "topic":
      return notice(describeNotice(event));
    case "rooms":
      return notice(describeRooms(event));
    case "who":
      if (event.members.length === 0 && event.count !== undefined) {
        return notice(whoPastEnd(event.room, event.count));
      }
      return notice(
        `${event.room} (${event.count ?? event.members.length}): ` +
          event.members.map((m) =>
            (m.op ? "@" : "") + m.nick +
            (m.away === undefined
              ? ""
              : ` (away${m.away ? `: ${m.away}` : ""})`)
          ).join(", ") +
          (event.next === undefined
            ? ""
            : `; more: /who ${event.room} after ${event.next}`),
      );
    case "members":
      return notice(bigRoomSize(event.room, event.count));
    case "count":
      // Text mode keeps no count to move: a person asks /who or /rooms.
      return "";
    case "history":
      return historyText(event);
    case "help":
      return helpLines(event).map(laidOut).join("");
    case "notice":
      return notice(event.text);
    case "error":
      return notice(`Error: ${event.message}`);
    case "pong":
      return notice(event.token === undefined ? "pong" : `pong ${event.token}`);
    case "ping":
      return notice(`ping ${event.token}`);

    case "motd":
      return event.lines.length === 0
        ? notice("There is no message of the day")
        : (event.continued ? "" : notice("Message of the day:")) +
          event.lines.map((line) => laidOut(`  ${readerText(line)}`)).join("");
    case "conversation":
      return conversationText(event);
    case "bans":
      return notice(
        `Bans (${event.bans.length})` + (event.bans.length === 0 ? "" : ": ") +
          event.bans.map(describeBan).join(", "),
      );
    case "bye":
      return byeLine(event.code, event.reason) + "\n";
    case "switch":
      return notice(`Now talking in ${event.room}`);
  }
}

/**
 * What a newcomer to a big room is told in place of its member list: how
 * many are there (with `--big-room 1`, possibly one), and how to list them.
 */
export function bigRoomSize(room: string, count: number): string {
  return `${room} has ${count} member${
    count === 1 ? "" : "s"
  }; /who lists them a page at a time`;
}

/**
 * What a `who` page past the last member says (`/who #room after zzz`):
 * the room has members, none after that name, and how to start again.
 */
export function whoPastEnd(room: string, count: number): string {
  return `${room} (${count}): no members after that name; /who ${room} starts from the top`;
}
