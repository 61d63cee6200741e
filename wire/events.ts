/**
 * The event model both codecs share: every request a client may make
 * ({@linkcode ClientRequest}) and every event the server sends
 * ({@linkcode ServerEvent}), as discriminated unions. Types and small
 * constructors only.
 *
 * @module
 */

import type { ByeCode } from "./bye.ts";
import { printableText } from "./framing.ts";

/**
 * Version of the JSON protocol, sent in `welcome` so bots can check it.
 * 2: a connection is in many rooms at once, with a current one.
 */
export const PROTOCOL_VERSION = 2;

/**
 * The room every connection starts in (unless its hello names another), and
 * returns to when it parts its last room.
 */
export const LOBBY = "#lobby";

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
  | "not_member"
  | "too_many_rooms"
  | "no_such_nick"
  | "holder_changed"
  | "already_there"
  | "bad_password"
  | "not_permitted"
  | "muted"
  | "rate_limited"
  | "full"
  | "nick_registered"
  | "not_stored"
  | "unavailable"
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
  /** A plain line, or a `/me` action. */
  type: "message" | "action";
  /** Server-assigned, increasing over the server's life. */
  id: number;
  /** Server time, milliseconds since the epoch. */
  ts: number;
  /** The room it was said in. */
  room: string;
  /** The sender's nickname. */
  from: string;
  /** The text, already cleaned of controls. */
  text: string;
  /**
   * In a `conversation` page only: the other party was an earlier holder of
   * its nickname (another account, or none, than the name has now), not
   * whoever holds the name now.
   */
  earlier?: true;
  /** On the sender's own copy only: the `ref` of its request. */
  ref?: string;
}

/**
 * What a history page answers, on replies to a `history` request (a join
 * replay has none): the cursor it was asked with, if any.
 */
export interface HistoryReply {
  /** The `before` of the request, when it had one. */
  before?: number;
}

/** One row of a `rooms` reply. */
export interface RoomSummary {
  /** The room's display name, with `#`. */
  name: string;
  /** How many are in it. */
  members: number;
  /** Present (true) when the asker is in it. */
  joined?: true;
  /** Present (true) when it is the asker's current room. */
  current?: true;
}

/**
 * Most members one `who` page may hold. Part of the protocol, so a constant:
 * a client can rely on a page never being longer.
 */
export const MAX_WHO_PAGE = 1000;

/** Members in a `who` page when the request names no limit. */
export const DEFAULT_WHO_PAGE = 100;

/**
 * How fast a client may send: `burst` lines at once, then `lines` a second,
 * and at most `burstBytes` bytes at once, then `bytes` a second. Faster
 * lines are not refused: the server stops reading them until their turn.
 */
export interface InputRate {
  /** Lines a second, kept up. */
  lines: number;
  /** Lines at once, before the rate applies. */
  burst: number;
  /** Bytes a second, kept up. */
  bytes: number;
  /** Bytes at once, before the byte rate applies. */
  burstBytes: number;
}

/** One row of a `who` reply. */
export interface MemberSummary {
  /** The member's nickname. */
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
  /** Why, as the operator put it. */
  reason?: string;
}

/** One row of the `help` reply. */
export interface CommandHelp {
  /** How to type it, such as `/join #ROOM`. */
  usage: string;
  /** What it does, in one line. */
  summary: string;
  /** Present (true) for commands only operators may use. */
  operator?: boolean;
  /** Its other names, such as `/j` for `/join`; absent when it has none. */
  aliases?: string[];
}

/**
 * How the server's hints (errors and notices that say what to do next) name
 * a request: `commands` as the slash command a person types (`/quit`), as
 * text mode and the clients people type into need; `requests` as the
 * request type a program sends (`a "quit" request`).
 */
export type Hints = "commands" | "requests";

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
    /** The server password, when the server has one. */
    password?: string;
    /** The password of the nickname's account, when it is registered. */
    identify?: string;
    /**
     * How hints name what to do next: `commands` for a person who types
     * slash commands into a client (the web page, the terminal client),
     * `requests` (the default) for a program that sends request types.
     */
    hints?: Hints;
    ref?: string;
  }
  | { type: "pass"; password: string; ref?: string }
  | {
    type: "message";
    text: string;
    /** One of the sender's rooms (default: the current one). */
    room?: string;
    ref?: string;
  }
  | { type: "action"; text: string; room?: string; ref?: string }
  | { type: "private"; to: string; text: string; ref?: string }
  | { type: "nick"; nick: string; ref?: string }
  | { type: "join"; room: string; ref?: string }
  | {
    type: "part";
    /** One of the sender's rooms (default: the current one). */
    room?: string;
    ref?: string;
  }
  | { type: "switch"; room: string; ref?: string }
  | { type: "rooms"; ref?: string }
  | {
    type: "who";
    room?: string;
    /**
     * Only members whose fold key sorts after this nickname's: the cursor a
     * paged reply's `next` gives.
     */
    after?: string;
    /** Most members in the reply (capped at {@linkcode MAX_WHO_PAGE}). */
    limit?: number;
    ref?: string;
  }
  | { type: "away"; reason?: string; ref?: string }
  | { type: "back"; ref?: string }
  | {
    type: "help";
    /** One command to explain (a name or alias, `/` optional); else all. */
    command?: string;
    ref?: string;
  }
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
  | { type: "topic"; text?: string; room?: string; ref?: string }
  | { type: "motd"; text?: string; ref?: string }
  | { type: "register"; password: string; ref?: string }
  | { type: "identify"; password: string; nick?: string; ref?: string }
  | { type: "drop"; nick?: string; ref?: string }
  | { type: "setpass"; password: string; ref?: string }
  | {
    type: "history";
    /** A room (default: the current one). */
    room?: string;
    /** A private conversation with this nickname instead of a room. */
    with?: string;
    /** Only messages older than this id: the cursor for paging back. */
    before?: number;
    limit?: number;
    ref?: string;
  };

/** The `type` of every request, for exhaustive tables. */
export type RequestType = ClientRequest["type"];

/** An error reply: the value a bad line or a refused request becomes. */
export interface ErrorEvent {
  /** Always `error`. */
  type: "error";
  /** The stable reason, for programs. */
  code: ErrorCode;
  /** The reason in words, for people. */
  message: string;
  /**
   * The `ref` of the request refused, when it had one: a string, or, on the
   * error saying a `ref` must be a string, the value as it was sent, so even
   * that error can be matched to its request.
   */
  ref?: string | JsonValue;
  /**
   * On `bad_password`: which password was wrong or missing, so a form
   * knows which field to ask for again (older servers leave it out).
   */
  password?: "server" | "nickname" | "operator";
  /**
   * On a wrong password: how many more wrong ones (of any kind) the
   * connection may send before it is closed, so a bot can stop in time.
   */
  triesLeft?: number;
}

/** Any value JSON can hold: what a client may have sent as `ref`. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** A private message, as delivered and as stored for registered accounts. */
export interface PrivateMessage {
  /** Always `private`. */
  type: "private";
  /** Server-assigned, from the same sequence as room messages. */
  id: number;
  /** Server time, milliseconds since the epoch. */
  ts: number;
  /** The sender's nickname. */
  from: string;
  /** The recipient's nickname. */
  to: string;
  /** The text, already cleaned of controls. */
  text: string;
  /**
   * In a `conversation` page only: the other party was an earlier holder of
   * its nickname (another account, or none, than the name has now), not
   * whoever holds the name now.
   */
  earlier?: true;
  /** On the sender's own copy only: the `ref` of its request. */
  ref?: string;
}

/** Everything the server sends. Encoded once per codec however many receive it. */
export type ServerEvent =
  | {
    type: "welcome";
    nick: string;
    server: string;
    version: number;
    /**
     * The most rooms this connection may be in at once (sent since
     * version 2).
     */
    maxRooms?: number;
    /**
     * The longest line the server reads, in bytes (`--max-line`): over JSON,
     * a whole request as sent, escapes included. A longer one is refused
     * with `line_too_long`, so a client can refuse it first and keep what
     * was typed (older servers leave it out).
     */
    maxLine?: number;
    /**
     * Flood control's budget, so a client can pace its own sending; absent
     * when flood control is off.
     */
    rate?: InputRate;
    ref?: string;
  }
  | RoomMessage
  | PrivateMessage
  // A person's news carries `ref` on the asker's own copy only (hub.ts,
  // OwnCopy): the answer to its join, part, nick, away or back.
  | { type: "join"; ts: number; room: string; nick: string; ref?: string }
  | {
    type: "leave";
    ts: number;
    room: string;
    nick: string;
    reason: LeaveReason;
    message?: string;
    ref?: string;
  }
  | {
    type: "nick";
    ts: number;
    room: string;
    old: string;
    nick: string;
    ref?: string;
  }
  | {
    type: "away";
    ts: number;
    room: string;
    nick: string;
    reason: string;
    ref?: string;
  }
  | { type: "back"; ts: number; room: string; nick: string; ref?: string }
  | { type: "rooms"; rooms: RoomSummary[]; ref?: string }
  | {
    type: "who";
    room: string;
    /** One page of members, in fold-key order of their nicknames. */
    members: MemberSummary[];
    /** Members in the room in all; present when this is not all of them. */
    count?: number;
    /** Present when more pages follow: ask again with this as `after`. */
    next?: string;
    ref?: string;
  }
  /** A big room's size, sent to a newcomer in place of its member list. */
  | { type: "members"; room: string; count: number }
  /**
   * A big room's size now, sent to its members while it changes (at most
   * once every `--big-room-count-interval`): its joins and leaves are not
   * announced, so a count kept from them would stand still. JSON only.
   */
  | { type: "count"; room: string; count: number }
  | {
    type: "history";
    room: string;
    messages: RoomMessage[];
    /**
     * Present (true) when older messages exist than this page holds: ask
     * again with `before` set to the first message's id. A page holds at
     * most the count asked for and at most 64 KiB of messages.
     */
    more?: true;
    /** Present on replies to a `history` request; absent on join replays. */
    reply?: HistoryReply;
    ref?: string;
  }
  | {
    type: "conversation";
    with: string;
    messages: PrivateMessage[];
    /** As for `history`: older messages exist; page back with `before`. */
    more?: true;
    reply?: HistoryReply;
    ref?: string;
  }
  | {
    type: "help";
    commands: CommandHelp[];
    /** The command asked about (its canonical name), when one was. */
    command?: string;
    ref?: string;
  }
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
  | {
    type: "motd";
    lines: string[];
    /**
     * Present (true) when this event carries on the previous one: a long
     * message of the day comes in several events of at most 64 KiB.
     */
    continued?: true;
    ref?: string;
  }
  | { type: "bans"; bans: BanSummary[]; ref?: string }
  | {
    type: "bye";
    /** Why, for programs: see bye.ts for which codes mean "reconnect". */
    code: ByeCode;
    /** Why, in words for people. */
    reason: string;
  }
  /**
   * The connection's current room changed without a join: `switch`, or a
   * part of the current room. Plain text lines go to this room.
   */
  | { type: "switch"; room: string; ref?: string };

/** The `type` of every event, for exhaustive tables. */
export type EventType = ServerEvent["type"];

/** Builds an error event. */
export function errorEvent(
  code: ErrorCode,
  message: string,
  ref?: string,
): ErrorEvent {
  // The words may quote what a client typed; a bot that prints them gets
  // no escape sequence, and a strict JSON parser no lone surrogate.
  const words = printableText(message);
  return ref === undefined ? { type: "error", code, message: words } : {
    type: "error",
    code,
    message: words,
    ref,
  };
}
