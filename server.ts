/**
 * The chat server: the hub that accepts connections, runs one read loop per
 * connection, and fans every event out to the rooms.
 *
 * # Layout
 * - protocol.ts: the wire (framing, events, codecs); pure.
 * - names.ts: nickname and room rules; pure.
 * - commands.ts: what each request does, against the {@linkcode ChatHub}
 *   this server implements.
 * - session.ts / outbound.ts: one connection's state and its bounded,
 *   never-blocking send queue.
 * - limits.ts: every limit with its default and flag.
 *
 * Run it: `deno run -A server.ts [--host H] [--port P] [--name N] ...`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type ChatHub, handleLine, whoEvent } from "./commands.ts";
import {
  DEFAULT_LIMITS,
  LIMIT_SPECS,
  type Limits,
  limitsHelp,
  parseLimitFlags,
} from "./limits.ts";
import { describeError, Logger, silentLogger } from "./log.ts";
import { foldKey, NameRegistry } from "./names.ts";
import {
  EncodedEvent,
  type Frame,
  type LeaveReason,
  LOBBY,
  type RoomMessage,
  type ServerEvent,
} from "./protocol.ts";
import { type Room, Session, type SessionOwner } from "./session.ts";

/** Where and how the server runs. */
export interface ServerOptions {
  /** Address to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /** TCP port; 0 lets the system pick one. @default {7000} */
  port?: number;
  /** The name clients see in the welcome. @default {"tern"} */
  name?: string;
  /** Limits; anything left out takes its default. */
  limits?: Partial<Limits>;
  /** Where log lines go. @default a silent logger */
  logger?: Logger;
}

/** Default TCP port. */
export const DEFAULT_PORT = 7000;

/** Default listen address: loopback, so exposing the server is a choice. */
export const DEFAULT_HOST = "127.0.0.1";

/**
 * Bytes read per `read` call. Small on purpose: every idle connection keeps
 * one such buffer, and 10,000 of them must fit in little memory.
 */
const READ_BUFFER_BYTES = 4096;

/** Accept errors back off from 5 ms, doubling, to at most 1 s. */
const ACCEPT_BACKOFF_MIN_MS = 5;
const ACCEPT_BACKOFF_MAX_MS = 1000;

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

/** The chat server. */
export class ChatServer implements ChatHub, SessionOwner {
  readonly serverName: string;
  readonly limits: Readonly<Limits>;
  readonly nicks: NameRegistry<Session> = new NameRegistry<Session>();
  readonly rooms: Map<string, Room> = new Map();
  /** Every open connection, logged in or not. */
  readonly sessions: Set<Session> = new Set();
  readonly #hostname: string;
  readonly #port: number;
  readonly #log: Logger;
  #listener: Deno.TcpListener | null = null;
  #acceptLoop: Promise<void> | null = null;
  #connectionTasks = new Set<Promise<void>>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #lastMessageId = 0;
  #closing = false;
  #wakeAcceptBackoff: (() => void) | null = null;
  #countWaiters: Array<{ count: number; resolve: () => void }> = [];

  /** @param options where to listen, limits, logging */
  constructor(options: ServerOptions = {}) {
    this.#hostname = options.hostname ?? DEFAULT_HOST;
    this.#port = options.port ?? DEFAULT_PORT;
    this.serverName = options.name ?? "tern";
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#log = options.logger ?? silentLogger;
  }

  /**
   * Starts listening and accepting; resolves to the bound address once the
   * port is open.
   * @throws Deno.errors.AddrInUse and the like when the port cannot be bound
   */
  start(): Deno.NetAddr {
    const listener = Deno.listen({
      hostname: this.#hostname,
      port: this.#port,
      transport: "tcp",
    });
    this.#listener = listener;
    this.#acceptLoop = this.#accept(listener);
    this.#sweeper = setInterval(() => this.#sweep(), this.#sweepIntervalMs());
    const address = listener.addr;
    this.#log.info("listen", {
      host: address.hostname,
      port: address.port,
    });
    return address;
  }

  /** The bound address; only valid after {@linkcode ChatServer.start}. */
  get address(): Deno.NetAddr {
    if (this.#listener === null) throw new Error("Server is not started");
    return this.#listener.addr;
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

  // -- ChatHub -------------------------------------------------------------

  /** A fresh message id. */
  nextMessageId(): number {
    return ++this.#lastMessageId;
  }

  /** Server time. */
  now(): number {
    return Date.now();
  }

  /**
   * The one fan-out: encodes `event` at most once per codec and queues the
   * bytes on every member. Never awaits a socket; a member too slow to keep
   * up is cut off by its own queue, not waited for.
   */
  broadcast(room: Room, event: ServerEvent, sender?: Session): void {
    const encoded = new EncodedEvent(event);
    for (const member of room.members) {
      if (member === sender && member.codec === "text") continue;
      member.sendEncoded(encoded);
    }
  }

  /** Keeps the room's last messages, up to the history limit. */
  remember(room: Room, message: RoomMessage): void {
    if (this.limits.historyLength === 0) return;
    room.history.push(message);
    if (room.history.length > this.limits.historyLength) room.history.shift();
  }

  /** Moves a session into a room; see {@linkcode ChatHub.enterRoom}. */
  enterRoom(session: Session, name: string): void {
    if (session.nick === null) return;
    this.#leaveRoom(session, "part");
    const key = foldKey(name);
    let room = this.rooms.get(key);
    if (room === undefined) {
      room = { name, members: new Set(), history: [] };
      this.rooms.set(key, room);
    }
    room.members.add(session);
    session.room = room;
    this.broadcast(room, {
      type: "join",
      ts: this.now(),
      room: room.name,
      nick: session.nick,
    });
    session.send({ type: "history", room: room.name, messages: room.history });
    session.send(whoEvent(room));
  }

  /** Ends a session; see {@linkcode ChatHub.disconnect}. */
  disconnect(session: Session, reason: LeaveReason, detail?: string): void {
    if (session.state === "closing") return;
    const wasActive = session.state === "active";
    this.#leaveRoom(session, reason, detail);
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
    const bye = this.#byeFor(reason, detail);
    session.finish(
      bye === null ? null : { type: "bye", reason: bye },
      bye === null ? 0 : this.limits.closeGraceMs,
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
        why === "slow"
          ? `more than ${this.limits.maxSendQueueBytes} bytes were waiting`
          : undefined,
      )
    );
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
    try {
      this.#listener?.close();
    } catch {
      // Already closed.
    }
    this.#wakeAcceptBackoff?.();
    await this.#acceptLoop;
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
    this.#log.info("closed");
  }

  async #accept(listener: Deno.TcpListener): Promise<void> {
    let backoffMs = 0;
    while (!this.#closing) {
      let conn: Deno.TcpConn;
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
      const task = this.#serve(conn).catch((error) =>
        this.#log.error("connection_failed", { error: describeError(error) })
      );
      this.#connectionTasks.add(task);
      task.finally(() => this.#connectionTasks.delete(task)).catch(() => {});
    }
  }

  #backoff(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wakeAcceptBackoff = done;
    });
  }

  /** One connection's read loop; everything it reads goes to handleLine. */
  async #serve(conn: Deno.TcpConn): Promise<void> {
    const session = new Session(
      conn,
      conn.remoteAddr.hostname,
      this.limits.maxLineBytes,
      this.limits.maxSendQueueBytes,
      this,
    );
    this.sessions.add(session);
    this.#log.info("connect", {
      session: session.id,
      address: session.address,
    });
    try {
      conn.setNoDelay(true);
      conn.setKeepAlive(true);
      this.#greet(session);
      const buffer = new Uint8Array(READ_BUFFER_BYTES);
      while (session.state !== "closing") {
        const count = await conn.read(buffer);
        if (count === null) {
          this.#handleFrames(session, session.framer.end());
          break;
        }
        this.#handleFrames(
          session,
          session.framer.push(buffer.subarray(0, count)),
        );
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
      this.#countWaiters = this.#countWaiters.filter((waiter) => {
        if (this.sessions.size > waiter.count) return true;
        waiter.resolve();
        return false;
      });
    }
  }

  #greet(session: Session): void {
    const here = this.nicks.size;
    session.send({
      type: "notice",
      text: `Welcome to ${this.serverName}. ${
        here === 0
          ? "Nobody is here yet."
          : `${here} ${here === 1 ? "person is" : "people are"} here.`
      }`,
    });
    session.send({
      type: "notice",
      text: "Choose a nickname (letters, digits, _ and -; up to 32):",
    });
  }

  #handleFrames(session: Session, frames: Frame[]): void {
    for (const frame of frames) {
      if (session.state === "closing") return;
      if (frame.kind === "too_long") {
        session.send({
          type: "error",
          code: "line_too_long",
          message: `Line longer than ${frame.limit} bytes; it was discarded`,
        });
        continue;
      }
      try {
        handleLine(this, session, frame.text);
      } catch (error) {
        // A bug in one command must cost one reply, not the server.
        this.#log.error("command_failed", {
          session: session.id,
          error: describeError(error),
        });
        session.send({
          type: "error",
          code: "internal",
          message: "Internal error; the request was not completed",
        });
      }
    }
  }

  #leaveRoom(session: Session, reason: LeaveReason, detail?: string): void {
    const room = session.room;
    if (room === null || session.nick === null) return;
    const event: ServerEvent = {
      type: "leave",
      ts: this.now(),
      room: room.name,
      nick: session.nick,
      reason,
      ...(detail ? { message: detail } : {}),
    };
    // The leaver sees its own part (it is still connected); after a quit or
    // a lost connection only the others are told.
    if (reason !== "part") room.members.delete(session);
    this.broadcast(room, event);
    room.members.delete(session);
    session.room = null;
    if (room.members.size === 0 && foldKey(room.name) !== foldKey(LOBBY)) {
      this.rooms.delete(foldKey(room.name));
    }
  }

  #byeFor(reason: LeaveReason, detail?: string): string | null {
    switch (reason) {
      case "quit":
        return "Goodbye";
      case "lost":
        return detail ?? null;
      case "slow":
        return `You fell too far behind: ${detail ?? "output backed up"}`;
      case "kicked":
        return `Kicked${detail ? `: ${detail}` : ""}`;
      case "timeout":
        return `Timed out${detail ? `: ${detail}` : ""}`;
      case "shutdown":
        return "Server shutting down";
      case "part":
        return null;
    }
  }

  /** One timer for every connection's deadlines, rather than one each. */
  #sweep(): void {
    const now = Date.now();
    for (const session of this.sessions) {
      const since = session.outbound.writePendingSince;
      if (since !== 0 && now - since > this.limits.writeTimeoutMs) {
        this.disconnect(
          session,
          "slow",
          `a write waited more than ${this.limits.writeTimeoutMs} ms`,
        );
      }
    }
  }

  #sweepIntervalMs(): number {
    return Math.max(20, Math.min(1000, this.limits.writeTimeoutMs / 4));
  }
}

const USAGE = `Usage: deno run -A server.ts [options]

  --host HOST                 address to listen on (default ${DEFAULT_HOST})
  --port PORT                 TCP port, 0 for any free one (default ${DEFAULT_PORT})
  --name NAME                 server name shown to clients (default tern)
  --log-level LEVEL           debug, info, warn or error (default info)
  --log-format FORMAT         text or json (default text)
  --help                      show this help

Limits:
${limitsHelp()}`;

/** The first line of an error's message: flag errors are one line. */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0]!;
}

/** A command-line failure: printed as one line, exit code 2. */
class UsageError extends Error {}

/** Parses the command line into server options. */
export function parseServerArgs(args: string[]): ServerOptions & {
  help: boolean;
} {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        name: { type: "string" },
        "log-level": { type: "string" },
        "log-format": { type: "string" },
        help: { type: "boolean", short: "h" },
        ...Object.fromEntries(
          LIMIT_SPECS.map((spec) => [spec.flag, { type: "string" as const }]),
        ),
      },
    });
  } catch (error) {
    throw new UsageError(firstLine(error));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(
      `--port must be a whole number from 0 to 65535; got "${values.port}"`,
    );
  }
  const limits = parseLimitFlags(values);
  if (!limits.ok) throw new UsageError(limits.error);
  const level = String(values["log-level"] ?? "info");
  const format = String(values["log-format"] ?? "text");
  if (!["debug", "info", "warn", "error"].includes(level)) {
    throw new UsageError(
      `--log-level must be debug, info, warn or error; got "${level}"`,
    );
  }
  if (format !== "text" && format !== "json") {
    throw new UsageError(`--log-format must be text or json; got "${format}"`);
  }
  const name = String(values.name ?? "tern");
  return {
    help: values.help === true,
    hostname: String(values.host ?? DEFAULT_HOST),
    port,
    name,
    limits: limits.limits,
    logger: new Logger(
      level as "debug" | "info" | "warn" | "error",
      format,
    ),
  };
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
  let address: Deno.NetAddr;
  try {
    address = server.start();
  } catch (error) {
    console.error(
      `server: cannot listen on ${options.hostname}:${options.port}: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
    return 1;
  }
  console.log(
    `${server.serverName} listening on ${address.hostname}:${address.port}`,
  );
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
