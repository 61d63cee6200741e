/**
 * Accounts: a nickname claimed with a password (`/register`), proved on a
 * later connection (`/identify`, or `identify` in the JSON hello), and
 * released (`/drop`). A registered nickname, or one that looks like it,
 * cannot be used by anyone else. Passwords are kept only as salted PBKDF2
 * hashes and never logged.
 *
 * Logging in to an account is in login.ts. Hashing is slow on purpose, so
 * these handlers are async: the server's read
 * loop waits for them before reading that connection's next line, while
 * every other connection carries on.
 *
 * @module
 */

import { checkAccountPassword, hashQueued } from "./password_guard.ts";
import { REGISTRATION_WINDOW_MS } from "../hub.ts";
import { foldKey } from "../../wire/names.ts";
import type { ClientRequest } from "../../protocol.ts";
import type { Call } from "./call.ts";
import { accountsDown, lookUpAccount } from "./account_lookup.ts";
import { RedisTimeout } from "../cluster/redis_timeout.ts";
import { deliverPending } from "./waiting_messages.ts";
import { renameInCluster, renameSession, takeOver } from "../nicknames.ts";

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

/** `/register PASSWORD`: claims the session's nickname. */
async function register(call: Call<"register">): Promise<void> {
  const { hub, session, request } = call;
  const nick = session.nick!;
  const shortest = hub.limits.minPasswordLength;
  if (request.password.length < shortest) {
    return call.fail(
      "usage",
      `Choose a password of at least ${shortest} characters`,
    );
  }
  const found = await lookUpAccount(call, nick);
  if (found === null) return;
  if (found !== undefined) return alreadyRegistered(call, nick);
  // Counted here too in a cluster, so a busy address is refused before
  // it costs a hash; the shared count decides at the write.
  const registered = hub.guards.registrations;
  if (
    registered.count(session.addressKey, hub.now()) >=
      hub.limits.maxRegistrations
  ) {
    return quotaRefusal(call);
  }
  const hashed = await hashQueued(call, request.password);
  if (hashed === null) return;
  if (session.state !== "active" || session.nick !== nick) return;
  let made;
  try {
    made = await hub.accounts.create({ nick, ...hashed, created: hub.now() }, {
      address: session.address,
      max: hub.limits.maxRegistrations,
      windowMs: REGISTRATION_WINDOW_MS,
    });
  } catch (error) {
    return accountsDown(call, error);
  }
  if (!made.ok) {
    return made.why === "taken"
      ? alreadyRegistered(call, nick)
      : quotaRefusal(call);
  }
  registered.record(session.addressKey, hub.now());
  // Still this nickname's session (it may have left while Redis answered).
  if (session.state !== "active" || session.nick !== nick) return;
  hub.identified.set(session, { id: made.id, nick });
  hub.log("info", "register", { session: session.id, nick });
  call.tell(
    `Nickname ${nick} is now registered to you; ${
      call.session.words(
        "use /identify PASSWORD next time",
        'next time add "identify" with the password to your hello',
      )
    }`,
  );
}

function alreadyRegistered(call: Call, nick: string): void {
  call.fail("nick_registered", `Nickname ${nick} is already registered`);
}

function quotaRefusal(call: Call): void {
  const max = call.hub.limits.maxRegistrations;
  call.fail(
    "rate_limited",
    `Your address has registered ${max} nicknames in the last hour; try again later`,
  );
}

/**
 * `/identify [NICK] PASSWORD` once logged in: proves an account, renaming
 * the session to it (and taking it over from a stale connection) if needed.
 */
async function identify(call: Call<"identify">): Promise<void> {
  const { hub, session, request } = call;
  // A first word that is not a registered nickname is part of the password
  // (see wholePassword).
  const named = request.nick === undefined
    ? undefined
    : await lookUpAccount(call, request.nick);
  if (named === null) return;
  const byName = named !== undefined &&
    foldKey(named.nick) === foldKey(request.nick!);
  const target = byName ? request.nick! : session.nick!;
  const password = byName ? request.password : wholePassword(request);
  const account = byName ? named : await lookUpAccount(call, target);
  if (account === null || session.state !== "active") return;
  if (account === undefined || foldKey(account.nick) !== foldKey(target)) {
    // Name what was asked about: `/identify bob PW` from alice, with
    // neither registered, is about bob, not only about alice.
    const asked = request.nick !== undefined && !byName
      ? `Nickname ${request.nick} is not registered, nor is yours (${target})`
      : `Nickname ${target} is not registered`;
    return call.fail(
      "no_such_nick",
      `${asked}; ${
        call.session.words("/register PASSWORD", 'a "register" request')
      } claims yours`,
    );
  }
  if (session.account?.id === account.id) {
    return call.fail(
      "already_there",
      `You are already identified as ${account.nick}`,
    );
  }
  const verdict = await checkAccountPassword(
    call,
    account.id,
    password,
    account,
  );
  if (session.state !== "active" || verdict === "refused") return;
  if (verdict === "wrong") {
    call.wrongPassword("nickname");
    return;
  }
  if (foldKey(session.nick!) !== foldKey(account.nick)) {
    takeOver(hub, session, account.nick);
    if (hub.cluster === null) {
      renameSession(hub, session, account.nick);
    } else {
      const refusal = await renameInCluster(hub, session, account.nick);
      if (refusal !== null) return call.fail(refusal.code, refusal.text);
      if (session.state !== "active") return;
    }
  }
  hub.identified.set(session, { id: account.id, nick: account.nick });
  hub.log("info", "identify", { session: session.id, nick: account.nick });
  call.tell(`You are identified as ${account.nick}`);
  deliverPending(hub, session);
}

/** `/drop [NICK]`: releases an account (its owner's, or any for operators). */
async function drop(call: Call<"drop">): Promise<void> {
  const { hub, session, request } = call;
  const target = request.nick ?? session.account?.nick ?? null;
  if (target === null) {
    return call.fail("not_permitted", "You are not identified to any nickname");
  }
  const account = await lookUpAccount(call, target);
  if (account === null) return;
  if (account === undefined || foldKey(account.nick) !== foldKey(target)) {
    return call.fail("no_such_nick", `Nickname ${target} is not registered`);
  }
  if (session.account?.id !== account.id && !session.isOp) {
    return call.fail(
      "not_permitted",
      `Only its owner or an operator may drop ${target}`,
    );
  }
  try {
    await hub.accounts.drop(account.nick);
  } catch (error) {
    // A drop cannot be undone (its waiting messages go with it): the user
    // is told it may still happen.
    if (!(error instanceof RedisTimeout)) return accountsDown(call, error);
    hub.log("warn", "drop_unconfirmed", { nick: account.nick });
    return call.fail(
      "unavailable",
      `Not confirmed: the cluster's store (Redis) is not answering; ${account.nick} may still be dropped once it answers`,
    );
  }
  // This node's sessions; one identified on another node keeps its
  // account until it leaves.
  for (const other of [...hub.identified.of(account.id)]) {
    hub.identified.set(other, null);
  }
  hub.log("info", "drop", { by: session.nick ?? undefined, nick: target });
  call.tell(`Nickname ${target} is no longer registered`);
}

/**
 * `/setpass NEWPASSWORD`: a new password for the account this session has
 * proved is its own (so no old password is asked again).
 */
async function setpass(call: Call<"setpass">): Promise<void> {
  const { hub, session, request } = call;
  const account = session.account;
  if (account === null) {
    return call.fail("not_permitted", "You are not identified to any nickname");
  }
  const shortest = hub.limits.minPasswordLength;
  if (request.password.length < shortest) {
    return call.fail(
      "usage",
      `Choose a password of at least ${shortest} characters`,
    );
  }
  const hashed = await hashQueued(call, request.password);
  if (hashed === null || session.state !== "active") return;
  let changed;
  try {
    changed = await hub.accounts.setPassword(account, hashed);
  } catch (error) {
    return accountsDown(call, error);
  }
  if (!changed) {
    return call.fail(
      "no_such_nick",
      `Nickname ${account.nick} is no longer registered`,
    );
  }
  hub.log("info", "password_changed", {
    session: session.id,
    nick: account.nick,
  });
  call.tell(`The password of ${account.nick} is changed`);
}

/** The account requests' handlers, by request type. */
export const ACCOUNT_HANDLERS = { register, identify, drop, setpass } as const;
