/**
 * The text codec, for people on `nc` and `telnet`: lines and `/commands` in,
 * human-readable lines out. A room message is exactly `<nick> text`;
 * everything the server says itself starts with `***`. The command table is
 * the one source of the parser, the encoder and `/help`.
 *
 * @module
 */

import {
  type BanSummary,
  type ClientRequest,
  type CommandHelp,
  type ErrorEvent,
  errorEvent,
  type LeaveReason,
  LOBBY,
  type RequestType,
  type RoomMessage,
  type ServerEvent,
} from "./events.ts";

/** How a command's words become a request. */
interface CommandSyntax {
  /** Canonical name, without the slash. */
  name: string;
  /** The request this command produces. */
  request: RequestType;
  aliases: readonly string[];
  usage: string;
  summary: string;
  /** Whether only operators may use it. */
  operator: boolean;
  /** `args` is everything after the command word, trimmed. */
  parse(args: string): ClientRequest | string;
  /** The text-mode line for a request of this command. */
  format(request: ClientRequest): string;
}

/** Splits the first word off `args`. */
function firstWord(args: string): [string, string] {
  const space = args.search(/\s/);
  return space === -1
    ? [args, ""]
    : [args.slice(0, space), args.slice(space + 1).trim()];
}

function optional<K extends string>(
  key: K,
  value: string,
): Partial<Record<K, string>> {
  return value === "" ? {} : { [key]: value } as Record<K, string>;
}

/**
 * Every text-mode command, in the order `/help` lists them. The parser, the
 * help text and the encoder all come from this one table.
 */
export const COMMANDS: readonly CommandSyntax[] = [
  {
    name: "help",
    request: "help",
    aliases: ["?"],
    usage: "/help",
    summary: "list the commands",
    operator: false,
    parse: () => ({ type: "help" }),
    format: () => "/help",
  },
  {
    name: "nick",
    request: "nick",
    aliases: [],
    usage: "/nick NEW",
    summary: "change your nickname",
    operator: false,
    parse: (args) => {
      const [nick, rest] = firstWord(args);
      return nick === "" || rest !== "" ? "/nick NEW" : { type: "nick", nick };
    },
    format: (r) => `/nick ${(r as { nick: string }).nick}`,
  },
  {
    name: "join",
    request: "join",
    aliases: ["j"],
    usage: "/join #ROOM",
    summary: "move to a room, creating it if new",
    operator: false,
    parse: (args) => {
      const [room, rest] = firstWord(args);
      return room === "" || rest !== ""
        ? "/join #ROOM"
        : { type: "join", room };
    },
    format: (r) => `/join ${(r as { room: string }).room}`,
  },
  {
    name: "part",
    request: "part",
    aliases: ["leave"],
    usage: "/part",
    summary: `leave the current room for ${LOBBY}`,
    operator: false,
    parse: () => ({ type: "part" }),
    format: () => "/part",
  },
  {
    name: "rooms",
    request: "rooms",
    aliases: ["list"],
    usage: "/rooms",
    summary: "list the rooms and how many are in each",
    operator: false,
    parse: () => ({ type: "rooms" }),
    format: () => "/rooms",
  },
  {
    name: "who",
    request: "who",
    aliases: ["names"],
    usage: "/who [#ROOM] [after NICK]",
    summary:
      "list who is in the current room (or another), a page at a time in a big room",
    operator: false,
    parse: parseWhoArgs,
    format: (r) => {
      const { room, after } = r as { room?: string; after?: string };
      return [
        "/who",
        room,
        after === undefined ? undefined : `after ${after}`,
      ].filter((w) => w !== undefined).join(" ");
    },
  },
  {
    name: "msg",
    request: "private",
    aliases: ["m", "tell"],
    usage: "/msg NICK TEXT",
    summary: "send a private message",
    operator: false,
    parse: (args) => {
      const [to, text] = firstWord(args);
      return to === "" || text === ""
        ? "/msg NICK TEXT"
        : { type: "private", to, text };
    },
    format: (r) => {
      const { to, text } = r as { to: string; text: string };
      return `/msg ${to} ${text}`;
    },
  },
  {
    name: "me",
    request: "action",
    aliases: [],
    usage: "/me ACTION",
    summary: "describe what you are doing",
    operator: false,
    parse: (args) =>
      args === "" ? "/me ACTION" : { type: "action", text: args },
    format: (r) => `/me ${(r as { text: string }).text}`,
  },
  {
    name: "away",
    request: "away",
    aliases: [],
    usage: "/away [REASON]",
    summary: "mark yourself away",
    operator: false,
    parse: (args) => ({ type: "away", ...optional("reason", args) }),
    format: (r) => {
      const reason = (r as { reason?: string }).reason;
      return reason === undefined ? "/away" : `/away ${reason}`;
    },
  },
  {
    name: "back",
    request: "back",
    aliases: [],
    usage: "/back",
    summary: "mark yourself back",
    operator: false,
    parse: () => ({ type: "back" }),
    format: () => "/back",
  },
  {
    name: "ping",
    request: "ping",
    aliases: [],
    usage: "/ping",
    summary: "check that the server answers",
    operator: false,
    parse: (args) => ({ type: "ping", ...optional("token", args) }),
    format: (r) => {
      const token = (r as { token?: string }).token;
      return token === undefined ? "/ping" : `/ping ${token}`;
    },
  },
  {
    name: "topic",
    request: "topic",
    aliases: [],
    usage: "/topic [TEXT]",
    summary: "show the room's topic (operators: set it)",
    operator: false,
    parse: (args) => ({ type: "topic", ...optional("text", args) }),
    format: (r) => {
      const text = (r as { text?: string }).text;
      return text === undefined ? "/topic" : `/topic ${text}`;
    },
  },
  {
    name: "motd",
    request: "motd",
    aliases: [],
    usage: "/motd [TEXT]",
    summary: "show the message of the day (operators: set it)",
    operator: false,
    parse: (args) => ({ type: "motd", ...optional("text", args) }),
    format: (r) => {
      const text = (r as { text?: string }).text;
      return text === undefined ? "/motd" : `/motd ${text}`;
    },
  },
  {
    name: "pass",
    request: "pass",
    aliases: [],
    usage: "/pass PASSWORD",
    summary: "give the server password (when the server has one)",
    operator: false,
    parse: (args) =>
      args === "" ? "/pass PASSWORD" : { type: "pass", password: args },
    format: (r) => `/pass ${(r as { password: string }).password}`,
  },
  {
    name: "oper",
    request: "oper",
    aliases: [],
    usage: "/oper PASSWORD",
    summary: "become an operator",
    operator: false,
    parse: (args) =>
      args === "" ? "/oper PASSWORD" : { type: "oper", password: args },
    format: (r) => `/oper ${(r as { password: string }).password}`,
  },
  {
    name: "kick",
    request: "kick",
    aliases: [],
    usage: "/kick NICK [REASON]",
    summary: "disconnect someone",
    operator: true,
    parse: (args) => {
      const [nick, reason] = firstWord(args);
      return nick === ""
        ? "/kick NICK [REASON]"
        : { type: "kick", nick, ...optional("reason", reason) };
    },
    format: (r) => {
      const { nick, reason } = r as { nick: string; reason?: string };
      return reason === undefined ? `/kick ${nick}` : `/kick ${nick} ${reason}`;
    },
  },
  {
    name: "ban",
    request: "ban",
    aliases: [],
    usage: "/ban NICK|IP [DURATION] [REASON]",
    summary: "keep an address out, for a time like 30m, 12h or 7d, or for good",
    operator: true,
    parse: (args) => {
      const [target, rest] = firstWord(args);
      if (target === "") return "/ban NICK|IP [DURATION] [REASON]";
      const [maybeDuration, afterDuration] = firstWord(rest);
      const hasDuration = DURATION_PATTERN.test(maybeDuration);
      const reason = hasDuration ? afterDuration : rest;
      return {
        type: "ban",
        target,
        ...optional("duration", hasDuration ? maybeDuration : ""),
        ...optional("reason", reason),
      };
    },
    format: (r) => {
      const { target, duration, reason } = r as {
        target: string;
        duration?: string;
        reason?: string;
      };
      return ["/ban", target, duration, reason].filter((w) => w !== undefined)
        .join(" ");
    },
  },
  {
    name: "unban",
    request: "unban",
    aliases: [],
    usage: "/unban NICK|IP",
    summary: "lift a ban",
    operator: true,
    parse: (args) => {
      const [target, rest] = firstWord(args);
      return target === "" || rest !== ""
        ? "/unban NICK|IP"
        : { type: "unban", target };
    },
    format: (r) => `/unban ${(r as { target: string }).target}`,
  },
  {
    name: "bans",
    request: "bans",
    aliases: [],
    usage: "/bans",
    summary: "list the bans",
    operator: true,
    parse: () => ({ type: "bans" }),
    format: () => "/bans",
  },
  {
    name: "mute",
    request: "mute",
    aliases: [],
    usage: "/mute NICK",
    summary: "stop someone's messages reaching anyone",
    operator: true,
    parse: (args) => {
      const [nick, rest] = firstWord(args);
      return nick === "" || rest !== "" ? "/mute NICK" : { type: "mute", nick };
    },
    format: (r) => `/mute ${(r as { nick: string }).nick}`,
  },
  {
    name: "unmute",
    request: "unmute",
    aliases: [],
    usage: "/unmute NICK",
    summary: "let someone talk again",
    operator: true,
    parse: (args) => {
      const [nick, rest] = firstWord(args);
      return nick === "" || rest !== ""
        ? "/unmute NICK"
        : { type: "unmute", nick };
    },
    format: (r) => `/unmute ${(r as { nick: string }).nick}`,
  },
  {
    name: "history",
    request: "history",
    aliases: [],
    usage: "/history [#ROOM|@NICK] [before ID] [N]",
    summary:
      "page back through a room's messages, or your private ones with NICK",
    operator: false,
    parse: parseHistoryArgs,
    format: (r) => {
      const { room, with: other, before, limit } = r as {
        room?: string;
        with?: string;
        before?: number;
        limit?: number;
      };
      return [
        "/history",
        room,
        other === undefined ? undefined : `@${other}`,
        before === undefined ? undefined : `before ${before}`,
        limit === undefined ? undefined : String(limit),
      ].filter((w) => w !== undefined).join(" ");
    },
  },
  {
    name: "register",
    request: "register",
    aliases: [],
    usage: "/register PASSWORD",
    summary: "claim your nickname so only you can use it",
    operator: false,
    parse: (args) =>
      args === "" ? "/register PASSWORD" : { type: "register", password: args },
    format: (r) => `/register ${(r as { password: string }).password}`,
  },
  {
    name: "identify",
    request: "identify",
    aliases: [],
    usage: "/identify [NICK] PASSWORD",
    summary: "prove a registered nickname is yours",
    operator: false,
    parse: (args) => {
      const [first, rest] = firstWord(args);
      if (first === "") return "/identify [NICK] PASSWORD";
      return rest === ""
        ? { type: "identify", password: first }
        : { type: "identify", nick: first, password: rest };
    },
    format: (r) => {
      const { nick, password } = r as { nick?: string; password: string };
      return nick === undefined
        ? `/identify ${password}`
        : `/identify ${nick} ${password}`;
    },
  },
  {
    name: "drop",
    request: "drop",
    aliases: [],
    usage: "/drop [NICK]",
    summary: "release your registered nickname (operators: anyone's)",
    operator: false,
    parse: (args) => {
      const [nick, rest] = firstWord(args);
      return rest !== ""
        ? "/drop [NICK]"
        : { type: "drop", ...optional("nick", nick) };
    },
    format: (r) => {
      const nick = (r as { nick?: string }).nick;
      return nick === undefined ? "/drop" : `/drop ${nick}`;
    },
  },
  {
    name: "quit",
    request: "quit",
    aliases: ["exit"],
    usage: "/quit [REASON]",
    summary: "leave the chat",
    operator: false,
    parse: (args) => ({ type: "quit", ...optional("reason", args) }),
    format: (r) => {
      const reason = (r as { reason?: string }).reason;
      return reason === undefined ? "/quit" : `/quit ${reason}`;
    },
  },
];

/** `/who [#ROOM] [after NICK]`: a room, a cursor, both or neither. */
function parseWhoArgs(args: string): ClientRequest | string {
  const words = args.split(/\s+/).filter((word) => word !== "");
  const at = words.indexOf("after");
  const cursor = at !== -1 && at === words.length - 2 ? words[at + 1] : null;
  const rest = cursor === null ? words : words.slice(0, at);
  if (rest.length > 1) return "/who [#ROOM] [after NICK]";
  return {
    type: "who",
    ...optional("room", rest[0] ?? ""),
    ...optional("after", cursor ?? ""),
  };
}

/** Most messages one `/history` page may hold. */
export const MAX_HISTORY_PAGE = 200;

/** `/history [#ROOM|@NICK] [before ID] [N]`, in any order. */
function parseHistoryArgs(args: string): ClientRequest | string {
  const usage = "/history [#ROOM|@NICK] [before ID] [N]";
  const request: ClientRequest & { type: "history" } = { type: "history" };
  const words = args.split(/\s+/).filter((word) => word !== "");
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === "before" && /^\d+$/.test(words[i + 1] ?? "")) {
      request.before = Number(words[++i]);
    } else if (/^\d+$/.test(word) && request.limit === undefined) {
      request.limit = Math.min(Number(word), MAX_HISTORY_PAGE);
    } else if (word.startsWith("@") && word.length > 1) {
      request.with = word.slice(1);
    } else if (word.startsWith("#")) {
      request.room = word;
    } else {
      return usage;
    }
  }
  return request;
}

const commandsByName = new Map<string, CommandSyntax>(
  COMMANDS.flatMap((c) => [c.name, ...c.aliases].map((n) => [n, c])),
);

const commandsByRequest = new Map<RequestType, CommandSyntax>(
  COMMANDS.map((c) => [c.request, c]),
);

/** The `help` reply's rows, from {@linkcode COMMANDS}. */
export function commandHelp(): CommandHelp[] {
  return [
    ...COMMANDS.map(({ usage, summary, operator }) =>
      operator ? { usage, summary, operator } : { usage, summary }
    ),
    { usage: "//TEXT", summary: "send a message that starts with /" },
  ];
}

/** A ban duration: a number and a unit (seconds, minutes, hours, days). */
const DURATION_PATTERN = /^\d+[smhd]$/;

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
      `Unknown command /${word}; /help lists the commands`,
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
  return new Date(ts).toISOString().slice(11, 19);
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
    ban.until === undefined ? "permanent" : `until ${clockTime(ban.until)} UTC`,
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

/** How a room line looks in text mode; history adds the time in front. */
function roomLine(message: RoomMessage): string {
  return message.type === "message"
    ? `<${message.from}> ${message.text}`
    : `* ${message.from} ${message.text}`;
}

/**
 * Renders an event as the lines a person on `nc` reads, newline-terminated.
 * A room message is exactly `<nick> text`; everything the server says itself
 * starts with `***`, so it cannot be mistaken for a message.
 */
export function encodeTextEvent(event: ServerEvent): string {
  const notice = (text: string) => `*** ${text}\n`;
  switch (event.type) {
    case "welcome":
      return notice(
        `Welcome, ${event.nick}! You are on ${event.server}. Type /help for commands.`,
      );
    case "message":
    case "action":
      return roomLine(event) + "\n";
    case "private":
      return `*${event.from} -> ${event.to}* ${event.text}\n`;
    case "join":
    case "leave":
    case "nick":
    case "away":
    case "back":
    case "topic":
      return notice(describeNotice(event));
    case "rooms":
      return notice(
        `Rooms (${event.rooms.length}): ` +
          event.rooms.map((r) => `${r.name} (${r.members})`).join(", "),
      );
    case "who":
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
      return notice(
        `${event.room} has ${event.count} members; /who lists them a page at a time`,
      );
    case "history":
      if (event.messages.length === 0) return "";
      return notice(`Recent messages in ${event.room}:`) +
        event.messages.map((m) => `[${clockTime(m.ts)}] ${roomLine(m)}\n`)
          .join("");
    case "help": {
      const width = Math.max(...event.commands.map((c) => c.usage.length));
      return notice("Commands:") +
        event.commands.map((c) =>
          notice(
            `  ${c.usage.padEnd(width)}  ${c.summary}${
              c.operator ? " (operators)" : ""
            }`,
          )
        ).join("");
    }
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
        : notice("Message of the day:") +
          event.lines.map((line) => notice(`  ${line}`)).join("");
    case "conversation":
      if (event.messages.length === 0) {
        return notice(`No private messages with ${event.with}`);
      }
      return notice(`Private messages with ${event.with}:`) +
        event.messages.map((m) =>
          `[${clockTime(m.ts)}] *${m.from} -> ${m.to}* ${m.text}\n`
        ).join("");
    case "bans":
      return notice(
        `Bans (${event.bans.length})` + (event.bans.length === 0 ? "" : ": ") +
          event.bans.map(describeBan).join(", "),
      );
    case "bye":
      return notice(`Disconnected: ${event.reason}`);
  }
}
