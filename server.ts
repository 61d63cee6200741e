/**
 * The chat server: the hub that accepts connections, runs one read loop per
 * connection, and fans every event out to the rooms.
 *
 * # Layout
 * - protocol.ts: the wire (framing, events, codecs); pure.
 * - names.ts: nickname and room rules; pure.
 * - hub.ts: the {@linkcode ChatHub} interface this server implements.
 * - dispatch.ts: a read's lines, in order, to the handlers.
 * - commands.ts / operator_commands.ts / accounts.ts: what each request does.
 * - rooms.ts: entering and leaving rooms.
 * - outbox.ts: deliveries wait for the history to commit, in order.
 * - history.ts: the SQLite history, accounts and waiting private messages.
 * - session.ts / outbound.ts: one connection's state and its bounded,
 *   never-blocking send queue; coalescing.ts: fewer writes when busy.
 * - limits.ts: every limit with its default and flag; flood control.
 * - deadlines.ts: login, ping, idle and stuck-write deadlines.
 * - moderation.ts: bans. auth.ts: passwords. tls_listener.ts: TLS.
 * - config.ts: the command line.
 *
 * Run it: `deno run -A server.ts [--host H] [--port P] ...` (see --help).
 *
 * @module
 */

import {
  hashPassword,
  type PasswordHash,
  secretsEqual,
} from "./server/passwords.ts";
import { greet } from "./server/commands/login.ts";
import {
  parseServerArgs,
  type ServerOptions,
  USAGE,
  UsageError,
} from "./server/options.ts";
import { DEFAULT_HOST, DEFAULT_PORT, firstLine } from "./wire/endpoint.ts";
import { FlushScheduler, sampleLoad } from "./server/net/coalescing.ts";
import { dueDeadline, sweepIntervalMs } from "./server/net/deadlines.ts";
import { slowDetail } from "./server/net/slowness.ts";
import { FLOOD_WINDOW_MS, handleFrames } from "./server/commands/dispatch.ts";
import { HistoryStore } from "./server/store/history_store.ts";
import { type ChatHub, goodbyeFor } from "./server/hub.ts";
import {
  DEFAULT_LIMITS,
  type Limits,
  RecentEvents,
  TokenBucket,
} from "./server/limits.ts";
import {
  describeError,
  type LogFields,
  Logger,
  type LogLevel,
  silentLogger,
} from "./server/log.ts";
import { BanList, normalizeAddress } from "./server/ban_list.ts";
import { NameRegistry } from "./wire/names.ts";
import { skeletonKey } from "./server/names/lookalikes.ts";
import {
  clockTime,
  EncodedEvent,
  type LeaveReason,
  type PrivateMessage,
  type RoomMessage,
  sanitizeText,
  type ServerEvent,
} from "./protocol.ts";
import { Outbox } from "./server/store/outbox.ts";
import { RoomDirectory } from "./server/rooms.ts";
import { type Room, Session, type SessionOwner } from "./server/session.ts";
import { type ChatConnection, TlsListener } from "./server/net/tls_listener.ts";

export { DEFAULT_HOST, DEFAULT_PORT, firstLine, type ServerOptions };

/**
 * Read buffer sizes. Every connection holds its buffer while it waits, so an
 * idle one gets a small buffer (10,000 of them must fit in little memory);
 * a read that fills it shows a busy peer, which moves to the large one.
 */
const READ_BUFFER_IDLE_BYTES = 1024;
const READ_BUFFER_BUSY_BYTES = 16 * 1024;

/** A write pending this long means the peer has stopped reading. */
const STUCK_WRITE_MS = 1000;

/** How often old history is pruned, when retention is set. */
const PRUNE_INTERVAL_MS = 60_000;

/** Accept errors back off from 5 ms, doubling, to at most 1 s. */
const ACCEPT_BACKOFF_MIN_MS = 5;
const ACCEPT_BACKOFF_MAX_MS = 1000;

/** The addresses a started server listens on. */
export interface ListenAddresses {
  plain: Deno.NetAddr | null;
  tls: Deno.NetAddr | null;
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

/** The chat server. */
export class ChatServer implements ChatHub, SessionOwner {
  readonly serverName: string;
  readonly limits: Readonly<Limits>;
  readonly nicks: NameRegistry<Session> = new NameRegistry<Session>(
    skeletonKey,
  );
  readonly #rooms: RoomDirectory = new RoomDirectory(this);
  /** Every open connection, logged in or not. */
  readonly sessions: Set<Session> = new Set();
  readonly bans: BanList = new BanList();
  readonly mutedNicks: Set<string> = new Set();
  readonly history: HistoryStore;
  motd: string[];
  readonly #options: ServerOptions;
  readonly #log: Logger;
  #listeners: Acceptor[] = [];
  #acceptLoops: Promise<void>[] = [];
  #connectionTasks = new Set<Promise<void>>();
  #perAddress = new Map<string, number>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #pruner: ReturnType<typeof setInterval> | undefined;
  /** When connections write: at once, or coalesced while busy. */
  readonly #flushes = new FlushScheduler();
  #stopLoadSampling: () => void = () => {};
  /** Deliveries waiting for the history to commit, in acceptance order. */
  readonly #outbox: Outbox;
  #lastMessageId = 0;
  #closing = false;
  #wakeAcceptBackoff = new Set<() => void>();
  #countWaiters: Array<{ count: number; resolve: () => void }> = [];

  /**
   * @param options where to listen, limits, secrets, logging, database
   * @throws if the history database cannot be opened
   */
  constructor(options: ServerOptions = {}) {
    this.#options = options;
    this.serverName = options.name ?? "tern";
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#log = options.logger ?? silentLogger;
    this.history = new HistoryStore(options.database ?? ":memory:");
    this.#outbox = new Outbox(
      this.history,
      (event, error) => this.#log.error(event, { error: describeError(error) }),
    );
    this.#lastMessageId = this.history.lastMessageId();
    this.motd = (options.motd ?? []).map(sanitizeText);
    while (this.motd.at(-1) === "") this.motd.pop();
  }

  /**
   * Opens the listeners and starts accepting.
   * @throws Deno.errors.AddrInUse and the like when a port cannot be bound
   */
  async start(): Promise<ListenAddresses> {
    const hostname = this.#options.hostname ?? DEFAULT_HOST;
    const port = this.#options.port === undefined
      ? DEFAULT_PORT
      : this.#options.port;
    const addresses: ListenAddresses = { plain: null, tls: null };
    try {
      if (port !== null) {
        const listener = Deno.listen({ hostname, port, transport: "tcp" });
        this.#listeners.push(listener);
        addresses.plain = listener.addr;
      }
      const tls = this.#options.tls;
      if (tls !== undefined) {
        const listener = await TlsListener.open({
          hostname,
          port: tls.port,
          cert: tls.cert,
          key: tls.key,
          handshakeTimeoutMs: this.limits.loginTimeoutMs,
          maxPendingHandshakes: this.limits.maxConnections,
          onHandshakeError: (address, message) =>
            this.#log.info("tls_handshake_failed", { address, message }),
        });
        this.#listeners.push(listener);
        addresses.tls = listener.addr;
      }
    } catch (error) {
      for (const listener of this.#listeners) listener.close();
      this.#listeners = [];
      throw error;
    }
    this.#acceptLoops = this.#listeners.map((listener) =>
      this.#accept(listener)
    );
    this.#sweeper = setInterval(
      () => this.#sweep(),
      sweepIntervalMs(this.limits),
    );
    if (this.limits.writeCoalesceMs > 0) {
      this.#stopLoadSampling = sampleLoad(
        this.#flushes,
        this.limits.writeCoalesceMs,
      );
    }
    if (this.limits.historyMaxAgeMs > 0 || this.limits.historyMaxPerRoom > 0) {
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

  /**
   * Resolves once at most `count` connections are open: lets tests and
   * shutdown wait on the event rather than poll for it.
   */
  connectionsAtMost(count: number): Promise<void> {
    if (this.sessions.size <= count) return Promise.resolve();
    return new Promise((resolve) =>
      this.#countWaiters.push({ count, resolve })
    );
  }

  /** The id of the last room or private message accepted. */
  get lastMessageId(): number {
    return this.#lastMessageId;
  }

  // -- ChatHub -------------------------------------------------------------

  /** Whether a server password is set. */
  get passwordRequired(): boolean {
    return this.#options.password !== undefined;
  }

  /** Compares with the server password in constant time. */
  checkPassword(given: string): boolean {
    const expected = this.#options.password;
    return expected === undefined || secretsEqual(given, expected);
  }

  /** Whether an operator password is set. */
  get operatorsEnabled(): boolean {
    return this.#options.operatorPassword !== undefined;
  }

  /** Compares with the operator password in constant time. */
  checkOperPassword(given: string): boolean {
    const expected = this.#options.operatorPassword;
    return expected !== undefined && secretsEqual(given, expected);
  }

  /** A fresh message id. */
  nextMessageId(): number {
    return ++this.#lastMessageId;
  }

  /** Server time. */
  now(): number {
    return Date.now();
  }

  /** Records a notable event. */
  log(level: LogLevel, event: string, fields?: LogFields): void {
    this.#log.log(level, event, fields);
  }

  /**
   * The one fan-out: encodes `event` at most once per codec and queues the
   * bytes on every member. Never awaits a socket; a member too slow to keep
   * up is cut off by its own queue, not waited for.
   */
  broadcast(room: Room, event: ServerEvent, sender?: Session): void {
    const encoded = new EncodedEvent(event);
    const deliver = (members: Iterable<Session>) => {
      for (const member of members) {
        if (member === sender && member.codec === "text") continue;
        member.sendEncoded(encoded);
      }
    };
    if (!this.#outbox.busy) {
      deliver(room.members);
    } else {
      // Delivered after the pending commit, to whoever was in the room now.
      const members = [...room.members];
      this.#outbox.inOrder(() => deliver(members));
    }
  }

  /** Stores a room message, then delivers it in order. */
  publish(room: Room, message: RoomMessage, sender: Session): void {
    this.history.queueRoomMessage(message);
    this.broadcast(room, message, sender);
  }

  /** Stores a private message if asked, then delivers it in order. */
  sendPrivate(
    message: PrivateMessage,
    sender: Session,
    target: Session | null,
    store: "no" | "delivered" | "pending",
  ): void {
    if (store !== "no") this.history.queuePrivate(message, store === "pending");
    const encoded = new EncodedEvent(message);
    this.inOrder(() => {
      target?.sendEncoded(encoded);
      if (target !== sender) sender.sendEncoded(encoded);
    });
  }

  /** Runs `action` after everything accepted before it is stored and sent. */
  inOrder(action: () => void): void {
    this.#outbox.inOrder(action);
  }

  /** Hashes a new account password with the configured cost. */
  hashPassword(password: string): Promise<PasswordHash> {
    return hashPassword(password, this.limits.passwordIterations);
  }

  #prune(): void {
    try {
      const removed = this.history.prune(
        this.now(),
        this.limits.historyMaxAgeMs,
        this.limits.historyMaxPerRoom,
      );
      if (removed > 0) this.#log.info("history_pruned", { removed });
    } catch (error) {
      this.#log.error("history_prune_failed", { error: describeError(error) });
    }
  }

  /** The rooms, by fold key of their name. */
  get rooms(): ReadonlyMap<string, Room> {
    return this.#rooms.byKey;
  }

  /** Why a session cannot enter a room now, or null if it can. */
  roomRefusal(_session: Session, name: string): string | null {
    return this.#rooms.refusal(name);
  }

  /** Moves a session into a room; see {@linkcode ChatHub.enterRoom}. */
  enterRoom(session: Session, name: string): void {
    this.#rooms.enter(session, name);
  }

  /** Ends a session; see {@linkcode ChatHub.disconnect}. */
  disconnect(session: Session, reason: LeaveReason, detail?: string): void {
    if (session.state === "closing") return;
    const wasActive = session.state === "active";
    this.#rooms.leave(session, reason, detail);
    session.state = "closing";
    if (wasActive && session.nick !== null) {
      this.nicks.delete(session.nick, session);
    }
    this.#log.info("disconnect", {
      session: session.id,
      nick: session.nick ?? undefined,
      address: session.address,
      reason,
      detail: detail || undefined,
    });
    const bye = goodbyeFor(reason, detail);
    // A reader whose writes are stuck gets no grace: its goodbye would wait
    // behind everything it has not read, while its buffers stay held. One
    // that is slow but still reading gets the usual grace.
    const since = session.outbound.writePendingSince;
    const stuck = reason === "slow" && since !== 0 &&
      this.now() - since > STUCK_WRITE_MS;
    const grace = bye === null || stuck ? 0 : this.limits.closeGraceMs;
    session.finish(
      bye === null ? null : { type: "bye", reason: bye },
      grace,
      reason === "slow",
    ).catch((error) =>
      this.#log.error("close_failed", {
        session: session.id,
        error: describeError(error),
      })
    );
  }

  // -- SessionOwner ----------------------------------------------------------

  /** A send queue overflowed or a write failed. */
  onSendFailure(session: Session, why: "slow" | "lost"): void {
    if (session.state === "closing") return;
    if (why === "slow") {
      this.#log.warn("slow_consumer", {
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
  }

  /** A reply's next event could not be built: logged, the rest dropped. */
  onReplyError(session: Session, error: unknown): void {
    this.#log.error("reply_failed", {
      session: session.id,
      error: describeError(error),
    });
  }

  // -- Lifecycle ---------------------------------------------------------------

  /**
   * Stops the server: no new connections, a goodbye to everyone, a bounded
   * wait for their queues to drain, then every socket closed.
   */
  async close(reason = "Server shutting down"): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
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
    for (const wake of this.#wakeAcceptBackoff) wake();
    await Promise.all(this.#acceptLoops);
    this.#outbox.flush();
    for (const session of this.sessions) {
      if (session.state === "closing") continue;
      session.state = "closing";
      session.finish(
        { type: "bye", reason },
        this.limits.closeGraceMs,
        false,
      ).catch(() => session.closeSocket());
    }
    await Promise.all(this.#connectionTasks);
    try {
      this.history.close();
    } catch (error) {
      this.#log.error("history_close_failed", { error: describeError(error) });
    }
    this.#log.info("closed");
  }

  async #accept(listener: Acceptor): Promise<void> {
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
      this.#track(this.#admit(conn));
    }
  }

  #track(task: Promise<void>): void {
    const tracked = task.catch((error) =>
      this.#log.error("connection_failed", { error: describeError(error) })
    );
    this.#connectionTasks.add(tracked);
    tracked.finally(() => this.#connectionTasks.delete(tracked)).catch(
      () => {},
    );
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

  /** Refuses a banned address or one over a connection limit, else serves. */
  async #admit(conn: ChatConnection): Promise<void> {
    const address = normalizeAddress(conn.remoteAddr.hostname);
    const ban = this.bans.find(address, this.now());
    const refusal = ban !== undefined
      ? `You are banned${
        ban.until === undefined ? "" : ` until ${clockTime(ban.until)} UTC`
      }${ban.reason ? `: ${ban.reason}` : ""}`
      : this.sessions.size >= this.limits.maxConnections
      ? "The server is full; try again later"
      : this.limits.maxPerAddress > 0 &&
          (this.#perAddress.get(address) ?? 0) >= this.limits.maxPerAddress
      ? `Too many connections from your address (at most ${this.limits.maxPerAddress})`
      : null;
    if (refusal === null) {
      await this.#serve(conn, address);
      return;
    }
    this.#log.warn("refused", { address, reason: refusal });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        conn.write(encoder.encode(`*** ${refusal}\n`)),
        new Promise((resolve) => {
          timer = setTimeout(resolve, this.limits.closeGraceMs);
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

  /** One connection's read loop; everything it reads goes to handleLine. */
  async #serve(conn: ChatConnection, address: string): Promise<void> {
    const session = new Session(
      conn,
      address,
      this.limits.maxLineBytes,
      this.limits,
      this,
      this.#flushes,
    );
    session.authenticated = !this.passwordRequired;
    if (this.limits.floodRate > 0) {
      session.flood = new TokenBucket(
        this.limits.floodBurst,
        this.limits.floodRate,
        this.now(),
      );
      session.floodRefusals = new RecentEvents(
        FLOOD_WINDOW_MS,
        this.limits.floodDisconnect,
      );
    }
    this.sessions.add(session);
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
    this.#log.info("connect", { session: session.id, address });
    try {
      if ("setNoDelay" in conn) {
        const tcp = conn as Deno.TcpConn;
        tcp.setNoDelay(true);
        tcp.setKeepAlive(true);
      }
      greet(this, session);
      let buffer = new Uint8Array(READ_BUFFER_IDLE_BYTES);
      while (session.state !== "closing") {
        const count = await conn.read(buffer);
        const frames = count === null
          ? session.framer.end()
          : session.framer.push(buffer.subarray(0, count));
        const pending = handleFrames(this, session, frames);
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
      this.disconnect(session, "lost");
      await session.finished;
      this.sessions.delete(session);
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left === 0) this.#perAddress.delete(address);
      else this.#perAddress.set(address, left);
      this.#countWaiters = this.#countWaiters.filter((waiter) => {
        if (this.sessions.size > waiter.count) return true;
        waiter.resolve();
        return false;
      });
    }
  }

  /**
   * One timer for every connection's deadlines, rather than one each;
   * deadlines.ts decides what is due.
   */
  #sweep(): void {
    const now = this.now();
    for (const session of this.sessions) {
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
        this.limits,
      );
      if (due === null) continue;
      if (due.action === "ping") {
        session.pingToken = String(now);
        session.pingSentAt = now;
        session.send({ type: "ping", token: session.pingToken });
      } else {
        this.disconnect(session, due.reason, due.detail);
      }
    }
  }
}

/** Runs the server from the command line until SIGINT or SIGTERM. */
export async function main(args: string[]): Promise<number> {
  let options;
  try {
    options = parseServerArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`server: ${error.message} (see --help)`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const server = new ChatServer(options);
  let addresses: ListenAddresses;
  try {
    addresses = await server.start();
  } catch (error) {
    const ports = [options.port, options.tls?.port].filter((p) =>
      p !== undefined && p !== null
    );
    console.error(
      `server: cannot listen on ${options.hostname}:${ports.join(",")}: ${
        firstLine(error)
      }`,
    );
    return 1;
  }
  for (const [kind, address] of Object.entries(addresses)) {
    if (address === null) continue;
    console.log(
      `${server.serverName} listening on ${address.hostname}:${address.port}${
        kind === "tls" ? " (TLS)" : ""
      }`,
    );
  }
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
      server.close().then(resolve, resolve);
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
  await stopped;
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
