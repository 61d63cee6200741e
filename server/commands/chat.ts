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
} from "../hub.ts";
import { checkNick, checkRoom, foldKey } from "../../wire/names.ts";
import {
  deliverPending,
  handleAccountRequest,
  loginToAccount,
  wholePassword,
} from "./accounts.ts";
import { handleOperatorRequest, isOperatorRequest } from "./operator.ts";
import {
  type ClientRequest,
  commandHelp,
  decodeJsonRequest,
  decodeTextRequest,
  type ErrorEvent,
  errorEvent,
  LOBBY,
  MAX_HISTORY_PAGE,
  type PrivateMessage,
  PROTOCOL_VERSION,
  type RoomMessage,
  sanitizeText,
} from "../../protocol.ts";
import type { Session } from "../session.ts";

/** A first line that is an HTTP request: someone pointed a browser here. */
const HTTP_REQUEST = /^[A-Z]+ \S+ HTTP\/\d(?:\.\d)?$/;

/** Messages in a `/history` page when the request names no count. */
const DEFAULT_HISTORY_PAGE = 50;

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

/** The first lines a connection gets: who is here, and what to send. */
export function greet(hub: ChatHub, session: Session): void {
  const here = hub.nicks.size;
  session.send({
    type: "notice",
    text: `Welcome to ${hub.serverName}. ${
      here === 0
        ? "Nobody is here yet."
        : `${here} ${here === 1 ? "person is" : "people are"} here.`
    }`,
  });
  session.send({ type: "notice", text: loginPrompt(session) });
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
export function handleLine(
  hub: ChatHub,
  session: Session,
  line: string,
): void | Promise<void> {
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
    return handleLoginRequest(hub, session, request);
  } else if (allowedByFloodControl(hub, session, request)) {
    return handleRequest(hub, session, request);
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
): void | Promise<void> {
  switch (request.type) {
    case "hello":
      if (!acceptPassword(hub, session, request.password, request.ref)) return;
      return login(
        hub,
        session,
        request.nick,
        request.room,
        request.ref,
        request.identify,
      );
    case "identify": {
      const pending = session.pendingLogin;
      if (pending === null) {
        session.send(errorEvent(
          "not_ready",
          "Choose a registered nickname first",
          request.ref,
        ));
        return;
      }
      // The nickname is the pending one: all the words are the password.
      return login(
        hub,
        session,
        pending.nick,
        pending.room,
        request.ref,
        wholePassword(request),
      );
    }
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

/**
 * Accepts a nickname and enters the first room; a registered nickname goes
 * through its password first (accounts.ts).
 */
function login(
  hub: ChatHub,
  session: Session,
  proposedNick: string,
  proposedRoom: string | undefined,
  ref: string | undefined,
  identify: string | undefined,
): void | Promise<void> {
  session.pendingLogin = null;
  const nick = checkNick(proposedNick);
  if (!nick.ok) {
    session.send(
      errorEvent("nick_invalid", `${nick.reason}; choose another`, ref),
    );
    return;
  }
  const room = checkRoom(proposedRoom ?? LOBBY);
  if (!room.ok) {
    session.send(errorEvent("room_invalid", room.reason, ref));
    return;
  }
  const account = hub.history.findAccount(nick.name);
  if (account !== undefined) {
    return loginToAccount(
      hub,
      session,
      nick.name,
      account,
      room.name,
      identify,
      ref,
      completeLogin,
    );
  }
  if (hub.nicks.find(nick.name) !== undefined) {
    session.send(errorEvent(
      "nick_taken",
      `Nickname ${nick.name} is taken; choose another`,
      ref,
    ));
    return;
  }
  completeLogin(hub, session, nick.name, room.name, ref);
}

/** Takes the nickname, welcomes the session and enters its first room. */
function completeLogin(
  hub: ChatHub,
  session: Session,
  nick: string,
  room: string,
  ref: string | undefined,
): void {
  const full = hub.roomRefusal(session, room);
  if (full !== null) {
    session.send(errorEvent("full", full, ref));
    return;
  }
  hub.nicks.add(nick, session);
  session.nick = nick;
  session.muted = hub.mutedNicks.has(foldKey(nick));
  session.state = "active";
  session.send({
    type: "welcome",
    nick,
    server: hub.serverName,
    version: PROTOCOL_VERSION,
    ...withRef(ref),
  });
  if (hub.motd.length > 0) session.send({ type: "motd", lines: hub.motd });
  hub.enterRoom(session, room);
  deliverPending(hub, session);
}

/**
 * Applies a request from a logged-in session (and the few allowed before
 * login). Exhaustive over {@linkcode ClientRequest}.
 */
function handleRequest(
  hub: ChatHub,
  session: Session,
  request: ClientRequest,
): void | Promise<void> {
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
      hub.publish(room, message, session);
      return;
    }
    case "private": {
      const text = sanitizeText(request.text);
      if (text === "") return fail("bad_request", "Message is empty");
      if (nick === null) return fail("not_ready", "Log in first");
      const target = hub.nicks.get(request.to) ?? null;
      const account = target === null
        ? hub.history.findAccount(request.to)
        : undefined;
      const offline = account !== undefined &&
        foldKey(account.nick) === foldKey(request.to);
      if (target === null && !offline) {
        return fail("no_such_nick", `Nobody is called ${request.to}`);
      }
      if (session.muted) return fail("muted", "You are muted");
      const message: PrivateMessage = {
        type: "private",
        id: hub.nextMessageId(),
        ts: hub.now(),
        from: nick,
        to: target?.nick ?? account!.nick,
        text,
      };
      // Stored only when a registered account is one of the two parties.
      const store = target === null
        ? "pending"
        : session.account !== null || target.account !== null
        ? "delivered"
        : "no";
      hub.sendPrivate(message, session, target, store);
      const note = target === null
        ? `${message.to} is offline; they will get your message when they identify`
        : target.away !== null
        ? `${target.nick} is away${target.away ? `: ${target.away}` : ""}`
        : null;
      if (note !== null) {
        hub.inOrder(() => session.send({ type: "notice", text: note }));
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
      const account = hub.history.findAccount(checked.name);
      if (
        account !== undefined &&
        (session.account === null ||
          foldKey(session.account) !== foldKey(account.nick))
      ) {
        return fail(
          "nick_registered",
          `Nickname ${account.nick} is registered; /identify ${account.nick} PASSWORD if it is yours`,
        );
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
      // Replies go in order after what was accepted before them: a ping
      // is a barrier, and a list reflects the joins before it.
      hub.inOrder(() =>
        session.send({
          type: "rooms",
          rooms: [...hub.rooms.values()]
            .map((r) => ({ name: r.name, members: r.members.size }))
            .sort((a, b) =>
              b.members - a.members || a.name.localeCompare(b.name)
            ),
          ...withRef(ref),
        })
      );
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
      // One page, whatever the room's size: a reply never grows with it.
      hub.inOrder(() =>
        session.send({
          ...whoEvent(target, request.after, request.limit),
          ...withRef(ref),
        })
      );
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
      hub.inOrder(() =>
        session.send({
          type: "pong",
          ...(request.token === undefined ? {} : { token: request.token }),
          ...withRef(ref),
        })
      );
      return;
    case "pong":
      // Any line proves the peer is alive; the server already noted it.
      return;
    case "register":
    case "identify":
    case "drop":
      return handleAccountRequest(hub, session, request);
    case "history":
      return sendHistory(hub, session, request);
    case "quit":
      hub.disconnect(session, "quit", cleanReason(request.reason));
      return;
  }
}

/** Answers `/history`: a page of a room's messages or of a conversation. */
function sendHistory(
  hub: ChatHub,
  session: Session,
  request: ClientRequest & { type: "history" },
): void {
  const limit = Math.min(
    request.limit ?? DEFAULT_HISTORY_PAGE,
    MAX_HISTORY_PAGE,
  );
  const ref = request.ref;
  if (request.with !== undefined) {
    const account = session.account;
    if (account === null) {
      session.send(errorEvent(
        "not_permitted",
        "Private messages are kept only for registered nicknames; /register or /identify first",
        ref,
      ));
      return;
    }
    const other = request.with;
    hub.inOrder(() =>
      session.send({
        type: "conversation",
        with: other,
        messages: hub.history.conversation(
          account,
          other,
          limit,
          request.before,
        ),
        ...withRef(ref),
      })
    );
    return;
  }
  const named = request.room === undefined ? null : checkRoom(request.room);
  if (named !== null && !named.ok) {
    session.send(errorEvent("room_invalid", named.reason, ref));
    return;
  }
  const room = named?.name ?? session.room?.name;
  if (room === undefined) {
    session.send(errorEvent("not_ready", "No room", ref));
    return;
  }
  hub.inOrder(() =>
    session.send({
      type: "history",
      room,
      messages: hub.history.roomMessages(room, limit, request.before),
      ...withRef(ref),
    })
  );
}
