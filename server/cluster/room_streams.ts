/**
 * Room history in a cluster: a Redis stream per room, written in the same
 * atomic step that takes the message's id and publishes it, and read by the
 * join replay, `/history`, `export-history` and a node's catch-up after its
 * subscription dropped (delivery_cursor.ts says how that stays gap-free and
 * duplicate-free).
 *
 * A message's stream entry id is `<message id>-0`: ids come from one
 * counter, so they are unique and increasing in every room's stream, and a
 * page by message id is a range of entry ids. The entry holds the relay
 * text (relay.ts), the same bytes the subscription carries, and the id of
 * the room's message before it, which tells a node catching up whether the
 * stream's cap dropped any it had not seen.
 *
 * In a cluster the node's own SQLite file holds no room messages: Redis is
 * the one copy every node reads.
 *
 * @module
 */

import type { RoomMessage } from "../../protocol.ts";
import type { Hub } from "../hub.ts";
import type { Room } from "../session.ts";
import type { RoomLog } from "../room_log.ts";
import { foldKey } from "../../wire/names.ts";
import { describeError } from "../log.ts";
import { decodeRelay, type Relay } from "./relay.ts";
import { DeliveryCursor } from "./delivery_cursor.ts";
import { bounded } from "./redis_timeout.ts";

import type { RedisClient as Client } from "./redis_client.ts";

/** The field of a stream entry that holds the relay text. */
const RELAY_FIELD = "r";

/**
 * The field holding the id of the room's message before this one (0 for a
 * room's first), so a reader can tell that the cap dropped messages it
 * had not seen: message ids are not consecutive within a room.
 */
const PREVIOUS_FIELD = "p";

/** Entries a catch-up reads per round trip. */
const CATCH_UP_PAGE = 1000;

/**
 * A catch-up that failed for another reason than a lost connection (whose
 * return starts one anyway) is tried again after this long.
 */
const CATCH_UP_RETRY_MS = 1000;

/** Recent-history reads kept, each for a room at one point of its stream. */
const RECENT_READS_KEPT = 64;

/** What every user of a node is told when it loses Redis. */
export const DEGRADED_NOTICE =
  "The chat is degraded: this server lost its link to the others. Messages cannot be sent until it is back; nothing already sent is lost";

/** What every user of a node is told when Redis stops answering its sends. */
export const SILENT_NOTICE =
  "The chat is degraded: the cluster's store (Redis) is not answering. Messages are not confirmed until it answers again; nothing already sent is lost";

/** What they are told once it is back and caught up. */
export const BACK_NOTICE =
  "The chat is back: messages from the other servers resume where they stopped";

/** The key holding the id of `room`'s newest message (see the script). */
export function roomNewestKey(room: string): string {
  return `tern:room:${foldKey(room)}:newest`;
}

/** What a room's members are told when an outage outlasted its stream. */
export function missedNotice(room: string, cap: number): string {
  return `Some messages in ${room} were missed while this server was away: Redis keeps only the newest ${cap} of a room`;
}

/** The stream holding `room`'s history (by its fold key, as rooms are found). */
export function roomStreamKey(room: string): string {
  return `tern:room:${foldKey(room)}:log`;
}

/**
 * Takes the next id, appends the message to its room's stream with that id
 * (trimmed to about ARGV[3] entries) and publishes it, in one atomic step:
 * what any node delivers is already stored. Should the counter ever be
 * behind the stream (Redis kept one and lost the other), it is raised past
 * the stream's newest id first, so the append cannot fail for that; any
 * other error is the script's answer, with nothing published.
 *
 * The room's newest id is kept beside its stream (KEYS[3]) to name each
 * entry's predecessor: a GET and a SET cost Redis about 1 µs a message
 * where reading the stream's newest entry cost about 7.
 *
 * KEYS: the id counter, the room's stream, the room's newest id. ARGV: the
 * channel, the relay text, the length cap.
 */
export const STORE_AND_PUBLISH_SCRIPT = `
local id = redis.call('INCR', KEYS[1])
local previous = redis.call('GET', KEYS[3]) or '0'
local added = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], id .. '-0', '${RELAY_FIELD}', ARGV[2], '${PREVIOUS_FIELD}', previous)
if type(added) == 'table' and added.err then
  if not string.find(added.err, 'equal or smaller', 1, true) then return added end
  local info = redis.call('XINFO', 'STREAM', KEYS[2])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      redis.call('SET', KEYS[1], tonumber(string.match(info[i + 1], '^(%d+)')))
    end
  end
  id = redis.call('INCR', KEYS[1])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], id .. '-0', '${RELAY_FIELD}', ARGV[2], '${PREVIOUS_FIELD}', previous)
end
redis.call('SET', KEYS[3], id)
redis.call('PUBLISH', ARGV[1], id .. ' ' .. ARGV[2])
return id`;

/**
 * The script's SHA1, for `EVALSHA`: sending and hashing its text with every
 * message cost Redis 5 to 15 µs of CPU a message more (measured on the
 * benchmark machine).
 */
export const STORE_AND_PUBLISH_SHA: string = await sha1Hex(
  STORE_AND_PUBLISH_SCRIPT,
);

async function sha1Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(text),
  );
  return [...new Uint8Array(digest)]
    .map((byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}

/** A stream entry as node-redis returns it. */
export interface StreamEntry {
  /** The entry's stream id (`<message id>-0` for our relays). */
  id: string;
  /** Its fields; our relay is one of them. */
  message: Record<string, string>;
}

/** The relay a stream entry holds; null for one that is not ours. */
export function relayOfEntry(entry: StreamEntry): Relay | null {
  const match = /^(\d+)-0$/.exec(entry.id);
  const text = entry.message[RELAY_FIELD];
  if (match === null || text === undefined) return null;
  return decodeRelay(`${match[1]} ${text}`);
}

/**
 * The id of the room's message before `entry`'s when it was stored: 0 for
 * the room's first, or when the entry does not say.
 */
export function previousOf(entry: StreamEntry): number {
  const previous = Number(entry.message[PREVIOUS_FIELD]);
  return Number.isSafeInteger(previous) ? previous : 0;
}

/** The messages of `entries`, oldest first, whatever order they came in. */
export function messagesOf(entries: readonly StreamEntry[]): RoomMessage[] {
  const messages: RoomMessage[] = [];
  for (const entry of entries) {
    const relay = relayOfEntry(entry);
    if (relay !== null) messages.push(relay.message);
  }
  return messages.sort((a, b) => a.id - b.id);
}

/** What a node's room streams need from it. */
export interface RoomStreamsOptions {
  /** The node's hub: the rooms to catch up, its limits and its log. */
  hub: Hub;
  /** The node's command connection (not its subscriber). */
  client: Client;
  /** Delivers a message to its room's members here, in order. */
  deliver: (relay: Relay) => void;
  /** Told the newest id delivered each time a catch-up ends. */
  caughtUp?: (newest: number) => void;
}

/**
 * A node's side of the room streams: reads history for its users, and keeps
 * its deliveries gap-free and duplicate-free across a lost subscription.
 */
export class RoomStreams implements RoomLog {
  readonly #hub: Hub;
  readonly #client: Client;
  readonly #deliver: (relay: Relay) => void;
  readonly #caughtUpHook: (newest: number) => void;
  readonly #cursor = new DeliveryCursor();
  readonly #recent = new Map<string, Promise<RoomMessage[]>>();
  /** Bumped to stop a catch-up under way (lost again, or closing). */
  #run = 0;
  #catchingUp: Promise<void> | null = null;
  #retry: ReturnType<typeof setTimeout> | undefined;
  /** Whether this node's users were told it is degraded, and not yet back. */
  #degraded = false;
  /** Degraded because Redis stopped answering, not because a link dropped. */
  #silent = false;
  /**
   * The "back" notice waiting for the link to stay good for
   * `--degraded-hold`; a new failure meanwhile cancels it, and tells
   * nobody anything (they were told it is degraded and not yet back).
   */
  #backTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** Messages delivered by catch-ups so far (for tests and logs). */
  caughtUpMessages = 0;

  /**
   * Only keeps its parts: nothing is read until asked.
   * @param options the hub, the command connection, and delivery
   */
  constructor(options: RoomStreamsOptions) {
    this.#hub = options.hub;
    this.#client = options.client;
    this.#deliver = options.deliver;
    this.#caughtUpHook = options.caughtUp ?? (() => {});
  }

  /** The delivery state (read-only use). */
  get cursor(): DeliveryCursor {
    return this.#cursor;
  }

  /**
   * Goes live once subscribed: everything up to Redis's id counter now is
   * history, read from the streams.
   */
  async start(counterKey: string): Promise<void> {
    const counter = Number(await this.#client.get(counterKey) ?? "0");
    for (const relay of this.#cursor.start(counter)) this.#deliver(relay);
  }

  /**
   * Loads the store-and-publish script into Redis: at start and each time
   * the command connection is back, before anything else is sent on it, so
   * a Redis that restarted (and forgot its scripts) has it before the first
   * message.
   */
  prepare(): Promise<void> {
    return this.#client.scriptLoad(STORE_AND_PUBLISH_SCRIPT).then(() => {});
  }

  /**
   * Stores `relay` (a relay text for `room`) in its room's stream and
   * publishes it on `channel`, atomically; resolves to its id. A Redis that
   * lost the script (SCRIPT FLUSH) refuses this one and is given the
   * script again: sending by its text instead could let a later message
   * of the same sender overtake this one.
   */
  async store(
    counterKey: string,
    channel: string,
    room: string,
    relay: string,
  ): Promise<number> {
    try {
      return Number(
        await this.#client.evalSha(STORE_AND_PUBLISH_SHA, {
          keys: [counterKey, roomStreamKey(room), roomNewestKey(room)],
          arguments: [
            channel,
            relay,
            String(this.#hub.limits.clusterHistoryMax),
          ],
        }),
      );
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("NOSCRIPT")) {
        this.prepare().catch(() => {}); // a failure shows on the next send
      }
      throw error;
    }
  }

  /** A message from the subscription. */
  received(relay: Relay): void {
    const verdict = this.#cursor.live(relay);
    if (verdict === "deliver") this.#deliver(relay);
    else if (verdict === "overflow") {
      this.#hub.log("warn", "cluster_catch_up_overflow", {});
    }
  }

  /** The subscription dropped: hold what comes until caught up. */
  lost(): void {
    this.#cursor.lost();
    this.#run++;
    this.degraded();
  }

  /**
   * Redis did not answer a send in time, its connections still open: every
   * user here is told the chat is degraded, as for a lost link, and that it
   * is back once a send is answered again.
   */
  silent(): void {
    if (this.#degraded) {
      // Told degraded already; if back was about to be told, it waits for
      // a send answered again.
      if (this.#holdBack()) this.#silent = true;
      return;
    }
    this.#silent = true;
    this.degraded(SILENT_NOTICE);
  }

  /** Redis answered a send: back, if only its silence had degraded the chat. */
  answered(): void {
    if (!this.#silent || this.#cursor.behind) return;
    this.#silent = false;
    this.#back();
  }

  /** A connection to Redis dropped: every user here is told, once. */
  degraded(notice: string = DEGRADED_NOTICE): void {
    if (this.#closed) return;
    this.#holdBack();
    if (this.#degraded) return;
    this.#degraded = true;
    this.#tellEveryone(notice);
  }

  /** Cancels a "back" notice waiting for its hold; true when one was. */
  #holdBack(): boolean {
    if (this.#backTimer === undefined) return false;
    clearTimeout(this.#backTimer);
    this.#backTimer = undefined;
    return true;
  }

  /**
   * Both connections are up again: catches up if behind, then tells the
   * users the chat is back.
   */
  resume(): void {
    if (this.#closed) return;
    if (!this.#cursor.behind) {
      this.#back();
      return;
    }
    const run = ++this.#run;
    const catchingUp = this.#catchUp(run).catch((error: unknown) => {
      if (run !== this.#run || this.#closed) return;
      this.#hub.log("warn", "cluster_catch_up_failed", {
        error: describeError(error),
      });
      clearTimeout(this.#retry);
      this.#retry = setTimeout(() => {
        if (this.#client.isReady) this.resume();
      }, CATCH_UP_RETRY_MS);
    });
    this.#catchingUp = catchingUp;
  }

  /**
   * Reads every room with members here from its stream past what it was
   * sent, until no room is left unread (one joined meanwhile is read too),
   * then lets the held live messages through.
   */
  async #catchUp(run: number): Promise<void> {
    const started = this.#cursor.newest;
    let delivered = 0;
    while (true) {
      const rooms = [...this.#hub.rooms.values()].filter((room) =>
        room.members.size > 0 && !this.#cursor.caught(room.name)
      );
      if (rooms.length === 0) break;
      for (const room of rooms) {
        let first = true;
        while (true) {
          const from = this.#cursor.from(room.name);
          const entries = await bounded(
            this.#client.xRange(
              roomStreamKey(room.name),
              String(from + 1),
              "+",
              { COUNT: CATCH_UP_PAGE },
            ),
            this.#hub.limits.redisTimeoutMs,
          ) as StreamEntry[];
          if (run !== this.#run) return;
          // The first message past what was delivered follows one that
          // the cap has dropped: an outage longer than the stream.
          if (first && entries.length > 0 && previousOf(entries[0]!) > from) {
            this.#tellMissed(room);
          }
          first = false;
          const read = entries.map(relayOfEntry).filter((r) => r !== null);
          for (const relay of this.#cursor.caughtUp(room.name, read)) {
            this.#deliver(relay);
            delivered++;
          }
          if (entries.length < CATCH_UP_PAGE) break;
        }
      }
    }
    const held = this.#cursor.finish();
    for (const relay of held) this.#deliver(relay);
    this.caughtUpMessages += delivered;
    this.#hub.log("info", "cluster_caught_up", {
      from: started,
      read: delivered,
      held: held.length,
    });
    this.#caughtUpHook(this.#cursor.newest);
    this.#back();
  }

  /** Tells a room's members here that some of its messages are gone. */
  #tellMissed(room: Room): void {
    const cap = this.#hub.limits.clusterHistoryMax;
    this.#hub.log("warn", "cluster_catch_up_gap", { room: room.name, cap });
    this.#hub.localFeed.broadcast(room, {
      type: "notice",
      text: missedNotice(room.name, cap),
    });
  }

  /**
   * Tells everyone the chat is back once it has stayed so for
   * `--degraded-hold` (at once when that is 0).
   */
  #back(): void {
    if (!this.#degraded || this.#closed || this.#backTimer !== undefined) {
      return;
    }
    const tell = () => {
      this.#backTimer = undefined;
      if (!this.#degraded || this.#closed) return;
      this.#degraded = false;
      this.#silent = false;
      this.#tellEveryone(BACK_NOTICE);
    };
    const hold = this.#hub.limits.degradedHoldMs;
    if (hold <= 0) return tell();
    this.#backTimer = setTimeout(tell, hold);
  }

  #tellEveryone(text: string): void {
    for (const session of this.#hub.sessions) {
      if (session.state === "active") session.send({ type: "notice", text });
    }
  }

  /**
   * Up to `limit` messages of `room`, oldest first: the newest its members
   * here have been sent (what comes after reaches them live), or those
   * before `beforeId`.
   */
  messages(
    room: string,
    limit: number,
    beforeId?: number,
  ): Promise<RoomMessage[]> {
    let end = this.#cursor.shown(room);
    if (beforeId !== undefined) end = Math.min(end, beforeId - 1);
    if (end < 1 || limit < 1) return Promise.resolve([]);
    // Every join asks for the same recent page: read once per point.
    const memo = beforeId === undefined
      ? `${limit} ${foldKey(room)} ${end}`
      : null;
    const kept = memo === null ? undefined : this.#recent.get(memo);
    if (kept !== undefined) return kept.then((rows) => rows.slice());
    const read = bounded(
      this.#client.xRevRange(roomStreamKey(room), String(end), "-", {
        COUNT: limit,
      }),
      this.#hub.limits.redisTimeoutMs,
    ).then((entries) => messagesOf(entries as StreamEntry[]));
    if (memo !== null) {
      if (this.#recent.size >= RECENT_READS_KEPT) this.#recent.clear();
      this.#recent.set(memo, read);
      read.catch(() => this.#recent.delete(memo));
    }
    return read.then((rows) => rows.slice());
  }

  /** Stops any catch-up under way and its retry. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#run++;
    clearTimeout(this.#retry);
    this.#holdBack();
    await this.#catchingUp;
  }
}
