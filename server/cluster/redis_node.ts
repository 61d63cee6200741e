/**
 * One node of a cluster of tern servers sharing rooms and nicknames through
 * Redis (`--redis URL`). Loaded only in that mode, so a single process never
 * loads the Redis client.
 *
 * Room messages: a node sends each one through a Lua script that takes the
 * next id (INCR) and PUBLISHes it on one channel in the same atomic step, so
 * id order is publish order, and Redis hands every subscriber a channel's
 * messages in publish order: every node delivers a room's messages in the
 * same order with increasing ids. The sender's own node delivers only when
 * its copy comes back from Redis, the same path as everyone else's.
 *
 * Nicknames: a script sets both of a name's keys, `tern:nick:case:<folded>`
 * and `tern:nick:look:<look-alike key>`, to `<node>/<session>` with an expiry
 * unless either is someone else's, so a claim is atomic and blocks names
 * that differ in case as well as those that look alike (the two keys the hub
 * checks on one node; `ALICE`'s look-alike key reads its `I` as `l`, so one
 * key alone would miss it). The node refreshes its claims on a heartbeat, and
 * lets one go with a compare-and-delete, so a node never frees a claim that
 * is not its own.
 *
 * @module
 */

import {
  ClientClosedError,
  ClientOfflineError,
  createClient,
  ErrorReply,
} from "npm:redis@5.12.1";
import type { ClusterNames, Hub, OwnCopy, RoomFeed } from "../hub.ts";
import type { RedisClient as Client } from "./redis_client.ts";
import type { RoomMessage, ServerEvent } from "../../protocol.ts";
import { errorEvent } from "../../protocol.ts";
import type { Room, Session } from "../session.ts";
import type { Hints } from "../../wire/events.ts";
import { foldKey } from "../../wire/names.ts";
import { skeletonKey } from "../names/lookalikes.ts";
import { describeError } from "../log.ts";
import { decodeRelay, encodeRelay, type Relay } from "./relay.ts";
import { RoomStreams } from "./room_streams.ts";
import { checkPersistence } from "./persistence.ts";
import { CLUSTER_DOWN } from "../nicknames.ts";
import { RedisPresence } from "./presence.ts";
import { RedisAccounts } from "./redis_accounts.ts";
import { closeClient } from "./client_close.ts";
import { PendingSends } from "./pending_sends.ts";
import { bounded, RedisTimeout } from "./redis_timeout.ts";
import { ReplyLane } from "./reply_lane.ts";

/** What a sender is told when Redis did not answer its send in time. */
export const SEND_UNCONFIRMED =
  "Not confirmed: the cluster's store (Redis) is not answering; the message is delivered if it answers in the end";

/**
 * What a sender is told when its send failed: `inTime`, before it was told
 * it is unconfirmed. Refused (Redis said no, or it never left this node):
 * not sent. Lost with the link while on the wire: Redis may have run it,
 * so it is unconfirmed, which a sender told so already needs not hear
 * again (null).
 */
export function sendFailure(error: unknown, inTime: boolean): string | null {
  if (error instanceof ErrorReply) {
    return `Not sent${
      inTime ? "" : " after all"
    }: the cluster's store (Redis) refused it (${describeError(error)})`;
  }
  if (
    error instanceof ClientOfflineError || error instanceof ClientClosedError
  ) {
    return `Not sent${inTime ? "" : " after all"}: ${CLUSTER_DOWN}`;
  }
  return inTime ? SEND_LINK_LOST : null;
}

/**
 * Whether a send that failed with `error` may have been run by Redis all
 * the same: it was on the wire when the link dropped (not refused, and not
 * kept from leaving this node).
 */
function mayHaveRun(error: unknown): boolean {
  return !(error instanceof ErrorReply || error instanceof ClientOfflineError ||
    error instanceof ClientClosedError);
}

/**
 * What a text-mode sender told its line in `room` was not confirmed is told
 * once it turns out Redis took it after all, as message `id` (a JSON sender
 * gets its copy, with its ref, instead).
 */
export function deliveredAfterAll(room: string, id: number): string {
  return `Your message in ${room} was delivered after all (id ${id}): the cluster's store (Redis) answered late`;
}

/**
 * What a sender told its message in `room` was not confirmed is told when
 * its send is forgotten (twelve --redis-timeout) with no sign it was stored:
 * its copy never came back, so what came of it is not known. `hints` name
 * how to look.
 */
export function notKnownInRoom(
  room: string,
  hints: Hints = "commands",
): string {
  const look = hints === "requests"
    ? `a "history" request for ${room}`
    : `/history ${room}`;
  return `Not known whether your message in ${room} reached it: the cluster's store (Redis) never confirmed it; ${look} shows whether it is there`;
}

/** What a sender is told when the link to Redis dropped under its send. */
export const SEND_LINK_LOST =
  "Not confirmed: the link to the cluster's store (Redis) dropped before it answered; the message is delivered if Redis took it";

/**
 * What the holder of `nick` here is told when someone on another node took
 * the name while Redis had forgotten this node's claim on it.
 */
export function nickLostNotice(
  nick: string,
  hints: Hints = "commands",
): string {
  const how = hints === "requests" ? 'a "nick" request' : "/nick NAME";
  return `Your nickname ${nick} was taken by someone on another server while this server could not reach Redis: you now share it, and messages meant for you may reach them; choose another with ${how}`;
}

/** The one channel every room's messages cross. */
export const ROOMS_CHANNEL = "tern:rooms";
/** The counter room message ids come from. */
export const MESSAGE_ID_KEY = "tern:message-id";
/** Prefix of a nickname's claim by its case-folded key. */
const NICK_CASE_PREFIX = "tern:nick:case:";
/** Prefix of a nickname's claim by its look-alike key. */
const NICK_LOOK_PREFIX = "tern:nick:look:";

/** Tries to reach Redis at start before giving up with an error. */
const START_ATTEMPTS = 3;

/**
 * How many --redis-timeout a room message's copy is waited for before its
 * send is forgotten (pending_sends.ts): its sender was told it is
 * unconfirmed after one, and is told then that what came of it is not
 * known; a copy later than this is delivered to the room but confirms
 * nothing. A constant: housekeeping, not a policy.
 */
const LATE_COPY_TIMEOUTS = 12;

/** Raises the id counter to at least ARGV[1] (ids stay above old history). */
const RAISE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 0`;

/**
 * Claims a name's keys for ARGV[1] for ARGV[2] ms, all or none: 0 when any
 * of them holds someone else's claim.
 */
const CLAIM_SCRIPT = `
for _, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder and holder ~= ARGV[1] then return 0 end
end
for _, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
end
return 1`;

/** Deletes those of a claim's keys that are still ours. */
const RELEASE_SCRIPT = `
local deleted = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    deleted = deleted + redis.call('DEL', key)
  end
end
return deleted`;

/** Extends a claim whose keys are all still ours; 0 when one is gone. */
const REFRESH_SCRIPT = `
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) ~= ARGV[1] then return 0 end
end
for _, key in ipairs(KEYS) do
  redis.call('PEXPIRE', key, ARGV[2])
end
return 1`;

/** A node's link to the cluster: its feed and its nickname claims. */
export class RedisNode implements RoomFeed, ClusterNames {
  /** This node's name in the cluster: random, new each start. */
  readonly id: string = crypto.randomUUID().slice(0, 8);
  readonly #hub: Hub;
  readonly #commands: Client;
  readonly #subscriber: Client;
  readonly #pending: PendingSends<Session>;
  /**
   * The answers each session is owed, held behind its room messages on
   * their way to Redis and back (reply_lane.ts); a session with none on
   * their way has no lane.
   */
  readonly #lanes = new Map<Session, ReplyLane>();
  /** Claims this node holds: their keys (see #keys) to value. */
  readonly #claims = new Map<string, string>();
  /** Releases in flight, so a close (or a test) can wait for them. */
  readonly #releasing = new Set<Promise<unknown>>();
  /**
   * Releases that could not be made (Redis out of reach), sent when the
   * command connection is back, until the claim would have expired.
   */
  readonly #owed = new Map<
    string,
    { key: string; value: string; until: number }
  >();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  /** Forgets the oldest send in flight when its time is up (#watchExpiry). */
  #expiry: ReturnType<typeof setTimeout> | undefined;
  /** Connections that are down now, by name. */
  readonly #downClients = new Set<string>();
  #readyWaiters: Array<() => void> = [];
  /** Room history in Redis, and gap-free delivery across outages. */
  readonly #streams: RoomStreams;
  /** The first connection error, the one worth reporting at start. */
  #lastError: unknown = undefined;
  #joined = false;
  #closed = false;
  /** Presence and room state across the nodes (presence.ts). */
  #presence: RedisPresence | null = null;
  /** The cluster's accounts and waiting messages (redis_accounts.ts). */
  #accounts: RedisAccounts | null = null;

  private constructor(hub: Hub, url: string) {
    this.#hub = hub;
    this.#pending = new PendingSends(
      LATE_COPY_TIMEOUTS * hub.limits.redisTimeoutMs,
    );
    // No offline queue: a command while Redis is away fails at once (the
    // user is told), instead of waiting to be replayed out of order.
    this.#commands = createClient({
      url,
      RESP: 2,
      disableOfflineQueue: true,
      socket: {
        reconnectStrategy: (retries, cause) => this.#retry(retries, cause),
      },
    });
    this.#subscriber = this.#commands.duplicate();
    this.#streams = new RoomStreams({
      hub,
      client: this.#commands,
      deliver: (relay) => this.#deliver(relay),
      caughtUp: (newest) => this.#forgetDelivered(newest),
    });
    for (
      const [name, client] of [["commands", this.#commands], [
        "subscriber",
        this.#subscriber,
      ]] as const
    ) {
      client.on("error", (error: unknown) => this.#down(name, error));
      client.on("ready", () => this.#up(name));
    }
  }

  /**
   * Connects to Redis and makes `hub` one node of the cluster.
   * @throws when Redis cannot be reached at start, or does not answer a
   * step within `--redis-timeout` (it accepts connections but hangs)
   */
  static async join(hub: Hub, url: string): Promise<RedisNode> {
    const node = new RedisNode(hub, url);
    const step = <T>(work: Promise<T>) =>
      bounded(work, hub.limits.redisTimeoutMs);
    try {
      await step(node.#commands.connect());
      await step(node.#subscriber.connect());
      await step(node.#subscriber.subscribe(
        ROOMS_CHANNEL,
        (line: string) => node.#receive(line),
      ));
      await step(node.#streams.start(MESSAGE_ID_KEY));
      await step(node.#raiseIds());
      await step(node.#streams.prepare());
      node.#presence = new RedisPresence(hub, {
        node: node.id,
        commands: node.#commands,
        subscriber: node.#subscriber,
        claimKey: (nick) => node.#key(nick),
        idKey: MESSAGE_ID_KEY,
      });
      await step(node.#presence.start());
      node.#accounts = await RedisAccounts.open(hub, url, {
        idKey: MESSAGE_ID_KEY,
      });
    } catch (error) {
      node.#closed = true;
      for (const client of [node.#commands, node.#subscriber]) {
        if (client.isOpen) client.destroy();
      }
      throw node.#lastError ?? error;
    }
    node.#joined = true;
    // Claims are refreshed three times per --node-timeout, their lifetime.
    node.#heartbeat = setInterval(
      () => node.#refresh(),
      hub.limits.nodeTimeoutMs / 3,
    );
    hub.roomLog = node.#streams;
    await step(checkPersistence(node.#commands, hub)).catch((error) =>
      hub.log("warn", "cluster_persistence_unchecked", {
        error: describeError(error),
      })
    );
    hub.joinCluster(node, node);
    hub.presence = node.#presence;
    hub.log("info", "cluster_joined", { node: node.id });
    return node;
  }

  /**
   * node-redis's own backoff (50 ms doubling to 2 s, plus up to 200 ms of
   * jitter so nodes do not return in step), except at start: a Redis that
   * cannot be reached then is an error, not a wait forever; and none once
   * closing, so the attempt under way is the last (see client_close.ts).
   */
  #retry(retries: number, cause: Error): number | Error {
    if (this.#closed || (!this.#joined && retries >= START_ATTEMPTS)) {
      return cause;
    }
    return Math.min(50 * 2 ** retries, 2000) + Math.floor(Math.random() * 200);
  }

  #down(client: string, error: unknown): void {
    if (!this.#downClients.has(client)) {
      this.#hub.log("warn", "cluster_degraded", {
        client,
        error: describeError(error),
      });
    }
    this.#downClients.add(client);
    this.#lastError ??= error;
    if (!this.#joined) return;
    this.#streams.degraded();
    // What is published meanwhile is read from the streams once back.
    if (client === "subscriber") this.#streams.lost();
  }

  /**
   * After a catch-up, sends whose copy was not delivered (their room has
   * nobody here now) will not come back: their senders are forgotten.
   */
  #forgetDelivered(newest: number): void {
    this.#pending.caughtUp(newest);
  }

  #up(client: string): void {
    // A reconnect that ends while closing: close quits it at once.
    if (this.#closed) return;
    if (this.#downClients.delete(client)) {
      this.#hub.log("info", "cluster_back", { client });
    }
    // A Redis that restarted empty would count ids from 1 again: raised
    // first, before anything this node sends on the same connection.
    if (client === "commands" && this.#joined) {
      this.#raiseIds().catch((error: unknown) =>
        this.#hub.log("warn", "cluster_raise_ids_failed", {
          error: describeError(error),
        })
      );
      this.#streams.prepare().catch((error: unknown) =>
        this.#hub.log("warn", "cluster_script_load_failed", {
          error: describeError(error),
        })
      );
      // Names: what was let go meanwhile, and what Redis may have forgotten.
      this.#payOwed();
      this.#refresh();
    }
    if (this.#commands.isReady && this.#subscriber.isReady) {
      if (this.#joined) this.#streams.resume();
      for (const resolve of this.#readyWaiters.splice(0)) resolve();
    }
  }

  /** Raises Redis's id counter to the newest id this node knows. */
  async #raiseIds(): Promise<void> {
    const newest = Math.max(
      this.#streams.cursor.newest,
      this.#hub.history.lastMessageId(),
    );
    await this.#commands.eval(RAISE_SCRIPT, {
      keys: [MESSAGE_ID_KEY],
      arguments: [String(newest)],
    });
  }

  /** Sends waiting for their copy from Redis, for tests (not an API). @ignore */
  get pendingSends(): number {
    return this.#pending.size;
  }

  /**
   * Messages delivered by catch-ups after a lost subscription, for tests
   * (not an API).
   * @ignore
   */
  get caughtUpMessages(): number {
    return this.#streams.caughtUpMessages;
  }

  /**
   * Resolves once every connection is up (subscription renewed, accounts
   * reachable): after an outage, the moment sends and logins work again.
   */
  async whenReady(): Promise<void> {
    if (!this.#commands.isReady || !this.#subscriber.isReady) {
      await new Promise<void>((resolve) => this.#readyWaiters.push(resolve));
    }
    await this.#accounts?.whenReady();
  }

  /**
   * Delivers to this node's members; the other nodes hear of presence
   * through presence.ts, which tells them what changed.
   */
  broadcast(
    room: Room,
    event: ServerEvent,
    sender?: Session,
    ref?: string,
  ): void {
    this.#hub.localFeed.broadcast(room, event, sender, ref);
  }

  /** Delivers to this node's members, as {@linkcode RedisNode.broadcast}. */
  broadcastAcross(
    rooms: readonly Room[],
    event: (room: Room) => ServerEvent,
    own?: OwnCopy,
  ): void {
    this.#hub.localFeed.broadcastAcross(rooms, event, own);
  }

  /** Holds `answer` behind `session`'s room messages on their way. */
  holdAnswer(session: Session, answer: () => void): boolean {
    return this.#lanes.get(session)?.hold(answer) ?? false;
  }

  /** Settles once `session`'s room messages on their way have come back. */
  sendsAnswered(session: Session): Promise<void> | undefined {
    return this.#lanes.get(session)?.drained();
  }

  /** The lane of `session`'s answers, made at its first send in flight. */
  #laneOf(session: Session): ReplyLane {
    let lane = this.#lanes.get(session);
    if (lane === undefined) {
      const made = new ReplyLane({
        // The one deadline of a send, from store to copy: past it the
        // sender is told it is unconfirmed (publish) and its answers go.
        timeoutMs: this.#hub.limits.redisTimeoutMs,
        emptied: () => {
          if (this.#lanes.get(session) === made) this.#lanes.delete(session);
        },
        failed: (error) =>
          this.#hub.log("error", "delivery_failed", {
            session: session.id,
            error: describeError(error),
          }),
      });
      lane = made;
      this.#lanes.set(session, lane);
    }
    return lane;
  }

  /**
   * Keeps one timer on the oldest send in flight, so a send whose copy
   * never comes is forgotten (and its sender told) on time, not only when
   * the next send comes.
   */
  #watchExpiry(): void {
    if (this.#expiry !== undefined || this.#closed) return;
    const due = this.#pending.nextExpiry;
    if (due === undefined) return;
    this.#expiry = setTimeout(() => {
      this.#expiry = undefined;
      this.#pending.expire(performance.now());
      this.#watchExpiry();
    }, Math.max(0, due - performance.now()) + 1);
  }

  /** Send `token` of `session` has been answered: what waited behind it goes. */
  #answered(session: Session, token: number): void {
    this.#lanes.get(session)?.settle(token);
  }

  /**
   * Sends a room message through Redis, which stores it in the room's
   * stream and publishes it in one step; it is delivered here when it comes
   * back, like everyone else's. When Redis cannot take it, the sender is
   * told it was not sent. Until it is answered (its copy back, or refused),
   * the sender's answers to its later requests wait (reply_lane.ts), for at
   * most one `--redis-timeout` from the send, whatever held it up: then the
   * sender is told it is not confirmed (the send is on the wire: should
   * Redis take it in the end, it is delivered and confirmed then), and,
   * when Redis itself has not answered, every user here that the chat is
   * degraded.
   */
  publish(
    _room: Room,
    message: RoomMessage,
    sender: Session,
    ref?: string,
  ): void {
    // Told "not confirmed" (its time ran out, or the link dropped under
    // it): a text sender, who gets no copy of its own lines, is told what
    // came of it once that is known, once.
    let unconfirmed = false;
    let outcomeTold = false;
    const wentLate = (id: number) => {
      if (!unconfirmed || outcomeTold || sender.codec !== "text") return;
      outcomeTold = true;
      const notice: ServerEvent = {
        type: "notice",
        text: deliveredAfterAll(message.room, id),
      };
      this.#hub.inOrder(() => sender.send(notice));
    };
    // Forgotten with its copy never back: the sender told "not confirmed"
    // hears, once, what is known of it (in reply order, as the PM case).
    const forgotten = (id: number | undefined) => {
      if (!unconfirmed || outcomeTold || sender.state !== "active") return;
      outcomeTold = true;
      if (id !== undefined) {
        // Redis stored it: a JSON sender gets its confirmation at last.
        const copy: ServerEvent = ref === undefined
          ? { ...message, id }
          : { ...message, id, ref };
        this.#hub.replyTo(sender, () => sender.send(copy));
        return;
      }
      const words = notKnownInRoom(message.room, sender.hints);
      this.#hub.replyTo(
        sender,
        () => sender.send(errorEvent("unavailable", words, ref)),
      );
    };
    const token = this.#pending.add(sender, ref, performance.now(), {
      copied: wentLate,
      forgotten,
    });
    this.#watchExpiry();
    let storeAnswered = false;
    this.#laneOf(sender).sent(token, () => {
      unconfirmed = true;
      if (storeAnswered) {
        // Stored, but its copy has not come back on the subscription.
        this.#hub.log("warn", "cluster_copy_late", { session: sender.id });
      } else {
        this.#hub.log("warn", "cluster_publish_failed", {
          session: sender.id,
          error: describeError(
            new RedisTimeout(this.#hub.limits.redisTimeoutMs),
          ),
        });
        this.#streams.silent();
      }
      // Told even if it is being sent away: its goodbye waits behind this.
      sender.send(errorEvent("unavailable", SEND_UNCONFIRMED, ref));
    });
    const stored = this.#streams.store(
      MESSAGE_ID_KEY,
      ROOMS_CHANNEL,
      message.room,
      encodeRelay(this.id, token, message),
    );
    const sentAt = performance.now();
    stored.then((id) => {
      storeAnswered = true;
      // Stored and published: it reached the room, whether or not its copy
      // comes back here.
      wentLate(id);
      this.#pending.stored(token, id, this.#streams.cursor);
      // Answered in time: Redis is back, if its silence degraded the chat.
      const waited = performance.now() - sentAt;
      if (waited < this.#hub.limits.redisTimeoutMs) this.#streams.answered();
      // Stored, but delivery here waits for a catch-up: the copy comes
      // with it, and the sender's answers need not wait so long.
      if (this.#streams.cursor.behind) this.#answered(sender, token);
    }, (error: unknown) => {
      storeAnswered = true;
      this.#hub.log("warn", "cluster_publish_failed", {
        session: sender.id,
        error: describeError(error),
      });
      // In time, the refusal takes the send's place; after it, the sender
      // was told "not confirmed", which a lost link leaves true. Told even
      // if it is being sent away: its goodbye waits for this.
      const inTime = this.#lanes.get(sender)?.holds(token) === true;
      const words = sendFailure(error, inTime);
      if (mayHaveRun(error)) {
        // Redis may have run it: its copy, should a catch-up bring it,
        // still confirms it (the send is forgotten after --redis-timeout
        // times twelve if it never comes).
        unconfirmed = true;
      } else this.#pending.failed(token);
      if (words !== null) {
        const refusal = errorEvent("unavailable", words, ref);
        if (inTime) this.#hub.inOrder(() => sender.send(refusal));
        else sender.send(refusal);
      }
      this.#answered(sender, token);
    }).catch((error: unknown) =>
      this.#hub.log("error", "delivery_failed", {
        session: sender.id,
        error: describeError(error),
      })
    );
  }

  /** A room message from the subscription (already stored in Redis). */
  #receive(line: string): void {
    const relay = decodeRelay(line);
    if (relay === null) {
      this.#hub.log("warn", "cluster_relay_malformed", {
        bytes: line.length,
      });
      return;
    }
    this.#streams.received(relay);
  }

  /**
   * Delivers a room message to its members here, in order; the sender's
   * own copy is its confirmation. Nothing is stored here: the room's
   * stream in Redis already holds it.
   */
  #deliver(relay: Relay): void {
    const sender = relay.node === this.id
      ? this.#pending.delivered(relay.token)
      : undefined;
    sender?.copied?.(relay.message.id);
    const hub = this.#hub;
    const room = hub.rooms.get(foldKey(relay.message.room));
    const from = sender?.session;
    const member = from !== undefined && room?.members.has(from) === true;
    if (room !== undefined) {
      hub.localFeed.broadcast(
        room,
        relay.message,
        member ? from : undefined,
        member ? sender?.ref : undefined,
      );
    }
    if (from !== undefined && !member && from.codec === "json") {
      // Its sender was sent away (kicked, say) while it was on its way: it
      // still gets its confirmation, which its goodbye waits for.
      const ref = sender?.ref;
      const copy: ServerEvent = ref === undefined
        ? relay.message
        : { ...relay.message, ref };
      hub.inOrder(() => from.send(copy));
    }
    if (from !== undefined) this.#answered(from, relay.token);
  }

  /** A name's claim: its two keys, one per line (no name holds a newline). */
  #key(nick: string): string {
    return `${NICK_CASE_PREFIX}${foldKey(nick)}\n${NICK_LOOK_PREFIX}${
      skeletonKey(nick)
    }`;
  }

  /** The Redis keys of a claim made by {@linkcode RedisNode.#key}. */
  #keys(claim: string): string[] {
    return claim.split("\n");
  }

  /**
   * Sets a claim's keys unless someone else holds one; true when ours. One
   * that Redis does not answer in time is let go after it (the release
   * follows on this connection), so a claim the user was refused cannot
   * hold the name until it expires.
   */
  async #claimKeys(key: string, value: string): Promise<boolean> {
    const claiming = this.#commands.eval(CLAIM_SCRIPT, {
      keys: this.#keys(key),
      arguments: [value, String(this.#hub.limits.nodeTimeoutMs)],
    });
    try {
      return await bounded(claiming, this.#hub.limits.redisTimeoutMs) === 1;
    } catch (error) {
      if (error instanceof RedisTimeout && this.#claims.get(key) !== value) {
        error.undone = this.#releaseKey(key, value);
      }
      throw error;
    }
  }

  #value(session: Session): string {
    return `${this.id}/${session.id}`;
  }

  /** Claims `nick` across the cluster: both its keys, with an expiry. */
  async claim(nick: string, session: Session): Promise<boolean> {
    const key = this.#key(nick);
    const value = this.#value(session);
    if (this.#claims.get(key) === value) return true;
    if (!await this.#claimKeys(key, value)) return false;
    this.#claims.set(key, value);
    return true;
  }

  /** Lets a claim go if it is still `session`'s. */
  release(nick: string, session: Session): void {
    const key = this.#key(nick);
    const value = this.#value(session);
    if (this.#claims.get(key) === value) {
      this.#releaseKey(key, value).catch(() => {}); // never rejects
    }
  }

  /**
   * Lets a claim go (compare-and-delete). Resolves true once Redis ran the
   * release, false when it could not be sent or its link dropped first:
   * the claim then stays until it expires (--node-timeout), or until this
   * node reaches Redis again and sends the release owed. Never rejects; a
   * close waits for it at most --redis-timeout (settled).
   */
  #releaseKey(key: string, value: string): Promise<boolean> {
    this.#claims.delete(key);
    const failed = (error: unknown): false => {
      this.#hub.log("warn", "cluster_release_failed", {
        keys: this.#keys(key).join(" "),
        error: describeError(error),
      });
      this.#owe(key, value);
      return false;
    };
    if (!this.#commands.isReady) {
      return Promise.resolve(failed(new Error("Redis is out of reach")));
    }
    const released = this.#commands.eval(RELEASE_SCRIPT, {
      keys: this.#keys(key),
      arguments: [value],
    }).then(() => true, failed);
    const done = bounded(released, this.#hub.limits.redisTimeoutMs).catch(
      () => {}, // on the wire: runs if Redis answers, else fails and is owed
    );
    this.#releasing.add(done);
    done.finally(() => this.#releasing.delete(done)).catch(() => {});
    return released;
  }

  /**
   * Keeps a release that could not be made, to send once the command
   * connection is back; forgotten once the claim has expired by itself.
   */
  #owe(key: string, value: string): void {
    if (this.#closed) return;
    this.#owed.set(`${key}\n\n${value}`, {
      key,
      value,
      until: Date.now() + this.#hub.limits.nodeTimeoutMs,
    });
  }

  /** Sends the releases owed since the command connection dropped. */
  #payOwed(): void {
    const now = Date.now();
    const owed = [...this.#owed.values()];
    this.#owed.clear();
    for (const { key, value, until } of owed) {
      // Claimed again by the same session meanwhile: not to be let go.
      if (until > now && this.#claims.get(key) !== value) {
        this.#releaseKey(key, value).catch(() => {}); // never rejects
      }
    }
  }

  /**
   * Resolves once every release sent so far has been answered, and the
   * presence work under way (re-asserting, reading) is done.
   */
  async settled(): Promise<void> {
    await Promise.all([...this.#releasing]);
    await this.#presence?.settled();
  }

  /**
   * The heartbeat: extends every claim still ours; one that expired (Redis
   * was away or restarted empty) is claimed again if nobody took it. Also
   * run as soon as the command connection is back, so a Redis that forgot
   * the claims gets them back before anyone else can take the names. A
   * name someone else took meanwhile is told to its holder here, who now
   * shares it.
   */
  #refresh(): void {
    for (const [key, value] of this.#claims) {
      const done = this.#commands.eval(REFRESH_SCRIPT, {
        keys: this.#keys(key),
        arguments: [value, String(this.#hub.limits.nodeTimeoutMs)],
      }).then(async (extended) => {
        if (extended !== 0 || this.#claims.get(key) !== value) return;
        if (await this.#claimKeys(key, value)) return;
        if (this.#claims.get(key) !== value) return;
        this.#claims.delete(key);
        this.#hub.log("warn", "cluster_nick_lost", {
          keys: this.#keys(key).join(" "),
        });
        this.#tellNickLost(key, value);
      }).catch(() => {
        // Redis is away; the error handler said so, the next beat retries.
      });
      this.#releasing.add(done);
      done.finally(() => this.#releasing.delete(done)).catch(() => {});
    }
  }

  /** Tells the session that held claim `key` (`value`) it lost the name. */
  #tellNickLost(key: string, value: string): void {
    const sid = Number(value.slice(value.indexOf("/") + 1));
    for (const session of this.#hub.sessions) {
      if (session.id !== sid) continue;
      const nick = session.nick;
      if (session.state !== "active" || nick === null) return;
      if (this.#key(nick) !== key) return;
      session.send({
        type: "notice",
        text: nickLostNotice(nick, session.hints),
      });
      return;
    }
  }

  /** Stops the heartbeat and closes the connections. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#expiry);
    for (const lane of this.#lanes.values()) lane.close();
    this.#lanes.clear();
    await this.#streams.close();
    await this.#presence?.close();
    // A clean stop frees its names at once, not after --node-timeout.
    for (const [key, value] of this.#claims) {
      this.#releaseKey(key, value).catch(() => {}); // never rejects
    }
    await this.settled();
    await this.#accounts?.close();
    // Each may be between reconnects: its loop ends before it closes.
    await Promise.all(
      [this.#subscriber, this.#commands].map((client) =>
        closeClient(client, this.#hub.limits.redisTimeoutMs)
      ),
    );
  }
}
