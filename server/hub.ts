/**
 * What the command handlers need from the server, as an interface, and the
 * small reply builders they share. commands.ts and operator_commands.ts are
 * written against {@linkcode ChatHub}; server.ts implements it.
 *
 * @module
 */

import type { PasswordHash } from "./passwords.ts";
import type { HistoryStore } from "./store/history_store.ts";
import type { Limits } from "./limits.ts";
import type { LogFields, LogLevel } from "./log.ts";
import type { BanList } from "./ban_list.ts";
import type { NameRegistry } from "../wire/names.ts";
import { memberPage } from "./member_pages.ts";
import {
  DEFAULT_WHO_PAGE,
  errorEvent,
  hasVisibleText,
  type LeaveReason,
  MAX_WHO_PAGE,
  type PrivateMessage,
  type RoomMessage,
  sanitizeText,
  type ServerEvent,
} from "../protocol.ts";
import type { Room, Session } from "./session.ts";

/** What the command handlers need from the server. */
export interface ChatHub {
  /** Shown to clients in the welcome. */
  readonly serverName: string;
  readonly limits: Readonly<Limits>;
  /** Every open connection, logged in or not. */
  readonly sessions: ReadonlySet<Session>;
  /** Nicknames of logged-in sessions. */
  readonly nicks: NameRegistry<Session>;
  /** Rooms by their fold key. */
  readonly rooms: ReadonlyMap<string, Room>;
  /** Addresses kept out. */
  readonly bans: BanList;
  /** Fold keys of muted nicknames, so a mute survives a reconnect. */
  readonly mutedNicks: Set<string>;
  /** The message of the day, one entry per line. */
  motd: string[];
  /** Whether connections must give the server password. */
  readonly passwordRequired: boolean;
  /** Whether `given` is the server password. */
  checkPassword(given: string): boolean;
  /** Whether an operator password is configured at all. */
  readonly operatorsEnabled: boolean;
  /** Whether `given` is the operator password. */
  checkOperPassword(given: string): boolean;
  /** A fresh message id. */
  nextMessageId(): number;
  /** Server time in milliseconds since the epoch. */
  now(): number;
  /**
   * Delivers `event` to every member of `room`. A text-mode `sender` gets no
   * copy of its own line; a JSON-mode one does, as its confirmation with the
   * message's id and time.
   */
  broadcast(room: Room, event: ServerEvent, sender?: Session): void;
  /** Room history, topics, accounts and stored private messages. */
  readonly history: HistoryStore;
  /**
   * Stores a room message and then delivers it as {@linkcode broadcast}
   * does: nobody receives a message that is not yet in the history.
   */
  publish(room: Room, message: RoomMessage, sender: Session): void;
  /**
   * Delivers a private message to its sender and, if connected, its target;
   * stores it first unless `store` is "no" (it is stored only for registered
   * accounts), marked pending when the target gets it on identifying.
   */
  sendPrivate(
    message: PrivateMessage,
    sender: Session,
    target: Session | null,
    store: "no" | "delivered" | "pending",
  ): void;
  /**
   * Runs `action` once everything published before it has been stored and
   * delivered, so replies that follow a broadcast arrive after it.
   */
  inOrder(action: () => void): void;
  /** Hashes a new account password with the configured cost. */
  hashPassword(password: string): Promise<PasswordHash>;
  /** Why `session` cannot enter room `name` now (full), or null if it can. */
  roomRefusal(session: Session, name: string): string | null;
  /**
   * Moves `session` into the room named `name` (creating it), telling the old
   * room it left and the new one it joined, and sending it the new room's
   * recent history, topic and member list.
   */
  enterRoom(session: Session, name: string): void;
  /** Ends a session, telling its room why. */
  disconnect(session: Session, reason: LeaveReason, detail?: string): void;
  /** Records a notable event; never given a secret. */
  log(level: LogLevel, event: string, fields?: LogFields): void;
}

/** Longest away, quit or kick reason kept, in characters. */
const MAX_REASON_LENGTH = 200;

/** Text of a reason, cleaned and shortened; "" if it shows nothing. */
export function cleanReason(reason: string | undefined): string {
  const text = sanitizeText(reason ?? "").slice(0, MAX_REASON_LENGTH);
  return hasVisibleText(text) ? text : "";
}

/** `{ ref }` when the request carried one, for spreading into a reply. */
export function withRef(ref: string | undefined): { ref?: string } {
  return ref === undefined ? {} : { ref };
}

/** Counts a wrong password; returns true if the session was closed for it. */
export function wrongPassword(
  hub: ChatHub,
  session: Session,
  what: string,
  ref: string | undefined,
): boolean {
  session.passwordAttempts++;
  hub.log("warn", "bad_password", {
    session: session.id,
    address: session.address,
    what,
  });
  if (session.passwordAttempts >= hub.limits.maxPasswordAttempts) {
    hub.disconnect(session, "lost", `Too many wrong ${what} passwords`);
    return true;
  }
  session.send(errorEvent("bad_password", `Wrong ${what} password`, ref));
  return false;
}

/**
 * One page of a room's member list, in fold-key order of the nicknames,
 * starting after the nickname `after` (member_pages.ts). `count` and `next`
 * are there only when the page is not the whole list.
 */
export function whoEvent(
  room: Room,
  after?: string,
  limit: number = DEFAULT_WHO_PAGE,
): ServerEvent & { type: "who" } {
  const page = memberPage(room.members, after, Math.min(limit, MAX_WHO_PAGE));
  return {
    type: "who",
    room: room.name,
    members: page.members,
    ...(page.members.length === page.count ? {} : { count: page.count }),
    ...(page.next === undefined ? {} : { next: page.next }),
  };
}

/** The topic event of a room, for joiners and `/topic`. */
export function topicEvent(room: Room): ServerEvent & { type: "topic" } {
  return {
    type: "topic",
    room: room.name,
    topic: room.topic,
    ...(room.topicBy === undefined ? {} : { by: room.topicBy }),
    ...(room.topicAt === undefined ? {} : { ts: room.topicAt }),
  };
}

/**
 * What a departing session is told in its `bye`, by why it leaves; null when
 * it gets no goodbye (its connection is already gone, or it only left a room).
 */
export function goodbyeFor(
  reason: LeaveReason,
  detail?: string,
): string | null {
  const withDetail = (text: string) => detail ? `${text} ${detail}` : text;
  switch (reason) {
    case "quit":
      return "Goodbye";
    case "lost":
      return detail ?? null;
    case "slow":
      return `You fell too far behind: ${detail ?? "output backed up"}`;
    case "kicked":
      return withDetail("Kicked");
    case "banned":
      return withDetail("Banned");
    case "flood":
      return `Disconnected for flooding: ${detail ?? "too many lines"}`;
    case "timeout":
      return `Timed out: ${detail ?? "no activity"}`;
    case "shutdown":
      return "Server shutting down";
    case "part":
      return null;
  }
}
