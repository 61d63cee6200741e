/**
 * Every password check goes through here: refused at once while its account
 * or address is in a growing delay after wrong guesses (guards.ts), hashed
 * in the bounded queue, and counted when wrong. A throttled or queued-out
 * try costs the server no hashing at all, so guessing is bounded by the
 * delays, not by how fast the attacker can send.
 *
 * @module
 */

import { type PasswordHash, verifyPassword } from "../passwords.ts";
import type { Call } from "./call.ts";

/** What a password check came to. */
export type PasswordVerdict = "right" | "wrong" | "refused";

/** The guard keys of a try: what is guessed at, and who is guessing. */
export function guardKeys(call: Call, accountId?: number): string[] {
  const keys = [`address:${call.session.addressKey}`];
  if (accountId !== undefined) keys.push(`account:${accountId}`);
  return keys;
}

/**
 * Refuses a try while any of `keys` must still wait; returns whether it
 * may go ahead.
 */
export function mayTry(call: Call, keys: readonly string[]): boolean {
  const { hub, session } = call;
  const wait = hub.guards.logins.waitMs(keys, hub.now());
  if (wait <= 0) return true;
  hub.log("warn", "login_throttled", {
    session: session.id,
    address: session.address,
    waitMs: wait,
  });
  call.fail(
    "rate_limited",
    `Too many wrong passwords: try again in ${Math.ceil(wait / 1000)} s`,
  );
  return false;
}

/** Counts a wrong password against `keys`. */
export function recordWrong(call: Call, keys: readonly string[]): void {
  call.hub.guards.logins.fail(keys, call.hub.now());
}

/**
 * Checks an account password: throttled, then hashed in the queue. On
 * "wrong" the failure is counted (the caller says so to the client); on
 * "refused" the client has been told why and nothing was hashed.
 */
export async function checkAccountPassword(
  call: Call,
  accountId: number,
  password: string,
  stored: PasswordHash,
): Promise<PasswordVerdict> {
  const keys = guardKeys(call, accountId);
  if (!mayTry(call, keys)) return "refused";
  const result = await call.hub.guards.hashes.run(
    call.session.addressKey,
    () => verifyPassword(password, stored),
  );
  if (!result.ok) {
    call.fail("rate_limited", busyMessage(result.why));
    return "refused";
  }
  if (!result.value) {
    recordWrong(call, keys);
    return "wrong";
  }
  // Only the account starts afresh: an address that guesses at others'
  // accounts cannot clear its record by logging into its own.
  call.hub.guards.logins.succeed([`account:${accountId}`]);
  return "right";
}

/** Hashes a new password in the queue; null after telling the client why not. */
export async function hashQueued(
  call: Call,
  password: string,
): Promise<PasswordHash | null> {
  const result = await call.hub.guards.hashes.run(
    call.session.addressKey,
    () => call.hub.hashPassword(password),
  );
  if (result.ok) return result.value;
  call.fail("rate_limited", busyMessage(result.why));
  return null;
}

function busyMessage(why: "queue_full" | "address_busy"): string {
  return why === "queue_full"
    ? "The server is busy checking passwords; try again in a few seconds"
    : "Your address already has passwords being checked; wait for them";
}
