/**
 * Closing a node-redis client that may be between reconnect attempts. Its
 * loop sleeps on a timer nobody can cancel, and a client destroyed while a
 * connection attempt is under way is left with that socket once it
 * connects (the client is no longer open, so nothing can close it). A
 * close that returned before the loop ended would leave a timer or a
 * socket behind: a leak the test sanitizer reports, and a process that
 * cannot exit yet. So the loop is let run to its end first: the owner's
 * reconnect strategy refuses every retry once it is closing, so the
 * attempt under way (or the one after the sleep) is the last.
 */

import { bounded } from "./redis_timeout.ts";

/**
 * The longest a close waits for a reconnect loop: a sleep (2 s plus
 * jitter), one connection attempt (node-redis's 5 s connect timeout), and
 * a margin for a loaded machine. Past it the client is destroyed as is.
 */
const LOOP_END_GUARD_MS = 10_000;

/** The events that end one step of a reconnect loop. */
const STEP_ENDS = ["reconnecting", "error", "ready"] as const;

/** What this needs of a node-redis client. */
export interface ClosableClient {
  /**
   * Whether the client is connected or trying to be (a reconnect loop may be
   * under way).
   */
  readonly isOpen: boolean;
  /** Whether commands can go now: only then is a polite quit possible. */
  readonly isReady: boolean;
  /** Quits politely, after the answers to commands already sent. */
  close(): Promise<unknown>;
  /** Drops the connection at once, abandoning commands in flight. */
  destroy(): void;
  /** Listens for one event, to see a reconnect step end. */
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  /** Removes a `once` listener when the wait ends some other way. */
  off(event: string, listener: (...args: unknown[]) => void): unknown;
}

/**
 * Closes `client` for good: waits for a reconnect loop under way to end
 * (its owner's strategy must refuse retries by now), then quits a ready
 * connection politely or drops one that is not. A polite quit waits for
 * the answers to commands already sent: past `graceMs` (a Redis that
 * hangs) the connection is dropped instead.
 */
export async function closeClient(
  client: ClosableClient,
  graceMs: number = LOOP_END_GUARD_MS,
): Promise<void> {
  const deadline = Date.now() + LOOP_END_GUARD_MS;
  while (client.isOpen && !client.isReady) {
    if (!await nextStep(client, deadline - Date.now())) break;
  }
  try {
    if (client.isReady) await bounded(client.close(), graceMs);
    else if (client.isOpen) client.destroy();
  } catch {
    if (client.isOpen) client.destroy();
  }
}

/** Waits for the next step of the loop to end; false past `ms`. */
async function nextStep(client: ClosableClient, ms: number): Promise<boolean> {
  if (ms <= 0) return false;
  let guard: ReturnType<typeof setTimeout> | undefined;
  let done = () => {};
  try {
    return await new Promise<boolean>((resolve) => {
      done = () => resolve(true);
      for (const event of STEP_ENDS) client.once(event, done);
      guard = setTimeout(() => resolve(false), ms);
    });
  } finally {
    clearTimeout(guard);
    for (const event of STEP_ENDS) client.off(event, done);
  }
}
