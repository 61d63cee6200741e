/**
 * Reading the accounts where a handler may wait for them: wherever they
 * live (hub.accounts), with a cluster's Redis out of reach told to the
 * client as `unavailable`, and this server's database failing as
 * `not_stored`, instead of thrown.
 *
 * @module
 */

import type { Account } from "../store/account_store.ts";
import { describeError } from "../log.ts";
import { CLUSTER_DOWN } from "../nicknames.ts";
import {
  RedisTimeout,
  STORE_SILENT,
  tellIfNotUndone,
  UNDO_GIVEN_UP,
} from "../cluster/redis_timeout.ts";
import type { Call } from "./call.ts";
import { storeFailureCause } from "../store/after_commit.ts";

/**
 * The account `nick` belongs to (undefined: none); null once the client has
 * been told the accounts cannot be reached.
 */
export async function lookUpAccount(
  call: Call,
  nick: string,
): Promise<Account | undefined | null> {
  try {
    return await call.hub.accounts.find(nick);
  } catch (error) {
    accountsDown(call, error);
    return null;
  }
}

/**
 * Tells the client (and the log) that the accounts are out of reach: Redis
 * gone, or not answering in time (and what it may still do was undone).
 */
export function accountsDown(call: Call, error: unknown): void {
  call.hub.log("warn", "accounts_unavailable", {
    session: call.session.id,
    request: call.request.type,
    error: describeError(error),
  });
  if (isDatabaseError(error)) {
    // This server's own database (a full disk, a lock another program
    // holds): nothing to do with a cluster, which it may not have.
    return call.fail(
      "not_stored",
      `Not done: the server could not store it (${
        storeFailureCause(error)
      }); try again later`,
    );
  }
  call.fail(
    "unavailable",
    error instanceof RedisTimeout ? STORE_SILENT : CLUSTER_DOWN,
  );
  const session = call.session;
  tellIfNotUndone(error, notUndone(call), (text) => {
    if (session.state !== "closing") session.send({ type: "notice", text });
  });
}

/**
 * What a user told "nothing was done" hears when the write may have
 * happened after all (its undo was lost with the link to Redis): named as
 * what it did, never by its request type, which a person at `nc` never
 * typed.
 */
export function notUndone(call: Call): string {
  const { request, session } = call;
  switch (request.type) {
    case "register":
      return `Your registration of ${session.nick} may have been stored after all: ${UNDO_GIVEN_UP}; ${
        session.words(
          `/identify ${session.nick} PASSWORD`,
          'an "identify" request with its password',
        )
      } tells whether it was`;
    case "setpass":
      return `Your new password for ${
        session.account?.nick ?? session.nick
      } may have been stored after all: ${UNDO_GIVEN_UP}; the old password or the new one may be the one in force`;
    case "private":
      return `Your message to ${request.to} may be delivered after all: ${UNDO_GIVEN_UP}`;
    case "drop":
      return `The release of ${
        request.nick ?? session.account?.nick ?? session.nick
      } may have happened after all: ${UNDO_GIVEN_UP}`;
    default:
      return `What you asked may have happened after all: ${UNDO_GIVEN_UP}`;
  }
}

/** Whether `error` is SQLite's (node:sqlite), not the cluster's. */
function isDatabaseError(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "ERR_SQLITE_ERROR";
}
