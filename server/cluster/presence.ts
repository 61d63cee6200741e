/**
 * Presence and room state across the nodes of a cluster: who is in which
 * room on every node, away and operator status, topics, the message of the
 * day, mutes, bans, kicks and private messages to someone on another node.
 *
 * State lives in Redis, so a node that joins (or comes back) can read it:
 * a hash per node of its sessions (`tern:presence:<node>`, session id to
 * its state), a heartbeat key per node (`tern:node:<node>`, expiring after
 * `--node-timeout`), the set of nodes, and hashes or sets for topics, mutes,
 * bans and the message of the day. Changes travel as events on one pub/sub
 * channel, written together with the state in one atomic step (a Lua script
 * or MULTI), on the same connection as room messages, so a node hears one
 * node's news in the order it happened.
 *
 * A node that dies stops its heartbeat; every node sweeps the set of nodes
 * as often as it beats, and the first to find a node's key expired deletes
 * that node's state and nickname claims and announces it gone, so its users
 * leave every room and their names are free within `--node-timeout` and a
 * third. After Redis comes back (or forgot everything), a node re-asserts
 * its state and the others read it again.
 *
 * Topics, mutes, bans and the message of the day live in Redis with no
 * owner: every node holds them too (topics in its history file, the rest
 * in memory). A Redis that forgot them is told apart from one that merely
 * came back by `tern:epoch`, a random value the first node sets and every
 * node remembers: gone, or another (a node that saw it gone set a new
 * one), and the node puts back what it holds, each only where Redis has
 * nothing (set since by someone else wins).
 *
 * @module
 */

import type { Hub } from "../hub.ts";
import { type Ban, banGoodbye } from "../ban_list.ts";
import type { Room, Session } from "../session.ts";
import { foldKey } from "../../wire/names.ts";
import { describeError } from "../log.ts";
import type { PrivateMessage, ServerEvent } from "../../protocol.ts";
import { countChanged, tellBig, topicEvent } from "../rooms.ts";
import { remoteHolderOf } from "../private_peers.ts";
import type {
  ClusterPresence,
  PresenceNotice,
  PrivateRoute,
  RemoteMember,
  RemoteRoom,
} from "./presence_seam.ts";
import { type MemberState, RemotePeople } from "./presence_state.ts";
import { readChanges, remoteNews } from "./remote_news.ts";
import { bounded, RedisTimeout } from "./redis_timeout.ts";
import {
  decodeReceipt,
  encodeReceipt,
  PrivateReceipts,
  type ReceiptOutcome,
} from "./private_receipts.ts";
import {
  decodeEvent,
  decodePrivate,
  decodeState,
  encodeEvent,
  encodePrivateDraft,
  type NodeEvent,
} from "./node_events.ts";

import type { RedisClient as Client } from "./redis_client.ts";

/** The channel every node's events cross. */
const EVENTS_CHANNEL = "tern:events";
/**
 * The channels private messages cross, one per node, the node's id after
 * it (`<id> <node>/<sid> <json>`): Redis's count of who heard a message on
 * it says whether that node is listening.
 */
const PRIVATE_PREFIX = "tern:private:";
/** The set of nodes that have announced themselves. */
const NODES_KEY = "tern:nodes";
/** A node's heartbeat key; the rest is its id. */
const NODE_PREFIX = "tern:node:";
/** A node's sessions (id to state); the rest is its id. */
const PRESENCE_PREFIX = "tern:presence:";
/** Topics, by the room's fold key. */
const TOPICS_KEY = "tern:topics";
/** The message of the day, as a JSON array of lines. */
const MOTD_KEY = "tern:motd";
/** Fold keys of muted nicknames. */
const MUTES_KEY = "tern:mutes";
/** Bans, by address. */
const BANS_KEY = "tern:bans";
/** One life of Redis's data (see the module's notes). */
const EPOCH_KEY = "tern:epoch";

/** Sets the epoch unless there is one; returns the one in force. */
const EPOCH_SCRIPT = `
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])`;

/** Writes one session's state and publishes its news, atomically. */
const MEMBER_SCRIPT = `
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1])
else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 0`;

/**
 * Beats: the node key with its expiry; 0 when the node is not listed
 * (swept, or Redis forgot), which only a re-assert puts right: it lists the
 * node together with its people, so nobody reads it listed but empty.
 */
const HEARTBEAT_SCRIPT = `
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
return redis.call('SISMEMBER', KEYS[2], ARGV[1])`;

/**
 * Finds nodes whose heartbeat expired: frees their nicknames (each claim
 * only if still that node's session's), deletes their state and announces
 * each gone. Returns their ids.
 */
const SWEEP_SCRIPT = `
local dead = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. id) == 0 then
    local sessions = redis.call('HGETALL', ARGV[2] .. id)
    for i = 1, #sessions, 2 do
      local ok, state = pcall(cjson.decode, sessions[i + 1])
      if ok and type(state) == 'table' and type(state.claim) == 'string' then
        for key in string.gmatch(state.claim, '[^\\n]+') do
          if redis.call('GET', key) == id .. '/' .. sessions[i] then
            redis.call('DEL', key)
          end
        end
      end
    end
    redis.call('DEL', ARGV[2] .. id)
    redis.call('SREM', KEYS[1], id)
    redis.call('PUBLISH', ARGV[3],
      cjson.encode({kind = 'gone', node = id, reason = 'lost'}))
    table.insert(dead, id)
  end
end
return dead`;

/**
 * A private message: takes the recipient's claim (node/session), else
 * (Redis forgot the claims, and their node has not claimed them again yet)
 * where the sender's node last heard of them, ARGV[3]; then the next id,
 * publishing both in front of the message on the holder's node's channel.
 * {-1, holder} when that node is not subscribed (dead, or its link down):
 * nobody got it. The holder's node checks the session is still there.
 */
const PRIVATE_SCRIPT = `
local holder = redis.call('GET', KEYS[1]) or ARGV[3]
local node = string.match(holder, '^([^/]+)/')
if not node then return {0, ''} end
local id = redis.call('INCR', KEYS[2])
local heard = redis.call('PUBLISH', ARGV[1] .. node, id .. ' ' .. holder .. ' ' .. ARGV[2])
if heard == 0 then return {-1, holder} end
return {id, holder}`;

/**
 * A topic: takes an id to store it under, puts it first in the event's
 * JSON object (ARGV[2] without it), keeps it and publishes it.
 */
const TOPIC_SCRIPT = `
local id = redis.call('INCR', KEYS[2])
local event = '{"id":' .. id .. ',' .. string.sub(ARGV[2], 2)
redis.call('HSET', KEYS[1], ARGV[1], event)
redis.call('PUBLISH', ARGV[3], event)
return id`;

/**
 * How many --redis-timeout a private message's receipt is waited for before
 * what came of it is said to be unknown: its node, should it have died, is
 * swept well before (`--node-timeout` and a third). Housekeeping, not a
 * policy.
 */
const RECEIPT_KEEP_TIMEOUTS = 12;

/** A message Redis handed over, as its holder's node's receipt says. */
function withReceipt(
  route: PrivateRoute & { kind: "sent" },
  outcome: ReceiptOutcome,
): PrivateRoute | null {
  switch (outcome) {
    case "delivered":
      return route;
    case "left":
      return { kind: "left", nick: route.message.to, id: route.message.id };
    case "lost":
      return { kind: "unreachable", nick: route.message.to };
    default:
      return null;
  }
}

/**
 * What the sender of private message `id` to `nick` is told when it reached
 * `nick`'s server after they had left it.
 */
export function undeliveredNotice(nick: string, id: number): string {
  return `Your private message to ${nick} (id ${id}) was not delivered: ${nick} left before it reached them`;
}

/** What a presence link is made from. */
export interface PresenceOptions {
  /** This node's id. */
  node: string;
  /** The connection commands and publishes go on (room messages' too). */
  commands: Client;
  /** The subscribed connection. */
  subscriber: Client;
  /**
   * The Redis keys of a nickname's claim, one per line, each holding the
   * claimant's `node/session`; the first one finds the holder.
   */
  claimKey: (nick: string) => string;
  /** The counter message ids come from. */
  idKey: string;
}

/** A node's presence link: {@linkcode ClusterPresence} over Redis. */
export class RedisPresence implements ClusterPresence {
  readonly #hub: Hub;
  readonly #node: string;
  readonly #commands: Client;
  readonly #subscriber: Client;
  readonly #claimKey: (nick: string) => string;
  readonly #idKey: string;
  readonly #people = new RemotePeople();
  #timer: ReturnType<typeof setInterval> | undefined;
  #started = false;
  #closed = false;
  /** The epoch this node last saw in Redis. */
  #epoch: string | null = null;
  /** Work in flight (reads, re-asserts), so close can wait for it. */
  readonly #inFlight = new Set<Promise<unknown>>();
  /**
   * Nodes this node knows people of that Redis did not list on a fresh
   * read (Redis restarted empty, say), with when they count as gone unless
   * they re-assert first: a live node does within a heartbeat.
   */
  readonly #unconfirmed = new Map<string, number>();
  /** Changes Redis missed since the last re-assert (logged once). */
  #unsent = 0;
  /**
   * Fresh reads of every node still to do after the subscription came
   * back: one at once and one on the next heartbeat, since news published
   * while the subscription was being renewed (a node re-asserting, say)
   * may have missed both the read and the subscription.
   */
  #rereads = 0;
  /**
   * Whether Redis answered this node's last heartbeat. A Redis that hangs
   * keeps its connections open, so `available` stays true while the other
   * nodes' news stops arriving.
   */
  #answering = true;
  /** Receipts of private messages sent from here (private_receipts.ts). */
  readonly #receipts: PrivateReceipts;

  /**
   * Only keeps its parts: nothing is sent to Redis yet.
   * @param hub the node's hub
   * @param options its Redis link
   */
  constructor(hub: Hub, options: PresenceOptions) {
    this.#hub = hub;
    this.#node = options.node;
    this.#commands = options.commands;
    this.#subscriber = options.subscriber;
    this.#claimKey = options.claimKey;
    this.#idKey = options.idKey;
    this.#receipts = new PrivateReceipts(
      RECEIPT_KEEP_TIMEOUTS * hub.limits.redisTimeoutMs,
    );
  }

  /**
   * Subscribes, announces this node, reads the shared state and the other
   * nodes' people, and starts the heartbeat.
   * @throws when Redis cannot be reached
   */
  async start(): Promise<void> {
    await this.#subscriber.subscribe(
      EVENTS_CHANNEL,
      (line: string) => this.#receive(line),
    );
    await this.#subscriber.subscribe(PRIVATE_PREFIX + this.#node, (
      line: string,
    ) => {
      try {
        const receipt = decodeReceipt(line);
        if (receipt === null) this.#receivePrivate(line);
        else if (receipt === undefined) {
          this.#hub.log("warn", "cluster_receipt_malformed", {
            bytes: line.length,
          });
        } else this.#receipts.settle(receipt.token, receipt.outcome);
      } catch (error) {
        // One bad message must not stop the subscription's other listeners.
        this.#hub.log("error", "cluster_private_failed", {
          error: describeError(error),
        });
      }
    });
    await this.#reassert();
    await this.#forgotten();
    await this.#loadShared();
    await this.#readAll();
    this.#started = true;
    const every = this.#hub.limits.nodeTimeoutMs / 3;
    this.#timer = setInterval(() => this.#tick(), every);
    this.#commands.on("ready", () =>
      this.#track(async () => {
        await this.#reassert();
        await this.#reassertShared();
      }));
    this.#subscriber.on("ready", () => {
      this.#rereads = 2;
      this.#track(() => this.#reread());
    });
  }

  get available(): boolean {
    return this.#commands.isReady && this.#subscriber.isReady;
  }

  /**
   * Starts `work` in the background: tracked for close, errors logged. Not
   * started at all once closed (a reconnect may end while closing), so it
   * never runs on a closed client with nobody to catch its failure.
   */
  #track(work: () => Promise<unknown>, what = "cluster_presence_failed"): void {
    if (this.#closed || !this.#started) return;
    // Bounded, so a Redis that hangs cannot hold a close (or piles of
    // heartbeats) for ever.
    const done = bounded(work(), this.#hub.limits.redisTimeoutMs).catch((
      error: unknown,
    ) => this.#hub.log("warn", what, { error: describeError(error) }));
    this.#inFlight.add(done);
    done.finally(() => this.#inFlight.delete(done)).catch(() => {});
  }

  /** One heartbeat: beats, re-asserts if forgotten, sweeps the dead. */
  #tick(): void {
    this.#track(
      async () => {
        if (!this.#commands.isReady) return;
        let listed: boolean;
        try {
          listed = await bounded(this.#beat(), this.#hub.limits.redisTimeoutMs);
        } catch (error) {
          this.#answering = false;
          throw error;
        }
        this.#answering = true;
        if (!listed) {
          await this.#reassert();
          await this.#reassertShared();
        }
        await this.#commands.eval(SWEEP_SCRIPT, {
          keys: [NODES_KEY],
          arguments: [NODE_PREFIX, PRESENCE_PREFIX, EVENTS_CHANNEL],
        });
        await this.#expireUnconfirmed();
        if (this.#rereads > 0) await this.#reread();
      },
      "cluster_heartbeat_failed",
    );
  }

  /** Nodes unlisted since a fresh read, past their time: gone. */
  async #expireUnconfirmed(): Promise<void> {
    const now = Date.now();
    for (const [node, deadline] of this.#unconfirmed) {
      if (deadline > now) continue;
      this.#unconfirmed.delete(node);
      if (!await this.#commands.sIsMember(NODES_KEY, node)) {
        this.#gone(node, "lost");
      }
    }
  }

  /** Resolves once the background work started so far is done. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  /** Sets this node's key; false when it is not listed (swept, or Redis forgot). */
  async #beat(): Promise<boolean> {
    const listed = await this.#commands.eval(HEARTBEAT_SCRIPT, {
      keys: [NODE_PREFIX + this.#node, NODES_KEY],
      arguments: [this.#node, String(this.#hub.limits.nodeTimeoutMs)],
    });
    return listed === 1;
  }

  /** This node's sessions in the chat, and their states. */
  #localStates(): Record<string, string> {
    const states: Record<string, string> = {};
    for (const session of this.#hub.sessions) {
      const state = this.#stateOf(session);
      if (state !== null) states[String(session.id)] = JSON.stringify(state);
    }
    return states;
  }

  /** Rewrites this node's state from scratch and tells the others. */
  async #reassert(): Promise<void> {
    const key = PRESENCE_PREFIX + this.#node;
    const states = this.#localStates();
    const multi = this.#commands.multi().del(key);
    if (Object.keys(states).length > 0) multi.hSet(key, states);
    await multi
      .set(NODE_PREFIX + this.#node, "1", {
        expiration: { type: "PX", value: this.#hub.limits.nodeTimeoutMs },
      })
      .sAdd(NODES_KEY, this.#node)
      .publish(EVENTS_CHANNEL, encodeEvent({ kind: "sync", node: this.#node }))
      .exec();
    if (this.#started) {
      this.#hub.log("info", "cluster_presence_reasserted", {
        sessions: Object.keys(states).length,
        ...(this.#unsent > 0 ? { unsent: this.#unsent } : {}),
      });
    }
    this.#unsent = 0;
  }

  /**
   * Reads Redis's epoch (setting one if it has none): true when it is not
   * the one this node saw last, so Redis forgot what it held.
   */
  async #forgotten(): Promise<boolean> {
    const epoch = String(
      await this.#commands.eval(EPOCH_SCRIPT, {
        keys: [EPOCH_KEY],
        arguments: [crypto.randomUUID()],
      }),
    );
    const forgotten = this.#epoch !== null && epoch !== this.#epoch;
    this.#epoch = epoch;
    return forgotten;
  }

  /**
   * Puts back the topics, mutes, bans and message of the day this node
   * holds when Redis forgot them, each only where Redis has none now. Not
   * announced: every node that was up holds them already; a node that
   * starts reads them.
   */
  async #reassertShared(): Promise<void> {
    if (!await this.#forgotten()) return;
    const hub = this.#hub;
    const multi = this.#commands.multi();
    const topics = hub.history.topics();
    for (const { room, id, topic } of topics) {
      multi.hSetNX(
        TOPICS_KEY,
        foldKey(room),
        encodeEvent({ kind: "topic", node: this.#node, id, room, ...topic }),
      );
    }
    const mutes = [...hub.mutedNicks];
    if (mutes.length > 0) multi.sAdd(MUTES_KEY, mutes);
    const bans = hub.bans.inForce(hub.now());
    for (const ban of bans) {
      multi.hSetNX(
        BANS_KEY,
        ban.address,
        encodeEvent({ kind: "ban", node: this.#node, ban }),
      );
    }
    if (hub.motd.length > 0) {
      multi.set(
        MOTD_KEY,
        encodeEvent({ kind: "motd", node: this.#node, lines: [...hub.motd] }),
        { condition: "NX" },
      );
    }
    await multi.exec();
    hub.log("info", "cluster_shared_reasserted", {
      topics: topics.length,
      mutes: mutes.length,
      bans: bans.length,
    });
  }

  /** One of the fresh reads owed since the subscription came back. */
  async #reread(): Promise<void> {
    await this.#readAll();
    this.#rereads = Math.max(0, this.#rereads - 1);
  }

  /** Reads every other live node's sessions, replacing what was known. */
  async #readAll(): Promise<void> {
    const nodes = new Set(await this.#commands.sMembers(NODES_KEY));
    nodes.delete(this.#node);
    const deadline = Date.now() + this.#hub.limits.nodeTimeoutMs;
    for (const node of this.#people.nodes()) {
      // Not gone yet: after Redis restarts empty, live nodes re-assert.
      if (!nodes.has(node)) this.#unconfirmed.set(node, deadline);
    }
    for (const node of nodes) await this.#readNode(node);
  }

  /** Reads one node's sessions again (it re-asserted them). */
  async #readNode(node: string): Promise<void> {
    const stored = await this.#commands.hGetAll(PRESENCE_PREFIX + node);
    const sessions = new Map<number, MemberState>();
    for (const [sid, text] of Object.entries(stored)) {
      const state = decodeState(text);
      if (state !== undefined && Number.isSafeInteger(Number(sid))) {
        sessions.set(Number(sid), state);
      }
    }
    const { before, after } = this.#people.replaceNode(node, sessions);
    // What changed while Redis was away is told as it would have been.
    const hub = this.#hub;
    const limit = hub.limits.bigRoomMembers;
    const big = (name: string) =>
      limit > 0 &&
      (this.#local(name)?.members.size ?? 0) + this.#people.count(name) >=
        limit;
    for (const change of readChanges(before, after, hub.now(), big)) {
      const news = remoteNews(change.before, change.after, change.notice);
      if (news !== null) {
        this.#across(news.rooms, (room) => news.event(room.name));
      }
    }
  }

  /** Topics, mutes, bans and the message of the day, as Redis has them. */
  async #loadShared(): Promise<void> {
    const hub = this.#hub;
    for (
      const text of Object.values(await this.#commands.hGetAll(TOPICS_KEY))
    ) {
      const event = decodeEvent(text);
      if (event?.kind === "topic") this.#applyTopic(event, false);
    }
    for (const key of await this.#commands.sMembers(MUTES_KEY)) {
      hub.mutedNicks.add(key);
    }
    const now = hub.now();
    for (const text of Object.values(await this.#commands.hGetAll(BANS_KEY))) {
      const event = decodeEvent(text);
      if (event?.kind !== "ban") continue;
      if (event.ban.until === undefined || event.ban.until > now) {
        hub.bans.add(event.ban);
      }
    }
    const motd = await this.#commands.get(MOTD_KEY);
    const event = motd === null ? null : decodeEvent(motd);
    if (event?.kind === "motd") hub.setMotd(event.lines);
    else if (hub.motd.length > 0) {
      // The first node up with a message of the day shares it.
      await this.#commands.set(
        MOTD_KEY,
        encodeEvent({ kind: "motd", node: this.#node, lines: hub.motd }),
        { condition: "NX" },
      );
    }
  }

  // ---- What this node tells the others ----

  #stateOf(session: Session): MemberState | null {
    const nick = session.nick;
    if (session.state !== "active" || nick === null) return null;
    if (session.rooms.size === 0) return null;
    return {
      nick,
      away: session.away,
      op: session.isOp,
      address: session.address,
      rooms: [...session.rooms].map((room) => room.name),
      claim: this.#claimKey(nick),
      since: session.nickSince,
      ...(session.account === null ? {} : { account: session.account.id }),
    };
  }

  changed(session: Session, notice: PresenceNotice): void {
    const state = notice.type === "leave" ? null : this.#stateOf(session);
    const event: NodeEvent = {
      kind: "member",
      node: this.#node,
      sid: session.id,
      state,
      notice,
    };
    this.#send(
      this.#commands.eval(MEMBER_SCRIPT, {
        keys: [PRESENCE_PREFIX + this.#node],
        arguments: [
          String(session.id),
          state === null ? "" : JSON.stringify(state),
          EVENTS_CHANNEL,
          encodeEvent(event),
        ],
      }),
    );
  }

  /**
   * Sends a change; when Redis is away it is re-asserted on return. Logged
   * once per outage, not once per change.
   */
  #send(write: Promise<unknown>): void {
    write.catch((error: unknown) => {
      if (this.#unsent++ > 0) return;
      this.#hub.log("warn", "cluster_presence_unsent", {
        error: describeError(error),
      });
    });
  }

  topicSet(room: Room): void {
    const event = {
      kind: "topic",
      node: this.#node,
      room: room.name,
      topic: room.topic,
      by: room.topicBy ?? "",
      ts: room.topicAt ?? this.#hub.now(),
    };
    this.#send(
      this.#commands.eval(TOPIC_SCRIPT, {
        keys: [TOPICS_KEY, this.#idKey],
        arguments: [foldKey(room.name), JSON.stringify(event), EVENTS_CHANNEL],
      }),
    );
  }

  motdSet(lines: readonly string[]): void {
    const text = encodeEvent({
      kind: "motd",
      node: this.#node,
      lines: [...lines],
    });
    this.#send(
      this.#commands.multi().set(MOTD_KEY, text).publish(EVENTS_CHANNEL, text)
        .exec(),
    );
  }

  muteSet(nick: string, muted: boolean, by: string): void {
    const multi = this.#commands.multi();
    if (muted) multi.sAdd(MUTES_KEY, foldKey(nick));
    else multi.sRem(MUTES_KEY, foldKey(nick));
    const event: NodeEvent = {
      kind: "mute",
      node: this.#node,
      nick,
      muted,
      by,
    };
    this.#send(multi.publish(EVENTS_CHANNEL, encodeEvent(event)).exec());
  }

  banned(ban: Ban): void {
    const text = encodeEvent({ kind: "ban", node: this.#node, ban });
    this.#send(
      this.#commands.multi().hSet(BANS_KEY, ban.address, text)
        .publish(EVENTS_CHANNEL, text).exec(),
    );
  }

  unbanned(address: string): void {
    const event: NodeEvent = { kind: "unban", node: this.#node, address };
    this.#send(
      this.#commands.multi().hDel(BANS_KEY, address)
        .publish(EVENTS_CHANNEL, encodeEvent(event)).exec(),
    );
  }

  kick(member: RemoteMember, by: string, reason: string): void {
    const event: NodeEvent = {
      kind: "kick",
      node: this.#node,
      to: member.node,
      sid: member.sid,
      detail: `by ${by}${reason ? `: ${reason}` : ""}`,
    };
    this.#send(this.#commands.publish(EVENTS_CHANNEL, encodeEvent(event)));
  }

  async sendPrivate(
    to: string,
    draft: Omit<PrivateMessage, "id">,
    sender: Session,
  ): Promise<PrivateRoute> {
    const member = this.#people.find(to);
    if (member === undefined) return { kind: "absent" };
    const deadline = performance.now() + this.#hub.limits.redisTimeoutMs;
    const receipt = this.#receipts.expect(member.node);
    const sending = this.#commands.eval(PRIVATE_SCRIPT, {
      keys: [this.#claimKey(member.nick).split("\n")[0]!, this.#idKey],
      arguments: [
        PRIVATE_PREFIX,
        encodePrivateDraft({ ...draft, to: member.nick }, {
          node: this.#node,
          sid: sender.id,
          receipt: receipt.token,
        }),
        `${member.node}/${member.sid}`,
      ],
    });
    const routeOf = (reply: unknown): PrivateRoute => {
      const [id, holder] = Array.isArray(reply) ? reply : [0, ""];
      if (id === -1) {
        this.#hub.log("warn", "cluster_private_unreachable", { holder });
        return { kind: "unreachable", nick: member.nick };
      }
      if (typeof id !== "number" || id <= 0) return { kind: "absent" };
      if (holder !== `${member.node}/${member.sid}`) {
        this.#hub.log("info", "cluster_private_rerouted", { holder });
      }
      return {
        kind: "sent",
        message: { ...draft, to: member.nick, id },
        away: member.away,
      };
    };
    // Published: what its holder's node said of it decides.
    const received = (route: PrivateRoute): Promise<PrivateRoute | null> => {
      if (route.kind !== "sent") {
        this.#receipts.settle(receipt.token, "unknown");
        return Promise.resolve(route);
      }
      return receipt.outcome.then((outcome) => withReceipt(route, outcome));
    };
    let route: PrivateRoute;
    try {
      route = routeOf(await bounded(sending, this.#hub.limits.redisTimeoutMs));
    } catch (error) {
      if (!(error instanceof RedisTimeout)) {
        this.#receipts.settle(receipt.token, "unknown");
        return { kind: "unavailable" };
      }
      // Still on the wire: what it comes to, should Redis answer.
      const late = sending.then(routeOf).then(received, () => {
        this.#receipts.settle(receipt.token, "unknown");
        return null;
      });
      return { kind: "unconfirmed", late, silent: "store" };
    }
    if (route.kind !== "sent") {
      this.#receipts.settle(receipt.token, "unknown");
      return route;
    }
    const answered = received(route);
    try {
      const left = Math.max(0, deadline - performance.now());
      return await bounded(answered, left) ?? { kind: "unavailable" };
    } catch (error) {
      if (!(error instanceof RedisTimeout)) throw error;
      // Redis handed it over, but the node holding the name has not said
      // it delivered it: it hangs, or is about to be found dead.
      this.#hub.log("warn", "cluster_private_unanswered", {
        node: member.node,
      });
      return { kind: "unconfirmed", late: answered, silent: "holder" };
    }
  }

  // ---- What this node hears ----

  remoteMembers(name: string): Iterable<RemoteMember> {
    return this.#people.members(name);
  }

  remoteCount(name: string): number {
    return this.#people.count(name);
  }

  remoteRooms(): Iterable<RemoteRoom> {
    return this.#people.rooms();
  }

  remotePeople(): number | null {
    return this.available && this.#answering ? this.#people.size : null;
  }

  findRemote(nick: string): RemoteMember | undefined {
    return this.#people.find(nick);
  }

  findRemoteByAccount(account: number): RemoteMember | undefined {
    return this.#people.withAccount(account);
  }

  remoteAt(address: string): number {
    return this.#people.at(address);
  }

  #receive(line: string): void {
    const event = decodeEvent(line);
    if (event === null) {
      this.#hub.log("warn", "cluster_event_malformed", { bytes: line.length });
      return;
    }
    try {
      this.#apply(event);
    } catch (error) {
      // One bad event must not stop the subscription's other listeners.
      this.#hub.log("error", "cluster_event_failed", {
        kind: event.kind,
        error: describeError(error),
      });
    }
  }

  #apply(event: NodeEvent): void {
    const own = event.node === this.#node;
    switch (event.kind) {
      case "member":
        if (!own) this.#memberChanged(event);
        return;
      case "sync":
        this.#unconfirmed.delete(event.node);
        if (!own) this.#track(() => this.#readNode(event.node));
        return;
      case "gone":
        this.#unconfirmed.delete(event.node);
        if (own) this.#track(() => this.#reassert());
        else this.#gone(event.node, event.reason);
        return;
      case "topic":
        return this.#applyTopic(event, !own);
      default:
        if (!own) this.#applyModeration(event);
    }
  }

  /** The room `name` if it has members here. */
  #local(name: string): Room | undefined {
    return this.#hub.rooms.get(foldKey(name));
  }

  #memberChanged(event: NodeEvent & { kind: "member" }): void {
    const { before, after } = this.#people.set(
      event.node,
      event.sid,
      event.state,
    );
    const news = remoteNews(before, after, event.notice);
    if (news !== null) {
      this.#across(news.rooms, (room) => news.event(room.name));
    }
    // A big room here whose size this moved hears its count in time.
    const wasIn = new Set((before?.rooms ?? []).map(foldKey));
    const isIn = new Set((after?.rooms ?? []).map(foldKey));
    this.#countsMoved([
      ...(before?.rooms ?? []).filter((name) => !isIn.has(foldKey(name))),
      ...(after?.rooms ?? []).filter((name) => !wasIn.has(foldKey(name))),
    ]);
    const notice = event.notice;
    if (notice.type === "join" && !notice.announce) {
      // An arrival that made the room big is told here as where it joined.
      const room = this.#local(notice.room);
      const limit = this.#hub.limits.bigRoomMembers;
      const had = before?.rooms.some((name) =>
        foldKey(name) === foldKey(notice.room)
      ) ?? false;
      if (
        room !== undefined && !had && limit > 0 &&
        room.members.size + this.#people.count(notice.room) === limit
      ) {
        tellBig(this.#hub, room, limit);
      }
    }
  }

  /**
   * The rooms here among `names` may have changed size: a big one's members
   * are sent its count when `--big-room-count-interval` allows (rooms.ts).
   */
  #countsMoved(names: readonly string[]): void {
    for (const name of names) {
      const room = this.#local(name);
      if (room !== undefined) countChanged(this.#hub, room);
    }
  }

  /** News of a remote person to this node's members of `names`. */
  #across(names: readonly string[], event: (room: Room) => ServerEvent): void {
    const rooms = names.map((name) => this.#local(name))
      .filter((room): room is Room => room !== undefined);
    if (rooms.length > 0) this.#hub.localFeed.broadcastAcross(rooms, event);
  }

  /** A node stopped or died: its people leave every room here. */
  #gone(node: string, reason: "lost" | "shutdown"): void {
    this.#receipts.nodeGone(node);
    const gone = this.#people.dropNode(node);
    const hub = this.#hub;
    const ts = hub.now();
    const limit = hub.limits.bigRoomMembers;
    for (const member of gone) {
      // The big-room policy counts the room as it was, the leaver in it.
      const announced = member.rooms.filter((name) => {
        const room = this.#local(name);
        const size = (room?.members.size ?? 0) + this.#people.count(name) + 1;
        return limit === 0 || size < limit;
      });
      this.#across(announced, (room) => ({
        type: "leave",
        ts,
        room: room.name,
        nick: member.nick,
        reason,
        message: reason === "lost"
          ? "their server stopped answering"
          : "their server shut down",
      }));
    }
    this.#countsMoved(gone.flatMap((member) => member.rooms));
    if (gone.length > 0) {
      hub.log("warn", "cluster_node_gone", {
        node,
        reason,
        sessions: gone.length,
      });
    }
  }

  /** A topic set anywhere: stored here under its id, shown where open. */
  #applyTopic(event: NodeEvent & { kind: "topic" }, announce: boolean): void {
    const hub = this.#hub;
    const stored = { topic: event.topic, by: event.by, ts: event.ts };
    const known = hub.history.topic(event.room);
    // Read again at each start: stored once, not once per start.
    if (known?.ts !== stored.ts || known.topic !== stored.topic) {
      hub.history.queueTopic(event.room, stored, event.id);
      hub.inOrder(() => {}); // commits it
    }
    const room = this.#local(event.room);
    if (room === undefined || !announce) return;
    room.topic = event.topic;
    room.topicBy = event.by;
    room.topicAt = event.ts;
    hub.localFeed.broadcast(room, topicEvent(room));
  }

  #applyModeration(event: NodeEvent): void {
    const hub = this.#hub;
    switch (event.kind) {
      case "motd":
        hub.setMotd(event.lines);
        try {
          hub.history.setMotd(hub.motd);
        } catch (error) {
          hub.log("error", "motd_store_failed", {
            error: describeError(error),
          });
        }
        return;
      case "mute": {
        const key = foldKey(event.nick);
        if (event.muted) hub.mutedNicks.add(key);
        else hub.mutedNicks.delete(key);
        const target = hub.nicks.get(event.nick);
        if (target === undefined || target.muted === event.muted) return;
        target.muted = event.muted;
        target.send({
          type: "notice",
          text: event.muted
            ? `You have been muted by ${event.by}`
            : `You may talk again (unmuted by ${event.by})`,
        });
        return;
      }
      case "ban": {
        hub.bans.add(event.ban);
        for (const other of [...hub.sessions]) {
          if (hub.bans.keyOf(other.address) !== event.ban.address) continue;
          hub.disconnect(other, "banned", banGoodbye(event.ban));
        }
        return;
      }
      case "unban":
        hub.bans.remove(event.address);
        return;
      case "undelivered":
        if (event.to === this.#node) {
          this.#tellUndelivered(event.sid, event.nick, event.id);
        }
        return;
      case "kick": {
        if (event.to !== this.#node) return;
        for (const session of hub.sessions) {
          if (session.id !== event.sid) continue;
          hub.log("info", "kick", {
            by: event.node,
            nick: session.nick ?? undefined,
          });
          hub.disconnect(session, "kicked", event.detail);
          return;
        }
        return;
      }
      default:
        return;
    }
  }

  /** Tells session `sid` here that its message `id` to `nick` was lost. */
  #tellUndelivered(sid: number, nick: string, id: number): void {
    for (const session of this.#hub.sessions) {
      if (session.id !== sid) continue;
      if (session.state === "active") {
        session.send({ type: "notice", text: undeliveredNotice(nick, id) });
      }
      return;
    }
  }

  /** A private message for someone here (or, if not here, not ours). */
  #receivePrivate(line: string): void {
    const relay = decodePrivate(line);
    if (relay === null) {
      this.#hub.log("warn", "cluster_private_malformed", {
        bytes: line.length,
      });
      return;
    }
    if (relay.node !== this.#node) return;
    const hub = this.#hub;
    const target = hub.nicks.get(relay.message.to);
    if (
      target === undefined || target.id !== relay.sid ||
      target.state !== "active"
    ) {
      // Its recipient left between the sender's send and now (its name
      // not let go yet): the sender was told it was sent, so is told not.
      hub.log("warn", "cluster_private_undelivered", { id: relay.message.id });
      const sender = relay.sender;
      if (sender?.receipt !== undefined) {
        // Its sender's node waits for this: it tells the sender.
        this.#answerReceipt(sender.node, sender.receipt, "left");
      } else if (sender?.node === this.#node) {
        this.#tellUndelivered(sender.sid, relay.message.to, relay.message.id);
      } else if (sender !== undefined) {
        const event: NodeEvent = {
          kind: "undelivered",
          node: this.#node,
          to: sender.node,
          sid: sender.sid,
          id: relay.message.id,
          nick: relay.message.to,
        };
        this.#send(this.#commands.publish(EVENTS_CHANNEL, encodeEvent(event)));
      }
      return;
    }
    const message = { ...relay.message, to: target.nick ?? relay.message.to };
    // The recipient knows who wrote, should that name change hands.
    const sender = this.#people.find(message.from);
    if (sender !== undefined) {
      target.privatePeers.remember(message.from, remoteHolderOf(sender));
    }
    const account = target.account?.id ?? null;
    // The recipient's copy, kept with its account as a local one would be.
    hub.sendPrivate(
      message,
      target,
      target,
      account === null
        ? "no"
        : { from: null, to: account, pending: false, address: "" },
    );
    const from = relay.sender;
    if (from?.receipt !== undefined) {
      this.#answerReceipt(from.node, from.receipt, "delivered");
    }
  }

  /** Tells node `node` what came of the private message it sent. */
  #answerReceipt(
    node: string,
    token: number,
    outcome: "delivered" | "left",
  ): void {
    if (node === this.#node) return this.#receipts.settle(token, outcome);
    this.#commands.publish(PRIVATE_PREFIX + node, encodeReceipt(token, outcome))
      .catch((error: unknown) =>
        // Its sender is told it is not confirmed, and what came of it
        // never (the time its node waits runs out).
        this.#hub.log("warn", "cluster_receipt_unsent", {
          error: describeError(error),
        })
      );
  }

  /** Leaves the cluster: the others drop this node's people at once. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#receipts.close();
    await Promise.all([...this.#inFlight]);
    if (!this.#started || !this.#commands.isReady) return;
    const key = PRESENCE_PREFIX + this.#node;
    try {
      await bounded(
        this.#commands.multi()
          .del([key, NODE_PREFIX + this.#node])
          .sRem(NODES_KEY, this.#node)
          .publish(
            EVENTS_CHANNEL,
            encodeEvent({ kind: "gone", node: this.#node, reason: "shutdown" }),
          )
          .exec(),
        this.#hub.limits.redisTimeoutMs,
      );
    } catch (error) {
      // The heartbeat expires by itself; the others sweep it.
      this.#hub.log("warn", "cluster_leave_failed", {
        error: describeError(error),
      });
    }
  }
}
