/**
 * The command table: one row per request type, holding everything the
 * project knows about that request apart from what it does. The text
 * codec's parser, encoder and `/help`, the JSON decoder, and the server's
 * dispatch policy (before login? operators only? exempt from flood control?)
 * all read this one table, so adding a command is one row here and one
 * handler in the server.
 *
 * @module
 */

import { type ClientRequest, LOBBY, type RequestType } from "./events.ts";
import { checkNick } from "./names.ts";

/** The request of type `K`. */
export type RequestOf<K extends RequestType> = ClientRequest & { type: K };

/**
 * How one JSON field is read: a required string, an optional string, an
 * optional nickname (a paging cursor: an empty one or a room name would
 * silently mean "from the start", as both sort before every nickname), or
 * an optional whole number above 0, or an optional `hints` word (`commands`
 * or `requests`).
 */
export type FieldKind = "string" | "string?" | "nick?" | "count?" | "hints?";

/** How a command reads in text mode: `/name args`. */
export interface TextSyntax<K extends RequestType> {
  /** Canonical name, without the slash. */
  name: string;
  /** Other names it answers to. */
  aliases: readonly string[];
  /** The usage line `/help` shows and a bad command is answered with. */
  usage: string;
  /** One line on what it does, for `/help`. */
  summary: string;
  /**
   * Reads the words after the command (trimmed) into the request, or returns
   * the usage line when they do not fit.
   */
  parse(args: string): RequestOf<K> | string;
  /** The line a person would type for `request`. */
  format(request: RequestOf<K>): string;
}

/**
 * What the server checks before a handler runs. Every flag is a fact about
 * the request type, so dispatch applies it the same way for every command.
 */
export interface RequestPolicy<K extends RequestType> {
  /** Usable before login (besides the login requests themselves). */
  beforeLogin: boolean;
  /**
   * Whether only operators may make it: always, never, or (for settings
   * everyone may read) only when the request changes something.
   */
  operator: boolean | ((request: RequestOf<K>) => boolean);
  /** Never refused by flood control: answering a ping, and leaving. */
  floodExempt: boolean;
}

/** Everything known about one request type. */
export interface RequestSpec<K extends RequestType> {
  /** Its text-mode command; absent when text mode has none (`hello`...). */
  text?: TextSyntax<K>;
  /** Its JSON fields besides `type` and `ref`, in the order they are checked. */
  json: Readonly<Record<string, FieldKind>>;
  /** What dispatch checks before the handler runs. */
  policy: RequestPolicy<K>;
}

/** The table's type: exactly one row per request type. */
export type RequestTable = { readonly [K in RequestType]: RequestSpec<K> };

/** Splits the first word off `args`. */
function firstWord(args: string): [string, string] {
  const space = args.search(/\s/);
  return space === -1
    ? [args, ""]
    : [args.slice(0, space), args.slice(space + 1).trim()];
}

/** `{ [key]: value }` unless `value` is empty. */
function optional<K extends string>(
  key: K,
  value: string,
): Partial<Record<K, string>> {
  return value === "" ? {} : { [key]: value } as Record<K, string>;
}

/** `/name` followed by the defined words. */
function line(...words: Array<string | undefined>): string {
  return words.filter((word) => word !== undefined).join(" ");
}

/** The policy of most requests: after login, anyone, flood-controlled. */
const PLAIN: RequestPolicy<RequestType> = {
  beforeLogin: false,
  operator: false,
  floodExempt: false,
};

/** The policy of the operator-only commands. */
const OPERATOR_ONLY: RequestPolicy<RequestType> = { ...PLAIN, operator: true };

/** Readable by all; changing it needs an operator. */
const changesText = (request: { text?: string }): boolean =>
  request.text !== undefined;

/**
 * A ban duration: a whole number above zero and a unit (seconds, minutes,
 * hours, days).
 */
export const DURATION_PATTERN = /^0*[1-9]\d*[smhd]$/;

/**
 * A word an operator meant as a duration even though it is not one (`1.5h`,
 * `1H`, `30`, `90min`, `-1m`, `0s`, `2w`): read as the start of the reason it
 * would turn a short ban into a permanent one, so it is refused instead. A
 * word such as `2nd` is not a number with a unit of time and stays a reason.
 */
const DURATION_TYPO =
  /^[+-]?(\d+([.,]\d*)?|[.,]\d+)(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?|mo|mons?|months?|y|yrs?|years?)?$/i;

/**
 * The words `/who` reads as paging, never as a room: `after NICK` starts a
 * page after that nickname, and `more` (typed alone, in the terminal and
 * web clients) asks for the page after the last one shown. A room with
 * such a name is written with its `#`: `/who #after`.
 */
export const WHO_PAGING_WORDS: ReadonlySet<string> = new Set(["after", "more"]);

/** The usage line of `/who`. */
const WHO_USAGE = "/who [#ROOM] [after NICK]";

/**
 * `/who [#ROOM] [after NICK]`: a room, a cursor, both or neither. A paging
 * word where the room would be is the paging word (see
 * {@linkcode WHO_PAGING_WORDS}); anything that does not fit is answered
 * with what is wrong.
 */
function parseWhoArgs(args: string): RequestOf<"who"> | string {
  const words = args.split(/\s+/).filter((word) => word !== "");
  const request: RequestOf<"who"> = { type: "who" };
  let at = 0;
  const first = words[0];
  if (first !== undefined && !WHO_PAGING_WORDS.has(first.toLowerCase())) {
    request.room = first;
    at = 1;
  }
  const keyword = words[at];
  if (keyword === undefined) return request;
  switch (keyword.toLowerCase()) {
    case "after":
      break;
    case "more":
      return `${WHO_USAGE}: "more" is not a room (that is /who #more); ` +
        "/who more goes on from the last page in the terminal and web " +
        "clients, and every page ends with the command for the next";
    default:
      return `${WHO_USAGE}: one room, then only "after NICK"`;
  }
  const cursor = words[at + 1];
  if (cursor === undefined) {
    return `${WHO_USAGE}: after needs the nickname the last page ended at ` +
      "(a room called after is /who #after)";
  }
  if (cursor.startsWith("#")) {
    return `${WHO_USAGE}: after takes a nickname; the room comes first, ` +
      `as in /who ${cursor} after NICK`;
  }
  const nick = checkNick(cursor);
  if (!nick.ok) {
    return `${WHO_USAGE}: after takes the nickname the last page ended at ` +
      `(${nick.reason})`;
  }
  if (words.length > at + 2) {
    return `${WHO_USAGE}: nothing goes after the nickname`;
  }
  request.after = cursor;
  return request;
}

/**
 * A room as `/who` must be given it: with its `#` when its bare name is a
 * paging word, which would otherwise be read as that word.
 */
function whoRoomWord(room: string): string {
  return WHO_PAGING_WORDS.has(room.toLowerCase()) ? `#${room}` : room;
}

/**
 * Most messages one `/history` page may hold. Part of the protocol (the text
 * parser refuses a count above it, a JSON `limit` above it reads as it), so a
 * constant; `--history-page` sets the default page below it.
 */
export const MAX_HISTORY_PAGE = 200;

/** `/history [#ROOM|@NICK] [before ID] [N]`, in any order. */
function parseHistoryArgs(args: string): RequestOf<"history"> | string {
  const usage = "/history [#ROOM|@NICK] [before ID] [N]";
  const request: RequestOf<"history"> = { type: "history" };
  const words = args.split(/\s+/).filter((word) => word !== "");
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === "before" && /^\d+$/.test(words[i + 1] ?? "")) {
      // A message id is a safe integer, as in JSON mode: a longer run of
      // digits would page from 1e+23.
      const id = Number(words[++i]);
      if (!Number.isSafeInteger(id) || id === 0) {
        return `${usage}: ID is a message id, as /history pages end with`;
      }
      if (request.before !== undefined) {
        return `${usage}: one "before ID" at a time`;
      }
      request.before = id;
    } else if (
      /^\d+$/.test(word) &&
      (/^0+$/.test(word) || Number(word) > MAX_HISTORY_PAGE)
    ) {
      // Refused both ways, as the message says: a count past the maximum
      // was read as the maximum, though 0 was refused with this range.
      return `${usage}: N is how many messages, from 1 to ${MAX_HISTORY_PAGE}`;
    } else if (/^\d+$/.test(word) && request.limit === undefined) {
      request.limit = Number(word);
    } else if (
      (word.startsWith("#") || word.startsWith("@")) &&
      (request.room !== undefined || request.with !== undefined)
    ) {
      // One place at a time: a second one was silently used instead.
      return `${usage}: one room or one nickname at a time`;
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

/** `/ban NICK|IP [DURATION] [REASON]`. */
function parseBanArgs(args: string): RequestOf<"ban"> | string {
  const [target, rest] = firstWord(args);
  if (target === "") return "/ban NICK|IP [DURATION] [REASON]";
  const [maybeDuration, afterDuration] = firstWord(rest);
  const hasDuration = DURATION_PATTERN.test(maybeDuration);
  if (!hasDuration && DURATION_TYPO.test(maybeDuration)) {
    return `/ban NICK|IP [DURATION] [REASON]: "${maybeDuration}" is not a duration like 30s, 10m, 12h or 7d (a whole number and s, m, h or d); nobody was banned`;
  }
  return {
    type: "ban",
    target,
    ...optional("duration", hasDuration ? maybeDuration : ""),
    ...optional("reason", hasDuration ? afterDuration : rest),
  };
}

/**
 * Every request, one row each; text commands in the order `/help` lists
 * them. `satisfies` makes a missing or extra request type a compile error.
 */
export const REQUESTS = {
  hello: {
    json: {
      nick: "string",
      room: "string?",
      password: "string?",
      identify: "string?",
      hints: "hints?",
    },
    policy: { ...PLAIN, beforeLogin: true },
  },
  message: { json: { text: "string", room: "string?" }, policy: PLAIN },
  pong: {
    json: { token: "string" },
    policy: { ...PLAIN, beforeLogin: true, floodExempt: true },
  },
  help: {
    text: {
      name: "help",
      aliases: ["?"],
      usage: "/help [COMMAND]",
      summary: "list the commands, or explain one",
      parse: (args) => {
        const [command, rest] = firstWord(args);
        return rest !== ""
          ? "/help [COMMAND]"
          : { type: "help", ...optional("command", command) };
      },
      format: (r) => line("/help", r.command),
    },
    json: { command: "string?" },
    policy: { ...PLAIN, beforeLogin: true },
  },
  nick: {
    text: {
      name: "nick",
      aliases: [],
      usage: "/nick NEW",
      summary: "change your nickname",
      parse: (args) => {
        const [nick, rest] = firstWord(args);
        return nick === "" || rest !== ""
          ? "/nick NEW"
          : { type: "nick", nick };
      },
      format: (r) => `/nick ${r.nick}`,
    },
    json: { nick: "string" },
    policy: PLAIN,
  },
  join: {
    text: {
      name: "join",
      aliases: ["j"],
      usage: "/join #ROOM",
      summary:
        "join a room (creating it if new) and talk there; you stay in the others",
      parse: (args) => {
        const [room, rest] = firstWord(args);
        return room === "" || rest !== ""
          ? "/join #ROOM"
          : { type: "join", room };
      },
      format: (r) => `/join ${r.room}`,
    },
    json: { room: "string" },
    policy: PLAIN,
  },
  switch: {
    text: {
      name: "switch",
      aliases: ["sw"],
      usage: "/switch #ROOM",
      summary: "talk in another of your rooms (nobody is told)",
      parse: (args) => {
        const [room, rest] = firstWord(args);
        return room === "" || rest !== ""
          ? "/switch #ROOM"
          : { type: "switch", room };
      },
      format: (r) => `/switch ${r.room}`,
    },
    json: { room: "string" },
    policy: PLAIN,
  },
  part: {
    text: {
      name: "part",
      aliases: ["leave"],
      usage: "/part [#ROOM]",
      summary:
        `leave a room (default: the current one); leaving your last takes you to ${LOBBY}`,
      parse: (args) => {
        const [room, rest] = firstWord(args);
        return rest !== "" ? "/part [#ROOM]" : {
          type: "part",
          ...optional("room", room),
        };
      },
      format: (r) => line("/part", r.room),
    },
    json: { room: "string?" },
    policy: PLAIN,
  },
  rooms: {
    text: {
      name: "rooms",
      aliases: ["list"],
      usage: "/rooms",
      summary: "list the rooms, how many are in each, and which are yours",
      parse: () => ({ type: "rooms" }),
      format: () => "/rooms",
    },
    json: {},
    policy: PLAIN,
  },
  who: {
    text: {
      name: "who",
      aliases: ["names"],
      usage: WHO_USAGE,
      summary:
        "list who is in the current room (or another), a page at a time in a big room",
      parse: parseWhoArgs,
      format: (r) =>
        line(
          "/who",
          r.room === undefined ? undefined : whoRoomWord(r.room),
          r.after === undefined ? undefined : `after ${r.after}`,
        ),
    },
    json: { room: "string?", after: "nick?", limit: "count?" },
    policy: PLAIN,
  },
  private: {
    text: {
      name: "msg",
      aliases: ["m", "tell"],
      usage: "/msg NICK TEXT",
      summary: "send a private message",
      parse: (args) => {
        const [to, text] = firstWord(args);
        return to === "" || text === ""
          ? "/msg NICK TEXT"
          : { type: "private", to, text };
      },
      format: (r) => `/msg ${r.to} ${r.text}`,
    },
    json: { to: "string", text: "string" },
    policy: PLAIN,
  },
  action: {
    text: {
      name: "me",
      aliases: [],
      usage: "/me ACTION",
      summary: "describe what you are doing",
      parse: (args) =>
        args === "" ? "/me ACTION" : { type: "action", text: args },
      format: (r) => `/me ${r.text}`,
    },
    json: { text: "string", room: "string?" },
    policy: PLAIN,
  },
  away: {
    text: {
      name: "away",
      aliases: [],
      usage: "/away [REASON]",
      summary: "mark yourself away",
      parse: (args) => ({ type: "away", ...optional("reason", args) }),
      format: (r) => line("/away", r.reason),
    },
    json: { reason: "string?" },
    policy: PLAIN,
  },
  back: {
    text: {
      name: "back",
      aliases: [],
      usage: "/back",
      summary: "mark yourself back",
      parse: () => ({ type: "back" }),
      format: () => "/back",
    },
    json: {},
    policy: PLAIN,
  },
  ping: {
    text: {
      name: "ping",
      aliases: [],
      usage: "/ping",
      summary: "check that the server answers",
      parse: (args) => ({ type: "ping", ...optional("token", args) }),
      format: (r) => line("/ping", r.token),
    },
    json: { token: "string?" },
    policy: { ...PLAIN, beforeLogin: true },
  },
  topic: {
    text: {
      name: "topic",
      aliases: [],
      usage: "/topic [TEXT]",
      summary: "show the current room's topic (operators: set it)",
      parse: (args) => ({ type: "topic", ...optional("text", args) }),
      format: (r) => line("/topic", r.text),
    },
    json: { text: "string?", room: "string?" },
    policy: { ...PLAIN, operator: changesText },
  },
  motd: {
    text: {
      name: "motd",
      aliases: [],
      usage: "/motd [TEXT]",
      summary: "show the message of the day (operators: set it)",
      parse: (args) => ({ type: "motd", ...optional("text", args) }),
      format: (r) => line("/motd", r.text),
    },
    json: { text: "string?" },
    policy: { ...PLAIN, operator: changesText },
  },
  pass: {
    text: {
      name: "pass",
      aliases: [],
      usage: "/pass PASSWORD",
      summary: "give the server password (when the server has one)",
      parse: (args) =>
        args === "" ? "/pass PASSWORD" : { type: "pass", password: args },
      format: (r) => `/pass ${r.password}`,
    },
    json: { password: "string" },
    policy: { ...PLAIN, beforeLogin: true },
  },
  oper: {
    text: {
      name: "oper",
      aliases: [],
      usage: "/oper PASSWORD",
      summary: "become an operator",
      parse: (args) =>
        args === "" ? "/oper PASSWORD" : { type: "oper", password: args },
      format: (r) => `/oper ${r.password}`,
    },
    json: { password: "string" },
    policy: PLAIN,
  },
  kick: {
    text: {
      name: "kick",
      aliases: [],
      usage: "/kick NICK [REASON]",
      summary: "disconnect someone",
      parse: (args) => {
        const [nick, reason] = firstWord(args);
        return nick === ""
          ? "/kick NICK [REASON]"
          : { type: "kick", nick, ...optional("reason", reason) };
      },
      format: (r) => line("/kick", r.nick, r.reason),
    },
    json: { nick: "string", reason: "string?" },
    policy: OPERATOR_ONLY,
  },
  ban: {
    text: {
      name: "ban",
      aliases: [],
      usage: "/ban NICK|IP [DURATION] [REASON]",
      summary:
        "keep an address out, for a time like 30m, 12h or 7d, or for good",
      parse: parseBanArgs,
      format: (r) => line("/ban", r.target, r.duration, r.reason),
    },
    json: { target: "string", duration: "string?", reason: "string?" },
    policy: OPERATOR_ONLY,
  },
  unban: {
    text: {
      name: "unban",
      aliases: [],
      usage: "/unban NICK|IP",
      summary: "lift a ban",
      parse: (args) => {
        const [target, rest] = firstWord(args);
        return target === "" || rest !== ""
          ? "/unban NICK|IP"
          : { type: "unban", target };
      },
      format: (r) => `/unban ${r.target}`,
    },
    json: { target: "string" },
    policy: OPERATOR_ONLY,
  },
  bans: {
    text: {
      name: "bans",
      aliases: [],
      usage: "/bans",
      summary: "list the bans",
      parse: () => ({ type: "bans" }),
      format: () => "/bans",
    },
    json: {},
    policy: OPERATOR_ONLY,
  },
  mute: {
    text: {
      name: "mute",
      aliases: [],
      usage: "/mute NICK",
      summary: "stop someone's messages reaching anyone",
      parse: (args) => {
        const [nick, rest] = firstWord(args);
        return nick === "" || rest !== ""
          ? "/mute NICK"
          : { type: "mute", nick };
      },
      format: (r) => `/mute ${r.nick}`,
    },
    json: { nick: "string" },
    policy: OPERATOR_ONLY,
  },
  unmute: {
    text: {
      name: "unmute",
      aliases: [],
      usage: "/unmute NICK",
      summary: "let someone talk again",
      parse: (args) => {
        const [nick, rest] = firstWord(args);
        return nick === "" || rest !== ""
          ? "/unmute NICK"
          : { type: "unmute", nick };
      },
      format: (r) => `/unmute ${r.nick}`,
    },
    json: { nick: "string" },
    policy: OPERATOR_ONLY,
  },
  history: {
    text: {
      name: "history",
      aliases: [],
      usage: "/history [#ROOM|@NICK] [before ID] [N]",
      summary:
        "page back through a room's messages, or your private ones with NICK",
      parse: parseHistoryArgs,
      format: (r) =>
        line(
          "/history",
          r.room,
          r.with === undefined ? undefined : `@${r.with}`,
          r.before === undefined ? undefined : `before ${r.before}`,
          r.limit === undefined ? undefined : String(r.limit),
        ),
    },
    json: {
      room: "string?",
      with: "string?",
      before: "count?",
      limit: "count?",
    },
    policy: PLAIN,
  },
  register: {
    text: {
      name: "register",
      aliases: [],
      usage: "/register PASSWORD",
      summary: "claim your nickname so only you can use it",
      parse: (args) =>
        args === ""
          ? "/register PASSWORD"
          : { type: "register", password: args },
      format: (r) => `/register ${r.password}`,
    },
    json: { password: "string" },
    policy: PLAIN,
  },
  identify: {
    text: {
      name: "identify",
      aliases: [],
      usage: "/identify [NICK] PASSWORD",
      summary: "prove a registered nickname is yours",
      parse: (args) => {
        const [first, rest] = firstWord(args);
        if (first === "") return "/identify [NICK] PASSWORD";
        return rest === ""
          ? { type: "identify", password: first }
          : { type: "identify", nick: first, password: rest };
      },
      format: (r) => line("/identify", r.nick, r.password),
    },
    json: { password: "string", nick: "string?" },
    policy: { ...PLAIN, beforeLogin: true },
  },
  drop: {
    text: {
      name: "drop",
      aliases: [],
      usage: "/drop [NICK]",
      summary: "release your registered nickname (operators: anyone's)",
      parse: (args) => {
        const [nick, rest] = firstWord(args);
        return rest !== ""
          ? "/drop [NICK]"
          : { type: "drop", ...optional("nick", nick) };
      },
      format: (r) => line("/drop", r.nick),
    },
    json: { nick: "string?" },
    policy: PLAIN,
  },
  setpass: {
    text: {
      name: "setpass",
      aliases: [],
      usage: "/setpass NEWPASSWORD",
      summary: "change the password of the nickname you are identified to",
      parse: (args) =>
        args === ""
          ? "/setpass NEWPASSWORD"
          : { type: "setpass", password: args },
      format: (r) => `/setpass ${r.password}`,
    },
    json: { password: "string" },
    policy: PLAIN,
  },
  quit: {
    text: {
      name: "quit",
      aliases: ["exit"],
      usage: "/quit [REASON]",
      summary: "leave the chat",
      parse: (args) => ({ type: "quit", ...optional("reason", args) }),
      format: (r) => line("/quit", r.reason),
    },
    json: { reason: "string?" },
    policy: { ...PLAIN, beforeLogin: true, floodExempt: true },
  },
} satisfies RequestTable;

/** The row for `type`, typed for it. */
export function requestSpec<K extends RequestType>(type: K): RequestSpec<K> {
  return (REQUESTS as RequestTable)[type];
}

/** Whether `type` names a request (an own key of the table, not `__proto__`). */
export function isRequestType(type: unknown): type is RequestType {
  return typeof type === "string" && Object.hasOwn(REQUESTS, type);
}

/** Whether `request` needs the operator role, by its row's policy. */
export function needsOperator<K extends RequestType>(
  request: RequestOf<K>,
): boolean {
  const operator = requestSpec(request.type as K).policy.operator;
  return typeof operator === "function" ? operator(request) : operator;
}
