/**
 * What each request does. The server's read loop hands every complete line to
 * {@linkcode handleLine}; this module decodes it with the connection's codec,
 * checks it against the connection's state and limits, and applies it
 * through the `ChatHub` (hub.ts), so the rules of the chat live here and the
 * socket handling lives in server.ts. Operator commands are in
 * operator_commands.ts.
 *
 * @module
 */

import {
  type ChatHub,
  cleanReason,
  whoEvent,
  withRef,
  wrongPassword,
} from "./hub.ts";
import { checkNick, checkRoom, foldKey } from "./names.ts";
import {
  handleOperatorRequest,
  isOperatorRequest,
} from "./operator_commands.ts";
import {
  type ClientRequest,
  commandHelp,
  decodeJsonRequest,
  decodeTextRequest,
  type ErrorEvent,
  errorEvent,
  LOBBY,
  PROTOCOL_VERSION,
  type RoomMessage,
  sanitizeText,
  type ServerEvent,
} from "./protocol.ts";
import type { Session } from "./session.ts";

/** A first line that is an HTTP request: someone pointed a browser here. */
const HTTP_REQUEST = /^[A-Z]+ \S+ HTTP\/\d(?:\.\d)?$/;

/** How long refused lines count towards a flood disconnect. */
export const FLOOD_WINDOW_MS = 10_000;

/** Requests allowed before login, besides `hello` and `pass`. */
const LOGIN_REQUESTS: ReadonlySet<ClientRequest["type"]> = new Set([
  "help",
  "ping",
  "pong",
  "quit",
]);

/** Requests never refused for flooding: answering a ping, and leaving. */
const FLOOD_EXEMPT: ReadonlySet<ClientRequest["type"]> = new Set([
  "pong",
  "quit",
]);

/** Decodes a line for a text-mode session that has not logged in. */
function decodeTextLogin(
  session: Session,
  line: string,
): ClientRequest | ErrorEvent | null {
  if (line.trim() === "") return null;
  if (!line.startsWith("/")) {
    return session.authenticated
      ? { type: "hello", nick: line.trim() }
      : { type: "pass", password: line.trim() };
  }
  const request = decodeTextRequest(line);
  if (request?.type === "nick") return { type: "hello", nick: request.nick };
  return request;
}

/** The prompt a text-mode session sees before login. */
function loginPrompt(session: Session): string {
  return session.authenticated
    ? "Choose a nickname (letters, digits, _ and -; up to 32):"
    : "This server needs a password. Password:";
}

/**
 * Handles one complete line from a session: decodes it with the session's
 * codec (the first line decides it), applies the login and flood rules, and
 * carries it out. Bad input becomes an error event to that session; nothing
 * here throws on a peer's account.
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
  if (session.state === "login") {
    if (++session.loginLines > hub.limits.maxLoginLines) {
      hub.disconnect(session, "lost", "Too many lines before login");
      return;
    }
  }
  const request = session.codec === "json"
    ? decodeJsonRequest(line)
    : session.state === "login"
    ? decodeTextLogin(session, line)
    : decodeTextRequest(line);
  if (request === null) return;
  if (request.type === "error") {
    session.send(request);
    return;
  }
  if (session.state === "login") {
    handleLoginRequest(hub, session, request);
  } else if (allowedByFloodControl(hub, session, request)) {
    handleRequest(hub, session, request);
  }
}

/**
 * Takes a token for the request; refuses it with a notice when the bucket is
 * empty, and disconnects a session that keeps flooding.
 */
function allowedByFloodControl(
  hub: ChatHub,
  session: Session,
  request: ClientRequest,
): boolean {
  const bucket = session.flood;
  if (bucket === null || FLOOD_EXEMPT.has(request.type)) return true;
  const now = hub.now();
  if (bucket.take(now)) return true;
  if (session.floodRefusals?.record(now)) {
    hub.log("warn", "flood", {
      session: session.id,
      nick: session.nick ?? undefined,
      address: session.address,
    });
    hub.disconnect(session, "flood", "Too many lines too fast");
    return false;
  }
  session.send(errorEvent(
    "rate_limited",
    `Rate limited: that line was not sent; at most ${bucket.ratePerSecond} lines per second`,
    request.ref,
  ));
  return false;
}

/** Checks a server password before login; true when it was right. */
function acceptPassword(
  hub: ChatHub,
  session: Session,
  password: string | undefined,
  ref: string | undefined,
): boolean {
  if (session.authenticated) return true;
  if (password !== undefined && hub.checkPassword(password)) {
    session.authenticated = true;
    return true;
  }
  if (password === undefined) {
    session.send(errorEvent(
      "bad_password",
      session.codec === "json"
        ? 'This server needs a password: add "password" to your hello'
        : "This server needs a password",
      ref,
    ));
    return false;
  }
  wrongPassword(hub, session, "server", ref);
  return false;
}

function handleLoginRequest(
  hub: ChatHub,
  session: Session,
  request: ClientRequest,
): void {
  switch (request.type) {
    case "hello":
      if (!acceptPassword(hub, session, request.password, request.ref)) return;
      login(hub, session, request.nick, request.room, request.ref);
      return;
    case "pass":
      if (session.authenticated) {
        session.send(errorEvent("already_there", "No password is needed now"));
      } else if (acceptPassword(hub, session, request.password, request.ref)) {
        session.send({
          type: "notice",
          text: `Password accepted. ${loginPrompt(session)}`,
          ...withRef(request.ref),
        });
      }
      return;
    default:
      if (LOGIN_REQUESTS.has(request.type)) {
        handleRequest(hub, session, request);
        return;
      }
      session.send(errorEvent(
        "not_ready",
        session.codec === "json"
          ? `Send {"type":"hello","nick":"..."} first`
          : session.authenticated
          ? "Choose a nickname first"
          : "Send the server password first",
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
  if (!nick.ok) {
    session.send(
      errorEvent("nick_invalid", `${nick.reason}; choose another`, ref),
    );
    return;
  }
  if (hub.nicks.find(nick.name) !== undefined) {
    session.send(errorEvent(
      "nick_taken",
      `Nickname ${nick.name} is taken; choose another`,
      ref,
    ));
    return;
  }
  const room = checkRoom(proposedRoom ?? LOBBY);
  if (!room.ok) {
    session.send(errorEvent("room_invalid", room.reason, ref));
    return;
  }
  const full = hub.roomRefusal(session, room.name);
  if (full !== null) {
    session.send(errorEvent("full", full, ref));
    return;
  }
  hub.nicks.add(nick.name, session);
  session.nick = nick.name;
  session.muted = hub.mutedNicks.has(foldKey(nick.name));
  session.state = "active";
  session.send({
    type: "welcome",
    nick: nick.name,
    server: hub.serverName,
    version: PROTOCOL_VERSION,
    ...withRef(ref),
  });
  if (hub.motd.length > 0) session.send({ type: "motd", lines: hub.motd });
  hub.enterRoom(session, room.name);
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
  if (isOperatorRequest(request)) {
    handleOperatorRequest(hub, session, request);
    return;
  }
  const ref = request.ref;
  const fail = (code: ErrorEvent["code"], message: string) =>
    session.send(errorEvent(code, message, ref));
  const room = session.room;
  const nick = session.nick;
  switch (request.type) {
    case "hello":
      return fail("bad_request", `You are already logged in as ${nick}`);
    case "pass":
      return fail("already_there", "No password is needed now");
    case "message":
    case "action": {
      const text = sanitizeText(request.text);
      if (text === "") return fail("bad_request", "Message is empty");
      if (room === null || nick === null) return fail("not_ready", "No room");
      if (session.muted) return fail("muted", "You are muted");
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
      if (session.muted) return fail("muted", "You are muted");
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
      if (session.muted) {
        hub.mutedNicks.delete(foldKey(nick));
        hub.mutedNicks.add(foldKey(checked.name));
      }
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
      const full = hub.roomRefusal(session, target.name);
      if (full !== null) return fail("full", full);
      hub.enterRoom(session, target.name);
      return;
    }
    case "part": {
      if (room === null || foldKey(room.name) === foldKey(LOBBY)) {
        return fail(
          "already_there",
          `You are in ${LOBBY}, where everyone starts; /quit leaves the chat`,
        );
      }
      const full = hub.roomRefusal(session, LOBBY);
      if (full !== null) return fail("full", full);
      hub.enterRoom(session, LOBBY);
      return;
    }
    case "rooms":
      session.send({
        type: "rooms",
        rooms: [...hub.rooms.values()]
          .map((r) => ({ name: r.name, members: r.members.size }))
          .sort((a, b) =>
            b.members - a.members || a.name.localeCompare(b.name)
          ),
        ...withRef(ref),
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
      session.send({ ...whoEvent(target), ...withRef(ref) });
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
      session.send({ type: "help", commands: commandHelp(), ...withRef(ref) });
      return;
    case "ping":
      session.send({
        type: "pong",
        ...(request.token === undefined ? {} : { token: request.token }),
        ...withRef(ref),
      });
      return;
    case "pong":
      // Any line proves the peer is alive; the server already noted it.
      return;
    case "quit":
      hub.disconnect(session, "quit", cleanReason(request.reason));
      return;
  }
}
