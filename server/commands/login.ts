/**
 * Login: the greeting, the server password, choosing a nickname, and (for a
 * registered nickname) proving it with its password. A session leaves the
 * `login` state only through {@linkcode completeLogin}.
 *
 * @module
 */

import {
  checkAccountPassword,
  guardKeys,
  mayTry,
  recordWrong,
} from "./password_guard.ts";
import type { Account } from "../store/account_store.ts";
import type { Hub } from "../hub.ts";
import { enterRoom, findRoom, roomRefusal } from "../rooms.ts";
import { mixedScriptRefusal } from "../names/lookalikes.ts";
import { reservedNickRefusal } from "../names/reserved.ts";
import { checkNick, checkRoom, foldKey } from "../../wire/names.ts";
import {
  type ClientRequest,
  decodeTextRequest,
  type ErrorEvent,
  errorEvent,
  LOBBY,
  PROTOCOL_VERSION,
  type RequestType,
} from "../../protocol.ts";
import type { Session } from "../session.ts";
import { wholePassword } from "./accounts.ts";
import { deliverPending } from "./waiting_messages.ts";
import { lookUpAccount } from "./account_lookup.ts";
import type { Call } from "./call.ts";
import {
  claimAcrossCluster,
  claimDown,
  claimNick,
  takeOver,
} from "../nicknames.ts";
import { motdPages } from "../reply_pages.ts";

/** The first lines a connection gets: who is here, and what to send. */
export function greet(hub: Hub, session: Session): void {
  session.send({
    type: "notice",
    text: `Welcome to ${hub.serverName}. ${hereSentence(peopleHere(hub))}`,
  });
  session.send({ type: "notice", text: loginPrompt(session) });
}

/**
 * How many people are in the chat: this server's, and in a cluster every
 * other node's as `/who` counts them; null when a cluster node cannot tell
 * (Redis away or not answering), rather than a number that may be wrong.
 */
function peopleHere(hub: Hub): number | null {
  if (hub.presence === null) return hub.nicks.size;
  const remote = hub.presence.remotePeople();
  return remote === null ? null : hub.nicks.size + remote;
}

/** What the greeting says of `count` people here (null: not known now). */
export function hereSentence(count: number | null): string {
  if (count === null) {
    return "How many people are here is not known right now: this server cannot reach the others.";
  }
  if (count === 0) return "Nobody is here yet.";
  return `${count} ${count === 1 ? "person is" : "people are"} here.`;
}

/** What the registered-nickname prompt asks for. */
function pendingPrompt(nick: string): string {
  return `To use ${nick}, send /identify PASSWORD; to choose another nickname, send /nick NAME`;
}

/** The prompt a text-mode session sees before login. */
function loginPrompt(session: Session): string {
  return session.authenticated
    ? "Choose a nickname (letters, digits, _ and -; up to 32):"
    : "This server needs a password. Password:";
}

/**
 * Decodes a line for a text-mode session that has not logged in: a bare
 * line is the password (when one is still needed) or the nickname. At the
 * registered-nickname prompt a bare line is neither: people answer a
 * password prompt with the bare password, and taken as a new nickname it
 * would be announced to the whole room.
 */
export function decodeTextLogin(
  session: Session,
  line: string,
): ClientRequest | ErrorEvent | null {
  if (line.trim() === "") return null;
  if (!line.startsWith("/")) {
    if (!session.authenticated) return { type: "pass", password: line.trim() };
    const pending = session.pendingLogin;
    return pending === null
      ? { type: "hello", nick: line.trim() }
      : errorEvent("nick_registered", pendingPrompt(pending.nick));
  }
  const request = decodeTextRequest(line);
  if (request?.type === "nick") return { type: "hello", nick: request.nick };
  return request;
}

/** The refusal of a request that needs a login first. */
export function notLoggedIn(call: Call): void {
  const session = call.session;
  call.fail(
    "not_ready",
    session.hints === "requests"
      ? `Send {"type":"hello","nick":"..."} first`
      : session.authenticated
      ? "Choose a nickname first"
      : "Send the server password first",
  );
}

/** Checks a server password before login; true when it was right. */
function acceptPassword(
  call: Call,
  password: string | undefined,
): boolean {
  const { hub, session } = call;
  if (session.authenticated) return true;
  if (password === undefined) {
    call.failPassword(
      "server",
      session.words(
        "This server needs a password",
        'This server needs a password: add "password" to your hello',
      ),
    );
    return false;
  }
  const keys = guardKeys(call);
  if (!mayTry(call, keys)) return false;
  if (hub.checkPassword(password)) {
    session.authenticated = true;
    return true;
  }
  recordWrong(call, keys);
  call.wrongPassword("server");
  return false;
}

/**
 * `hello`: the server password if needed, then the nickname. Its `hints`
 * word holds from this hello on, for its own refusals too.
 */
function hello(call: Call<"hello">): void | Promise<void> {
  const request = call.request;
  if (request.hints !== undefined) call.session.hints = request.hints;
  if (!acceptPassword(call, request.password)) return;
  return login(call, request.nick, request.room, request.identify);
}

/** `/pass` at the prompt. */
function pass(call: Call<"pass">): void {
  const { session } = call;
  if (session.authenticated) {
    call.send(errorEvent("already_there", "No password is needed now"));
  } else if (acceptPassword(call, call.request.password)) {
    call.tell(`Password accepted. ${loginPrompt(session)}`);
  }
}

/**
 * `/identify PASSWORD` after choosing a registered nickname at the prompt,
 * or `/identify NICK PASSWORD` straight away, as `/help` shows it.
 */
function identifyPending(call: Call<"identify">): void | Promise<void> {
  const pending = call.session.pendingLogin;
  if (pending === null) {
    const { nick, password } = call.request;
    if (nick === undefined) {
      return call.fail(
        "not_ready",
        call.session.words(
          "Choose a registered nickname first, or send /identify NICK PASSWORD",
          'Choose a registered nickname first, or send "identify" with "nick" and "password"',
        ),
      );
    }
    // The server password comes first, as for a hello.
    if (!acceptPassword(call, undefined)) return;
    return login(call, nick, undefined, password, true);
  }
  // `/identify NICK PASSWORD` naming the pending nickname (as it would once
  // logged in); otherwise all the words are the password.
  const { nick, password } = call.request;
  const named = nick !== undefined && foldKey(nick) === foldKey(pending.nick);
  return login(
    call,
    pending.nick,
    pending.room,
    named ? password : wholePassword(call.request),
  );
}

/** What a session may send while logging in, besides the rows' `beforeLogin` ones. */
export const LOGIN_HANDLERS: {
  readonly [K in RequestType]?: (call: Call<K>) => void | Promise<void>;
} = { hello, pass, identify: identifyPending };

/**
 * Accepts a nickname and enters the first room; a registered nickname goes
 * through its password first.
 */
function login(
  call: Call,
  proposedNick: string,
  proposedRoom: string | undefined,
  password: string | undefined,
  registeredOnly = false,
): void | Promise<void> {
  const { hub, session } = call;
  // A line that is no usable nickname leaves a pending registered one
  // waiting for its /identify.
  const nick = checkNick(proposedNick);
  if (!nick.ok) {
    return call.fail("nick_invalid", `${nick.reason}; choose another`);
  }
  const room = checkRoom(proposedRoom ?? LOBBY);
  if (!room.ok) return call.fail("room_invalid", room.reason);
  session.pendingLogin = null;
  const local = hub.accounts.local;
  const chosen = { nick: nick.name, room: room.name, password, registeredOnly };
  if (local === null) return loginShared(call, chosen);
  return loginChosen(call, chosen, local.find(nick.name));
}

/** A checked nickname and first room, as a login chose them. */
interface Chosen {
  nick: string;
  room: string;
  /** The account's password, if the client sent one. */
  password: string | undefined;
  /**
   * The client identified to this nickname: one nobody registered is
   * refused rather than taken, so a typo never logs in as someone else.
   */
  registeredOnly: boolean;
}

/** {@linkcode login} with the accounts shared by a cluster (awaited). */
async function loginShared(call: Call, chosen: Chosen): Promise<void> {
  const account = await lookUpAccount(call, chosen.nick);
  if (account === null || call.session.state !== "login") return;
  return loginChosen(call, chosen, account);
}

/** {@linkcode login} once the nickname's account (if any) is known. */
function loginChosen(
  call: Call,
  chosen: Chosen,
  account: Account | undefined,
): void | Promise<void> {
  const { hub } = call;
  const { nick, room, password } = chosen;
  if (account !== undefined) {
    return loginToAccount(call, { nick, account, room, password });
  }
  if (chosen.registeredOnly) {
    return call.fail("no_such_nick", `Nickname ${nick} is not registered`);
  }
  if (hub.nicks.find(nick) !== undefined) {
    return call.fail("nick_taken", `Nickname ${nick} is taken; choose another`);
  }
  const mixed = mixedScriptRefusal("Nickname", nick) ??
    reservedNickRefusal(nick, hub.serverName);
  if (mixed !== null) return call.fail("nick_invalid", mixed);
  const entered = completeLogin(call, nick, room);
  if (password === undefined) return entered;
  // A hello that meant to identify, to a name nobody registered (or whose
  // account was dropped): logged in, but told it holds the name unprotected.
  const tell = () => {
    if (call.session.state !== "active") return;
    call.send({
      type: "notice",
      text:
        `Nickname ${nick} is not registered, so the password in your hello was not used; a "register" request claims it`,
    });
  };
  return entered instanceof Promise ? entered.then(tell) : tell();
}

/** A login to a registered nickname, as {@linkcode loginToAccount} takes it. */
interface AccountLogin {
  /** The nickname as the client typed it. */
  nick: string;
  /** The account it matched (perhaps only by looking alike). */
  account: Account;
  /** The first room. */
  room: string;
  /** The account's password, if the client sent one. */
  password: string | undefined;
}

/**
 * Logs in with a registered nickname: asks for the password if none came
 * with the request, checks it, and takes the nickname over from a stale
 * connection of the same owner.
 */
async function loginToAccount(call: Call, login: AccountLogin): Promise<void> {
  const { hub, session } = call;
  const { nick, account, room, password } = login;
  if (foldKey(account.nick) !== foldKey(nick)) {
    return call.fail(
      "nick_taken",
      `Nickname ${nick} looks like the registered nickname ${account.nick}; choose another`,
    );
  }
  if (password === undefined) {
    if (session.codec === "json") {
      return call.fail(
        "nick_registered",
        session.words(
          `Nickname ${account.nick} is registered: give its password to use it, or choose another nickname`,
          `Nickname ${account.nick} is registered: add "identify" with its password to your hello`,
        ),
      );
    }
    session.pendingLogin = { nick: account.nick, room };
    call.send({
      type: "notice",
      text:
        `Nickname ${account.nick} is registered. Send /identify PASSWORD to use it, or /nick NAME to choose another:`,
    });
    return;
  }
  const verdict = await checkAccountPassword(
    call,
    account.id,
    password,
    account,
  );
  if (session.state !== "login") return;
  if (verdict !== "right") {
    // Text mode may try /identify again for the same nickname.
    if (session.codec === "text") {
      session.pendingLogin = { nick: account.nick, room };
    }
    if (verdict === "wrong") call.wrongPassword("nickname");
    return;
  }
  takeOver(hub, session, account.nick);
  hub.identified.set(session, { id: account.id, nick: account.nick });
  hub.log("info", "identify", { session: session.id, nick: account.nick });
  return completeLogin(call, account.nick, room);
}

/**
 * Takes the nickname, welcomes the session and enters its first room; in a
 * cluster, the nickname is claimed across the nodes first.
 */
function completeLogin(
  call: Call,
  nick: string,
  room: string,
): void | Promise<void> {
  if (call.hub.cluster !== null) return completeClusterLogin(call, nick, room);
  enterChat(call, nick, room);
}

/** {@linkcode completeLogin} on a node of a cluster. */
async function completeClusterLogin(
  call: Call,
  nick: string,
  room: string,
): Promise<void> {
  const { hub, session } = call;
  const claim = await claimAcrossCluster(hub, session, nick, "login");
  switch (claim) {
    case "held":
      if (!enterChat(call, nick, room)) hub.cluster?.release(nick, session);
      return;
    case "taken":
      return call.fail(
        "nick_taken",
        `Nickname ${nick} is taken on another server of this chat; choose another`,
      );
    case "unavailable":
    case "silent":
      return call.fail("unavailable", claimDown(claim));
    case "stale":
      if (session.state !== "login") return;
      return call.fail(
        "nick_taken",
        `Nickname ${nick} is taken; choose another`,
      );
  }
}

/** The login's last step; false when the first room refused the session. */
function enterChat(call: Call, nick: string, room: string): boolean {
  const { hub, session } = call;
  const mixed = findRoom(hub, room) === undefined
    ? mixedScriptRefusal("Room name", room)
    : null;
  if (mixed !== null) {
    call.fail("room_invalid", mixed);
    return false;
  }
  const full = roomRefusal(hub, room, session.addressKey, session.hints);
  if (full !== null) {
    call.fail("full", full);
    return false;
  }
  claimNick(hub, session, nick);
  session.state = "active";
  // The welcome, the message of the day and the first room's replay are
  // replies: in order behind what the connection asked before (a ping).
  call.reply({
    type: "welcome",
    nick,
    server: hub.serverName,
    version: PROTOCOL_VERSION,
    maxRooms: hub.limits.maxRoomsPerUser,
    maxLine: hub.limits.maxLineBytes,
    ...(session.flood === null ? {} : {
      rate: {
        lines: session.flood.budget.linesPerSecond,
        burst: session.flood.budget.burstLines,
        bytes: session.flood.budget.bytesPerSecond,
        burstBytes: session.flood.budget.burstBytes,
      },
    }),
  });
  if (hub.motd.length > 0) {
    hub.replyTo(session, () => session.reply(motdPages(hub.motd)));
  }
  enterRoom(hub, session, room);
  deliverPending(hub, session);
  return true;
}
