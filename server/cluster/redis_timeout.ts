/**
 * A bound on how long a node waits for Redis. A Redis that hangs (stopped,
 * busy in a slow script, swapping) keeps its connection open, so node-redis
 * fails nothing: a command once written waits for its answer for ever, and
 * so would the user behind it. Every command on a user's path is raced
 * against `--redis-timeout` instead; the user is told the store is
 * unreachable, and the caller undoes what the command may still do if Redis
 * wakes up (the command is not taken back: it is on the wire).
 *
 * Loaded by the hub's commands too (the error type and its words), so this
 * module must not import the Redis client.
 *
 * @module
 */

/** Redis did not answer a command within `--redis-timeout`. */
export class RedisTimeout extends Error {
  /**
   * For a write Redis may still run, set by whoever sent its undo: settles
   * true once the undo has run (or had nothing to take back), false when
   * it could not be sent or its link dropped first, so the write may have
   * happened after all. The user was told nothing was done: the caller
   * tells them otherwise on false. Never rejects.
   */
  undone?: Promise<boolean>;

  /**
   * Names the timeout in seconds, as `--redis-timeout` takes it.
   * @param ms the timeout that passed
   */
  constructor(ms: number) {
    super(`Redis did not answer within ${ms / 1000} s`);
    this.name = "RedisTimeout";
  }
}

/**
 * Tells `tell` (the user whose write it was) `words` should `error` be a
 * timed-out write whose undo failed: it may have happened after all.
 */
export function tellIfNotUndone(
  error: unknown,
  words: string,
  tell: (words: string) => void,
): void {
  if (!(error instanceof RedisTimeout) || error.undone === undefined) return;
  error.undone.then((undone) => {
    if (!undone) tell(words);
  }).catch(() => {}); // tell never throws; nothing else can
}

/** The cause given to a user whose timed-out write could not be undone. */
export const UNDO_LOST =
  "the cluster's store (Redis) stopped answering, and its link dropped before that could be taken back";

/**
 * The cause given to a user whose timed-out account write could not be
 * undone though its undo was sent again until given up.
 */
export const UNDO_GIVEN_UP =
  "the cluster's store (Redis) stopped answering, and its link dropped before that could be taken back (tried again until it was given up)";

/**
 * What a node tells a user whose request Redis did not answer in time,
 * after whatever it may still do has been undone.
 */
export const STORE_SILENT =
  "The chat is degraded: the cluster's store (Redis) is not answering, so nothing was done; try again in a moment";

/**
 * `work`'s outcome, or a {@linkcode RedisTimeout} once `ms` have passed
 * first. A late outcome of `work` is then dropped (a late failure is
 * caught, never unhandled); `onLate` sees a late success, to undo it.
 */
export function bounded<T>(
  work: Promise<T>,
  ms: number,
  onLate?: (value: T) => void,
): Promise<T> {
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = work.then((value) => {
    if (timedOut) onLate?.(value);
    return value;
  });
  late.catch(() => {});
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new RedisTimeout(ms));
    }, ms);
  });
  return Promise.race([late, timeout]).finally(() => clearTimeout(timer));
}
