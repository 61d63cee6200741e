/**
 * The hub: the chat's shared state (every session, the nick registry, the
 * rooms, bans, mutes, the message of the day, the history store) and the
 * few operations every handler uses on it (ids and time, passwords,
 * delivery in order, disconnect). server.ts owns one hub and feeds it
 * connections; the handlers in commands/ and the room code act on it.
 *
 * Delivery goes through one seam, {@linkcode RoomFeed}: where a room's
 * messages and presence go, and (in a cluster) where they would come from.
 *
 * @module
 */

import { hashPassword, type PasswordHash, secretsEqual } from "./passwords.ts";
import { HistoryStore, type PrivateParties } from "./store/history_store.ts";
import {
  type AccountBook,
  LocalAccountBook,
  type SharedInbox,
} from "./account_book.ts";
import { AfterCommit, notStoredReason } from "./store/after_commit.ts";
import { DEFAULT_LIMITS, type Limits } from "./limits.ts";
import {
  describeError,
  type LogFields,
  type Logger,
  type LogLevel,
  silentLogger,
} from "./log.ts";
import { BanList } from "./ban_list.ts";
import { AccountSessions } from "./account_sessions.ts";
import {
  ConnectionRate,
  HashQueue,
  LoginThrottle,
  WindowCounter,
} from "./guards.ts";
import { RepeatedEvents } from "./log_repeats.ts";
import { NameRegistry } from "../wire/names.ts";
import { skeletonKey } from "./names/lookalikes.ts";
import {
  EncodedEvent,
  errorEvent,
  type LeaveReason,
  type PrivateMessage,
  type RoomMessage,
  sanitizeText,
  type ServerEvent,
} from "../protocol.ts";
import { isBig, leaveAllRooms } from "./rooms.ts";
import { AcceptedOrder, RoomBatch } from "./room_batch.ts";
import { END_OF_TURN, type FlushScheduler } from "./net/coalescing.ts";
import { slowDetail } from "./net/slowness.ts";
import { releaseNick } from "./nicknames.ts";
import type { ByeCode } from "../wire/bye.ts";
import type { Room, SendFailure, Session } from "./session.ts";
import type { RoomLog } from "./room_log.ts";
import type { ClusterPresence } from "./cluster/presence_seam.ts";

/**
 * Message ids are reserved in the database this many at a time: one small
 * write per thousand messages, and a restart skips at most that many ids.
 */
const MESSAGE_ID_BLOCK = 1000;

/**
 * A write pending this long means the peer has stopped reading, so a
 * slow reader's goodbye gets no grace. A constant: it only decides the
 * grace; --write-timeout and the send-queue limits decide the cut-off.
 */
const STUCK_WRITE_MS = 1000;

/** How long registrations count against `--max-registrations`. */
export const REGISTRATION_WINDOW_MS = 3_600_000;

/** The guards a hub keeps across connections. */
export interface Guards {
  /** Growing delays after wrong passwords, by account and by address. */
  logins: LoginThrottle;
  /** New connections per address. */
  connections: ConnectionRate;
  /**
   * New HTTPS connections per address, a bucket of their own: a page load
   * opens several at once, which the chat's rate would refuse.
   */
  httpsConnections: ConnectionRate;
  /** New plain HTTP connections per address, a bucket of their own too. */
  httpConnections: ConnectionRate;
  /** Registrations per address per hour. */
  registrations: WindowCounter;
  /** The bounded queue every password hash waits in. */
  hashes: HashQueue;
}

/** What a hub is made from: the chat half of the server's options. */
export interface HubOptions {
  /** The name clients see in the welcome. @default {"tern"} */
  name?: string;
  /** Limits; anything left out takes its default. */
  limits?: Partial<Limits>;
  /** Where log lines go. @default a silent logger */
  logger?: Logger;
  /** A password every connection must give before it can talk. */
  password?: string;
  /** The password of `/oper`; without one there are no operators. */
  operatorPassword?: string;
  /** The message of the day, one entry per line. */
  motd?: string[];
  /** The history database file. @default {":memory:"} */
  database?: string;
}

/**
 * A requester's own copy of the news its request made (a join, a rename,
 * away or back, a topic): it carries the request's `ref`, so a bot can match
 * it. Only a JSON-mode request has a ref (see {@linkcode ownCopy}).
 */
export interface OwnCopy {
  /** Who asked. */
  session: Session;
  /** Their request's ref. */
  ref: string;
}

/** The {@linkcode OwnCopy} of a request, when it carries a ref. */
export function ownCopy(
  session: Session,
  ref: string | undefined,
): OwnCopy | undefined {
  return ref === undefined || session.codec !== "json"
    ? undefined
    : { session, ref };
}

/**
 * Where a room's messages and presence (joins, leaves, renames, topics) go.
 * The one seam a cluster mode needs: this process's feed,
 * {@linkcode LocalRoomFeed}, queues them on the local members; a cluster's
 * would also relay them to, and take them from, the other nodes. Everything
 * a room hears passes through here.
 */
export interface RoomFeed {
  /**
   * Delivers `event` to every member of `room`. A text-mode `sender` gets no
   * copy of its own line; a JSON-mode one does, as its confirmation with the
   * message's id and time, carrying `ref`, its request's.
   */
  broadcast(
    room: Room,
    event: ServerEvent,
    sender?: Session,
    ref?: string,
  ): void;
  /**
   * Stores a room message and then delivers it as `broadcast` does: nobody
   * receives a message that is not yet in the history. `ref`, the request's,
   * goes on a JSON sender's confirmation, in a big room's batch as anywhere.
   */
  publish(
    room: Room,
    message: RoomMessage,
    sender: Session,
    ref?: string,
  ): void;
  /**
   * Delivers a person's news (a rename, away, back, leaving the chat) to
   * everyone in any of `rooms`, each once however many of the rooms they
   * share: with the recipient's current room when it is one of them, else
   * with the first of `rooms` they are in. `event` builds the news as one
   * room sees it, once per room. `own`'s copy carries its request's ref.
   */
  broadcastAcross(
    rooms: readonly Room[],
    event: (room: Room) => ServerEvent,
    own?: OwnCopy,
  ): void;
  /**
   * Holds `answer`, owed to `session` for a request, behind the room
   * messages it sent that have not come back yet (true); false when none
   * is on its way, and the caller sends it. A feed without it never has
   * one on its way: one process stores and delivers in the same turn.
   */
  holdAnswer?(session: Session, answer: () => void): boolean;
  /**
   * Settles once every room message `session` sent has come back (or been
   * refused); undefined when none is on its way.
   */
  sendsAnswered?(session: Session): Promise<void> | undefined;
}

/**
 * Nicknames held across every node of a cluster: at most one connection in
 * the whole cluster holds a name (by its look-alike key), on top of the
 * hub's own registry, which still holds this node's.
 */
export interface ClusterNames {
  /**
   * Claims `nick` for `session`, atomically across the cluster: false when
   * another connection anywhere holds it.
   * @throws when the cluster cannot be reached (the caller says so)
   */
  claim(nick: string, session: Session): Promise<boolean>;
  /** Lets `session`'s claim on `nick` go; never throws (errors are logged). */
  release(nick: string, session: Session): void;
}

/**
 * Least time between two writes of a big room's messages to one member, per
 * member of the room: 0.5 ms for 100 members, 5 ms for 1,000, 20 ms (the cap,
 * {@linkcode MAX_PULL_SPACING_MS}) from 4,000. It is kept below the time one
 * pass over the room's writes takes (about 10 µs a member), so a server with
 * CPU to spare writes again as soon as a pass ends, and a busy one is paced by
 * its own passes, each write carrying everything that arrived since the last:
 * a fixed wait longer than a pass would only leave a core idle while messages
 * wait (at 20 µs a member, b's members heard 5 ms later at p50 with a third of
 * a core unused). What it still prevents is a quiet server writing a busy
 * room's members again at once with a message or two each. A busy server's
 * write coalescing hold (--write-coalesce) is added to it, and not held again
 * when the member is woken to write.
 */
const PULL_SPACING_MS_PER_MEMBER = 0.005;

/** Longest spacing of a big room's writes to one member, whatever its size. */
const MAX_PULL_SPACING_MS = 20;

/**
 * The spacing of a big room's writes to each member: per member of the room
 * ({@linkcode PULL_SPACING_MS_PER_MEMBER}, at most
 * {@linkcode MAX_PULL_SPACING_MS}), plus the write coalescing hold now in
 * force, which the member's wake-up does not wait out a second time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bigRoomSpacingMs } from "./hub.ts";
 * assert.equal(bigRoomSpacingMs(100, 0), 0.5);
 * assert.equal(bigRoomSpacingMs(1_000, 0), 5);
 * assert.equal(bigRoomSpacingMs(10_000, 4), 24);
 * ```
 */
export function bigRoomSpacingMs(members: number, holdMs: number): number {
  return holdMs +
    Math.min(MAX_PULL_SPACING_MS, members * PULL_SPACING_MS_PER_MEMBER);
}

/** The feed of a single process: the members are all here. */
export class LocalRoomFeed implements RoomFeed {
  readonly #history: HistoryStore;
  readonly #afterCommit: AfterCommit;
  readonly #limits: Readonly<Limits>;
  readonly #writes: FlushScheduler;
  /** Numbers every big room's events, so a member in several gets them in order. */
  readonly #order = new AcceptedOrder();
  /** The id of the newest room message handed to its room's members. */
  #delivered: number;

  /**
   * Delivers after the history's commits, so nobody sees a message that was not
   * stored.
   * @param history where room messages are stored
   * @param afterCommit the order deliveries keep behind the history's commits
   * @param limits which rooms are big
   * @param writes the connections' write coalescing, which big rooms follow
   */
  constructor(
    history: HistoryStore,
    afterCommit: AfterCommit,
    limits: Readonly<Limits>,
    writes: FlushScheduler,
  ) {
    this.#history = history;
    this.#afterCommit = afterCommit;
    this.#limits = limits;
    this.#writes = writes;
    this.#delivered = history.lastMessageId();
  }

  /**
   * The id of the newest room message delivered: handed to its members'
   * queues, or to its big room's log. A history read shows messages up to
   * here and no further: one stored but not yet delivered (accepted after a
   * join, in the same turn, and committed before the join's replay is read)
   * reaches the member live, and would otherwise come twice.
   */
  get delivered(): number {
    return this.#delivered;
  }

  /**
   * The one fan-out: encodes `event` at most once per codec and queues the
   * bytes on every member (a big room's through its batch). Never awaits a
   * socket; a member too slow to keep up is cut off by its own queue, not
   * waited for.
   */
  broadcast(
    room: Room,
    event: ServerEvent,
    sender?: Session,
    ref?: string,
  ): void {
    this.#fanOut(room, event, sender, ref);
  }

  /**
   * Stores a room message, then delivers it in order; if it cannot be
   * stored, nobody gets it and the sender is told why.
   */
  publish(
    room: Room,
    message: RoomMessage,
    sender: Session,
    ref?: string,
  ): void {
    this.#history.queueRoomMessage(message);
    this.#fanOut(room, message, sender, ref, {
      id: message.id,
      refuse: (error) => sender.send(notStored(error, ref)),
    });
  }

  /**
   * Delivers `event`, which the pending commit stores under `id` (a topic
   * change), as {@linkcode Hub.publish} delivers a message: to nobody if
   * the commit fails, `refuse` running instead.
   */
  broadcastStored(
    room: Room,
    event: ServerEvent,
    id: number,
    refuse: (error: unknown) => void,
    sender?: Session,
    ref?: string,
  ): void {
    this.#fanOut(room, event, sender, ref, { id, refuse });
  }

  /**
   * Queues `event` on every member, now or behind the pending commit. With
   * `stored`, the event is the message with that id, which that commit
   * stores: it is delivered only if the commit succeeds, and `refuse` runs
   * instead if it fails.
   */
  #fanOut(
    room: Room,
    event: ServerEvent,
    sender: Session | undefined,
    ref: string | undefined,
    stored?: { id: number; refuse: (error: unknown) => void },
  ): void {
    const encoded = new EncodedEvent(event);
    const later = (action: () => void) => {
      if (stored === undefined) {
        if (!this.#afterCommit.busy) action();
        else this.#afterCommit.run(action);
        return;
      }
      this.#afterCommit.runIfStored(() => {
        this.#delivered = Math.max(this.#delivered, stored.id);
        action();
      }, stored.refuse);
    };
    // The sender's own copy, its confirmation, carries its request's ref.
    const confirmation = ref === undefined
      ? encoded
      : new EncodedEvent({ ...event, ref } as ServerEvent);
    if (isBig(this.#limits, room)) {
      // O(1) per message: the members pull it from the room's log, joined
      // with whatever else waits for them (the sender its confirmation).
      const batch = room.batch ??= this.#batchFor(room);
      const seq = batch.accept();
      const from = sender ?? null;
      later(() => batch.add(encoded, seq, from, confirmation));
      return;
    }
    // Delivered to whoever is in the room now, even if it waits a commit.
    const members = this.#afterCommit.busy || stored !== undefined
      ? [...room.members]
      : room.members;
    later(() => {
      for (const member of members) {
        if (member === sender && member.codec === "text") continue;
        member.sendEncoded(
          member === sender ? confirmation : encoded,
          member.shown !== room,
        );
      }
    });
  }

  /**
   * A big room's log. Its members pull from it as their connections' turns
   * to write come (room_batch.ts), spaced by {@linkcode bigRoomSpacingMs}.
   */
  #batchFor(room: Room): RoomBatch<Session> {
    const writes = this.#writes;
    return new RoomBatch<Session>({
      members: () => room.members,
      order: this.#order,
      pulled: (lines) => writes.countExtraLines(lines),
      elsewhere: (member) => member.shown !== room,
      spacingMs: () => bigRoomSpacingMs(room.members.size, writes.delayMs),
    });
  }

  /**
   * Two passes over the rooms' members, marking whom each reached: first
   * those whose current room is one of `rooms`, then the rest. Each room's
   * event is built and encoded only if someone gets it from that room. A
   * person in one room (the usual case) takes `broadcast`'s path, a big
   * room's batch included; across rooms each member is sent to directly
   * (which lets a big room's held lines go first), O(members) like a small
   * room's broadcast.
   */
  broadcastAcross(
    rooms: readonly Room[],
    event: (room: Room) => ServerEvent,
    own?: OwnCopy,
  ): void {
    if (rooms.length === 1) {
      return this.broadcast(
        rooms[0]!,
        event(rooms[0]!),
        own?.session,
        own?.ref,
      );
    }
    const encodings = new Map<Room, EncodedEvent>();
    const encodedFor = (room: Room, member: Session) => {
      if (member === own?.session) {
        return new EncodedEvent(
          { ...event(room), ref: own.ref } as ServerEvent,
        );
      }
      let encoded = encodings.get(room);
      if (encoded === undefined) {
        encoded = new EncodedEvent(event(room));
        encodings.set(room, encoded);
      }
      return encoded;
    };
    const deliver = (snapshot: Array<[Room, Iterable<Session>]>) => {
      const reached = new Set<Session>();
      for (const [room, members] of snapshot) {
        for (const member of members) {
          if (member.shown !== room || reached.has(member)) continue;
          reached.add(member);
          member.sendEncoded(encodedFor(room, member));
        }
      }
      for (const [room, members] of snapshot) {
        for (const member of members) {
          if (reached.has(member)) continue;
          reached.add(member);
          member.sendEncoded(encodedFor(room, member), true);
        }
      }
    };
    if (!this.#afterCommit.busy) {
      deliver(rooms.map((room) => [room, room.members]));
    } else {
      const snapshot = rooms.map((room): [Room, Session[]] => [room, [
        ...room.members,
      ]]);
      this.#afterCommit.run(() => deliver(snapshot));
    }
  }
}

/** The error a sender gets for a message the history could not store. */
function notStored(error: unknown, ref: string | undefined): ServerEvent {
  return errorEvent("not_stored", notStoredReason(error), ref);
}

/** The chat's state, and what every handler does with it. */
export class Hub {
  /** Shown to clients in the welcome. */
  readonly serverName: string;
  /** Every limit, defaults filled in. */
  readonly limits: Readonly<Limits>;
  /** Every open connection, logged in or not. */
  readonly sessions: Set<Session> = new Set();
  /** Open connections by the account they identified to. */
  readonly identified: AccountSessions<Session> = new AccountSessions();
  /** Nicknames of logged-in sessions; changed only by nicknames.ts. */
  readonly nicks: NameRegistry<Session> = new NameRegistry<Session>(
    skeletonKey,
  );
  /** Rooms by the fold key of their name; changed only by rooms.ts. */
  readonly rooms: Map<string, Room> = new Map();
  /** The same rooms by the look-alike key of their name (rooms.ts). */
  readonly roomsByLooks: Map<string, Room> = new Map();
  /**
   * Rooms that exist by the address that opened them (rooms.ts), for
   * `--max-rooms-per-address`; an address with none has no entry.
   */
  readonly roomsOpenedBy: Map<string, number> = new Map();
  /**
   * Rooms whose size changed since their members were last sent it, for
   * the sweep to send it when `--big-room-count-interval` allows (rooms.ts,
   * `tellCounts`).
   */
  readonly countsDue: Set<Room> = new Set();
  /** Addresses kept out (IPv6 ones by their `--ipv6-prefix`). */
  readonly bans: BanList;
  /** Fold keys of muted nicknames, so a mute survives a reconnect. */
  readonly mutedNicks: Set<string> = new Set();
  /** Room history, topics, accounts and stored private messages. */
  readonly history: HistoryStore;
  /** This process's own feed: its members, its history. */
  readonly localFeed: LocalRoomFeed;
  /**
   * Where room messages and presence go (the cluster seam): the local feed
   * unless {@linkcode Hub.joinCluster} replaced it at start.
   */
  feed: RoomFeed;
  /**
   * Where the join replay and `/history` read a room's history: the SQLite
   * history here, a cluster's Redis streams when a node sets it at start.
   */
  roomLog: RoomLog = {
    messages: (room, limit, beforeId) => {
      // What is stored but not yet delivered reaches the reader live.
      const shownBelow = this.localFeed.delivered + 1;
      if (beforeId !== undefined) {
        return this.history.roomMessages(
          room,
          limit,
          Math.min(beforeId, shownBelow),
        );
      }
      // The recent page, shared by every join, unless it runs ahead.
      const recent = this.history.roomMessages(room, limit);
      return (recent.at(-1)?.id ?? 0) < shownBelow
        ? recent
        : this.history.roomMessages(room, limit, shownBelow);
    },
  };
  /**
   * What an operator should know about this server's setup (a cluster's
   * Redis without persistence): logged at start, and told on `/oper`.
   */
  readonly warnings: string[] = [];
  /** Nicknames held across the cluster; null on a single node. */
  cluster: ClusterNames | null = null;
  /** The other nodes' people and this node's news for them; null on one. */
  presence: ClusterPresence | null = null;
  /**
   * Registered accounts: the history file's, unless
   * {@linkcode Hub.shareAccounts} replaced them at start.
   */
  accounts: AccountBook;
  /**
   * Waiting private messages shared by a cluster; null on a single node,
   * whose history file keeps them.
   */
  sharedInbox: SharedInbox | null = null;
  /** Guessing and churn across connections (guards.ts). */
  readonly guards: Guards;
  /** The message of the day, one entry per line. */
  motd: string[];
  readonly #options: HubOptions;
  readonly #log: Logger;
  readonly #afterCommit: AfterCommit;
  /** Per-session budgets for repeated log events, by session id. */
  readonly #logRepeats = new Map<number, RepeatedEvents>();
  #lastMessageId: number;
  /** Ids up to this are recorded as possibly handed out (see nextMessageId). */
  #reservedMessageId: number;
  /** Whether the last reservation of ids failed (see nextMessageId). */
  #reserveFailing = false;

  /**
   * Opens the history database; nothing listens yet.
   * @param options name, limits, secrets, logging, database
   * @param writes the connections' write coalescing (never holds unless
   *   given)
   * @throws if the history database cannot be opened
   */
  constructor(options: HubOptions = {}, writes: FlushScheduler = END_OF_TURN) {
    this.#options = options;
    this.serverName = options.name ?? "tern";
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.bans = new BanList(this.limits.ipv6Prefix);
    this.#log = options.logger ?? silentLogger;
    this.history = new HistoryStore(
      options.database ?? ":memory:",
      this.limits.historyMaxBytes,
    );
    this.#afterCommit = new AfterCommit(
      this.history,
      (level, event, fields) => this.#log.log(level, event, fields),
    );
    this.localFeed = new LocalRoomFeed(
      this.history,
      this.#afterCommit,
      this.limits,
      writes,
    );
    this.feed = this.localFeed;
    this.accounts = new LocalAccountBook(this.history.accounts);
    this.guards = {
      logins: new LoginThrottle({
        freeFailures: this.limits.loginFailures,
        firstDelayMs: this.limits.loginDelayMs,
        maxDelayMs: this.limits.loginDelayMaxMs,
      }),
      connections: new ConnectionRate(
        this.limits.connectBurst,
        this.limits.connectRate,
      ),
      httpsConnections: new ConnectionRate(
        this.limits.httpsConnectBurst,
        this.limits.httpsConnectRate,
      ),
      httpConnections: new ConnectionRate(
        this.limits.httpConnectBurst,
        this.limits.httpConnectRate,
      ),
      registrations: new WindowCounter(REGISTRATION_WINDOW_MS),
      hashes: new HashQueue(this.limits.hashQueue),
    };
    this.#lastMessageId = this.history.lastMessageId();
    this.#reservedMessageId = this.#lastMessageId;
    // --motd wins at start; without it, the one last set with /motd.
    this.motd = [];
    this.setMotd(options.motd ?? this.history.motd() ?? []);
  }

  /** Replaces the message of the day (cleaned, trailing blank lines cut). */
  setMotd(lines: readonly string[]): void {
    const motd = lines.map(sanitizeText);
    while (motd.at(-1) === "") motd.pop();
    this.motd = motd;
  }

  /**
   * Makes this hub one node of a cluster: room messages go through `feed`,
   * nicknames through `names`. Called once, before any connection.
   */
  joinCluster(feed: RoomFeed, names: ClusterNames): void {
    this.feed = feed;
    this.cluster = names;
  }

  /**
   * Keeps accounts and waiting messages in `shared` (a cluster's), not in
   * the history file. Called once, before any connection.
   */
  shareAccounts(shared: AccountBook & SharedInbox): void {
    this.accounts = shared;
    this.sharedInbox = shared;
  }

  /** The id of the last room or private message accepted. */
  get lastMessageId(): number {
    return this.#lastMessageId;
  }

  /** A fresh message id. */
  nextMessageId(): number {
    const id = ++this.#lastMessageId;
    if (id > this.#reservedMessageId) {
      // Recorded before the block is used, so ids never repeat after a
      // restart even when the newest messages were pruned or never stored.
      // Not recorded (the database refusing writes), the block is not
      // taken: the next id asks again, and its block, once recorded,
      // covers this one too.
      try {
        this.history.reserveMessageIds(id + MESSAGE_ID_BLOCK - 1);
        this.#reservedMessageId = id + MESSAGE_ID_BLOCK - 1;
        this.#reserveFailing = false;
      } catch (error) {
        // Logged once per outage, not once per id asked for meanwhile.
        if (!this.#reserveFailing) {
          this.#log.error("message_id_reserve_failed", {
            error: describeError(error),
          });
        }
        this.#reserveFailing = true;
      }
    }
    return id;
  }

  /** Server time in milliseconds since the epoch. */
  now(): number {
    return Date.now();
  }

  /**
   * Records a notable event; never given a secret. An event about a session
   * (a numeric `session` field) counts against that session's repeat
   * budget (`--log-repeat` per minute); the rest are counted and reported.
   */
  log(level: LogLevel, event: string, fields?: LogFields): void {
    const id = fields?.session;
    if (typeof id !== "number") {
      this.#log.log(level, event, fields);
      return;
    }
    let repeats = this.#logRepeats.get(id);
    if (repeats === undefined) {
      repeats = new RepeatedEvents(this.limits.logRepeatLimit);
      this.#logRepeats.set(id, repeats);
    }
    const verdict = repeats.admit(event, this.now());
    if (!verdict.write) return;
    this.#log.log(
      level,
      event,
      verdict.suppressed > 0
        ? { ...fields, suppressed: verdict.suppressed }
        : fields,
    );
  }

  /**
   * Forgets a finished session's repeat budget, logging how many of its
   * events went unwritten since the last of each that was.
   */
  endSessionLog(session: Session): void {
    const repeats = this.#logRepeats.get(session.id);
    if (repeats === undefined) return;
    this.#logRepeats.delete(session.id);
    for (const [event, count] of repeats.takeSuppressed()) {
      this.#log.warn("log_suppressed", { session: session.id, event, count });
    }
  }

  /** Whether connections must give the server password. */
  get passwordRequired(): boolean {
    return this.#options.password !== undefined;
  }

  /** Whether `given` is the server password (constant time). */
  checkPassword(given: string): boolean {
    const expected = this.#options.password;
    return expected === undefined || secretsEqual(given, expected);
  }

  /** Whether an operator password is configured at all. */
  get operatorsEnabled(): boolean {
    return this.#options.operatorPassword !== undefined;
  }

  /** Whether `given` is the operator password (constant time). */
  checkOperPassword(given: string): boolean {
    const expected = this.#options.operatorPassword;
    return expected !== undefined && secretsEqual(given, expected);
  }

  /** Hashes a new account password with the configured cost. */
  hashPassword(password: string): Promise<PasswordHash> {
    return hashPassword(password, this.limits.passwordIterations);
  }

  /** Delivers `event` to a room; see {@linkcode RoomFeed.broadcast}. */
  broadcast(
    room: Room,
    event: ServerEvent,
    sender?: Session,
    ref?: string,
  ): void {
    this.feed.broadcast(room, event, sender, ref);
  }

  /** A person's news to all its rooms; see {@linkcode RoomFeed.broadcastAcross}. */
  broadcastAcross(
    rooms: readonly Room[],
    event: (room: Room) => ServerEvent,
    own?: OwnCopy,
  ): void {
    this.feed.broadcastAcross(rooms, event, own);
  }

  /** Stores and delivers a room message; see {@linkcode RoomFeed.publish}. */
  publish(
    room: Room,
    message: RoomMessage,
    sender: Session,
    ref?: string,
  ): void {
    this.feed.publish(room, message, sender, ref);
  }

  /**
   * Delivers a private message to its sender and, if connected, its target;
   * stores it first with the accounts it belongs to unless `store` is "no"
   * (it is stored only when an account is a party), marked pending when the
   * target's account gets it on identifying.
   */
  sendPrivate(
    message: PrivateMessage,
    sender: Session,
    target: Session | null,
    store: "no" | PrivateParties,
    ref?: string,
  ): void {
    const encoded = new EncodedEvent(message);
    // The sender's copy, its confirmation, carries its request's ref.
    const confirmation = ref === undefined
      ? encoded
      : new EncodedEvent({ ...message, ref });
    const deliver = () => {
      if (target !== sender) target?.sendEncoded(encoded);
      sender.sendEncoded(confirmation);
    };
    if (store === "no") {
      this.inOrder(deliver);
      return;
    }
    this.history.queuePrivate(message, store);
    this.#afterCommit.runIfStored(
      deliver,
      (error) => sender.send(notStored(error, ref)),
    );
  }

  /**
   * Runs `action` once everything accepted before it has been stored and
   * delivered, so replies that follow a broadcast arrive after it: the one
   * way a reply to a request is sent (commands/call.ts), so that a
   * connection's replies, its own messages' confirmations among them, come
   * in the order it asked. Runs at once when nothing waits.
   */
  inOrder(action: () => void): void {
    this.#afterCommit.run(action);
  }

  /**
   * Runs `action`, a reply to one of `session`'s requests, in its order:
   * as {@linkcode Hub.inOrder} does, and in a cluster also behind the room
   * messages the session sent that have not come back from Redis yet.
   */
  replyTo(session: Session, action: () => void): void {
    const run = () => this.#afterCommit.run(action);
    if (this.feed.holdAnswer?.(session, run) !== true) run();
  }

  /**
   * Sends `session` an answer to what it sent (an error for a line that is
   * no request, say) in order, as {@linkcode Hub.replyTo} does.
   */
  answer(session: Session, event: ServerEvent): void {
    this.replyTo(session, () => session.send(event));
  }

  /**
   * Settles once the room messages `session` sent have all come back, in a
   * cluster; undefined when none is on its way (always, on one node). A
   * request that is not a room message waits for it before it runs, so
   * that whatever it sends comes after their confirmations.
   */
  sendsAnswered(session: Session): Promise<void> | undefined {
    return this.feed.sendsAnswered?.(session);
  }

  /** Commits what is queued and runs the waiting deliveries, now. */
  commitNow(): void {
    this.#afterCommit.runNow();
  }

  /**
   * Ends a session, telling its rooms why, and says goodbye if it can;
   * `goodbye` replaces what the session itself is told (see goodbyeFor).
   */
  disconnect(
    session: Session,
    reason: LeaveReason,
    detail?: string,
    goodbye?: Goodbye,
  ): void {
    if (session.state === "closing") return;
    const wasActive = session.state === "active";
    leaveAllRooms(this, session, reason, detail);
    session.state = "closing";
    if (wasActive) releaseNick(this, session);
    this.#log.info("disconnect", {
      session: session.id,
      nick: session.nick ?? undefined,
      address: session.address,
      reason,
      detail: detail || undefined,
    });
    const bye = goodbye ?? goodbyeFor(reason, detail);
    // A reader whose writes are stuck gets no grace: its goodbye would wait
    // behind everything it has not read, while its buffers stay held. One
    // that is slow but still reading gets the usual grace, and so does a
    // peer that stopped sending: it may still read what it was owed.
    const since = session.outbound.writePendingSince;
    const stuck = reason === "slow" && since !== 0 &&
      this.now() - since > STUCK_WRITE_MS;
    const grace = stuck ? 0 : this.limits.closeGraceMs;
    // The goodbye is one more answer, in its turn: whatever the session was
    // owed before it was told to go (its messages' confirmations, the
    // answers to its requests) goes first, however it is told to go. Not
    // for a reader too far behind, whose backlog is dropped for its bye.
    const slow = reason === "slow";
    session.finish(
      bye === null ? null : { type: "bye", ...bye },
      grace,
      slow,
      slow ? undefined : (go) => this.replyTo(session, go),
    ).catch((error) =>
      this.#log.error("close_failed", {
        session: session.id,
        error: describeError(error),
      })
    );
  }

  /** A send queue overflowed or a write failed: the peer must go. */
  readonly sendFailed = (session: Session, why: SendFailure): void => {
    if (session.state === "closing") return;
    if (why === "slow") {
      this.log("warn", "slow_consumer", {
        session: session.id,
        nick: session.nick ?? undefined,
        queued: session.outbound.queuedBytes,
      });
    }
    // Deferred: this is called from inside a broadcast, which must finish
    // its loop before the room changes under it.
    queueMicrotask(() =>
      this.disconnect(
        session,
        why,
        why === "slow" ? slowDetail("hard_limit", this.limits) : undefined,
      )
    );
  };

  /** A reply's next event could not be built: logged, the rest dropped. */
  readonly replyFailed = (session: Session, error: unknown): void => {
    this.#log.error("reply_failed", {
      session: session.id,
      error: describeError(error),
    });
  };
}

/** What a departing session is told: a code for programs, words for people. */
export interface Goodbye {
  /** For programs: why it ended, and so whether to come back. */
  code: ByeCode;
  /** For people: the words shown to the user. */
  reason: string;
}

/**
 * What a departing session is told in its `bye`, by why it leaves; null when
 * it gets no goodbye (its connection is already gone, or it only left a room).
 */
function goodbyeFor(reason: LeaveReason, detail?: string): Goodbye | null {
  const withDetail = (text: string) => detail ? `${text} ${detail}` : text;
  switch (reason) {
    case "quit":
      return { code: "quit", reason: "Goodbye" };
    case "lost":
      return detail ? { code: "refused", reason: detail } : null;
    case "slow":
      return {
        code: "slow",
        reason: `You fell too far behind: ${detail ?? "output backed up"}`,
      };
    case "kicked":
      return { code: "kicked", reason: withDetail("Kicked") };
    case "banned":
      return { code: "banned", reason: withDetail("Banned") };
    case "flood":
      return { code: "flood", reason: detail ?? "Too many lines too fast" };
    case "timeout":
      return {
        code: "timeout",
        reason: `Timed out: ${detail ?? "no activity"}`,
      };
    case "shutdown":
      return { code: "shutdown", reason: "Server shutting down" };
    case "part":
      return null;
  }
}
