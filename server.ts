/**
 * The chat server's network edge, top to bottom: the listeners and the
 * accept loop, admission, one read loop per connection, the deadline sweep,
 * and close. What the lines mean lives below it:
 *
 * - the Set of sessions and every other piece of chat state: `Hub`
 *   (server/hub.ts); its broadcast, the one fan-out, is `LocalRoomFeed`
 *   there, behind the `RoomFeed` seam a cluster mode would replace.
 * - a read's lines, decoded, checked against the command table and run:
 *   server/commands/dispatch.ts; the handlers beside it.
 * - rooms.ts, nicknames.ts, session.ts, admission.ts, flood.ts, limits.ts
 *   (every limit with its flag), options.ts (the command line), log.ts;
 *   net/ (send queue, write coalescing, deadlines, TLS); store/ (SQLite
 *   history and accounts, deliveries after commit).
 * - the wire (framing, events, the command table, both codecs) is
 *   protocol.ts and wire/, shared with the client.
 *
 * README.md's "How a message travels" follows one line through them.
 *
 * Run it: `deno run -A server.ts [--host H] [--port P] ...` (see --help).
 *
 * @module
 */

import {
  parseServerArgs,
  type ServerOptions,
  type TlsOptions,
  USAGE,
  UsageError,
  type WebOptions,
} from "./server/options.ts";
import type { Limits } from "./server/limits.ts";
import type { ConnectionRate } from "./server/guards.ts";
import {
  DEFAULT_HOST,
  DEFAULT_HTTPS_PORT,
  DEFAULT_PORT,
  firstLine,
} from "./wire/endpoint.ts";
import { type ByeCode, byeLine } from "./wire/bye.ts";
import { FlushScheduler, sampleLoad } from "./server/net/coalescing.ts";
import { dueDeadline, sweepIntervalMs } from "./server/net/deadlines.ts";
import { tellCounts } from "./server/rooms.ts";
import { WriteGate } from "./server/net/write_gate.ts";
import { LibcSocket } from "./server/net/libc_socket.ts";
import { SyncWriteBudget } from "./server/net/sync_write_budget.ts";
import { TaskCount } from "./server/net/task_count.ts";
import { handleFrames } from "./server/commands/dispatch.ts";
import { greet } from "./server/commands/login.ts";
import { Hub } from "./server/hub.ts";
import type { RedisNode } from "./server/cluster/redis_node.ts";
import {
  AddressCounts,
  addressKey,
  admissionRefusal,
  isLoopback,
  TOO_FAST_REFUSAL,
} from "./server/admission.ts";
import {
  describeError,
  type LogFields,
  type LogFormat,
  Logger,
  type LogLevel,
  type LogSink,
  silentLogger,
} from "./server/log.ts";
import { StoreOpenError } from "./server/store/open_database.ts";
import { normalizeAddress } from "./server/ban_list.ts";
import { RepeatedEvents } from "./server/log_repeats.ts";
import { Session, type SessionSocket } from "./server/session.ts";
import { type ChatConnection, TlsListener } from "./server/net/tls_listener.ts";
import { WebSocketInput } from "./server/web/websocket_input.ts";
import { loadAssets } from "./server/web/assets.ts";
import { browsableHost } from "./server/web/http_rules.ts";
import { WebListener, type WebRefusal } from "./server/web/web_listener.ts";
import {
  CLOSE_GOING_AWAY,
  CLOSE_POLICY,
  WebSocketSocket,
} from "./server/web/websocket_socket.ts";

export {
  DEFAULT_HOST,
  DEFAULT_PORT,
  firstLine,
  type Limits,
  type LogFields,
  type LogFormat,
  Logger,
  type LogLevel,
  type LogSink,
  type ServerOptions,
  type TlsOptions,
  type WebOptions,
};

/**
 * Read buffer sizes. Every connection holds its buffer while it waits, so an
 * idle one gets a small buffer, enough for a login or a command (10,000 of
 * them must fit in little memory); a read that fills it shows a busy peer,
 * which moves to the large one. A longer line just takes several reads.
 * Constants: memory tuning; --max-line bounds what a line may hold.
 */
const READ_BUFFER_IDLE_BYTES = 128;
const READ_BUFFER_BUSY_BYTES = 16 * 1024;

/**
 * How often old history is pruned, when retention is set. A constant: the
 * retention flags decide what goes; this only spreads the work.
 */
const PRUNE_INTERVAL_MS = 60_000;

/**
 * Accept errors (out of file descriptors, say) back off from 5 ms, doubling,
 * to at most 1 s. Constants: recovery pacing, not a policy to tune.
 */
const ACCEPT_BACKOFF_MIN_MS = 5;
const ACCEPT_BACKOFF_MAX_MS = 1000;

/**
 * Most socket writes started and not yet settled (write_gate.ts): well
 * below the hundred or so operations Deno's runtime advances in one turn of
 * the event loop, reads included (32 did better than 64 and 128 in the big
 * room of BENCHMARKS.md). A constant: it tunes the runtime, not a policy.
 */
const MAX_WRITES_IN_FLIGHT = 32;

/** A close frame's reason must fit in 123 bytes; ours are short ASCII. */
const MAX_CLOSE_REASON_CHARS = 120;

/** The addresses a started server listens on. */
export interface ListenAddresses {
  /** The plain TCP listener's address, or null when it is off. */
  plain: Deno.NetAddr | null;
  /** The TLS listener's address, or null when there is none. */
  tls: Deno.NetAddr | null;
  /** The web client and its WebSocket over HTTP, or null when off. */
  http: Deno.NetAddr | null;
  /** The same over HTTPS, when a certificate is given. */
  https: Deno.NetAddr | null;
}

/** The cluster's Redis could not be reached at start. */
export class ClusterStartError extends Error {}

/** host:port of a Redis URL, never its password. */
function redisAddress(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "(bad URL)";
  }
}

/** A listener of either kind: plain TCP, or TLS (tls_listener.ts). */
interface Acceptor {
  readonly addr: Deno.NetAddr;
  accept(): Promise<ChatConnection>;
  close(): void;
}

/** Errors that only mean the peer or our own close ended the connection. */
function isDisconnect(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.BadResource;
}

const encoder = new TextEncoder();

/**
 * The chat server: listens, admits, reads each connection's lines into the
 * hub, and closes.
 *
 * @example
 * ```ts
 * import { ChatServer } from "./server.ts";
 * const server = new ChatServer({ hostname: "127.0.0.1", port: 0 });
 * const { plain } = await server.start();
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: plain!.port });
 * conn.close();
 * await server.close();
 * ```
 */
export class ChatServer {
  /** Shown to clients in the welcome. */
  readonly serverName: string;
  readonly #hub: Hub;
  readonly #options: ServerOptions;
  readonly #log: Logger;
  #listeners: Acceptor[] = [];
  #webListeners: WebListener[] = [];
  /** The WebSocket behind each browser session, for its close code. */
  #webSockets = new Map<Session, WebSocketSocket>();
  #acceptLoops: Promise<void>[] = [];
  /** One task per connection, waited for at close. */
  readonly #connectionTasks = new TaskCount((error) =>
    this.#log.error("connection_failed", { error: describeError(error) })
  );
  /** Open chat connections by address key (admission.ts `addressKey`). */
  readonly #perAddress = new AddressCounts();
  /** HTTP connections still in their request (counted with the sessions). */
  #httpInRequest = 0;
  /** The same, by address. */
  readonly #httpPerAddress = new AddressCounts();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #pruner: ReturnType<typeof setInterval> | undefined;
  /** When connections write: at once, or coalesced while busy. */
  readonly #flushes = new FlushScheduler();
  /** How many writes start at once, across every connection. */
  readonly #writeGate = new WriteGate({ maxInFlight: MAX_WRITES_IN_FLIGHT });
  /**
   * The C library's socket calls for plain TCP connections (writes made at
   * once, keepalive timing), where the runtime allows them.
   */
  #libc: LibcSocket | null = null;
  /** How many writes are made at once a turn; null when none are. */
  #syncWrites: SyncWriteBudget | null = null;
  /** The listener whose connections are plain TCP. */
  #plainListener: Deno.Listener | null = null;
  #stopLoadSampling: () => void = () => {};
  /**
   * Refused connections, logged at most --log-repeat times a minute for
   * each kind: a flood of connections must not flood the log too. Counted
   * for the whole server, not per address, so it costs nothing per address.
   */
  #refusals: RepeatedEvents | null = null;
  #closing = false;
  /** The close under way or done, so every caller waits for all of it. */
  #closed: Promise<void> | null = null;
  #wakeAcceptBackoff = new Set<() => void>();
  #countWaiters: Array<{ count: number; resolve: () => void }> = [];
  /** The cluster link with `redis`; loaded only then. */
  #cluster: RedisNode | null = null;

  /**
   * A server that is not listening yet; `start` opens the listeners.
   *
   * @param options where to listen, limits, secrets, logging, database
   * @throws if the history database cannot be opened
   */
  constructor(options: ServerOptions = {}) {
    this.#options = options;
    this.#hub = new Hub(options, this.#flushes);
    this.serverName = this.#hub.serverName;
    this.#log = options.logger ?? silentLogger;
  }

  /**
   * The chat state, for tests that look inside (not an API).
   * @ignore
   */
  get hub(): Hub {
    return this.#hub;
  }

  /**
   * Every open connection, for tests (not an API).
   * @ignore
   */
  get sessions(): ReadonlySet<Session> {
    return this.#hub.sessions;
  }

  /**
   * The nick registry, for tests (not an API).
   * @ignore
   */
  get nicks(): Hub["nicks"] {
    return this.#hub.nicks;
  }

  /**
   * The rooms by fold key, for tests (not an API).
   * @ignore
   */
  get rooms(): Hub["rooms"] {
    return this.#hub.rooms;
  }

  /** The id of the last room or private message accepted. */
  get lastMessageId(): number {
    return this.#hub.lastMessageId;
  }

  /**
   * The cluster link, for tests (not an API).
   * @ignore
   */
  get cluster(): RedisNode | null {
    return this.#cluster;
  }

  /**
   * Opens the listeners and starts accepting.
   * @throws Deno.errors.AddrInUse and the like when a port cannot be bound
   */
  async start(): Promise<ListenAddresses> {
    if (this.#options.redis !== undefined) {
      // Loaded only for a cluster: one process never loads the client.
      const { RedisNode } = await import("./server/cluster/redis_node.ts");
      try {
        this.#cluster = await RedisNode.join(this.#hub, this.#options.redis);
      } catch (error) {
        throw new ClusterStartError(
          `cannot reach Redis at ${redisAddress(this.#options.redis)}: ${
            firstLine(error)
          }`,
        );
      }
    }
    let addresses: ListenAddresses;
    try {
      addresses = await this.#listen();
    } catch (error) {
      await this.#cluster?.close();
      throw error;
    }
    const limits = this.#hub.limits;
    this.#openLibc(limits.syncWritesPerTurn);
    this.#acceptLoops = this.#listeners.map((listener) =>
      this.#accept(listener)
    );
    this.#sweeper = setInterval(() => this.#sweep(), sweepIntervalMs(limits));
    if (limits.writeCoalesceMs > 0) {
      this.#stopLoadSampling = sampleLoad(
        this.#flushes,
        limits.writeCoalesceMs,
      );
    }
    if (limits.historyMaxAgeMs > 0 || limits.historyMaxPerRoom > 0) {
      this.#prune();
      this.#pruner = setInterval(() => this.#prune(), PRUNE_INTERVAL_MS);
    }
    for (const [kind, address] of Object.entries(addresses)) {
      if (address === null) continue;
      this.#log.info("listen", {
        kind,
        host: address.hostname,
        port: address.port,
      });
    }
    return addresses;
  }

  /** Binds the plain and TLS listeners; on failure, none stays open. */
  async #listen(): Promise<ListenAddresses> {
    const hostname = this.#options.hostname ?? DEFAULT_HOST;
    const port = this.#options.port === undefined
      ? DEFAULT_PORT
      : this.#options.port;
    const addresses: ListenAddresses = {
      plain: null,
      tls: null,
      http: null,
      https: null,
    };
    try {
      if (port !== null) {
        const listener = Deno.listen({ hostname, port, transport: "tcp" });
        this.#listeners.push(listener);
        this.#plainListener = listener;
        addresses.plain = listener.addr;
      }
      const tls = this.#options.tls;
      if (tls !== undefined) {
        const listener = await TlsListener.open({
          hostname,
          port: tls.port,
          cert: tls.cert,
          key: tls.key,
          handshakeTimeoutMs: this.#hub.limits.loginTimeoutMs,
          maxPendingHandshakes: this.#hub.limits.maxConnections,
          // Handshakes count against the per-address cap too, with the
          // connections the address already has open.
          maxPerAddress: this.#hub.limits.maxPerAddress,
          keyOf: (address) => this.#addressKey(address),
          openFrom: (key) => this.#perAddress.get(key),
          // Bans and the connection rate are applied before the handshake,
          // whose signature costs the server far more than refusing a
          // socket: otherwise a banned address, or one over the rate, could
          // still demand hundreds of handshakes a second, each refused only
          // once it was done.
          admit: (address) =>
            this.#admitBeforeHandshake(address, this.#hub.guards.connections),
          keepaliveIdleMs: this.#hub.limits.keepaliveIdleMs,
          onHandshakeError: (address, message) =>
            this.#log.info("tls_handshake_failed", { address, message }),
        });
        this.#listeners.push(listener);
        addresses.tls = listener.addr;
      }
      await this.#listenWeb(hostname, addresses);
    } catch (error) {
      for (const listener of this.#listeners) listener.close();
      this.#listeners = [];
      for (const web of this.#webListeners) await web.shutdown();
      this.#webListeners = [];
      throw error;
    }
    return addresses;
  }

  /** Opens the web listeners the options ask for (server/web/). */
  async #listenWeb(hostname: string, addresses: ListenAddresses) {
    const web = this.#options.web;
    if (web === undefined) return;
    const tls = this.#options.tls;
    const https = tls !== undefined && web.httpsPort !== null;
    if (web.port === null && !https) return;
    const common = {
      hostname,
      assets: await loadAssets(),
      allowedOrigins: web.allowedOrigins ?? [],
      onWebSocket: (conn: Deno.Conn, rest: Uint8Array, address: string) =>
        this.#connectionTasks.add(
          this.#serveWebSocket(conn, rest, normalizeAddress(address)),
        ),
      onRefused: (address: string, status: number, path: string) =>
        this.#logRefusal("http_refused", { address, status, path }),
      admit: (address: string) => this.#admitHttp(normalizeAddress(address)),
      headTimeoutMs: this.#hub.limits.httpHeadTimeoutMs,
      maxHeadBytes: this.#hub.limits.maxHttpHeadBytes,
      idleTimeoutMs: this.#hub.limits.httpIdleTimeoutMs,
      maxRequests: this.#hub.limits.httpMaxRequests,
    };
    if (web.port !== null) {
      const listener = new WebListener({
        ...common,
        port: web.port,
        ...(addresses.plain ? { chatPort: addresses.plain.port } : {}),
        // Plain HTTP has a rate of its own, as HTTPS (a page load opens
        // several connections at once): applied at accept, before the
        // request is read; HTTPS's is applied before its handshake.
        admit: (address: string) =>
          this.#admitHttp(
            normalizeAddress(address),
            this.#hub.guards.httpConnections,
          ),
      });
      this.#webListeners.push(listener);
      addresses.http = listener.addr;
    }
    if (https) {
      const port = web.httpsPort ?? DEFAULT_HTTPS_PORT;
      const limits = this.#hub.limits;
      const secure = await TlsListener.open({
        hostname,
        port,
        cert: tls.cert,
        key: tls.key,
        // The request's deadline covers its handshake, as the login
        // deadline does on the chat's TLS port.
        handshakeTimeoutMs: limits.httpHeadTimeoutMs,
        maxPendingHandshakes: limits.maxConnections,
        maxPerAddress: limits.maxPerAddress,
        keyOf: (address) => this.#addressKey(address),
        openFrom: (key) => this.#httpPerAddress.get(key),
        // Bans, and HTTPS's own rate, more generous than the chat's (a
        // page load opens several connections at once), are applied before
        // the handshake as at the chat's TLS port: otherwise one address,
        // banned or not, could have the server sign hundreds of handshakes
        // a second.
        admit: (address) =>
          this.#admitBeforeHandshake(
            address,
            this.#hub.guards.httpsConnections,
            "https",
          ),
        keepaliveIdleMs: limits.keepaliveIdleMs,
        onHandshakeError: (address, message) =>
          this.#log.info("tls_handshake_failed", {
            address,
            message,
            via: "https",
          }),
      });
      const listener = new WebListener({
        ...common,
        port,
        tls: {
          addr: secure.addr,
          // A secured connection has all of Deno.Conn the web side uses
          // (WebAcceptor).
          accept: () =>
            secure.accept() as Promise<unknown> as Promise<Deno.Conn>,
          close: () => secure.close(),
        },
      });
      this.#webListeners.push(listener);
      addresses.https = listener.addr;
    }
  }

  /** The URLs a browser opens, one per web listener. */
  webUrls(): string[] {
    const host = browsableHost(this.#options.hostname ?? DEFAULT_HOST);
    return this.#webListeners.map((listener) => listener.url(host));
  }

  /**
   * Opens the C library's socket calls for plain TCP connections, where the
   * runtime allows them (net/libc_socket.ts); says in the log when it does
   * not: writes are then all Deno's, and keepalive keeps the system's timing.
   */
  #openLibc(syncWritesPerTurn: number): void {
    if (this.#plainListener === null) return;
    const opened = LibcSocket.open();
    if ("unavailable" in opened) {
      this.#log.info("libc_socket_off", { reason: opened.unavailable });
      return;
    }
    this.#libc = opened;
    if (syncWritesPerTurn > 0) {
      this.#syncWrites = new SyncWriteBudget(syncWritesPerTurn);
    }
  }

  /** The accept loop: one per listener, backing off on errors. */
  async #accept(listener: Acceptor): Promise<void> {
    const libc = listener === this.#plainListener ? this.#libc : null;
    let backoffMs = 0;
    while (!this.#closing) {
      let conn: ChatConnection;
      try {
        conn = await listener.accept();
        backoffMs = 0;
      } catch (error) {
        if (this.#closing) return;
        backoffMs = Math.min(
          Math.max(backoffMs * 2, ACCEPT_BACKOFF_MIN_MS),
          ACCEPT_BACKOFF_MAX_MS,
        );
        this.#log.error("accept_failed", {
          error: describeError(error),
          retryMs: backoffMs,
        });
        await this.#backoff(backoffMs);
        continue;
      }
      try {
        // The TLS listener applied the connection rate before the
        // handshake (see #listen).
        const rated = listener !== this.#plainListener;
        this.#connectionTasks.add(this.#admit(conn, libc, rated));
      } catch (error) {
        // Admission itself failed, before the connection had a task.
        this.#log.error("connection_failed", { error: describeError(error) });
        conn.close();
      }
    }
  }

  #backoff(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakeAcceptBackoff.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakeAcceptBackoff.add(done);
    });
  }

  /**
   * An HTTP connection, before its request: banned addresses and a full
   * server are refused, and connections still in their request have caps of
   * their own, the chat's numbers again (`--max-per-address` from one
   * address), so silent ones cannot pile up. `rate`: the web's own
   * connection rate, when not already applied (HTTPS applies it before the
   * handshake); over it, an address is answered 429. The chat's own caps
   * apply after an upgrade, where a refusal can be told in words; the
   * chat's connection rate too, as a page load opens several connections
   * at once.
   */
  #admitHttp(
    address: string,
    rate?: ConnectionRate,
  ): WebRefusal | { release: () => void } {
    const hub = this.#hub;
    const tooFast = rate !== undefined && !this.#withinRate(address, rate);
    const refused = admissionRefusal({
      ban: hub.bans.find(address, hub.now()),
      open: hub.sessions.size + this.#httpInRequest,
      fromAddress: this.#httpPerAddress.get(this.#addressKey(address)),
      tooFast,
    }, hub.limits);
    if (refused !== null) {
      const status = refused === TOO_FAST_REFUSAL ? 429 : 503;
      this.#logRefusal("http_refused", { address, status, path: "" });
      return status === 429
        ? {
          refused,
          status,
          headers: {
            "retry-after": String(
              Math.max(1, Math.ceil(1 / hub.limits.httpConnectRate)),
            ),
          },
        }
        : { refused };
    }
    this.#httpInRequest++;
    const key = this.#addressKey(address);
    this.#httpPerAddress.add(key);
    return {
      release: () => {
        this.#httpInRequest--;
        this.#httpPerAddress.remove(key);
      },
    };
  }

  /** What per-address limits count `address` as (admission.ts). */
  #addressKey(address: string): string {
    return addressKey(address, this.#hub.limits.ipv6Prefix);
  }

  /**
   * Whether `address` may open one more connection under `--connect-rate`
   * (or `rate`, such as HTTPS's own), taking its place in the rate if so;
   * loopback is exempt unless `--throttle-loopback`.
   */
  #withinRate(
    address: string,
    rate: ConnectionRate = this.#hub.guards.connections,
  ): boolean {
    const hub = this.#hub;
    return !(this.#options.throttleLoopback || !isLoopback(address)) ||
      rate.allow(this.#addressKey(address), hub.now());
  }

  /**
   * Whether a new TLS connection from `address` (normalized) may begin its
   * handshake: not if the address is banned or over `rate`. A refused one is
   * dropped without a word, since a word would need the handshake it is
   * refused to save (a ban's reason is told over plain TCP and HTTP only).
   */
  #admitBeforeHandshake(
    address: string,
    rate: ConnectionRate,
    via?: string,
  ): boolean {
    const hub = this.#hub;
    const reason = hub.bans.find(address, hub.now()) !== undefined
      ? "banned, before the TLS handshake"
      : this.#withinRate(address, rate)
      ? null
      : "too many new connections, before the TLS handshake";
    if (reason === null) return true;
    this.#logRefusal(
      "refused",
      via === undefined ? { address, reason } : { address, reason, via },
    );
    return false;
  }

  /**
   * Why a new connection from `address` is refused (with its code), or
   * null. `rated`: the connection rate was already applied (at the TLS
   * port, before the handshake).
   */
  #refusal(
    address: string,
    rated = false,
  ): { text: string; code: ByeCode } | null {
    const hub = this.#hub;
    const ban = hub.bans.find(address, hub.now());
    const text = admissionRefusal({
      ban,
      open: hub.sessions.size + this.#httpInRequest,
      fromAddress: this.#perAddress.get(this.#addressKey(address)),
      tooFast: !rated && !this.#withinRate(address),
    }, hub.limits);
    if (text === null) return null;
    return { text, code: ban === undefined ? "full" : "banned" };
  }

  /**
   * Refuses a banned address or one over a connection limit, else serves.
   * An admitted connection's task is its read loop itself: no async frame
   * of its own waits on it for the connection's whole life.
   */
  #admit(
    conn: ChatConnection,
    libc: LibcSocket | null,
    rated: boolean,
  ): Promise<void> {
    const address = normalizeAddress(conn.remoteAddr.hostname);
    const refusal = this.#refusal(address, rated);
    return refusal === null
      ? this.#serve(conn, address, libc)
      : this.#refuse(conn, address, refusal);
  }

  /** Tells a refused connection why, briefly, and closes it. */
  /**
   * Logs a refused connection unless this kind has been logged
   * --log-repeat times in the last minute; the next line that gets through
   * says how many went unwritten before it.
   */
  #logRefusal(event: string, fields: LogFields): void {
    this.#refusals ??= new RepeatedEvents(this.#hub.limits.logRepeatLimit);
    const verdict = this.#refusals.admit(event, performance.now());
    if (!verdict.write) return;
    this.#log.warn(
      event,
      verdict.suppressed > 0
        ? { ...fields, suppressed: verdict.suppressed }
        : fields,
    );
  }

  async #refuse(
    conn: ChatConnection,
    address: string,
    refusal: { text: string; code: ByeCode },
  ): Promise<void> {
    const hub = this.#hub;
    this.#logRefusal("refused", { address, reason: refusal.text });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        conn.write(encoder.encode(`${byeLine(refusal.code, refusal.text)}\n`)),
        new Promise((resolve) => {
          timer = setTimeout(resolve, hub.limits.closeGraceMs);
        }),
      ]);
    } catch {
      // The peer is already gone; nothing more to tell it.
    } finally {
      clearTimeout(timer);
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }

  /**
   * One connection's read loop: bytes to frames (the session's framer),
   * frames to handlers (dispatch.ts), until the peer or the hub ends it.
   */
  async #serve(
    conn: ChatConnection,
    address: string,
    libc: LibcSocket | null,
  ): Promise<void> {
    const hub = this.#hub;
    // Only the plain listener's connections come with the library.
    const plain = libc === null ? null : conn as Deno.TcpConn;
    const direct = plain === null || this.#syncWrites === null
      ? null
      : libc!.socket(plain);
    const session = this.#openSession(direct ?? conn, address);
    try {
      if ("setNoDelay" in conn) {
        const tcp = conn as Deno.TcpConn;
        tcp.setNoDelay(true);
        tcp.setKeepAlive(true);
      }
      if (plain !== null) libc!.keepAlive(plain, hub.limits.keepaliveIdleMs);
      greet(hub, session);
      let buffer = new Uint8Array(READ_BUFFER_IDLE_BYTES);
      while (session.state !== "closing") {
        const count = await conn.read(buffer);
        const frames = count === null
          ? session.framer.end()
          : session.framer.push(buffer.subarray(0, count));
        const pending = handleFrames(
          hub,
          session,
          frames,
          session.framer.takeSkippedBytes(),
        );
        if (pending !== undefined) await pending;
        if (count === null) break;
        if (count === buffer.length && buffer.length < READ_BUFFER_BUSY_BYTES) {
          buffer = new Uint8Array(READ_BUFFER_BUSY_BYTES);
        }
      }
    } catch (error) {
      if (!isDisconnect(error)) {
        this.#log.warn("read_failed", {
          session: session.id,
          error: describeError(error),
        });
      }
    } finally {
      await this.#closeSession(session);
    }
  }

  /** A new session on `socket`, counted and logged; not yet greeted. */
  #openSession(socket: SessionSocket, address: string): Session {
    const hub = this.#hub;
    const session = new Session({
      socket,
      address,
      limits: hub.limits,
      onSendFailure: hub.sendFailed,
      onReplyError: hub.replyFailed,
      writes: this.#flushes,
      gate: this.#writeGate,
      ...(this.#syncWrites === null ? {} : { budget: this.#syncWrites }),
      passwordRequired: hub.passwordRequired,
    });
    hub.sessions.add(session);
    this.#perAddress.add(session.addressKey);
    this.#log.info("connect", { session: session.id, address });
    return session;
  }

  /** Ends a session whose socket is done, and forgets it. */
  async #closeSession(session: Session): Promise<void> {
    const hub = this.#hub;
    hub.disconnect(session, "lost");
    await session.finished;
    hub.sessions.delete(session);
    hub.identified.forget(session);
    hub.endSessionLog(session);
    this.#webSockets.delete(session);
    this.#perAddress.remove(session.addressKey);
    this.#countWaiters = this.#countWaiters.filter((waiter) => {
      if (hub.sessions.size > waiter.count) return true;
      waiter.resolve();
      return false;
    });
  }

  /**
   * One WebSocket's life: refused like a TCP connection if over a limit,
   * else a JSON-mode session whose every text frame is one request line.
   * Ends when the peer closes or the session closes the socket.
   */
  async #serveWebSocket(
    conn: Deno.Conn,
    rest: Uint8Array,
    address: string,
  ): Promise<void> {
    const socket = new WebSocketSocket(conn, this.#hub.limits.maxLineBytes);
    const refusal: { text: string; code: ByeCode } | null = this.#closing
      ? { text: "Server shutting down", code: "shutdown" }
      : this.#refusal(address);
    if (refusal !== null) {
      this.#logRefusal("refused", {
        address,
        reason: refusal.text,
        via: "websocket",
      });
      socket.sendText(JSON.stringify(
        { type: "bye", code: refusal.code, reason: refusal.text },
      )).catch(() => {});
      socket.closeCode = this.#closing ? CLOSE_GOING_AWAY : CLOSE_POLICY;
      socket.close();
      await socket.read(new Uint8Array(0), () => {});
      return;
    }
    const session = this.#openSession(socket, address);
    this.#webSockets.set(session, socket);
    // A WebSocket speaks JSON from its first frame: no codec to guess.
    session.chooseCodec("json");
    const input = new WebSocketInput(
      this.#hub,
      session,
      this.#hub.limits.maxWaitingFrames,
    );
    try {
      greet(this.#hub, session);
      await socket.read(
        rest,
        (frame) => input.receive(frame),
        (bytes) => input.skipped(bytes),
      );
    } finally {
      await this.#closeSession(session);
    }
  }

  /**
   * One timer for every connection's deadlines, rather than one each;
   * deadlines.ts decides what is due.
   */
  #sweep(): void {
    const hub = this.#hub;
    const now = hub.now();
    for (const session of hub.sessions) {
      const due = dueDeadline(
        {
          state: session.state,
          codec: session.codec,
          connectedAt: session.connectedAt,
          lastInputAt: session.lastInputAt,
          pingToken: session.pingToken,
          pingSentAt: session.pingSentAt,
          writePendingSince: session.outbound.writePendingSince,
          overSoftSince: session.outbound.overSoftSince,
        },
        now,
        hub.limits,
      );
      if (due === null) continue;
      if (due.action === "ping") {
        session.ping(now);
      } else {
        hub.disconnect(session, due.reason, due.detail);
      }
    }
    tellCounts(hub, now);
  }

  #prune(): void {
    const hub = this.#hub;
    try {
      const removed = hub.history.prune(hub.now(), hub.limits);
      if (removed > 0) this.#log.info("history_pruned", { removed });
    } catch (error) {
      this.#log.error("history_prune_failed", { error: describeError(error) });
    }
  }

  /** Records a notable event in the server's log. */
  log(level: LogLevel, event: string, fields?: LogFields): void {
    this.#log.log(level, event, fields);
  }

  /**
   * Reads the message-of-the-day file again (SIGHUP). A file that cannot be
   * read is logged and the current message kept: a reload never stops the
   * server.
   */
  reloadMotd(): void {
    const path = this.#options.motdFile;
    if (path === undefined) {
      this.#log.info("reload", { motd: "none (no --motd file)" });
      return;
    }
    try {
      this.#hub.setMotd(Deno.readTextFileSync(path).split(/\r?\n/));
      this.#log.info("motd_reloaded", {
        file: path,
        lines: this.#hub.motd.length,
      });
    } catch (error) {
      this.#log.error("motd_reload_failed", {
        file: path,
        error: describeError(error),
      });
    }
  }

  /**
   * Resolves once at most `count` connections are open: lets tests and
   * shutdown wait on the event rather than poll for it.
   */
  connectionsAtMost(count: number): Promise<void> {
    if (this.#hub.sessions.size <= count) return Promise.resolve();
    return new Promise((resolve) =>
      this.#countWaiters.push({ count, resolve })
    );
  }

  /**
   * Stops the server: no new connections, a goodbye to everyone, a bounded
   * wait for their queues to drain, then every socket closed.
   */
  close(reason = "Server shutting down"): Promise<void> {
    // A second call (a signal during a test's close) waits for the first.
    this.#closed ??= this.#close(reason);
    return this.#closed;
  }

  async #close(reason: string): Promise<void> {
    this.#closing = true;
    const hub = this.#hub;
    clearInterval(this.#sweeper);
    clearInterval(this.#pruner);
    this.#stopLoadSampling();
    this.#flushes.close();
    for (const listener of this.#listeners) {
      try {
        listener.close();
      } catch {
        // Already closed.
      }
    }
    for (const web of this.#webListeners) web.stopAccepting();
    for (const wake of this.#wakeAcceptBackoff) wake();
    await Promise.all(this.#acceptLoops);
    hub.commitNow();
    for (const session of hub.sessions) {
      if (session.state === "closing") continue;
      session.state = "closing";
      const web = this.#webSockets.get(session);
      if (web !== undefined) {
        web.closeCode = CLOSE_GOING_AWAY;
        web.closeReason = reason.slice(0, MAX_CLOSE_REASON_CHARS);
      }
      // In its turn, as every goodbye: after what the session was owed (on
      // a node of a cluster, its messages still on their way to Redis),
      // and what its big rooms logged for it.
      session.finish(
        { type: "bye", code: "shutdown", reason },
        hub.limits.closeGraceMs,
        false,
        (go) => hub.replyTo(session, go),
      ).catch(() => session.closeSocket());
    }
    await this.#connectionTasks.idle();
    // Every member has had its goodbye: the big rooms' logs can go.
    for (const room of hub.rooms.values()) room.batch?.close();
    // Goodbyes went through the gate too; every socket is closed now.
    this.#writeGate.close();
    this.#libc?.close();
    this.#libc = null;
    await Promise.all(this.#webListeners.map((web) => web.shutdown()));
    try {
      await this.#cluster?.close();
    } catch (error) {
      this.#log.error("cluster_close_failed", { error: describeError(error) });
    }
    try {
      hub.history.close();
    } catch (error) {
      this.#log.error("history_close_failed", { error: describeError(error) });
    }
    this.#log.info("closed");
  }
}

/**
 * Writes a line to stdout or stderr for whoever started the server, ignoring
 * a closed or failing stream: `server.ts | head -1` must not kill the server
 * when `head` exits.
 */
function say(stream: "stdout" | "stderr", line: string): void {
  try {
    const bytes = encoder.encode(line + "\n");
    let written = 0;
    while (written < bytes.length) {
      written += Deno[stream].writeSync(bytes.subarray(written));
    }
  } catch {
    // Nobody is reading: the line has nowhere to go.
  }
}

/** How long an exiting server waits for its last log lines to be written. */
const LOG_FLUSH_ON_EXIT_MS = 1000;

/**
 * Runs the server from the command line until SIGINT or SIGTERM; SIGHUP
 * reloads the message-of-the-day file.
 */
export async function main(args: string[]): Promise<number> {
  let options;
  try {
    options = parseServerArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    say("stderr", `server: ${error.message} (see --help)`);
    return 2;
  }
  if (options.help) {
    say("stdout", USAGE);
    return 0;
  }
  let server: ChatServer;
  try {
    server = new ChatServer(options);
  } catch (error) {
    if (!(error instanceof StoreOpenError)) throw error;
    say("stderr", `server: ${error.message}`);
    return 1;
  }
  let addresses: ListenAddresses;
  try {
    addresses = await server.start();
  } catch (error) {
    if (error instanceof ClusterStartError) {
      console.error(`server: ${error.message}`);
      return 1;
    }
    const ports = [
      options.port,
      options.tls?.port,
      options.web?.port,
      options.tls === undefined ? undefined : options.web?.httpsPort,
    ].filter((p) => p !== undefined && p !== null);
    say(
      "stderr",
      `server: cannot listen on ${options.hostname}:${ports.join(",")}: ${
        firstLine(error)
      }`,
    );
    return 1;
  }
  for (const [kind, address] of Object.entries(addresses)) {
    if (address === null || kind === "http" || kind === "https") continue;
    say(
      "stdout",
      `${server.serverName} listening on ${address.hostname}:${address.port}${
        kind === "tls" ? " (TLS)" : ""
      }`,
    );
  }
  for (const url of server.webUrls()) {
    say("stdout", `Web client: open ${url} in a browser`);
  }
  await untilStopped(server);
  await options.logger?.flush(LOG_FLUSH_ON_EXIT_MS);
  return 0;
}

/**
 * Serves until SIGINT or SIGTERM. The first starts the shutdown; later ones
 * are logged and change nothing (the goodbyes are already on their way).
 * SIGHUP rereads the MOTD file, as daemons reread their configuration.
 */
function untilStopped(server: ChatServer): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: Deno.Signal) => () => {
      if (stopping) {
        server.log("info", "shutdown_in_progress", { signal });
        return;
      }
      stopping = true;
      server.log("info", "shutdown", { signal });
      // The listeners stay until the process exits: a signal that arrives
      // with none installed (one forwarded late, or during the log's last
      // flush) would end the process with status 130 instead of 0.
      server.close().catch(() => {}).finally(resolve);
    };
    const listeners: Array<[Deno.Signal, () => void]> = [
      ["SIGINT", stop("SIGINT")],
      ["SIGTERM", stop("SIGTERM")],
      ["SIGHUP", () => server.reloadMotd()],
    ];
    for (const [name, listener] of listeners) {
      Deno.addSignalListener(name, listener);
    }
  });
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
