/**
 * Private messages for a registered nickname whose owner is offline: kept
 * for the account (never for the name: a later holder of the name is
 * someone else) and delivered when its owner next identifies, each marked
 * delivered only once the socket has taken it. A single server keeps them
 * in its history file; a cluster in Redis (hub.sharedInbox), so they reach
 * their owner on whichever node they log in.
 *
 * @module
 */

import type { Hub } from "../hub.ts";
import type { Account } from "../store/account_store.ts";
import type { SharedInbox, WaitingMessage } from "../account_book.ts";
import type { Session } from "../session.ts";
import type { PrivateMessage, ServerEvent } from "../../protocol.ts";
import { foldKey } from "../../wire/names.ts";
import { describeError } from "../log.ts";
import type { Call } from "./call.ts";
import { accountsDown, lookUpAccount } from "./account_lookup.ts";

/**
 * How a message for a registered nickname reaches its owner while they are
 * connected under another nickname: the delivery to run, or null when the
 * account is connected nowhere and the message is to wait in its inbox.
 */
export type OwnerRoute = (
  accountId: number,
) => (() => void | Promise<void>) | null;

/**
 * A private message (`text`, already cleaned) to a nickname nobody holds
 * now: kept if the name is registered, else refused as `no_such_nick`. The
 * private-message path calls this once it knows no connection holds the
 * name (in a cluster: on no node). An owner who identified and then took
 * another nickname is online, not offline: `owner` delivers to them.
 */
export function messageOffline(
  call: Call<"private">,
  text: string,
  owner: OwnerRoute,
): void | Promise<void> {
  const local = call.hub.accounts.local;
  if (local === null) return messageOfflineShared(call, text, owner);
  const account = registered(call, local.find(call.request.to));
  if (account === null) return;
  const deliver = owner(account.id);
  if (deliver !== null) return deliver();
  if (inboxRefusal(call, account) !== null) return;
  const { hub, session, request } = call;
  const message = waitingMessage(call, account, text);
  hub.sendPrivate(message, session, null, {
    from: session.account?.id ?? null,
    to: account.id,
    pending: true,
    address: session.addressKey,
  }, request.ref);
  tellOffline(call, message);
}

/** {@linkcode messageOffline} with the accounts and inboxes in a cluster. */
async function messageOfflineShared(
  call: Call<"private">,
  text: string,
  owner: OwnerRoute,
): Promise<void> {
  const { hub, session } = call;
  const found = await lookUpAccount(call, call.request.to);
  if (found === null || session.state !== "active") return;
  const account = registered(call, found);
  if (account === null) return;
  const deliver = owner(account.id);
  if (deliver !== null) return deliver();
  const unsent = {
    type: "private" as const,
    ts: hub.now(),
    from: session.nick!,
    to: account.nick,
    text,
  };
  const limits = hub.limits;
  let left;
  try {
    left = await hub.sharedInbox!.leave(
      unsent,
      account.id,
      session.addressKey,
      {
        maxInbox: limits.maxInboxMessages,
        maxPerAddress: limits.maxWaitingPerAddress,
        expiryMs: limits.offlineExpiryMs,
      },
    );
  } catch (error) {
    return accountsDown(call, error);
  }
  if (session.state !== "active") return;
  if (!left.ok) {
    return call.fail(
      "full",
      left.why === "inbox_full" ? inboxFull(hub, account) : addressFull(hub),
    );
  }
  // Its confirmation, as a message to someone online gets.
  const message: PrivateMessage = { ...unsent, id: left.id };
  call.reply(message);
  tellOffline(call, message);
}

/**
 * The account a message to someone offline is for, or null after refusing
 * (nobody by that name, or a mute: said in that order, as for someone
 * online).
 */
function registered(
  call: Call<"private">,
  account: Account | undefined,
): Account | null {
  const to = call.request.to;
  if (account === undefined || foldKey(account.nick) !== foldKey(to)) {
    call.fail("no_such_nick", `Nobody is called ${to}`);
    return null;
  }
  if (call.session.muted) {
    call.fail("muted", "You are muted");
    return null;
  }
  return account;
}

function waitingMessage(
  call: Call<"private">,
  account: Account,
  text: string,
): PrivateMessage {
  const { hub, session } = call;
  return {
    type: "private",
    id: hub.nextMessageId(),
    ts: hub.now(),
    from: session.nick!,
    to: account.nick,
    text,
  };
}

function tellOffline(call: Call<"private">, message: PrivateMessage): void {
  call.send({
    type: "notice",
    text:
      `${message.to} is offline; they will get your message when they identify`,
  });
}

/**
 * Refuses a message for an offline account whose inbox is full, or from an
 * address with too many messages already waiting; returns the refusal.
 */
function inboxRefusal(
  call: Call<"private">,
  account: Account,
): string | null {
  const { hub, session } = call;
  const limits = hub.limits;
  const since = hub.now() - limits.offlineExpiryMs;
  const refusal =
    hub.history.inboxSize(account.id, since) >= limits.maxInboxMessages
      ? inboxFull(hub, account)
      : hub.history.waitingFromAddress(session.addressKey, since) >=
          limits.maxWaitingPerAddress
      ? addressFull(hub)
      : null;
  if (refusal !== null) call.fail("full", refusal);
  return refusal;
}

function inboxFull(hub: Hub, account: Account): string {
  const max = hub.limits.maxInboxMessages;
  return `${account.nick} is offline and their inbox is full (${max} waiting messages); try again once they have read them`;
}

function addressFull(hub: Hub): string {
  const max = hub.limits.maxWaitingPerAddress;
  return `You already have ${max} messages waiting for people who are offline; no more until some are read`;
}

/**
 * Sends the private messages that waited for this account, oldest first, as
 * the reader drains them (Session.reply); each is marked delivered only once
 * the socket has taken it, so a connection lost midway keeps the rest
 * waiting for the next login.
 */
export function deliverPending(hub: Hub, session: Session): void {
  const account = session.account;
  if (account === null) return;
  const since = hub.now() - hub.limits.offlineExpiryMs;
  const inbox = hub.sharedInbox;
  if (inbox !== null) {
    deliverShared(hub, session, inbox, since).catch((error: unknown) => {
      hub.log("warn", "waiting_fetch_failed", {
        session: session.id,
        error: describeError(error),
      });
      if (session.state !== "active") return;
      session.send({ type: "notice", text: FETCH_FAILED });
    });
    return;
  }
  hub.inOrder(() => {
    const waiting = hub.history.pendingFor(account.id, since);
    if (waiting.length === 0) return;
    deliverMarking(session, waiting, (ids: number[]) => {
      try {
        hub.history.markDelivered(ids);
      } catch (error) {
        markFailed(hub, session, error);
      }
    }, (message) => message.id);
  });
}

/** {@linkcode deliverPending} from a cluster's shared inbox. */
async function deliverShared(
  hub: Hub,
  session: Session,
  inbox: SharedInbox,
  since: number,
): Promise<void> {
  const account = session.account!;
  const waiting = await inbox.waitingFor(account.id, since);
  if (waiting.length === 0) return;
  const byMessage = new Map<PrivateMessage, WaitingMessage>(
    waiting.map((entry) => [entry.message, entry]),
  );
  hub.inOrder(() => {
    // Only to the account's owner, still here.
    if (session.state === "closing" || session.account?.id !== account.id) {
      return;
    }
    deliverMarking(
      session,
      waiting.map((entry) => entry.message),
      (delivered: WaitingMessage[]) =>
        inbox.markDelivered(account.id, delivered).catch((error: unknown) =>
          markFailed(hub, session, error)
        ),
      (message) => byMessage.get(message)!,
    );
  });
}

/**
 * Replies with `messages`, calling `mark` with the handles (`handle`) of
 * every message the socket took in one turn.
 */
function deliverMarking<T>(
  session: Session,
  messages: PrivateMessage[],
  mark: (handles: T[]) => void,
  handle: (message: PrivateMessage) => T,
): void {
  let written: T[] = [];
  const markWritten = () => {
    const handles = written;
    written = [];
    mark(handles);
  };
  session.reply(messages, (event: ServerEvent) => {
    if (written.length === 0) queueMicrotask(markWritten);
    written.push(handle(event as PrivateMessage));
  });
}

function markFailed(hub: Hub, session: Session, error: unknown): void {
  hub.log("error", "mark_delivered_failed", {
    session: session.id,
    error: describeError(error),
  });
  if (session.state !== "active") return;
  session.send({ type: "notice", text: MARK_FAILED });
}

/** What a user is told when the messages waiting for them cannot be read. */
export const FETCH_FAILED =
  "Messages waiting for you could not be read (the cluster's store is unreachable); they keep waiting for your next login";

/** What a user is told when delivered messages could not be marked so. */
export const MARK_FAILED =
  "Messages just delivered could not be marked as read; you may get them again at your next login";
