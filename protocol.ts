/**
 * The wire protocol that the server, the terminal client and bots agree on:
 * line framing over a byte stream, the typed events in both directions, and
 * the two codecs (plain text for people on `nc`/`telnet`, JSON lines for
 * programs). Pure: nothing here touches a socket, so every rule is tested
 * with plain bytes and objects.
 *
 * # Layout
 * - {@linkcode LineFramer}: bytes in, whole lines out, never holding more than
 *   one maximum-length line.
 * - {@linkcode sanitizeText}: what may reach another person's terminal.
 * - {@linkcode ClientRequest} / {@linkcode ServerEvent}: the event model both
 *   codecs share.
 * - Text codec: {@linkcode decodeTextRequest}, {@linkcode encodeTextRequest},
 *   {@linkcode encodeTextEvent}.
 * - JSON codec: {@linkcode decodeJsonRequest}, {@linkcode encodeJsonRequest},
 *   {@linkcode decodeJsonEvent}, {@linkcode encodeJsonEvent}.
 *
 * @module
 */

/** Version of the JSON protocol, sent in `welcome` so bots can check it. */
export const PROTOCOL_VERSION = 1;

/**
 * Longest line accepted from a peer, in bytes without the newline. Mature line
 * servers cap a control line at 4 KiB (NATS), so a hostile peer cannot make the
 * server buffer without bound.
 * @default {4096}
 */
export const DEFAULT_MAX_LINE_BYTES = 4096;

/** The room every connection starts in, and returns to on `/part`. */
export const LOBBY = "#lobby";

// ---------------------------------------------------------------------------
// Framing

/** One unit the framer produces: a decoded line, or notice of a discarded one. */
export type Frame =
  | { kind: "line"; text: string }
  | { kind: "too_long"; limit: number };

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into lines on LF (an optional CR before it is
 * dropped), decoding each whole line as UTF-8 so a character split across two
 * reads is never decoded in halves; invalid bytes become U+FFFD.
 *
 * A line longer than `maxLineBytes` yields one `too_long` frame as soon as the
 * limit is passed, and the rest of it is discarded up to its newline without
 * being buffered: the framer never holds more than `maxLineBytes` bytes.
 *
 * @example Lines split across reads
 * ```ts
 * import assert from "node:assert/strict";
 * import { LineFramer } from "./protocol.ts";
 * const framer = new LineFramer(64);
 * const bytes = new TextEncoder().encode("hel");
 * assert.deepEqual(framer.push(bytes), []);
 * assert.deepEqual(framer.push(new TextEncoder().encode("lo\r\nx\n")), [
 *   { kind: "line", text: "hello" },
 *   { kind: "line", text: "x" },
 * ]);
 * ```
 */
export class LineFramer {
  readonly maxLineBytes: number;
  #pending: Uint8Array | null = null;
  #pendingLength = 0;
  #discarding = false;
  static readonly #decoder = new TextDecoder("utf-8", { ignoreBOM: false });

  /** @param maxLineBytes longest accepted line, without its newline */
  constructor(maxLineBytes: number = DEFAULT_MAX_LINE_BYTES) {
    this.maxLineBytes = maxLineBytes;
  }

  /** Bytes held for an unfinished line; bounded by `maxLineBytes`. */
  get bufferedBytes(): number {
    return this.#pendingLength;
  }

  /** Feeds one chunk read from the peer; returns the frames it completes. */
  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(LF, start);
      const end = newline === -1 ? chunk.length : newline;
      if (this.#discarding) {
        if (newline !== -1) this.#discarding = false;
      } else if (this.#pendingLength + (end - start) > this.maxLineBytes + 1) {
        // +1 leaves room for the CR of a CRLF that lands exactly at the limit.
        this.#dropPending();
        frames.push({ kind: "too_long", limit: this.maxLineBytes });
        if (newline === -1) this.#discarding = true;
      } else if (newline === -1) {
        this.#append(chunk.subarray(start, end));
      } else {
        const line = this.#takeLine(chunk.subarray(start, end));
        if (line === null) {
          frames.push({ kind: "too_long", limit: this.maxLineBytes });
        } else {
          frames.push({ kind: "line", text: line });
        }
      }
      start = newline === -1 ? chunk.length : newline + 1;
    }
    return frames;
  }

  /**
   * Ends the stream: a final line without a newline is still delivered, as a
   * pipe into `nc` often omits the last newline.
   */
  end(): Frame[] {
    if (this.#discarding || this.#pendingLength === 0) {
      this.#discarding = false;
      this.#dropPending();
      return [];
    }
    const line = this.#takeLine(new Uint8Array(0));
    return line === null ? [] : [{ kind: "line", text: line }];
  }

  #append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#pending ??= new Uint8Array(this.maxLineBytes + 1);
    this.#pending.set(bytes, this.#pendingLength);
    this.#pendingLength += bytes.length;
  }

  /** Joins the pending bytes with `tail`, strips one trailing CR, decodes. */
  #takeLine(tail: Uint8Array): string | null {
    let bytes = tail;
    if (this.#pendingLength > 0 && this.#pending) {
      this.#append(tail);
      bytes = this.#pending.subarray(0, this.#pendingLength);
    }
    let length = bytes.length;
    if (length > 0 && bytes[length - 1] === CR) length--;
    const text = length > this.maxLineBytes
      ? null
      : LineFramer.#decoder.decode(bytes.subarray(0, length));
    this.#dropPending();
    return text;
  }

  #dropPending(): void {
    this.#pendingLength = 0;
    // A long line's buffer is released so idle connections stay small.
    this.#pending = null;
  }
}

// ---------------------------------------------------------------------------
// Sanitizing

/**
 * ANSI/VT escape sequences: CSI (`ESC [` or the 8-bit U+009B), OSC (`ESC ]`
 * up to BEL or ST), DCS/SOS/PM/APC strings, and two-character escapes.
 */
const ESCAPE_SEQUENCE =
  // deno-lint-ignore no-control-regex -- matching escapes is the point
  /\x1b\[[0-?]*[ -/]*[@-~]?|\x9b[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?|\x1b[ -~]?/g;

/** Whitespace controls that become a plain space rather than vanish. */
const CONTROL_WHITESPACE = /[\t\n\v\f\r\u0085\u2028\u2029]/g;

/**
 * Other control characters, and the bidirectional overrides, embeddings and
 * isolates that can reorder what a reader sees (CVE-2021-42574). Zero-width
 * joiners stay: emoji sequences and several scripts need them.
 */
const INVISIBLE_CONTROLS =
  /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufff9-\ufffb]/gu;

/**
 * Makes text safe to print on another person's terminal: escape sequences and
 * control characters are removed, line breaks and tabs become spaces, and
 * surrounding whitespace is trimmed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sanitizeText } from "./protocol.ts";
 * assert.equal(sanitizeText("\x1b[2Jhi\x07 there\n"), "hi there");
 * ```
 */
export function sanitizeText(text: string): string {
  return text
    .replace(ESCAPE_SEQUENCE, "")
    .replace(CONTROL_WHITESPACE, " ")
    .replace(INVISIBLE_CONTROLS, "")
    .trim();
}

// ---------------------------------------------------------------------------
// The event model

/** Stable machine-readable reasons carried by every `error` event. */
export type ErrorCode =
  | "line_too_long"
  | "bad_json"
  | "bad_request"
  | "unknown_type"
  | "unknown_command"
  | "usage"
  | "not_ready"
  | "nick_invalid"
  | "nick_taken"
  | "room_invalid"
  | "no_such_nick"
  | "already_there"
  | "bad_password"
  | "not_permitted"
  | "muted"
  | "rate_limited"
  | "full"
  | "internal";

/** Why somebody left a room. */
export type LeaveReason =
  | "part"
  | "quit"
  | "lost"
  | "kicked"
  | "banned"
  | "flood"
  | "slow"
  | "timeout"
  | "shutdown";

/** A room line as stored in history and delivered live. */
export interface RoomMessage {
  type: "message" | "action";
  /** Server-assigned, increasing over the server's life. */
  id: number;
  /** Server time, milliseconds since the epoch. */
  ts: number;
  room: string;
  from: string;
  text: string;
}

/** One row of a `rooms` reply. */
export interface RoomSummary {
  name: string;
  members: number;
}

/** One row of a `who` reply. */
export interface MemberSummary {
  nick: string;
  /** Present when the member is away; may be empty when no reason was given. */
  away?: string;
  /** Present (true) when the member is an operator. */
  op?: boolean;
}

/** One row of a `bans` reply. */
export interface BanSummary {
  /** The banned IP address. */
  address: string;
  /** The nickname that was using it, when the ban was by nickname. */
  nick?: string;
  /** When the ban ends, in milliseconds since the epoch; absent if never. */
  until?: number;
  reason?: string;
}

/** One row of the `help` reply. */
export interface CommandHelp {
  usage: string;
  summary: string;
  /** Present (true) for commands only operators may use. */
  operator?: boolean;
}

/**
 * Everything a client may ask of the server. In JSON mode each is one object
 * per line; in text mode a plain line is a `message` and `/commands` map onto
 * the rest. `ref` is chosen by the client and echoed on the direct reply.
 */
export type ClientRequest =
  | {
    type: "hello";
    nick: string;
    room?: string;
    password?: string;
    ref?: string;
  }
  | { type: "pass"; password: string; ref?: string }
  | { type: "message"; text: string; ref?: string }
  | { type: "action"; text: string; ref?: string }
  | { type: "private"; to: string; text: string; ref?: string }
  | { type: "nick"; nick: string; ref?: string }
  | { type: "join"; room: string; ref?: string }
  | { type: "part"; ref?: string }
  | { type: "rooms"; ref?: string }
  | { type: "who"; room?: string; ref?: string }
  | { type: "away"; reason?: string; ref?: string }
  | { type: "back"; ref?: string }
  | { type: "help"; ref?: string }
  | { type: "quit"; reason?: string; ref?: string }
  | { type: "ping"; token?: string; ref?: string }
  | { type: "pong"; token: string; ref?: string }
  | { type: "oper"; password: string; ref?: string }
  | { type: "kick"; nick: string; reason?: string; ref?: string }
  | {
    type: "ban";
    target: string;
    duration?: string;
    reason?: string;
    ref?: string;
  }
  | { type: "unban"; target: string; ref?: string }
  | { type: "bans"; ref?: string }
  | { type: "mute"; nick: string; ref?: string }
  | { type: "unmute"; nick: string; ref?: string }
  | { type: "topic"; text?: string; ref?: string }
  | { type: "motd"; text?: string; ref?: string };

/** The `type` of every request, for exhaustive tables. */
export type RequestType = ClientRequest["type"];

/** An error reply: the value a bad line or a refused request becomes. */
export interface ErrorEvent {
  type: "error";
  code: ErrorCode;
  message: string;
  ref?: string;
}

/** Everything the server sends. Encoded once per codec however many receive it. */
export type ServerEvent =
  | {
    type: "welcome";
    nick: string;
    server: string;
    version: number;
    ref?: string;
  }
  | RoomMessage
  | {
    type: "private";
    id: number;
    ts: number;
    from: string;
    to: string;
    text: string;
  }
  | { type: "join"; ts: number; room: string; nick: string }
  | {
    type: "leave";
    ts: number;
    room: string;
    nick: string;
    reason: LeaveReason;
    message?: string;
  }
  | { type: "nick"; ts: number; room: string; old: string; nick: string }
  | { type: "away"; ts: number; room: string; nick: string; reason: string }
  | { type: "back"; ts: number; room: string; nick: string }
  | { type: "rooms"; rooms: RoomSummary[]; ref?: string }
  | { type: "who"; room: string; members: MemberSummary[]; ref?: string }
  | { type: "history"; room: string; messages: RoomMessage[]; ref?: string }
  | { type: "help"; commands: CommandHelp[]; ref?: string }
  | { type: "notice"; text: string; ref?: string }
  | ErrorEvent
  | { type: "pong"; token?: string; ref?: string }
  | { type: "ping"; token: string }
  | {
    type: "topic";
    room: string;
    topic: string;
    by?: string;
    ts?: number;
    ref?: string;
  }
  | { type: "motd"; lines: string[]; ref?: string }
  | { type: "bans"; bans: BanSummary[]; ref?: string }
  | { type: "bye"; reason: string };

/** The `type` of every event, for exhaustive tables. */
export type EventType = ServerEvent["type"];

/** Builds an error event. */
export function errorEvent(
  code: ErrorCode,
  message: string,
  ref?: string,
): ErrorEvent {
  return ref === undefined ? { type: "error", code, message } : {
    type: "error",
    code,
    message,
    ref,
  };
}

// ---------------------------------------------------------------------------
// Commands (the text-mode surface; JSON requests mirror them one to one)

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
    usage: "/who [#ROOM]",
    summary: "list who is in the current room (or another)",
    operator: false,
    parse: (args) => {
      const [room, rest] = firstWord(args);
      return rest !== ""
        ? "/who [#ROOM]"
        : { type: "who", ...optional("room", room) };
    },
    format: (r) => {
      const room = (r as { room?: string }).room;
      return room === undefined ? "/who" : `/who ${room}`;
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
export const DURATION_PATTERN = /^\d+[smhd]$/;

/** Milliseconds in a duration such as `30m`; undefined if it is not one. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION_PATTERN.test(text)) return undefined;
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    text.at(-1) as "s" | "m" | "h" | "d"
  ];
  return Number(text.slice(0, -1)) * unit;
}

// ---------------------------------------------------------------------------
// Text codec

/**
 * Reads one text-mode line: a plain line is a room message, `/word ...` a
 * command, `//...` a message starting with a slash. Blank lines give `null`
 * (ignored, as every chat server does); a bad command gives an error event.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeTextRequest } from "./protocol.ts";
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
export const LEAVE_WORDS: Readonly<Record<LeaveReason, string>> = {
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
      return notice(`${event.nick} joined ${event.room}`);
    case "leave": {
      if (event.reason === "part") {
        return notice(`${event.nick} left ${event.room}`);
      }
      const detail = event.message ? `: ${event.message}` : "";
      return notice(
        `${event.nick} left ${event.room} (${
          LEAVE_WORDS[event.reason]
        }${detail})`,
      );
    }
    case "nick":
      return notice(`${event.old} is now known as ${event.nick}`);
    case "away":
      return notice(
        `${event.nick} is away${event.reason ? `: ${event.reason}` : ""}`,
      );
    case "back":
      return notice(`${event.nick} is back`);
    case "rooms":
      return notice(
        `Rooms (${event.rooms.length}): ` +
          event.rooms.map((r) => `${r.name} (${r.members})`).join(", "),
      );
    case "who":
      return notice(
        `${event.room} (${event.members.length}): ` +
          event.members.map((m) =>
            (m.op ? "@" : "") + m.nick +
            (m.away === undefined
              ? ""
              : ` (away${m.away ? `: ${m.away}` : ""})`)
          ).join(", "),
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
    case "topic":
      return notice(
        event.topic === ""
          ? `${event.room} has no topic`
          : `Topic for ${event.room}: ${event.topic}${
            event.by ? ` (set by ${event.by})` : ""
          }`,
      );
    case "motd":
      return event.lines.length === 0
        ? notice("There is no message of the day")
        : notice("Message of the day:") +
          event.lines.map((line) => notice(`  ${line}`)).join("");
    case "bans":
      return notice(
        `Bans (${event.bans.length})` + (event.bans.length === 0 ? "" : ": ") +
          event.bans.map(describeBan).join(", "),
      );
    case "bye":
      return notice(`Disconnected: ${event.reason}`);
  }
}

// ---------------------------------------------------------------------------
// JSON codec

/** A parsed JSON value narrowed to a plain object. */
type JsonObject = Record<string, unknown>;

/** Parses a line that must hold one JSON object. */
function parseObject(
  line: string,
): { ok: true; value: JsonObject } | { ok: false; error: ErrorEvent } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return {
      ok: false,
      error: errorEvent("bad_json", "Cannot parse line: not valid JSON"),
    };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return {
      ok: false,
      error: errorEvent("bad_request", "Cannot accept request: not an object"),
    };
  }
  return { ok: true, value: value as JsonObject };
}

/** Field readers that collect the first problem instead of throwing. */
class FieldReader {
  problem: string | null = null;
  constructor(private readonly source: JsonObject) {}

  string(key: string): string {
    const value = this.source[key];
    if (typeof value === "string") return value;
    this.problem ??= `"${key}" must be a string`;
    return "";
  }

  optionalString(key: string): string | undefined {
    const value = this.source[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value === "string") return value;
    this.problem ??= `"${key}" must be a string when present`;
    return undefined;
  }
}

/** Copies `value` into `target[key]` only when it is defined. */
function withOptional<T extends object>(
  target: T,
  key: string,
  value: string | undefined,
): T {
  if (value !== undefined) (target as Record<string, unknown>)[key] = value;
  return target;
}

/**
 * Reads one JSON-mode line into a request, validating every field; a bad line
 * becomes an error event naming the problem (and echoing `ref` when it could
 * be read), never an exception.
 */
export function decodeJsonRequest(line: string): ClientRequest | ErrorEvent {
  const parsed = parseObject(line);
  if (!parsed.ok) return parsed.error;
  const source = parsed.value;
  const fields = new FieldReader(source);
  const ref = fields.optionalString("ref");
  const type = source.type;
  let request: ClientRequest;
  switch (type) {
    case "hello":
      request = withOptional(
        withOptional(
          { type, nick: fields.string("nick") },
          "room",
          fields.optionalString("room"),
        ),
        "password",
        fields.optionalString("password"),
      );
      break;
    case "pass":
    case "oper":
      request = { type, password: fields.string("password") };
      break;
    case "pong":
      request = { type, token: fields.string("token") };
      break;
    case "kick":
      request = withOptional(
        { type, nick: fields.string("nick") },
        "reason",
        fields.optionalString("reason"),
      );
      break;
    case "ban":
      request = withOptional(
        withOptional(
          { type, target: fields.string("target") },
          "duration",
          fields.optionalString("duration"),
        ),
        "reason",
        fields.optionalString("reason"),
      );
      break;
    case "unban":
      request = { type, target: fields.string("target") };
      break;
    case "mute":
    case "unmute":
      request = { type, nick: fields.string("nick") };
      break;
    case "topic":
    case "motd":
      request = withOptional({ type }, "text", fields.optionalString("text"));
      break;
    case "message":
    case "action":
      request = { type, text: fields.string("text") };
      break;
    case "private":
      request = { type, to: fields.string("to"), text: fields.string("text") };
      break;
    case "nick":
      request = { type, nick: fields.string("nick") };
      break;
    case "join":
      request = { type, room: fields.string("room") };
      break;
    case "who":
      request = withOptional({ type }, "room", fields.optionalString("room"));
      break;
    case "away":
    case "quit":
      request = withOptional(
        { type },
        "reason",
        fields.optionalString("reason"),
      );
      break;
    case "ping":
      request = withOptional({ type }, "token", fields.optionalString("token"));
      break;
    case "part":
    case "rooms":
    case "back":
    case "help":
    case "bans":
      request = { type };
      break;
    default:
      return errorEvent(
        typeof type === "string" ? "unknown_type" : "bad_request",
        typeof type === "string"
          ? `Unknown request type "${type.slice(0, 32)}"`
          : `Cannot accept request: "type" must be a string`,
        ref,
      );
  }
  if (fields.problem !== null) {
    return errorEvent("bad_request", `Bad ${type}: ${fields.problem}`, ref);
  }
  return withOptional(request, "ref", ref);
}

/** Writes a request as one JSON line, newline-terminated. */
export function encodeJsonRequest(request: ClientRequest): string {
  return JSON.stringify(request) + "\n";
}

/** Writes an event as one JSON line, newline-terminated. */
export function encodeJsonEvent(event: ServerEvent): string {
  return JSON.stringify(event) + "\n";
}

const EVENT_TYPES: ReadonlySet<string> = new Set<EventType>([
  "welcome",
  "message",
  "action",
  "private",
  "join",
  "leave",
  "nick",
  "away",
  "back",
  "rooms",
  "who",
  "history",
  "help",
  "notice",
  "error",
  "pong",
  "ping",
  "topic",
  "motd",
  "bans",
  "bye",
]);

/**
 * Reads one JSON line from the server. Lines that are not JSON objects of a
 * known event type (the text greeting a server sends before `hello`, or an
 * event from a newer server) give `null`, so a client can skip them.
 */
export function decodeJsonEvent(line: string): ServerEvent | null {
  if (!line.startsWith("{")) return null;
  const parsed = parseObject(line);
  if (!parsed.ok) return null;
  const source = parsed.value;
  if (typeof source.type !== "string" || !EVENT_TYPES.has(source.type)) {
    return null;
  }
  return source as unknown as ServerEvent;
}

// ---------------------------------------------------------------------------
// Encoding once per codec

/** Which of the two codecs a connection speaks. */
export type Codec = "text" | "json";

/** Encodes an event with either codec. */
export function encodeEvent(event: ServerEvent, codec: Codec): string {
  return codec === "json" ? encodeJsonEvent(event) : encodeTextEvent(event);
}

const encoder = new TextEncoder();

/**
 * An event with its bytes for each codec, computed on first use and shared by
 * every recipient: a broadcast to a thousand people encodes at most twice.
 */
export class EncodedEvent {
  readonly event: ServerEvent;
  #text: Uint8Array | undefined;
  #json: Uint8Array | undefined;

  /** @param event the event to deliver */
  constructor(event: ServerEvent) {
    this.event = event;
  }

  /** The event's bytes in `codec`. */
  bytes(codec: Codec): Uint8Array {
    if (codec === "json") {
      return this.#json ??= encoder.encode(encodeJsonEvent(this.event));
    }
    return this.#text ??= encoder.encode(encodeTextEvent(this.event));
  }
}
