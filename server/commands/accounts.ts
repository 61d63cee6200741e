/**
 * Accounts: a nickname claimed with a password (`/register`), proved on a
 * later connection (`/identify`, or `identify` in the JSON hello), and
 * released (`/drop`). A registered nickname, or one that looks like it,
 * cannot be used by anyone else. Passwords are kept only as salted PBKDF2
 * hashes and never logged.
 *
 * Hashing is slow on purpose, so these handlers are async: the server's read
 * loop waits for them before reading that connection's next line, while
 * every other connection carries on.
 *
 * @module
 */

import { verifyPassword } from "../passwords.ts";
import type { Account } from "../store/history_store.ts";
import { type ChatHub, withRef, wrongPassword } from "../hub.ts";
import { foldKey } from "../../wire/names.ts";
import { type ClientRequest, errorEvent } from "../../protocol.ts";
import type { Session } from "../session.ts";

/** Shortest account password accepted. */
export const MIN_PASSWORD_LENGTH = 8;

/** Finishes a login once the nickname is known to be usable. */
export type CompleteLogin = (
  hub: ChatHub,
  session: Session,
  nick: string,
  room: string,
  ref: string | undefined,
) => void;

/**
 * The password of an `/identify` whose first word was read as a nickname:
 * the text form cannot tell `/identify NICK PASSWORD` from a password with a
 * space in it, so callers decide which reading holds.
 */
export function wholePassword(
  request: ClientRequest & { type: "identify" },
): string {
  return request.nick === undefined
    ? request.password
    : `${request.nick} ${request.password}`;
}

/** Disconnects another connection holding `nick`: the owner is back. */
function takeOver(hub: ChatHub, session: Session, nick: string): void {
  const holder = hub.nicks.find(nick);
  if (holder !== undefined && holder !== session) {
    hub.disconnect(holder, "quit", "reconnected from elsewhere");
  }
}

/** Sends the private messages that waited for this account, oldest first. */
export function deliverPending(hub: ChatHub, session: Session): void {
  const account = session.account;
  if (account === null) return;
  hub.inOrder(() => {
    for (const message of hub.history.takePending(account)) {
      session.send(message);
    }
  });
}

/**
 * Logs in with a registered nickname: asks for the password if none came
 * with the request, checks it, and takes the nickname over from a stale
 * connection of the same owner.
 */
export async function loginToAccount(
  hub: ChatHub,
  session: Session,
  nick: string,
  account: Account,
  room: string,
  password: string | undefined,
  ref: string | undefined,
  complete: CompleteLogin,
): Promise<void> {
  if (foldKey(account.nick) !== foldKey(nick)) {
    session.send(errorEvent(
      "nick_taken",
      `Nickname ${nick} looks like the registered nickname ${account.nick}; choose another`,
      ref,
    ));
    return;
  }
  if (password === undefined) {
    if (session.codec === "text") {
      session.pendingLogin = { nick: account.nick, room };
      session.send({
        type: "notice",
        text:
          `Nickname ${account.nick} is registered. Send /identify PASSWORD to use it, or choose another nickname:`,
      });
    } else {
      session.send(errorEvent(
        "nick_registered",
        `Nickname ${account.nick} is registered: add "identify" with its password to your hello`,
        ref,
      ));
    }
    return;
  }
  const valid = await verifyPassword(password, account);
  if (session.state !== "login") return;
  if (!valid) {
    // Text mode may try /identify again for the same nickname.
    if (session.codec === "text") {
      session.pendingLogin = { nick: account.nick, room };
    }
    wrongPassword(hub, session, "nickname", ref);
    return;
  }
  session.pendingLogin = null;
  takeOver(hub, session, account.nick);
  session.account = account.nick;
  hub.log("info", "identify", { session: session.id, nick: account.nick });
  complete(hub, session, account.nick, room, ref);
}

/** `/register`, `/identify` and `/drop` from a logged-in session. */
export async function handleAccountRequest(
  hub: ChatHub,
  session: Session,
  request: ClientRequest & { type: "register" | "identify" | "drop" },
): Promise<void> {
  const ref = request.ref;
  const fail = (code: Parameters<typeof errorEvent>[0], message: string) =>
    session.send(errorEvent(code, message, ref));
  const tell = (text: string) =>
    session.send({ type: "notice", text, ...withRef(ref) });
  const nick = session.nick!;
  switch (request.type) {
    case "register": {
      if (request.password.length < MIN_PASSWORD_LENGTH) {
        return fail(
          "usage",
          `Choose a password of at least ${MIN_PASSWORD_LENGTH} characters`,
        );
      }
      if (hub.history.findAccount(nick) !== undefined) {
        return fail(
          "nick_registered",
          `Nickname ${nick} is already registered`,
        );
      }
      const hashed = await hub.hashPassword(request.password);
      if (session.state !== "active" || session.nick !== nick) return;
      if (hub.history.findAccount(nick) !== undefined) {
        return fail(
          "nick_registered",
          `Nickname ${nick} is already registered`,
        );
      }
      hub.history.createAccount({ nick, ...hashed, created: hub.now() });
      session.account = nick;
      hub.log("info", "register", { session: session.id, nick });
      return tell(
        `Nickname ${nick} is now registered to you; use /identify PASSWORD next time`,
      );
    }
    case "identify": {
      // A first word that is not a registered nickname is part of the
      // password (see wholePassword).
      const named = request.nick === undefined
        ? undefined
        : hub.history.findAccount(request.nick);
      const byName = named !== undefined &&
        foldKey(named.nick) === foldKey(request.nick!);
      const target = byName ? request.nick! : nick;
      const password = byName ? request.password : wholePassword(request);
      const account = byName ? named : hub.history.findAccount(target);
      if (account === undefined || foldKey(account.nick) !== foldKey(target)) {
        return fail("no_such_nick", `Nickname ${target} is not registered`);
      }
      if (
        session.account !== null && foldKey(session.account) === foldKey(target)
      ) {
        return fail(
          "already_there",
          `You are already identified as ${account.nick}`,
        );
      }
      const valid = await verifyPassword(password, account);
      if (session.state !== "active") return;
      if (!valid) {
        wrongPassword(hub, session, "nickname", ref);
        return;
      }
      if (foldKey(session.nick!) !== foldKey(account.nick)) {
        takeOver(hub, session, account.nick);
        renameTo(hub, session, account.nick);
      }
      session.account = account.nick;
      hub.log("info", "identify", { session: session.id, nick: account.nick });
      tell(`You are identified as ${account.nick}`);
      deliverPending(hub, session);
      return;
    }
    case "drop": {
      const target = request.nick ?? session.account;
      if (target === null) {
        return fail("not_permitted", "You are not identified to any nickname");
      }
      const own = session.account !== null &&
        foldKey(session.account) === foldKey(target);
      if (!own && !session.isOp) {
        return fail(
          "not_permitted",
          `Only its owner or an operator may drop ${target}`,
        );
      }
      if (!hub.history.deleteAccount(target)) {
        return fail("no_such_nick", `Nickname ${target} is not registered`);
      }
      for (const other of hub.nicks.owners()) {
        if (
          other.account !== null && foldKey(other.account) === foldKey(target)
        ) {
          other.account = null;
        }
      }
      hub.log("info", "drop", { by: session.nick ?? undefined, nick: target });
      return tell(`Nickname ${target} is no longer registered`);
    }
  }
}

/** Renames a logged-in session, telling its room. */
function renameTo(hub: ChatHub, session: Session, nick: string): void {
  const old = session.nick!;
  hub.nicks.delete(old, session);
  hub.nicks.add(nick, session);
  session.nick = nick;
  const room = session.room;
  if (room !== null) {
    hub.broadcast(room, {
      type: "nick",
      ts: hub.now(),
      room: room.name,
      old,
      nick,
    });
  }
}
