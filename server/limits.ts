/**
 * Every limit the server enforces, each with its default, its command-line
 * flag and one line of explanation, in one table. Flag parsing, `--help` and
 * the README's limits table all come from {@linkcode LIMIT_SPECS}, and a test
 * checks the README lists every flag, so a limit cannot exist undocumented.
 *
 * @module
 */

import { DEFAULT_MAX_LINE_BYTES } from "../protocol.ts";

/** The server's limits, in bytes, counts and milliseconds. */
export interface Limits {
  /** Longest line accepted, without its newline. */
  maxLineBytes: number;
  /**
   * The hard limit: output waiting for one connection past which it is cut
   * off at once (see net/slowness.ts).
   */
  maxSendQueueBytes: number;
  /**
   * Replies (history pages, member lists) waiting to be sent to one
   * connection past which its next line is not read until they have gone.
   */
  maxQueuedReplies: number;
  /**
   * WebSocket frames that may wait while an earlier request of the same
   * connection still runs (a password being hashed): a browser sends one
   * line per press of Enter, so more can only be a flood.
   */
  maxWaitingFrames: number;
  /** The soft limit: output that may wait for a connection for a while. */
  sendQueueSoftBytes: number;
  /** How long output may stay above the soft limit before the cut. */
  sendQueueSoftMs: number;
  /** How long one write may wait on a peer that does not read. */
  writeTimeoutMs: number;
  /** Room messages replayed to whoever joins a room. */
  historyLength: number;
  /** Age past which room history is deleted; 0 keeps it forever. */
  historyMaxAgeMs: number;
  /** Messages kept per room; 0 for no limit. */
  historyMaxPerRoom: number;
  /** Size the history database may grow to; 0 for no limit. */
  historyMaxBytes: number;
  /** Messages kept per room in a cluster's Redis stream (`MAXLEN ~`). */
  clusterHistoryMax: number;
  /** PBKDF2 iterations for new account passwords. */
  passwordIterations: number;
  /** Time allowed between a goodbye and closing the socket. */
  closeGraceMs: number;
  /** Lines a client may send at once before the rate applies. */
  floodBurst: number;
  /**
   * Lines per second a client may keep sending; faster ones are delayed
   * (server/flood.ts). 0 turns flood control off.
   */
  floodRate: number;
  /** Bytes a client may send at once before the byte rate applies. */
  floodBurstBytes: number;
  /** Bytes per second a client may keep sending. */
  floodByteRate: number;
  /** Waiting this long in all, in one spell of pacing, disconnects a flooder. */
  floodDisconnectMs: number;
  /** Open connections in total. */
  maxConnections: number;
  /** Open connections from one address; 0 for no limit. */
  maxPerAddress: number;
  /** Time to finish logging in (password, nickname, TLS handshake). */
  loginTimeoutMs: number;
  /** Time an HTTP connection gets to send its request head and take the answer. */
  httpHeadTimeoutMs: number;
  /** Longest HTTP request head accepted (request line and headers). */
  maxHttpHeadBytes: number;
  /**
   * Time an HTTP connection waits, answered, for its next request; 0 closes
   * it after every answer (no persistent connections).
   */
  httpIdleTimeoutMs: number;
  /** Requests one HTTP connection serves before the server closes it. */
  httpMaxRequests: number;
  /** Lines accepted before login. */
  maxLoginLines: number;
  /** Silence from a JSON client before the server pings it. */
  pingIntervalMs: number;
  /** Time a pinged JSON client has to answer. */
  pingTimeoutMs: number;
  /** Silence after which a text client is disconnected; 0 for never. */
  idleTimeoutMs: number;
  /** Rooms that may exist at once. */
  maxRooms: number;
  /** Members one room may hold. */
  maxRoomMembers: number;
  /** Rooms one connection may be in at once. */
  maxRoomsPerUser: number;
  /**
   * Rooms opened from one address that still exist; 0 for no limit. Without
   * it a few addresses, each with many connections in many rooms, could
   * take every room `maxRooms` allows.
   */
  maxRoomsPerAddress: number;
  /**
   * Members from which a room is big: its joins and leaves are not announced
   * and a newcomer gets the count instead of the list; 0: no room is big.
   */
  bigRoomMembers: number;
  /**
   * Shortest time between two `count` events to a big room's members while
   * its size changes; 0: never sent.
   */
  bigRoomCountMs: number;
  /** Wrong passwords before a connection is closed. */
  maxPasswordAttempts: number;
  /** Longest a busy server holds output to coalesce writes; 0: never. */
  writeCoalesceMs: number;
  /**
   * Plain TCP writes made at once, through the C library, in one turn of
   * the event loop before input is read again (net/libc_socket.ts); 0:
   * every write goes through Deno's asynchronous write.
   */
  syncWritesPerTurn: number;
  /** Shortest account password accepted by `/register`. */
  minPasswordLength: number;
  /** Longest topic or message of the day kept, in characters. */
  maxTopicLength: number;
  /** Longest away, quit, kick or ban reason kept, in characters. */
  maxReasonLength: number;
  /** Messages in a `/history` page when the request names no count. */
  historyPage: number;
  /**
   * Leading bits of an IPv6 address that name one holder for every
   * per-address limit: a host is usually given a whole /64, and would
   * otherwise pass each limit once per address it picks from it.
   */
  ipv6Prefix: number;
  /** Connections one address may open at once before the rate applies. */
  connectBurst: number;
  /** New connections per second one address may keep opening; 0: off. */
  connectRate: number;
  /**
   * HTTPS connections one address may open at once before its own rate
   * applies: a page load opens several, so the chat's rate is too tight.
   */
  httpsConnectBurst: number;
  /**
   * HTTPS connections per second one address may keep opening, checked
   * before the TLS handshake whose signature each costs; 0: off.
   */
  httpsConnectRate: number;
  /**
   * Plain HTTP connections one address may open at once before its own
   * rate applies: a page load opens several, as over HTTPS.
   */
  httpConnectBurst: number;
  /**
   * Plain HTTP connections per second one address may keep opening; past
   * it a connection is answered 429 before its request is read; 0: off.
   */
  httpConnectRate: number;
  /** Failed logins per account or address before delays start. */
  loginFailures: number;
  /** The first delay after those; each further failure doubles it. */
  loginDelayMs: number;
  /** The longest delay between failed logins. */
  loginDelayMaxMs: number;
  /** Password checks waiting for the hasher before new ones are refused. */
  hashQueue: number;
  /** Nicknames one address may register per hour. */
  maxRegistrations: number;
  /** Messages waiting in one offline account's inbox. */
  maxInboxMessages: number;
  /** Messages from one address waiting for offline recipients. */
  maxWaitingPerAddress: number;
  /** Age past which a waiting message is no longer delivered. */
  offlineExpiryMs: number;
  /** Nickname changes per minute per connection. */
  maxNickChanges: number;
  /** Room joins and parts per minute per connection. */
  maxJoins: number;
  /** Longest ban an operator may set. */
  maxBanMs: number;
  /** TLS connections: silence before TCP keepalive probes start. */
  keepaliveIdleMs: number;
  /** Log bytes held while stderr's reader is slow; past it lines drop. */
  logBufferBytes: number;
  /** Times one connection may log the same event per minute. */
  logRepeatLimit: number;
  /**
   * Cluster mode: how long a node may miss its heartbeat before the others
   * count it dead (its users leave, its nicknames are freed).
   */
  nodeTimeoutMs: number;
  /**
   * Cluster mode: how long a node waits for Redis to answer a command on
   * a user's path before telling the user the store is unreachable.
   */
  redisTimeoutMs: number;
  /**
   * Cluster mode: how long the link to Redis must stay good before a
   * node's users are told the chat is back (hysteresis for a flapping link).
   */
  degradedHoldMs: number;
}

/** How a limit's flag value is written on the command line. */
export type LimitUnit = "bytes" | "count" | "seconds" | "days" | "per-second";

/** One row of the limits table. */
export interface LimitSpec {
  /** The field of {@linkcode Limits} it sets. */
  key: keyof Limits;
  /** The command-line flag, without its `--`. */
  flag: string;
  /**
   * How the value is written on the command line (seconds and days become
   * milliseconds).
   */
  unit: LimitUnit;
  /** The default, in the flag's unit. */
  default: number;
  /** Whether 0 is allowed (meaning "off" where the description says so). */
  allowZero: boolean;
  /** The largest value allowed, where there is one. */
  max?: number;
  /** What it limits and why, one line for `--help`. */
  description: string;
}

/** The limits table; defaults come from what mature servers ship. */
export const LIMIT_SPECS: readonly LimitSpec[] = [
  {
    key: "maxLineBytes",
    flag: "max-line",
    unit: "bytes",
    default: DEFAULT_MAX_LINE_BYTES,
    allowZero: false,
    description:
      "longest line a client may send; a longer one is refused and discarded",
  },
  {
    key: "maxSendQueueBytes",
    flag: "max-send-queue",
    unit: "bytes",
    default: 32 * 1024 * 1024,
    allowZero: false,
    description:
      "output waiting for one client past which it is disconnected at once as too slow (the hard limit)",
  },
  {
    key: "maxQueuedReplies",
    flag: "max-queued-replies",
    unit: "count",
    default: 32,
    allowZero: false,
    description:
      "replies (history pages, member lists, the MOTD) waiting to be sent to one client past which its next line waits until they have gone, so a client that asks without reading cannot pile them up; a reply counts from the moment its request is accepted, even while it waits behind a message sent just before it",
  },
  {
    key: "maxWaitingFrames",
    flag: "max-waiting-frames",
    unit: "count",
    default: 64,
    allowZero: false,
    description:
      "WebSocket frames that may wait while an earlier request of the same connection still runs (a password being hashed); one more disconnects it as a flood. Frames past flood control's budget are not such frames: the socket is not read until their turn, as on TCP",
  },
  {
    key: "sendQueueSoftBytes",
    flag: "send-queue-soft",
    unit: "bytes",
    default: 1024 * 1024,
    allowZero: false,
    description:
      "output that may wait for one client; more, for longer than --send-queue-soft-time, disconnects it as too slow",
  },
  {
    key: "sendQueueSoftMs",
    flag: "send-queue-soft-time",
    unit: "seconds",
    default: 10,
    allowZero: false,
    description:
      "how long a client's waiting output may stay above --send-queue-soft before it is disconnected",
  },
  {
    key: "writeTimeoutMs",
    flag: "write-timeout",
    unit: "seconds",
    default: 10,
    allowZero: false,
    description:
      "how long a write may wait on a client that does not read before it is disconnected",
  },
  {
    key: "historyLength",
    flag: "history",
    unit: "count",
    default: 20,
    allowZero: true,
    description: "room messages replayed to whoever joins a room",
  },
  {
    key: "historyMaxAgeMs",
    flag: "history-days",
    unit: "days",
    default: 0,
    allowZero: true,
    description:
      "days of room history kept; older messages are pruned (0 keeps them forever)",
  },
  {
    key: "historyMaxPerRoom",
    flag: "history-max",
    unit: "count",
    default: 0,
    allowZero: true,
    description:
      "messages kept per room; older ones are pruned (0 for no limit)",
  },
  {
    key: "historyMaxBytes",
    flag: "db-max-size",
    unit: "bytes",
    default: 0,
    allowZero: true,
    description:
      "size the history database may grow to; past it new messages are refused to their senders, as on a full disk, until pruning frees room (0 for no limit)",
  },
  {
    key: "clusterHistoryMax",
    flag: "redis-history-max",
    unit: "count",
    default: 10_000,
    allowZero: false,
    description:
      "with --redis: messages kept per room in its Redis stream, which the join replay and /history read (trimmed with MAXLEN ~, so a little more may stay)",
  },
  {
    key: "passwordIterations",
    flag: "password-iterations",
    unit: "count",
    default: 600_000,
    allowZero: false,
    description:
      "PBKDF2-SHA256 iterations for new account passwords (each account keeps its own)",
  },
  {
    key: "closeGraceMs",
    flag: "close-grace",
    unit: "seconds",
    default: 2,
    allowZero: true,
    description:
      "time a disconnected client gets to receive its last line before the socket closes",
  },
  {
    key: "floodBurst",
    flag: "flood-burst",
    unit: "count",
    default: 10,
    allowZero: false,
    description: "lines a client may send at once before the rate applies",
  },
  {
    key: "floodRate",
    flag: "flood-rate",
    unit: "per-second",
    default: 2,
    allowZero: true,
    description:
      "lines per second a client may keep sending; faster lines are delayed, in order, never dropped (0 turns flood control off)",
  },
  {
    key: "floodBurstBytes",
    flag: "flood-burst-bytes",
    unit: "bytes",
    default: 40_960,
    allowZero: false,
    description:
      "bytes a client may send at once before --flood-byte-rate applies",
  },
  {
    key: "floodByteRate",
    flag: "flood-byte-rate",
    unit: "per-second",
    default: 4096,
    allowZero: false,
    description:
      "bytes per second a client may keep sending; faster lines are delayed like lines past --flood-rate",
  },
  {
    key: "floodDisconnectMs",
    flag: "flood-disconnect",
    unit: "seconds",
    default: 120,
    allowZero: false,
    description:
      "how long a client's lines may wait, in all, in one spell of pacing before it is disconnected for flooding",
  },
  {
    key: "maxConnections",
    flag: "max-connections",
    unit: "count",
    default: 10_000,
    allowZero: false,
    description: "open connections in total; more are told the server is full",
  },
  {
    key: "maxPerAddress",
    flag: "max-per-address",
    unit: "count",
    default: 16,
    allowZero: true,
    description: "open connections from one IP address (0 for no limit)",
  },
  {
    key: "loginTimeoutMs",
    flag: "login-timeout",
    unit: "seconds",
    default: 60,
    allowZero: false,
    description:
      "time to finish the TLS handshake, password and nickname before the connection is closed",
  },
  {
    key: "httpHeadTimeoutMs",
    flag: "http-head-timeout",
    unit: "seconds",
    default: 10,
    allowZero: false,
    description:
      "time an HTTP connection gets to send its request and take the answer before it is closed (a browser sends at once)",
  },
  {
    key: "maxHttpHeadBytes",
    flag: "http-max-head",
    unit: "bytes",
    default: 16 * 1024,
    allowZero: false,
    description:
      "longest HTTP request head (request line and headers); a longer one is refused with 431",
  },
  {
    key: "httpIdleTimeoutMs",
    flag: "http-idle-timeout",
    unit: "seconds",
    default: 5,
    allowZero: true,
    description:
      "time an HTTP connection is kept open after an answer, waiting for the next request (HTTP/1.1 keep-alive, as in Apache and Node); 0 closes it after every answer",
  },
  {
    key: "httpMaxRequests",
    flag: "http-max-requests",
    unit: "count",
    default: 100,
    allowZero: false,
    description:
      "requests one HTTP connection serves; the last answer says Connection: close",
  },
  {
    key: "maxLoginLines",
    flag: "max-login-lines",
    unit: "count",
    default: 20,
    allowZero: false,
    description:
      "lines accepted before login, blank and too long ones included, and each --max-line bytes that end no line; more close the connection",
  },
  {
    key: "pingIntervalMs",
    flag: "ping-interval",
    unit: "seconds",
    default: 90,
    allowZero: false,
    description: "silence from a JSON-mode client before the server pings it",
  },
  {
    key: "pingTimeoutMs",
    flag: "ping-timeout",
    unit: "seconds",
    default: 60,
    allowZero: false,
    description:
      "time a pinged JSON-mode client has to answer before it is disconnected",
  },
  {
    key: "idleTimeoutMs",
    flag: "idle-timeout",
    unit: "seconds",
    default: 0,
    allowZero: true,
    description:
      "silence after which a text-mode client is disconnected (0 for never: nc cannot answer pings)",
  },
  {
    key: "maxRooms",
    flag: "max-rooms",
    unit: "count",
    default: 1000,
    allowZero: false,
    description:
      "rooms that may exist at once; in cluster mode counted over every node, as this node last heard (nodes making rooms at the same moment can pass it by a few)",
  },
  {
    key: "maxRoomMembers",
    flag: "max-room-members",
    unit: "count",
    default: 10_000,
    allowZero: false,
    description: "members one room may hold",
  },
  {
    key: "maxRoomsPerUser",
    flag: "max-rooms-per-user",
    unit: "count",
    default: 20,
    allowZero: false,
    description:
      "rooms one connection may be in at once (told to clients in the welcome); a join past it is refused",
  },
  {
    key: "maxRoomsPerAddress",
    flag: "max-rooms-per-address",
    unit: "count",
    default: 40,
    allowZero: true,
    description:
      "rooms opened from one IP address that still exist (a room counts for the address that opened it until its last member leaves, even after the opener has; in cluster mode counted per node); past it that address may join existing rooms but not open new ones (0 for no limit)",
  },
  {
    key: "bigRoomMembers",
    flag: "big-room",
    unit: "count",
    default: 100,
    allowZero: true,
    description:
      "members from which a room is big: joins and leaves are not announced and a newcomer gets the member count, not the list (0: no room is big)",
  },
  {
    key: "bigRoomCountMs",
    flag: "big-room-count-interval",
    unit: "seconds",
    default: 5,
    allowZero: true,
    description:
      "shortest time between two member counts sent to a big room's JSON clients while its size changes, since its joins and leaves are not announced (0: never)",
  },
  {
    key: "maxPasswordAttempts",
    flag: "max-password-attempts",
    unit: "count",
    default: 3,
    allowZero: false,
    description:
      "wrong passwords (server, nickname or operator) before the connection is closed",
  },
  {
    key: "writeCoalesceMs",
    flag: "write-coalesce",
    unit: "seconds",
    default: 0.01,
    allowZero: true,
    description:
      "longest a busy server holds output so several lines share a write (0: never hold)",
  },
  {
    key: "syncWritesPerTurn",
    flag: "sync-writes",
    unit: "count",
    default: 32,
    allowZero: true,
    description:
      "plain TCP writes made at once through the C library before input is read again; on Linux with --allow-ffi (0: every write is Deno's asynchronous one)",
  },
  {
    key: "minPasswordLength",
    flag: "min-password-length",
    unit: "count",
    default: 8,
    allowZero: false,
    description: "shortest account password /register accepts, in characters",
  },
  {
    key: "maxTopicLength",
    flag: "max-topic",
    unit: "count",
    default: 300,
    allowZero: false,
    description:
      "longest room topic or message of the day kept, in characters; longer is cut",
  },
  {
    key: "maxReasonLength",
    flag: "max-reason",
    unit: "count",
    default: 200,
    allowZero: false,
    description:
      "longest away, quit, kick or ban reason kept, in characters; longer is cut",
  },
  {
    key: "historyPage",
    flag: "history-page",
    unit: "count",
    default: 50,
    allowZero: false,
    description:
      "messages in a /history page when the request names no count (at most 200)",
  },
  {
    key: "ipv6Prefix",
    flag: "ipv6-prefix",
    unit: "count",
    default: 64,
    allowZero: false,
    max: 128,
    description:
      "leading bits of an IPv6 address that count as one address for every per-address limit and for bans (128: each address alone)",
  },
  {
    key: "connectBurst",
    flag: "connect-burst",
    unit: "count",
    default: 20,
    allowZero: false,
    description:
      "connections one IP address may open in a burst before --connect-rate applies",
  },
  {
    key: "connectRate",
    flag: "connect-rate",
    unit: "per-second",
    default: 0.5,
    allowZero: true,
    description:
      "new connections per second one IP address may keep opening; loopback is exempt (0 turns it off)",
  },
  {
    key: "httpsConnectBurst",
    flag: "https-connect-burst",
    unit: "count",
    default: 30,
    allowZero: false,
    description:
      "HTTPS connections one IP address may open in a burst before --https-connect-rate applies (a browser opens up to 6 per page load)",
  },
  {
    key: "httpsConnectRate",
    flag: "https-connect-rate",
    unit: "per-second",
    default: 2,
    allowZero: true,
    description:
      "HTTPS connections per second one IP address may keep opening, refused before the TLS handshake; loopback is exempt (0 turns it off)",
  },
  {
    key: "httpConnectBurst",
    flag: "http-connect-burst",
    unit: "count",
    default: 30,
    allowZero: false,
    description:
      "plain HTTP connections one IP address may open in a burst before --http-connect-rate applies (a browser opens up to 6 per page load)",
  },
  {
    key: "httpConnectRate",
    flag: "http-connect-rate",
    unit: "per-second",
    default: 2,
    allowZero: true,
    description:
      "plain HTTP connections per second one IP address may keep opening, answered 429 before their request is read; loopback is exempt (0 turns it off)",
  },
  {
    key: "loginFailures",
    flag: "login-failures",
    unit: "count",
    default: 5,
    allowZero: false,
    description:
      "wrong account, server or operator passwords per account or IP address before each further try must wait",
  },
  {
    key: "loginDelayMs",
    flag: "login-delay",
    unit: "seconds",
    default: 2,
    allowZero: false,
    description:
      "the wait after --login-failures wrong passwords; it doubles with each further one",
  },
  {
    key: "loginDelayMaxMs",
    flag: "login-delay-max",
    unit: "seconds",
    default: 600,
    allowZero: false,
    description: "the longest wait between wrong passwords",
  },
  {
    key: "hashQueue",
    flag: "hash-queue",
    unit: "count",
    default: 16,
    allowZero: false,
    description:
      "password checks waiting for the hasher (one runs at a time); past it a login is told to retry",
  },
  {
    key: "maxRegistrations",
    flag: "max-registrations",
    unit: "count",
    default: 3,
    allowZero: false,
    description: "nicknames one IP address may register per hour",
  },
  {
    key: "maxInboxMessages",
    flag: "max-inbox",
    unit: "count",
    default: 100,
    allowZero: false,
    description:
      "messages waiting for one offline account; past it senders are told the inbox is full",
  },
  {
    key: "maxWaitingPerAddress",
    flag: "max-waiting-per-address",
    unit: "count",
    default: 200,
    allowZero: false,
    description:
      "messages from one IP address waiting for offline recipients at once",
  },
  {
    key: "offlineExpiryMs",
    flag: "offline-days",
    unit: "days",
    default: 30,
    allowZero: false,
    description:
      "days a message waits for an offline account before it expires",
  },
  {
    key: "maxNickChanges",
    flag: "max-nick-changes",
    unit: "count",
    default: 3,
    allowZero: false,
    description: "nickname changes per minute per connection",
  },
  {
    key: "maxJoins",
    flag: "max-joins",
    unit: "count",
    default: 5,
    allowZero: false,
    description:
      "room joins and parts per minute per connection, after a first burst of --max-rooms-per-user",
  },
  {
    key: "maxBanMs",
    flag: "max-ban-days",
    unit: "days",
    default: 365,
    allowZero: false,
    description:
      "longest ban an operator may set (a ban without a duration is permanent)",
  },
  {
    key: "keepaliveIdleMs",
    flag: "keepalive-idle",
    unit: "seconds",
    default: 60,
    allowZero: false,
    description:
      "silence before TCP keepalive probes start, so a vanished peer is found in minutes (plain TCP needs --allow-ffi on Linux, else it keeps the system's setting)",
  },
  {
    key: "logBufferBytes",
    flag: "log-buffer",
    unit: "bytes",
    default: 256 * 1024,
    allowZero: false,
    description:
      "log output held while whoever reads stderr is slow; more is dropped and counted, never waited for",
  },
  {
    key: "logRepeatLimit",
    flag: "log-repeat",
    unit: "count",
    default: 5,
    allowZero: false,
    description:
      "times one connection may log the same event per minute; the rest are counted in one summary line",
  },
  {
    key: "nodeTimeoutMs",
    flag: "node-timeout",
    unit: "seconds",
    default: 15,
    allowZero: false,
    description:
      "cluster mode: silence after which a node counts as dead; its users leave every room and their nicknames are freed within a third more (a clean stop frees them at once)",
  },
  {
    key: "redisTimeoutMs",
    flag: "redis-timeout",
    unit: "seconds",
    default: 5,
    allowZero: false,
    description:
      "cluster mode: longest wait for Redis to answer a command on a user's path; past it the user is told the cluster's store is not answering, and a write that Redis may still run is undone (a room or private message is said to be unconfirmed)",
  },
  {
    key: "degradedHoldMs",
    flag: "degraded-hold",
    unit: "seconds",
    default: 5,
    allowZero: true,
    description:
      "cluster mode: how long the link to Redis must stay good before users are told the chat is back; failing again within it tells nobody anything, so a flapping link gives each user one degraded and one back notice, not one per flap (0: told at once)",
  },
];

function toInternal(spec: LimitSpec, value: number): number {
  if (spec.unit === "seconds") return Math.round(value * 1000);
  if (spec.unit === "days") return Math.round(value * 86_400_000);
  return value;
}

/** The defaults of every limit. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze(
  Object.fromEntries(
    LIMIT_SPECS.map((spec) => [spec.key, toInternal(spec, spec.default)]),
  ) as unknown as Limits,
);

/**
 * Reads limit flags (as strings, from `node:util` parseArgs) into limits;
 * returns the first invalid value as an error message instead of throwing.
 */
export function parseLimitFlags(
  values: Record<string, unknown>,
): { ok: true; limits: Limits } | { ok: false; error: string } {
  const limits: Limits = { ...DEFAULT_LIMITS };
  for (const spec of LIMIT_SPECS) {
    const raw = values[spec.flag];
    if (raw === undefined) continue;
    const text = String(raw);
    const value = Number(text);
    const integral = spec.unit === "bytes" || spec.unit === "count";
    if (
      text.trim() === "" || !Number.isFinite(value) || value < 0 ||
      (value === 0 && !spec.allowZero) ||
      (integral && !Number.isInteger(value)) ||
      (spec.max !== undefined && value > spec.max)
    ) {
      const kind = integral
        ? "a whole number"
        : spec.unit === "seconds"
        ? "a number of seconds"
        : spec.unit === "days"
        ? "a number of days"
        : "a number per second";
      const floor = spec.allowZero ? "0 or more" : "above 0";
      const ceiling = spec.max === undefined ? "" : ` and at most ${spec.max}`;
      return {
        ok: false,
        error:
          `--${spec.flag} must be ${kind}, ${floor}${ceiling}; got "${text}"`,
      };
    }
    limits[spec.key] = toInternal(spec, value);
  }
  return { ok: true, limits };
}

/** Where descriptions start in `--help`, matching the other options. */
const HELP_COLUMN = 30;

/** The `--help` lines for the limits. */
export function limitsHelp(): string {
  return LIMIT_SPECS.map((spec) => {
    const flag = `  --${spec.flag} ${spec.unit.toUpperCase()}`;
    const about = `${spec.description} (default ${spec.default})`;
    // A flag too long for its column gets its description on the next line.
    return flag.length < HELP_COLUMN
      ? flag.padEnd(HELP_COLUMN) + about
      : `${flag}\n${" ".repeat(HELP_COLUMN)}${about}`;
  }).join("\n");
}
