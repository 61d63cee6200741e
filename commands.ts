/**
 * What each request does. The server's read loop hands every complete line to
 * {@linkcode handleLine}; this module decodes it with the connection's codec,
 * checks it against the connection's state, and applies it through the
 * {@linkcode ChatHub}, so the rules of the chat live here and the socket
 * handling lives in server.ts.
 *
 * @module
 */

import { checkNick, checkRoom, foldKey, type NameRegistry } from "./names.ts";
import {
  type ClientRequest,
  commandHelp,
  decodeJsonRequest,
  decodeTextRequest,
  type ErrorEvent,
  errorEvent,
  type LeaveReason,
  LOBBY,
  PROTOCOL_VERSION,
  type RoomMessage,
  sanitizeText,
  type ServerEvent,
} from "./protocol.ts";
import type { Room, Session } from "./session.ts";

/** What the command handlers need from the server. */
export interface ChatHub {
  /** Shown to clients in the welcome. */
  readonly serverName: string;
  /** Nicknames of logged-in sessions. */
  readonly nicks: NameRegistry<Session>;
  /** Rooms by their fold key. */
  readonly rooms: ReadonlyMap<string, Room>;
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
  /** Stores a room message in the room's history. */
  remember(room: Room, message: RoomMessage): void;
  /**
   * Moves `session` into the room named `name` (creating it), telling the old
   * room it left and the new one it joined, and sending it the new room's
   * recent history and member list.
   */
  enterRoom(session: Session, name: string): void;
  /** Ends a session, telling its room why. */
  disconnect(session: Session, reason: LeaveReason, detail?: string): void;
}

/** A first line that is an HTTP request: someone pointed a browser here. */
const HTTP_REQUEST = /^[A-Z]+ \S+ HTTP\/\d(?:\.\d)?$/;

/** Longest away or quit reason kept, in characters. */
const MAX_REASON_LENGTH = 200;

/** Requests allowed before login, besides `hello`. */
const LOGIN_REQUESTS: ReadonlySet<ClientRequest["type"]> = new Set([
  "help",
  "ping",
  "quit",
]);

/** Text of a reason, cleaned and shortened. */
function cleanReason(reason: string | undefined): string {
  return sanitizeText(reason ?? "").slice(0, MAX_REASON_LENGTH);
}

/** Decodes a line for a session still choosing a nickname in text mode. */
function decodeTextLogin(line: string): ClientRequest | ErrorEvent | null {
  if (line.trim() === "") return null;
  if (!line.startsWith("/")) return { type: "hello", nick: line.trim() };
  const request = decodeTextRequest(line);
  if (request?.type === "nick") return { type: "hello", nick: request.nick };
  return request;
}

/**
 * Handles one complete line from a session: decodes it with the session's
 * codec (the first line decides it) and applies it. Bad input becomes an error
 * event to that session; nothing here throws on a peer's account.
 */
export function handleLine(hub: ChatHub, session: Session, line: string): void {
  if (session.state === "closing") return;
  if (!session.codecChosen) {
    if (line.trim() === "") return;
    session.codecChosen = true;
    if (line.trimStart().startsWith("{")) session.codec = "json";
    if (HTTP_REQUEST.test(line.trim())) {
      hub.disconnect(
        session,
        "lost",
        "This is a chat server, not a web server: connect with nc or the tern client",
      );
      return;
    }
  }
  const request = session.codec === "json"
    ? decodeJsonRequest(line)
    : session.state === "login"
    ? decodeTextLogin(line)
    : decodeTextRequest(line);
  if (request === null) return;
  if (request.type === "error") {
    session.send(request);
    return;
  }
  if (session.state === "login") {
    handleLoginRequest(hub, session, request);
  } else {
    handleRequest(hub, session, request);
  }
}

function handleLoginRequest(
  hub: ChatHub,
  session: Session,
  request: ClientRequest,
): void {
  if (request.type === "hello") {
    login(hub, session, request.nick, request.room, request.ref);
  } else if (LOGIN_REQUESTS.has(request.type)) {
    handleRequest(hub, session, request);
  } else {
    session.send(errorEvent(
      "not_ready",
      session.codec === "json"
        ? `Send {"type":"hello","nick":"..."} first`
        : "Choose a nickname first",
      request.ref,
    ));
  }
}

/** Accepts a nickname and enters the first room. */
function login(
  hub: ChatHub,
  session: Session,
  proposedNick: string,
  proposedRoom: string | undefined,
  ref: string | undefined,
): void {
  const nick = checkNick(proposedNick);
  const refusal = !nick.ok
    ? errorEvent("nick_invalid", `${nick.reason}; choose another`, ref)
    : hub.nicks.find(nick.name) !== undefined
    ? errorEvent(
      "nick_taken",
      `Nickname ${nick.name} is taken; choose another`,
      ref,
    )
    : null;
  if (refusal !== null || !nick.ok) {
    session.send(refusal!);
    return;
  }
  const room = proposedRoom === undefined ? null : checkRoom(proposedRoom);
  if (room !== null && !room.ok) {
    session.send(errorEvent("room_invalid", room.reason, ref));
    return;
  }
  hub.nicks.add(nick.name, session);
  session.nick = nick.name;
  session.state = "active";
  session.send({
    type: "welcome",
    nick: nick.name,
    server: hub.serverName,
    version: PROTOCOL_VERSION,
    ...(ref === undefined ? {} : { ref }),
  });
  hub.enterRoom(session, room?.name ?? LOBBY);
}

/**
 * Applies a request from a logged-in session (and the few allowed before
 * login). Exhaustive over {@linkcode ClientRequest}.
 */
export function handleRequest(
  hub: ChatHub,
  session: Session,
  request: ClientRequest,
): void {
  const ref = request.ref;
  const fail = (code: ErrorEvent["code"], message: string) =>
    session.send(errorEvent(code, message, ref));
  const room = session.room;
  const nick = session.nick;
  switch (request.type) {
    case "hello":
      return fail("bad_request", `You are already logged in as ${nick}`);
    case "message":
    case "action": {
      const text = sanitizeText(request.text);
      if (text === "") return fail("bad_request", "Message is empty");
      if (room === null || nick === null) return fail("not_ready", "No room");
      const message: RoomMessage = {
        type: request.type,
        id: hub.nextMessageId(),
        ts: hub.now(),
        room: room.name,
        from: nick,
        text,
      };
      hub.remember(room, message);
      hub.broadcast(room, message, session);
      return;
    }
    case "private": {
      const text = sanitizeText(request.text);
      if (text === "") return fail("bad_request", "Message is empty");
      const target = hub.nicks.get(request.to);
      if (target === undefined || target.nick === null || nick === null) {
        return fail("no_such_nick", `Nobody is called ${request.to}`);
      }
      const event: ServerEvent = {
        type: "private",
        id: hub.nextMessageId(),
        ts: hub.now(),
        from: nick,
        to: target.nick,
        text,
      };
      target.send(event);
      if (target !== session) session.send(event);
      if (target.away !== null) {
        session.send({
          type: "notice",
          text: `${target.nick} is away${
            target.away ? `: ${target.away}` : ""
          }`,
        });
      }
      return;
    }
    case "nick": {
      const checked = checkNick(request.nick);
      if (!checked.ok) return fail("nick_invalid", checked.reason);
      if (nick === null || room === null) return fail("not_ready", "No room");
      if (checked.name === nick) {
        return fail("already_there", `You are already ${nick}`);
      }
      const holder = hub.nicks.find(checked.name);
      if (holder !== undefined && holder !== session) {
        return fail("nick_taken", `Nickname ${checked.name} is taken`);
      }
      hub.nicks.delete(nick, session);
      hub.nicks.add(checked.name, session);
      session.nick = checked.name;
      hub.broadcast(room, {
        type: "nick",
        ts: hub.now(),
        room: room.name,
        old: nick,
        nick: checked.name,
      });
      return;
    }
    case "join": {
      const target = checkRoom(request.room);
      if (!target.ok) return fail("room_invalid", target.reason);
      if (room !== null && foldKey(room.name) === foldKey(target.name)) {
        return fail("already_there", `You are already in ${room.name}`);
      }
      hub.enterRoom(session, target.name);
      return;
    }
    case "part":
      if (room === null || foldKey(room.name) === foldKey(LOBBY)) {
        return fail(
          "already_there",
          `You are in ${LOBBY}, where everyone starts; /quit leaves the chat`,
        );
      }
      hub.enterRoom(session, LOBBY);
      return;
    case "rooms":
      session.send({
        type: "rooms",
        rooms: [...hub.rooms.values()]
          .map((r) => ({ name: r.name, members: r.members.size }))
          .sort((a, b) =>
            b.members - a.members || a.name.localeCompare(b.name)
          ),
        ...(ref === undefined ? {} : { ref }),
      });
      return;
    case "who": {
      const named = request.room === undefined ? null : checkRoom(request.room);
      const target = named === null
        ? room
        : named.ok
        ? hub.rooms.get(foldKey(named.name)) ?? null
        : null;
      if (target === null) {
        return fail("room_invalid", `There is no room ${request.room}`);
      }
      session.send({
        ...whoEvent(target),
        ...(ref === undefined ? {} : { ref }),
      });
      return;
    }
    case "away": {
      if (room === null || nick === null) return fail("not_ready", "No room");
      session.away = cleanReason(request.reason);
      hub.broadcast(room, {
        type: "away",
        ts: hub.now(),
        room: room.name,
        nick,
        reason: session.away,
      });
      return;
    }
    case "back":
      if (room === null || nick === null) return fail("not_ready", "No room");
      if (session.away === null) {
        return fail("already_there", "You are not away");
      }
      session.away = null;
      hub.broadcast(room, {
        type: "back",
        ts: hub.now(),
        room: room.name,
        nick,
      });
      return;
    case "help":
      session.send({
        type: "help",
        commands: commandHelp(),
        ...(ref === undefined ? {} : { ref }),
      });
      return;
    case "ping":
      session.send({
        type: "pong",
        ...(request.token === undefined ? {} : { token: request.token }),
        ...(ref === undefined ? {} : { ref }),
      });
      return;
    case "quit":
      hub.disconnect(session, "quit", cleanReason(request.reason));
      return;
  }
}

/** The member list of a room, sorted by nickname. */
export function whoEvent(room: Room): ServerEvent & { type: "who" } {
  const members = [...room.members]
    .filter((member) => member.nick !== null)
    .map((member) =>
      member.away === null
        ? { nick: member.nick! }
        : { nick: member.nick!, away: member.away }
    )
    .sort((a, b) => a.nick.localeCompare(b.nick));
  return { type: "who", room: room.name, members };
}
