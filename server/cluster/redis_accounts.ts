/**
 * A cluster's registered accounts and waiting private messages, in Redis:
 * an account registered on one node identifies on any other, and a message
 * left for an offline account waits for its login on whichever node.
 *
 * Keys (one Redis, not Redis Cluster: the scripts read keys they compute):
 * - `tern:account:<fold key>`: a hash (id, nick, look-alike key, salt, hash,
 *   iterations, created);
 * - `tern:account-looks:<look-alike key>`: the fold key of the account that
 *   name looks like, so a look-alike cannot be registered or used;
 * - `tern:account-id`: the id counter (INCR), so ids are never reused;
 * - `tern:registrations:<address>`: when an address registered, for the
 *   quota across every node;
 * - `tern:inbox:<account id>`: a sorted set (by time sent) of waiting
 *   messages, each "<id> <JSON of the message and its sender's address>",
 *   and `tern:waiting-from:<address>` the same entries by sender, for the
 *   quotas. Each expires with its newest message. A waiting message's id
 *   comes from the cluster's message counter, as a room message's does.
 *
 * Every check and its write run in one Lua script, so two nodes registering
 * one name at once (or filling one inbox) cannot both pass. The connection
 * has no offline queue: while Redis is away every call fails at once and
 * the caller tells the user (`unavailable`) instead of waiting. A Redis that
 * hangs instead fails each call after `--redis-timeout` (redis_timeout.ts);
 * a write that timed out is followed on the same connection by its undo,
 * which Redis runs after it if it ever runs it, so a registration, a new
 * password or a waiting message the user was told did not happen never
 * appears later.
 *
 * @module
 */

import { createClient } from "npm:redis@5.12.1";
import { closeClient } from "./client_close.ts";
import type {
  AccountBook,
  Left,
  Registration,
  RegistrationQuota,
  SharedInbox,
  WaitingMessage,
} from "../account_book.ts";
import type { Account } from "../store/account_store.ts";
import type { PasswordHash } from "../passwords.ts";
import type { SessionAccount } from "../session.ts";
import type { Hub } from "../hub.ts";
import type { PrivateMessage } from "../../protocol.ts";
import { foldKey } from "../../wire/names.ts";
import { skeletonKey } from "../names/lookalikes.ts";
import { describeError } from "../log.ts";
import { encodeEnvelope, readEntry } from "./waiting_entry.ts";
import { bounded, RedisTimeout } from "./redis_timeout.ts";

const ACCOUNT_PREFIX = "tern:account:";
const LOOKS_PREFIX = "tern:account-looks:";
const ACCOUNT_ID_KEY = "tern:account-id";
const REGISTRATIONS_PREFIX = "tern:registrations:";
const INBOX_PREFIX = "tern:inbox:";
const WAITING_FROM_PREFIX = "tern:waiting-from:";
/** A password change's previous password, kept for its undo. */
const PASSWORD_UNDO_PREFIX = "tern:password-undo:";
/** How long a password change can still be undone. */
const PASSWORD_UNDO_MS = 60_000;

/** The account's hash by fold key, else by the look-alike key's pointer. */
const FIND_SCRIPT = `
local fields = redis.call('HGETALL', KEYS[1])
if #fields > 0 then return fields end
local fold = redis.call('GET', KEYS[2])
if not fold then return {} end
return redis.call('HGETALL', ARGV[1] .. fold)`;

/**
 * Registers unless the name (or a look-alike) is taken or the address is
 * over its quota; the id is kept above ARGV[9], the highest this node
 * knows, so a Redis that restarted empty does not hand out old ids again.
 * Returns the id, -1 (taken) or -2 (quota).
 */
const CREATE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
  return -1
end
local now = tonumber(ARGV[6])
local window = tonumber(ARGV[8])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. (now - window))
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[7]) then return -2 end
local id = redis.call('INCR', KEYS[3])
if id <= tonumber(ARGV[9]) then
  id = tonumber(ARGV[9]) + 1
  redis.call('SET', KEYS[3], id)
end
redis.call('HSET', KEYS[1], 'id', id, 'nick', ARGV[1], 'looks', ARGV[2],
  'salt', ARGV[3], 'hash', ARGV[4], 'iterations', ARGV[5], 'created', ARGV[6])
redis.call('SET', KEYS[2], ARGV[10])
redis.call('ZADD', KEYS[4], now, id)
redis.call('PEXPIRE', KEYS[4], window)
return id`;

/**
 * Drops an account: its hash, its look-alike pointer (if still its own)
 * and its inbox, taking the inbox's entries off their senders' quotas.
 * Returns the dropped id, or 0.
 */
const DROP_SCRIPT = `
local id = redis.call('HGET', KEYS[1], 'id')
if not id then return 0 end
local looks = redis.call('HGET', KEYS[1], 'looks')
redis.call('DEL', KEYS[1])
if looks and redis.call('GET', ARGV[1] .. looks) == ARGV[2] then
  redis.call('DEL', ARGV[1] .. looks)
end
local inbox = ARGV[3] .. id
for _, entry in ipairs(redis.call('ZRANGE', inbox, 0, -1)) do
  local ok, envelope = pcall(cjson.decode, string.match(entry, '^%d+ (.*)$') or '')
  if ok and type(envelope) == 'table' and type(envelope['a']) == 'string' then
    redis.call('ZREM', ARGV[4] .. envelope['a'], entry)
  end
end
redis.call('DEL', inbox)
return tonumber(id)`;

/**
 * Leaves a message unless the inbox or the sender's address is full
 * (expired entries do not count and are cleared first): it takes the next
 * message id (KEYS[3]) and is stored as "<id> <envelope>". Returns the id,
 * -1 (inbox full) or -2 (address full).
 */
const LEAVE_SCRIPT = `
local since = '(' .. ARGV[3]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', since)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', since)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return -1 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return -2 end
local id = redis.call('INCR', KEYS[3])
local entry = id .. ' ' .. ARGV[1]
redis.call('ZADD', KEYS[1], ARGV[2], entry)
redis.call('ZADD', KEYS[2], ARGV[2], entry)
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return id`;

/**
 * Takes back a registration that timed out (CREATE_SCRIPT), if it ran:
 * the account is the one whose salt is ARGV[1] (a salt is random and new).
 * KEYS as CREATE_SCRIPT's but the counter; ARGV[2] the fold key.
 */
const UNDO_CREATE_SCRIPT = `
if redis.call('HGET', KEYS[1], 'salt') ~= ARGV[1] then return 0 end
local id = redis.call('HGET', KEYS[1], 'id')
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
redis.call('ZREM', KEYS[3], id)
return 1`;

/**
 * Replaces an account's password if the hash is still account ARGV[1]'s,
 * keeping the previous one (KEYS[2], for ARGV[5] ms) for an undo.
 */
const SET_PASSWORD_SCRIPT = `
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end
local old = redis.call('HMGET', KEYS[1], 'salt', 'hash', 'iterations')
redis.call('SET', KEYS[2], cjson.encode({new = ARGV[2], salt = old[1],
  hash = old[2], iterations = old[3]}), 'PX', ARGV[5])
redis.call('HSET', KEYS[1], 'salt', ARGV[2], 'hash', ARGV[3],
  'iterations', ARGV[4])
return 1`;

/**
 * Takes back a password change that timed out, if it ran: puts the
 * previous password back while the account still has the new one (salt
 * ARGV[1]).
 */
const UNDO_PASSWORD_SCRIPT = `
local kept = redis.call('GET', KEYS[2])
if not kept then return 0 end
local old = cjson.decode(kept)
if old['new'] ~= ARGV[1] or redis.call('HGET', KEYS[1], 'salt') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'salt', old['salt'], 'hash', old['hash'],
  'iterations', old['iterations'])
redis.call('DEL', KEYS[2])
return 1`;

/**
 * Takes back a waiting message that timed out (LEAVE_SCRIPT), if it ran:
 * the entries of both sets at score ARGV[2] whose envelope is ARGV[1].
 */
const UNDO_LEAVE_SCRIPT = `
local removed = 0
for _, key in ipairs(KEYS) do
  for _, entry in ipairs(redis.call('ZRANGEBYSCORE', key, ARGV[2], ARGV[2])) do
    local space = string.find(entry, ' ', 1, true)
    if space and string.sub(entry, space + 1) == ARGV[1] then
      removed = removed + redis.call('ZREM', key, entry)
    end
  end
end
return removed`;

/** Tries to reach Redis at start before giving up with an error. */
const START_ATTEMPTS = 3;

/**
 * An undo whose link dropped is sent again (it changes nothing the second
 * time) for at most this many `--redis-timeout` after its first failure,
 * which keeps a password change's undo within the life of the previous
 * password kept for it (PASSWORD_UNDO_MS at the default timeout).
 */
const UNDO_RETRY_TIMEOUTS = 6;
/** The first wait before an undo is sent again; it doubles each time. */
const UNDO_RETRY_FIRST_MS = 50;

type Client = ReturnType<typeof createClient>;

/** What {@linkcode RedisAccounts.open} needs besides the hub and URL. */
export interface AccountsOptions {
  /** The cluster's message id counter, which waiting messages share. */
  idKey: string;
}

/** Accounts and waiting messages shared through one Redis. */
export class RedisAccounts implements AccountBook, SharedInbox {
  readonly local = null;
  readonly #client: Client;
  /** The highest account id this node has seen (or its file holds). */
  #highestId: number;
  #joined = false;
  #closed = false;
  #down = false;
  readonly #idKey: string;
  readonly #hub: Hub;
  #readyWaiters: Array<() => void> = [];
  /** Waits between an undo's tries: cut short when closing. */
  readonly #undoWaits = new Map<ReturnType<typeof setTimeout>, () => void>();

  private constructor(hub: Hub, url: string, options: AccountsOptions) {
    this.#hub = hub;
    this.#idKey = options.idKey;
    this.#highestId = hub.history.accounts.highestId();
    // No offline queue: a registration or login while Redis is away is
    // refused at once, not held until it returns.
    this.#client = createClient({
      url,
      RESP: 2,
      disableOfflineQueue: true,
      socket: {
        reconnectStrategy: (retries, cause) => this.#retry(retries, cause),
      },
    });
    this.#client.on("error", (error: unknown) => {
      if (!this.#down) {
        hub.log("warn", "cluster_accounts_degraded", {
          error: describeError(error),
        });
      }
      this.#down = true;
    });
    this.#client.on("ready", () => {
      if (this.#down) hub.log("info", "cluster_accounts_back");
      this.#down = false;
      for (const resolve of this.#readyWaiters.splice(0)) resolve();
    });
  }

  /** Resolves once the connection is up (at once if it is). */
  whenReady(): Promise<void> {
    if (this.#client.isReady) return Promise.resolve();
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  /**
   * Connects to Redis and makes `hub` keep its accounts there.
   * @throws when Redis cannot be reached at start
   */
  static async open(
    hub: Hub,
    url: string,
    options: AccountsOptions,
  ): Promise<RedisAccounts> {
    const accounts = new RedisAccounts(hub, url, options);
    try {
      await bounded(accounts.#client.connect(), hub.limits.redisTimeoutMs);
    } catch (error) {
      accounts.#closed = true;
      if (accounts.#client.isOpen) accounts.#client.destroy();
      throw error;
    }
    accounts.#joined = true;
    hub.shareAccounts(accounts);
    return accounts;
  }

  /**
   * node-redis's own backoff, except at start (as RedisNode's), and none
   * once closing: close waits for the attempt under way to be the last.
   */
  #retry(retries: number, cause: Error): number | Error {
    if (this.#closed || (!this.#joined && retries >= START_ATTEMPTS)) {
      return cause;
    }
    return Math.min(50 * 2 ** retries, 2000) + Math.floor(Math.random() * 200);
  }

  /** `work`, failing after `--redis-timeout`. */
  #bounded<T>(work: Promise<T>): Promise<T> {
    return bounded(work, this.#hub.limits.redisTimeoutMs);
  }

  /**
   * `write`, failing after `--redis-timeout`; then `undo` is sent at once
   * (after it on this connection, so Redis runs it after the write if it
   * runs the write at all), and again should the write's answer still come.
   * The timeout's `undone` says whether the first undo ran: when its link
   * dropped first, the write may have happened, and the caller tells the
   * user so.
   */
  async #undoable<T>(
    write: Promise<T>,
    done: (value: T) => boolean,
    undo: () => Promise<unknown>,
    what: string,
  ): Promise<T> {
    const undoing = (): Promise<boolean> => this.#undoUntilRun(undo, what);
    try {
      return await bounded(
        write,
        this.#hub.limits.redisTimeoutMs,
        (value) => {
          if (done(value)) undoing().catch(() => {}); // never rejects
        },
      );
    } catch (error) {
      if (error instanceof RedisTimeout) {
        this.#hub.log("warn", "cluster_write_timed_out", { what });
        error.undone = undoing();
      }
      throw error;
    }
  }

  /**
   * Sends `undo` and, should it fail (its link dropped, or Redis is out of
   * reach), again with a doubling wait, for at most `UNDO_RETRY_TIMEOUTS`
   * `--redis-timeout` after the first failure: each undo takes back only
   * its own write, so sending it twice is harmless, and the write it
   * follows either ran before the link dropped or never will. True once one
   * ran; false when given up (logged), so the caller tells the user the
   * write may have happened after all. One on the wire to a Redis that
   * hangs is waited for, as it runs after the write if Redis ever does.
   * Never rejects.
   */
  async #undoUntilRun(
    undo: () => Promise<unknown>,
    what: string,
  ): Promise<boolean> {
    let giveUpAt = Infinity;
    for (let tries = 1;; tries++) {
      try {
        await undo();
        if (tries > 1) {
          this.#hub.log("info", "cluster_undo_retried", { what, tries });
        }
        return true;
      } catch (error) {
        const now = performance.now();
        if (tries === 1) {
          giveUpAt = now +
            UNDO_RETRY_TIMEOUTS * this.#hub.limits.redisTimeoutMs;
          this.#hub.log("warn", "cluster_undo_failed", {
            what,
            error: describeError(error),
          });
        }
        const wait = Math.min(
          UNDO_RETRY_FIRST_MS * 2 ** (tries - 1),
          this.#hub.limits.redisTimeoutMs,
        );
        if (this.#closed || now + wait > giveUpAt) {
          this.#hub.log("error", "cluster_undo_given_up", {
            what,
            tries,
            error: describeError(error),
          });
          return false;
        }
        await this.#pause(wait);
      }
    }
  }

  /** Waits `ms`, or less should this close meanwhile. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#undoWaits.delete(timer);
        resolve();
      }, ms);
      this.#undoWaits.set(timer, resolve);
    });
  }

  async find(nick: string): Promise<Account | undefined> {
    const reply = await this.#bounded(this.#client.eval(FIND_SCRIPT, {
      keys: [ACCOUNT_PREFIX + foldKey(nick), LOOKS_PREFIX + skeletonKey(nick)],
      arguments: [ACCOUNT_PREFIX],
    })) as string[];
    if (reply.length === 0) return undefined;
    const fields = new Map<string, string>();
    for (let i = 0; i + 1 < reply.length; i += 2) {
      fields.set(reply[i]!, reply[i + 1]!);
    }
    const account = {
      id: Number(fields.get("id")),
      nick: fields.get("nick") ?? "",
      salt: fromBase64(fields.get("salt") ?? ""),
      hash: fromBase64(fields.get("hash") ?? ""),
      iterations: Number(fields.get("iterations")),
      created: Number(fields.get("created")),
    };
    this.#highestId = Math.max(this.#highestId, account.id);
    return account;
  }

  async create(
    account: Omit<Account, "id">,
    quota: RegistrationQuota,
  ): Promise<Registration> {
    const fold = foldKey(account.nick);
    const looks = skeletonKey(account.nick);
    const salt = toBase64(account.salt);
    const write = this.#client.eval(CREATE_SCRIPT, {
      keys: [
        ACCOUNT_PREFIX + fold,
        LOOKS_PREFIX + looks,
        ACCOUNT_ID_KEY,
        REGISTRATIONS_PREFIX + quota.address,
      ],
      arguments: [
        account.nick,
        looks,
        salt,
        toBase64(account.hash),
        String(account.iterations),
        String(account.created),
        String(quota.max),
        String(quota.windowMs),
        String(this.#highestId),
        fold,
      ],
    }) as Promise<number>;
    const reply = await this.#undoable(
      write,
      (id) => id > 0,
      () =>
        this.#client.eval(UNDO_CREATE_SCRIPT, {
          keys: [
            ACCOUNT_PREFIX + fold,
            LOOKS_PREFIX + looks,
            REGISTRATIONS_PREFIX + quota.address,
          ],
          arguments: [salt, fold],
        }),
      "register",
    );
    if (reply === -1) return { ok: false, why: "taken" };
    if (reply === -2) return { ok: false, why: "quota" };
    this.#highestId = Math.max(this.#highestId, reply);
    return { ok: true, id: reply };
  }

  async drop(nick: string): Promise<boolean> {
    const fold = foldKey(nick);
    const reply = await this.#bounded(this.#client.eval(DROP_SCRIPT, {
      keys: [ACCOUNT_PREFIX + fold],
      arguments: [LOOKS_PREFIX, fold, INBOX_PREFIX, WAITING_FROM_PREFIX],
    })) as number;
    return reply !== 0;
  }

  async setPassword(
    account: SessionAccount,
    password: PasswordHash,
  ): Promise<boolean> {
    const fold = foldKey(account.nick);
    const keys = [ACCOUNT_PREFIX + fold, PASSWORD_UNDO_PREFIX + fold];
    const salt = toBase64(password.salt);
    const write = this.#client.eval(SET_PASSWORD_SCRIPT, {
      keys,
      arguments: [
        String(account.id),
        salt,
        toBase64(password.hash),
        String(password.iterations),
        String(PASSWORD_UNDO_MS),
      ],
    }) as Promise<number>;
    const reply = await this.#undoable(
      write,
      (changed) => changed === 1,
      () =>
        this.#client.eval(UNDO_PASSWORD_SCRIPT, { keys, arguments: [salt] }),
      "setpass",
    );
    return reply === 1;
  }

  async leave(
    message: Omit<PrivateMessage, "id">,
    accountId: number,
    address: string,
    limits: { maxInbox: number; maxPerAddress: number; expiryMs: number },
  ): Promise<Left> {
    const envelope = encodeEnvelope(message, address);
    const sets = [INBOX_PREFIX + accountId, WAITING_FROM_PREFIX + address];
    const write = this.#client.eval(LEAVE_SCRIPT, {
      keys: [...sets, this.#idKey],
      arguments: [
        envelope,
        String(message.ts),
        String(message.ts - limits.expiryMs),
        String(limits.maxInbox),
        String(limits.maxPerAddress),
        String(limits.expiryMs),
      ],
    }) as Promise<number>;
    const reply = await this.#undoable(
      write,
      (id) => id > 0,
      () =>
        this.#client.eval(UNDO_LEAVE_SCRIPT, {
          keys: sets,
          arguments: [envelope, String(message.ts)],
        }),
      "waiting_message",
    );
    if (reply === -1) return { ok: false, why: "inbox_full" };
    if (reply === -2) return { ok: false, why: "address_full" };
    return { ok: true, id: reply };
  }

  async waitingFor(
    accountId: number,
    since: number,
  ): Promise<WaitingMessage[]> {
    const entries = await this.#bounded(this.#client.zRangeByScore(
      INBOX_PREFIX + accountId,
      since,
      "+inf",
    ));
    const waiting: WaitingMessage[] = [];
    for (const entry of entries) {
      const read = readEntry(entry);
      if (read !== null) waiting.push({ message: read.message, entry });
    }
    return waiting.sort((x, y) =>
      x.message.ts - y.message.ts || x.message.id - y.message.id
    );
  }

  async markDelivered(
    accountId: number,
    delivered: readonly WaitingMessage[],
  ): Promise<void> {
    if (delivered.length === 0) return;
    const entries = delivered.map((waiting) => waiting.entry);
    const batch = this.#client.multi().zRem(INBOX_PREFIX + accountId, entries);
    const byAddress = new Map<string, string[]>();
    for (const entry of entries) {
      const address = readEntry(entry)?.address;
      if (address === undefined) continue;
      byAddress.set(address, [...byAddress.get(address) ?? [], entry]);
    }
    for (const [address, sent] of byAddress) {
      batch.zRem(WAITING_FROM_PREFIX + address, sent);
    }
    await this.#bounded(batch.exec());
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const [timer, resolve] of this.#undoWaits) {
      clearTimeout(timer);
      resolve();
    }
    this.#undoWaits.clear();
    await closeClient(this.#client, this.#hub.limits.redisTimeoutMs);
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
