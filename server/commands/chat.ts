/**
 * What each chat request does once logged in: room messages, private
 * messages, nicknames, away, and the small replies (help, ping, history);
 * joining and parting rooms are in membership.ts. Each is a named handler
 * over a {@linkcode Call}; dispatch.ts has already checked the request's row
 * policy (login, operator, flood).
 *
 * @module
 */

import { ownCopy } from "../hub.ts";
import { conversationPage } from "../reply_pages.ts";
import {
  type HistoryReply as HistoryEvent,
  historyReply,
} from "../room_log.ts";
import { checkNick, checkRoom } from "../../wire/names.ts";
import {
  commandHelp,
  hasVisibleText,
  type HistoryReply,
  MAX_HISTORY_PAGE,
  oneCommandHelp,
  type PrivateMessage,
  type RoomMessage,
  sanitizeText,
  type ServerEvent,
} from "../../protocol.ts";
import { type Call, cleanReason } from "./call.ts";
import type { Account } from "../store/account_store.ts";
import { renameInCluster, renameSession } from "../nicknames.ts";
import { privateAcross } from "./private_across.ts";
import type { Session } from "../session.ts";
import { TokenBucket } from "../flood.ts";
import { chosenRoom } from "./membership.ts";
import { findRoom } from "../rooms.ts";
import { mixedScriptRefusal } from "../names/lookalikes.ts";
import { reservedNickRefusal } from "../names/reserved.ts";
import { messageOffline } from "./waiting_messages.ts";
import { lookUpAccount } from "./account_lookup.ts";
import {
  accountHolder,
  changedHandsMessage,
  type HolderKey,
  localHolder,
} from "../private_peers.ts";

/** Who a session on this node is, for its correspondents (private_peers.ts). */
export function holderOf(session: Session): HolderKey {
  return session.account === null
    ? localHolder(session.id)
    : accountHolder(session.account.id);
}

/** Why a message that shows nothing is refused. */
function emptyMessage(text: string): string {
  return text === ""
    ? "Message is empty"
    : "Message is empty: it holds only invisible characters";
}

/** `hello` once logged in. */
function hello(call: Call<"hello">): void {
  call.fail("bad_request", `You are already logged in as ${call.session.nick}`);
}

/** `/pass` once logged in. */
function pass(call: Call<"pass">): void {
  call.fail("already_there", "No password is needed now");
}

/**
 * A room line (`message`, or `/me` as `action`), to the room it names or
 * the current one: stored, then broadcast.
 */
function say(call: Call<"message" | "action">): void {
  const { hub, session, request } = call;
  const text = sanitizeText(request.text);
  if (!hasVisibleText(text)) {
    return call.fail("bad_request", emptyMessage(text));
  }
  const nick = session.nick;
  if (nick === null) return call.fail("not_ready", "No room");
  const room = chosenRoom(call, request.room);
  if (room === null) return;
  if (session.muted) return call.fail("muted", "You are muted");
  const message: RoomMessage = {
    type: request.type,
    id: hub.nextMessageId(),
    ts: hub.now(),
    room: room.name,
    from: nick,
    text,
  };
  hub.publish(room, message, session, request.ref);
}

/**
 * `/msg NICK TEXT`: to someone connected, or (for a registered nickname)
 * kept until its owner identifies (waiting_messages.ts).
 */
function privateMessage(call: Call<"private">): void | Promise<void> {
  const { hub, session, request } = call;
  const text = sanitizeText(request.text);
  if (!hasVisibleText(text)) {
    return call.fail("bad_request", emptyMessage(text));
  }
  const nick = session.nick;
  if (nick === null) return call.fail("not_ready", "Log in first");
  const target = hub.nicks.get(request.to) ?? null;
  const offline = () =>
    messageOffline(
      call,
      text,
      (account) => ownerRoute(call, nick, text, account),
    );
  if (target === null && hub.presence !== null) {
    // Someone on another node, else kept for a registered nickname.
    return privateAcross(call, hub.presence, nick, text, offline);
  }
  if (target === null) return offline();
  privateLocal(call, nick, text, target);
}

/**
 * A message to a registered nickname nobody holds, when its owner is
 * connected and identified under another nickname: it goes to them now,
 * as to any connected recipient, rather than waiting for a next login
 * while they are online and being told they are offline.
 */
function ownerRoute(
  call: Call<"private">,
  nick: string,
  text: string,
  accountId: number,
): (() => void | Promise<void>) | null {
  const { hub } = call;
  for (const other of hub.identified.of(accountId)) {
    if (other.state === "active" && other.nick !== null) {
      return () => privateLocal(call, nick, text, other);
    }
  }
  const presence = hub.presence;
  const remote = presence?.findRemoteByAccount(accountId);
  if (presence === null || presence === undefined || remote === undefined) {
    return null;
  }
  return () =>
    privateAcross(
      call,
      presence,
      nick,
      text,
      // They left in the moment it took to reach their node.
      () =>
        call.fail(
          "no_such_nick",
          `Not sent: ${call.request.to} has just left; send again to leave it waiting for them`,
        ),
      remote.nick,
    );
}

/** `/msg` to someone on this node. */
function privateLocal(
  call: Call<"private">,
  nick: string,
  text: string,
  target: Session,
): void {
  const { hub, session, request } = call;
  if (session.muted) return call.fail("muted", "You are muted");
  if (session.privatePeers.changedHands(target.nick!, holderOf(target))) {
    return call.fail(
      "holder_changed",
      changedHandsMessage(target.nick!, target.nickSince),
    );
  }
  // The other side knows who wrote to it, should that name change hands.
  target.privatePeers.remember(nick, holderOf(session));
  const message: PrivateMessage = {
    type: "private",
    id: hub.nextMessageId(),
    ts: hub.now(),
    from: nick,
    to: target.nick!,
    text,
  };
  // Stored only when an account is one of the two parties, and kept with
  // the accounts' ids: whoever holds either nickname later cannot read it.
  const to = target.account?.id ?? null;
  const from = session.account?.id ?? null;
  const store = from === null && to === null ? "no" : {
    from,
    to,
    pending: false,
    address: session.addressKey,
  };
  hub.sendPrivate(message, session, target, store, request.ref);
  if (target.away !== null) {
    call.send({
      type: "notice",
      text: `${target.nick} is away${target.away ? `: ${target.away}` : ""}`,
    });
  }
}

/** `/nick NEW`: a free, unregistered (or own) nickname. */
function nick(call: Call<"nick">): void | Promise<void> {
  const { hub, session, request } = call;
  const checked = checkNick(request.nick);
  if (!checked.ok) return call.fail("nick_invalid", checked.reason);
  const current = session.nick;
  if (current === null || session.current === null) {
    return call.fail("not_ready", "No room");
  }
  if (checked.name === current) {
    return call.fail("already_there", `You are already ${current}`);
  }
  if (session.muted) {
    return call.fail("muted", "You are muted: you cannot change nickname");
  }
  const holder = hub.nicks.find(checked.name);
  if (holder !== undefined && holder !== session) {
    return call.fail("nick_taken", `Nickname ${checked.name} is taken`);
  }
  // In a cluster the accounts are awaited in clusterNick.
  if (registeredRefusal(call, hub.accounts.local?.find(checked.name))) return;
  const mixed = mixedScriptRefusal("Nickname", checked.name) ??
    reservedNickRefusal(checked.name, hub.serverName);
  if (mixed !== null) return call.fail("nick_invalid", mixed);
  const perMinute = hub.limits.maxNickChanges;
  const changes = session.nickChanges ??
    new TokenBucket(perMinute, perMinute / 60, hub.now());
  session.nickChanges = changes;
  if (!changes.take(hub.now())) {
    return call.fail(
      "rate_limited",
      `Too many nickname changes: at most ${perMinute} a minute; wait a little`,
    );
  }
  if (hub.cluster !== null) return clusterNick(call, checked.name);
  renameSession(hub, session, checked.name, ownCopy(session, call.request.ref));
}

/**
 * Refuses a nickname registered to someone else; true when it did.
 */
function registeredRefusal(
  call: Call<"nick">,
  account: Account | undefined,
): boolean {
  if (account === undefined || call.session.account?.id === account.id) {
    return false;
  }
  call.fail(
    "nick_registered",
    `Nickname ${account.nick} is registered; ${
      call.session.words(
        `/identify ${account.nick} PASSWORD`,
        'an "identify" request with its password',
      )
    } if it is yours`,
  );
  return true;
}

/**
 * `/nick` on a node of a cluster: the accounts (shared, so awaited) are
 * checked, then the name is claimed across nodes.
 */
async function clusterNick(call: Call<"nick">, nick: string): Promise<void> {
  const { hub, session } = call;
  if (hub.accounts.local === null) {
    const current = session.nick;
    const account = await lookUpAccount(call, nick);
    if (account === null || registeredRefusal(call, account)) return;
    if (session.state !== "active" || session.nick !== current) return;
  }
  const own = ownCopy(session, call.request.ref);
  const refusal = await renameInCluster(hub, session, nick, own);
  if (refusal !== null) call.fail(refusal.code, refusal.text);
}

/**
 * `/away [REASON]`: told to all the asker's rooms, each member once. Away
 * again with the same reason changes nothing, so it is not told again (as
 * IRC sends no second AWAY); a new reason is news, told once.
 */
function away(call: Call<"away">): void {
  const { hub, session } = call;
  const nick = session.nick;
  if (nick === null) return call.fail("not_ready", "No room");
  const given = cleanReason(call.request.reason, call.hub.limits);
  if (session.away === (session.muted ? "" : given)) {
    return call.fail("already_there", alreadyAway(session, given));
  }
  // A mute covers every line a person can put before the room.
  if (session.muted && given !== "") {
    call.tell("You are muted: you are away, but your reason is not shown");
  }
  const reason = session.muted ? "" : given;
  session.away = reason;
  const ts = hub.now();
  hub.broadcastAcross(
    [...session.rooms],
    (room) => ({ type: "away", ts, room: room.name, nick, reason }),
    ownCopy(session, call.request.ref),
  );
  hub.presence?.changed(session, { type: "away", ts });
}

/** Why an away that changes nothing was not told to anyone. */
function alreadyAway(session: Session, given: string): string {
  const what = session.away === ""
    ? "You are already away"
    : `You are already away: ${session.away}`;
  const muted = session.muted && given !== ""
    ? "; you are muted, so your reason is not shown"
    : "";
  return `${what}${muted}`;
}

/** `/back`: told to all the asker's rooms, each member once. */
function back(call: Call<"back">): void {
  const { hub, session } = call;
  const nick = session.nick;
  if (nick === null) return call.fail("not_ready", "No room");
  if (session.away === null) {
    return call.fail("already_there", "You are not away");
  }
  session.away = null;
  const ts = hub.now();
  hub.broadcastAcross(
    [...session.rooms],
    (room) => ({ type: "back", ts, room: room.name, nick }),
    ownCopy(session, call.request.ref),
  );
  hub.presence?.changed(session, { type: "back", ts });
}

/** `/help [COMMAND]`: the command table's text rows, or one of them. */
function help(call: Call<"help">): void {
  const command = call.request.command;
  call.reply(
    command === undefined
      ? { type: "help", commands: commandHelp() }
      : oneCommandHelp(command, call.session.hints),
  );
}

/** `/ping [TOKEN]`: a barrier; the pong follows everything before it. */
function ping(call: Call<"ping">): void {
  const token = call.request.token;
  call.reply({ type: "pong", ...(token === undefined ? {} : { token }) });
}

/** A `pong`: any line proves the peer is alive, and dispatch noted it. */
function pong(_call: Call<"pong">): void {}

/**
 * `/quit [REASON]`: in its turn, so what was asked before it (a message's
 * confirmation, a reply) reaches the client before its `bye`, and the
 * lines after it are never read.
 */
function quit(call: Call<"quit">): Promise<void> | undefined {
  const reason = call.session.muted
    ? ""
    : cleanReason(call.request.reason, call.hub.limits);
  return call.inTurn(() => call.hub.disconnect(call.session, "quit", reason));
}

/**
 * `/history @NICK`: a page of the asker's private messages with NICK. Rows
 * are keyed by the other side's nickname, so whose the name is now is read
 * first: rows with anyone else who held it are marked `earlier`.
 */
async function conversationHistory(
  call: Call<"history">,
  account: { id: number },
  other: string,
  limit: number,
): Promise<void> {
  const { hub, session, request } = call;
  const holder = await lookUpAccount(call, other);
  if (holder === null) return;
  const holderId = holder?.id ?? null;
  call.replyPaged(() => [{
    ...conversationPage(
      other,
      hub.history.conversation(
        account.id,
        other,
        holderId,
        limit + 1,
        request.before,
      ),
      limit,
      session.codec,
    ),
    reply: replyTo(request),
  }]);
}

/** `/history`: a page of a room's messages or of a conversation. */
function history(call: Call<"history">): Promise<void> | void {
  const { hub, session, request } = call;
  const limit = Math.min(
    request.limit ?? hub.limits.historyPage,
    MAX_HISTORY_PAGE,
  );
  if (request.with !== undefined) {
    const account = session.account;
    if (account === null) {
      return call.fail(
        "not_permitted",
        `Private messages are kept only for registered nicknames; ${
          call.session.words(
            "/register or /identify",
            'a "register" or "identify" request',
          )
        } first`,
      );
    }
    return conversationHistory(call, account, request.with, limit);
  }
  const named = request.room === undefined ? null : checkRoom(request.room);
  if (named !== null && !named.ok) {
    return call.fail("room_invalid", named.reason);
  }
  // A look-alike of an open room's name means that room (rooms.ts).
  const room = named === null
    ? session.current?.name
    : findRoom(hub, named.name)?.name ?? named.name;
  if (room === undefined) return call.fail("not_ready", "No room");
  call.replyPaged(() => {
    const page = historyReply(
      room,
      hub.roomLog.messages(room, limit + 1, request.before),
      limit,
      session.codec,
    );
    const answer = (event: HistoryEvent): ServerEvent[] => [
      event.type === "history" ? { ...event, reply: replyTo(request) } : event,
    ];
    return page instanceof Promise ? page.then(answer) : answer(page);
  });
}

/** What a history page answers: the cursor it was asked with. */
function replyTo(request: { before?: number }): HistoryReply {
  return request.before === undefined ? {} : { before: request.before };
}

/** The chat requests' handlers, by request type. */
export const CHAT_HANDLERS = {
  hello,
  pass,
  message: say,
  action: say,
  private: privateMessage,
  nick,
  away,
  back,
  help,
  ping,
  pong,
  history,
  quit,
} as const;
