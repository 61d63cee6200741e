/**
 * Test tools: a server on an ephemeral loopback port, and a raw TCP line
 * client (what `nc` does) whose waits are driven by arriving lines and
 * bounded by a timeout that fails the test instead of hanging it.
 *
 * @module
 */

import { type Limits } from "../server/limits.ts";
import { decodeJsonEvent, LineFramer, type ServerEvent } from "../protocol.ts";
import { ChatServer, type ServerOptions } from "../server.ts";
import { Session, type SessionSocket } from "../server/session.ts";
import { claimNick } from "../server/nicknames.ts";
import { enterRoom } from "../server/rooms.ts";
import type { Hub } from "../server/hub.ts";

/** How long any single wait may take before the test fails. */
export const WAIT_MS = 5000;

/** Resolves `promise`, or rejects after `ms` naming what was awaited. */
export async function within<T>(
  promise: Promise<T>,
  what: string,
  ms = WAIT_MS,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What test servers change from the defaults: a short close grace, and flood
 * control and the per-address caps off (every test client comes from
 * 127.0.0.1, and most tests send faster than a person).
 */
const TEST_LIMITS: Partial<Limits> = {
  closeGraceMs: 500,
  floodRate: 0,
  maxPerAddress: 0,
  maxRoomsPerAddress: 0,
  // Cluster tests wait for the "back" notice; its hold has its own test.
  degradedHoldMs: 0,
};

/** A started server that closes itself at the end of a `using` block. */
export interface TestServer extends AsyncDisposable {
  server: ChatServer;
  port: number;
}

/**
 * Starts a server on 127.0.0.1 with an OS-assigned port. Flood control and
 * the per-address caps are off unless a test sets them: every test client
 * comes from 127.0.0.1, and most tests send faster than a person.
 */
export async function startServer(
  limits: Partial<Limits> = {},
  options: ServerOptions = {},
): Promise<TestServer> {
  const { server, addresses } = await launch(limits, options);
  return {
    server,
    port: addresses.plain!.port,
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/** A server on 127.0.0.1 with the test limits, started; and its ports. */
async function launch(limits: Partial<Limits>, options: ServerOptions) {
  const server = new ChatServer({
    hostname: "127.0.0.1",
    port: 0,
    ...options,
    limits: { ...TEST_LIMITS, ...limits },
  });
  return { server, addresses: await server.start() };
}

/** A started server with its web listener: where its page and socket are. */
export interface TestWebServer extends TestServer {
  /** The plain HTTP port (0 when it serves HTTPS only). */
  httpPort: number;
  /** The page over plain HTTP. */
  url: string;
  /** The WebSocket endpoint over plain HTTP. */
  ws: string;
}

/**
 * Starts a server as {@linkcode startServer} does (the same limits off
 * unless set), with its web listener on a free port too; `options.web`
 * chooses another.
 */
export async function startWebServer(
  limits: Partial<Limits> = {},
  options: ServerOptions = {},
): Promise<TestWebServer> {
  const { server, addresses } = await launch(limits, {
    web: { port: 0 },
    ...options,
  });
  const httpPort = addresses.http?.port ?? 0;
  return {
    server,
    port: addresses.plain!.port,
    httpPort,
    url: `http://127.0.0.1:${httpPort}/`,
    ws: `ws://127.0.0.1:${httpPort}/ws`,
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/** A socket that takes every write whole and goes nowhere. */
const NOWHERE: SessionSocket = {
  write: (bytes) => Promise.resolve(bytes.length),
  close: () => {},
};

/**
 * Seats `count` members in `room` without a socket each, away with `away`
 * if given: sessions built and entered through the server's own room code,
 * writing to nowhere. The room's structures are the real ones; only the
 * peers are missing.
 */
export function seatMembers(
  server: ChatServer,
  count: number,
  room = "#lobby",
  away?: string,
): void {
  const nicks = Array.from(
    { length: count },
    (_, i) => `m${String(i).padStart(5, "0")}`,
  );
  seatNamed(server, nicks, room, away);
}

/**
 * Seats members named `nicks` as {@linkcode seatMembers} does, and returns
 * their sessions, for a test that makes them leave or rename.
 */
export function seatNamed(
  server: ChatServer,
  nicks: readonly string[],
  room = "#lobby",
  away?: string,
): Session[] {
  const hub = server.hub;
  return nicks.map((nick) => {
    const session = new Session({
      socket: NOWHERE,
      address: "127.0.0.1",
      limits: hub.limits,
      onSendFailure: hub.sendFailed,
    });
    claimNick(hub, session, nick);
    session.state = "active";
    if (away !== undefined) session.away = away;
    enterRoom(hub, session, room);
    return session;
  });
}

/** What a line must look like: exact text, a pattern, or a test. */
export type LineMatch = string | RegExp | ((line: string) => boolean);

/** The last lines seen, shortened, for a failure message. */
function seen(lines: string[]): string {
  const tail = lines.slice(-15).map((line) =>
    line.length > 120 ? `${line.slice(0, 120)}... (${line.length} chars)` : line
  );
  const skipped = lines.length - tail.length;
  return (skipped > 0 ? `(${skipped} earlier lines)\n` : "") + tail.join("\n");
}

function matches(line: string, match: LineMatch): boolean {
  if (typeof match === "string") return line === match;
  if (match instanceof RegExp) return match.test(line);
  return match(line);
}

const encoder = new TextEncoder();

/**
 * Lines arriving on any byte stream (a socket, a child's stdout), read in the
 * background, with waits that wake on each arrival.
 */
export class LineStream {
  /** Every line received so far, in order. */
  readonly received: string[] = [];
  /** What has arrived after the last newline (a prompt, say). */
  partial = "";
  /** Settles when the stream ends. */
  readonly done: Promise<void>;
  #cursor = 0;
  #ended = false;
  #waiters: Array<() => void> = [];

  /** @param source the bytes to split into lines */
  constructor(source: AsyncIterable<Uint8Array> | null) {
    this.done = source === null ? Promise.resolve() : this.#pump(source);
  }

  async #pump(source: AsyncIterable<Uint8Array>): Promise<void> {
    const framer = new LineFramer(1 << 24);
    const decoder = new TextDecoder();
    try {
      for await (const chunk of source) {
        for (const frame of framer.push(chunk)) {
          if (frame.kind === "line") {
            this.received.push(frame.text);
            this.partial = "";
          }
        }
        const lastNewline = chunk.lastIndexOf(0x0a);
        this.partial += decoder.decode(chunk.subarray(lastNewline + 1));
        this.#notify();
      }
    } catch {
      // Reset by the peer, or closed by the test.
    } finally {
      this.#ended = true;
      this.#notify();
    }
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  #arrival(): Promise<void> {
    return new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  /** Whether the stream has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Consumes lines until one matches and returns it; fails if the stream
   * ends first or the wait times out, showing what was seen.
   */
  async expect(match: LineMatch, ms = WAIT_MS): Promise<string> {
    const start = this.#cursor;
    const found = async (): Promise<string> => {
      while (true) {
        while (this.#cursor < this.received.length) {
          const line = this.received[this.#cursor++]!;
          if (matches(line, match)) return line;
        }
        if (this.#ended) {
          throw new Error(
            `Stream ended before a line matching ${String(match)}; saw:\n` +
              seen(this.received.slice(start)),
          );
        }
        await this.#arrival();
      }
    };
    try {
      return await within(found(), `a line matching ${String(match)}`, ms);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("Timed out")) {
        throw new Error(
          `${error.message}; saw:\n${seen(this.received.slice(start))}`,
        );
      }
      throw error;
    }
  }

  /** Consumes lines until a JSON event of `type` (and `test`) arrives. */
  async expectEvent<T extends ServerEvent["type"]>(
    type: T,
    test: (event: ServerEvent & { type: T }) => boolean = () => true,
    ms = WAIT_MS,
  ): Promise<ServerEvent & { type: T }> {
    const line = await this.expect((text) => {
      if (!text.startsWith("{")) return false;
      const event = JSON.parse(text) as ServerEvent;
      return event.type === type && test(event as ServerEvent & { type: T });
    }, ms);
    return JSON.parse(line);
  }

  /** How many lines have been consumed by `expect` so far. */
  get consumed(): number {
    return this.#cursor;
  }

  /** Waits, on each arrival, until `condition` holds over what was received. */
  async waitFor(
    condition: (received: string[]) => boolean,
    what: string,
    ms = WAIT_MS,
  ): Promise<void> {
    await within(
      (async () => {
        while (!condition(this.received)) {
          if (this.#ended) throw new Error(`Stream ended waiting for ${what}`);
          await this.#arrival();
        }
      })(),
      what,
      ms,
    );
  }

  /** Waits for the stream to end (the server closed the connection). */
  async closed(ms = WAIT_MS): Promise<void> {
    await within(this.done, "the stream to end", ms);
  }
}

/** A raw TCP client, what `nc` does, reading lines in the background. */
export class LineClient extends LineStream implements AsyncDisposable {
  readonly conn: Deno.TcpConn;

  private constructor(conn: Deno.TcpConn, read: boolean) {
    super(read ? conn.readable : null);
    this.conn = conn;
  }

  /** Connects to the test server; `read: false` makes a client that never reads. */
  static async connect(
    port: number,
    read = true,
    hostname = "127.0.0.1",
  ): Promise<LineClient> {
    const conn = await Deno.connect({ hostname, port });
    return new LineClient(conn, read);
  }

  /**
   * Connects and logs in with a nickname in text mode, reading up to the
   * lobby's member list, or in a big room (`--big-room`) the line with its
   * count, which comes in place of the list.
   */
  static async text(port: number, nick: string): Promise<LineClient> {
    const client = await LineClient.connect(port);
    await client.send(nick);
    await client.expect(`*** ${nick} joined #lobby`);
    await client.expect(/^\*\*\* #lobby (\(\d+\):|has \d+ members?; )/);
    return client;
  }

  /**
   * Connects and logs in with a JSON hello, reading up to what the lobby
   * sends a newcomer last: its member list, or in a big room (`--big-room`)
   * its `members` count, which comes in place of the list.
   */
  static async json(port: number, nick: string): Promise<LineClient> {
    const client = await LineClient.connect(port);
    await client.sendJson({ type: "hello", nick });
    await client.expectEvent("welcome");
    await client.expect((line) =>
      line.startsWith("{") && /^(who|members)$/.test(JSON.parse(line).type)
    );
    return client;
  }

  /** Sends one line (a newline is added). */
  async send(line: string): Promise<void> {
    await this.sendBytes(encoder.encode(line + "\n"));
  }

  /** Sends one JSON object as a line. */
  async sendJson(value: unknown): Promise<void> {
    await this.send(JSON.stringify(value));
  }

  /** Sends raw bytes, all of them. */
  async sendBytes(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.conn.write(bytes.subarray(offset));
    }
  }

  /**
   * Lines from here up to a ping's answer: a barrier proving the server has
   * handled everything sent before it, so a test can assert what did *not*
   * arrive without sleeping.
   */
  async linesUntilPong(json = false): Promise<string[]> {
    const start = this.consumed;
    const token = `barrier-${crypto.randomUUID()}`;
    if (json) await this.sendJson({ type: "ping", token });
    else await this.send(`/ping ${token}`);
    await this.expect((line) => line.includes(token));
    return this.received.slice(start, this.consumed - 1);
  }

  /** Closes the socket and waits for the reader to finish. */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
    await this.done;
  }

  /** Closes at the end of a `using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Resolves once the server holds at most `count` connections. */
export async function connectionsDropTo(
  server: ChatServer,
  count: number,
): Promise<void> {
  await within(server.connectionsAtMost(count), `${count} connections left`);
}

/**
 * Registers `nick` with `password` on the server at `port` from a text
 * session, and waits until that session has quit: the nickname is free for
 * the test's own client to identify to.
 */
export async function registerNick(
  port: number,
  nick: string,
  password: string,
): Promise<void> {
  await using owner = await LineClient.text(port, nick);
  await owner.send(`/register ${password}`);
  await owner.expect(/now registered to you/);
  await owner.send("/quit");
  await owner.closed();
}

/** A session on a hub with no socket, and what it was sent. */
export interface RecordingSession {
  session: Session;
  /** Every event written to it, decoded, in order. */
  events: ServerEvent[];
}

/**
 * A session on `hub` from `address` whose socket decodes what it is sent as
 * JSON lines into `events`: for tests that drive the hub's commands without
 * sockets. Not logged in; its first JSON request picks the codec.
 */
export function recordingSession(
  hub: Hub,
  address = "127.0.0.1",
): RecordingSession {
  const events: ServerEvent[] = [];
  const decoder = new TextDecoder();
  const session = new Session({
    socket: {
      write: (bytes) => {
        for (const line of decoder.decode(bytes).split("\n")) {
          const event = line === "" ? null : decodeJsonEvent(line);
          if (event !== null) events.push(event);
        }
        return Promise.resolve(bytes.length);
      },
      close: () => {},
    },
    address,
    limits: hub.limits,
    onSendFailure: hub.sendFailed,
    passwordRequired: hub.passwordRequired,
  });
  hub.sessions.add(session);
  return { session, events };
}
