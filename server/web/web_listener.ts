/**
 * The HTTP side of the server: a TCP (or TLS) listener that serves the web
 * client's files from memory over persistent HTTP/1.1 connections, and
 * upgrades `/ws` to a WebSocket whose raw connection it hands to the chat.
 * Every decision about a request is made by http_rules.ts and http_head.ts;
 * this module only applies it.
 *
 * A connection carries requests one after another, answered in the order
 * they came (pipelined ones too), until the client or the server ends it
 * (RFC 9112 section 9): each request has `headTimeoutMs` from its first
 * byte to its answer sent, the wait for the next one `idleTimeoutMs`, and
 * a connection serves at most `maxRequests`.
 *
 * Why not `Deno.serve` with `Deno.upgradeWebSocket`: the runtime's
 * WebSocket costs a task and a system call per frame sent, and a broadcast
 * sends one frame per event per member. Framing ourselves (ws_frames.ts)
 * lets everything queued for a peer in one turn leave in one write, as on
 * TCP; BENCHMARKS.md has the measurements.
 *
 * @module
 */

import {
  type Asset,
  listensOnLoopback,
  routeRequest,
  securityHeaders,
} from "./http_rules.ts";
import {
  clientKeepsAlive,
  handshakeProblem,
  type HeadEnd,
  headEnd,
  type HeadError,
  leadingBlankLines,
  MAX_HEAD_BYTES,
  parseRequestHead,
  requestBody,
  type RequestHead,
  responseHead,
  startsLikeChat,
  startsLikeTls,
  websocketAccept,
} from "./http_head.ts";
import { writeAll } from "../../wire/write_all.ts";
import { concatBytes } from "../../wire/bytes.ts";

/**
 * A listener of already-secured connections. They are used for `read`,
 * `write`, `closeWrite`, `close` and `remoteAddr` only.
 */
export interface WebAcceptor {
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  /** The next connection; rejects once the listener is closed. */
  accept(): Promise<Deno.Conn>;
  /** Stops listening. */
  close(): void;
}

/** Where and how the web listener runs. */
export interface WebListenerOptions {
  /** The address to bind. */
  hostname: string;
  /** The port to bind; 0 takes a free one. */
  port: number;
  /**
   * HTTPS and WSS instead of HTTP and WS: the TLS listener whose secured
   * connections this serves (net/tls_listener.ts). Not `Deno.listenTls`,
   * whose socket stays open after `close()` until a silent peer finishes
   * a handshake it never starts: a peer could hold descriptors without
   * end, past the head deadline and the per-address cap. The TLS listener
   * drops a handshake at its deadline.
   */
  tls?: WebAcceptor;
  /** The web client's files, by exact path. */
  assets: ReadonlyMap<string, Asset>;
  /** Origins besides the page's own that may open the WebSocket. */
  allowedOrigins: readonly string[];
  /**
   * Given each upgraded connection (the handshake answered), the bytes that
   * followed the request head, and the peer's address. The chat owns the
   * connection from then on.
   */
  onWebSocket: (conn: Deno.Conn, rest: Uint8Array, address: string) => void;
  /**
   * The chat's plain TCP port, named to someone who types a nickname at
   * this port with nc or telnet. Absent: the answer names none.
   */
  chatPort?: number;
  /** Told of a handshake refused for its origin, for the log. */
  onRefused?: (address: string, status: number, path: string) => void;
  /**
   * Time a request gets from its first byte (a connection's first request:
   * from the accept) until its answer is sent. @default {HEAD_TIMEOUT_MS}
   */
  headTimeoutMs?: number;
  /**
   * Time a connection may wait, answered, for its next request before it is
   * closed; 0 closes it after every answer. @default {IDLE_TIMEOUT_MS}
   */
  idleTimeoutMs?: number;
  /**
   * Requests one connection serves; the last answer says
   * `Connection: close`. @default {MAX_REQUESTS}
   */
  maxRequests?: number;
  /** Longest request head accepted. @default {MAX_HEAD_BYTES} */
  maxHeadBytes?: number;
  /**
   * Asked for each connection as it is accepted, before anything is read:
   * the text of a refusal (the server is full, the address has too many
   * connections or is banned), answered with 503 or the refusal's own
   * status and headers (429 and `retry-after` for an address opening
   * connections too fast), or a function to call once the connection
   * leaves HTTP, handed on or closed. So connections still in HTTP (in a
   * request, or idle between two) count against the same caps as chat
   * connections. @default every connection admitted
   */
  admit?: (address: string) => WebRefusal | { release: () => void };
}

/** A connection refused at accept, before its request is read. */
export interface WebRefusal {
  /** Why, in words: the answer's body. */
  refused: string;
  /** The answer's status. @default {503} */
  status?: number;
  /** Headers the answer adds, such as `retry-after`. */
  headers?: Record<string, string>;
}

/**
 * Time a connection gets, after its last response, for the peer to close
 * first while what it sent unasked is read and dropped: closing with unread
 * bytes would reset the connection and could lose the response on the way.
 */
const LINGER_MS = 1000;

/** Most unread bytes dropped while lingering before the close. */
const LINGER_BYTES = 64 * 1024;

/**
 * Time a request gets from its first byte to its answer sent
 * (`headTimeoutMs`' default): a browser sends its head at once, so a peer
 * still sending after this is holding a descriptor for nothing.
 */
export const HEAD_TIMEOUT_MS = 10_000;

/**
 * Time an answered connection waits for its next request
 * (`idleTimeoutMs`' default): Apache's and Node's 5 s. A page load asks
 * for its files within milliseconds of each other; a browser that comes
 * back later opens a new connection at the cost of one round trip.
 */
export const IDLE_TIMEOUT_MS = 5_000;

/** Requests one connection serves (`maxRequests`' default), as in Apache. */
export const MAX_REQUESTS = 100;

/**
 * Longest request body skipped to keep the connection: no route takes a
 * body, so one is refused, and a longer one is not read at all (the
 * connection closes after the refusal instead).
 */
const MAX_SKIPPED_BODY = 64 * 1024;

/** Bytes per read while a request arrives. */
const READ_BYTES = 4096;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What a request's exchange leaves of its connection. */
type Outcome = "next" | "closed";

/**
 * One HTTP connection's input and its one deadline. When the deadline
 * passes the connection is closed, which ends any read or write waiting on
 * it; a request of which some bytes had come is first told 408.
 */
class HttpConnection {
  readonly conn: Deno.Conn;
  readonly address: string;
  /** Bytes received and not yet taken by a request. */
  input: Uint8Array = new Uint8Array(0);
  /** The 408 being sent after the deadline passed mid-request. */
  timedOut: Promise<void> | null = null;
  /** Whether some of the current request has arrived: a timeout says 408. */
  #begun = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #buffer = new Uint8Array(READ_BYTES);
  readonly #onTimeout: (conn: Deno.Conn) => Promise<void>;

  constructor(conn: Deno.Conn, onTimeout: (conn: Deno.Conn) => Promise<void>) {
    this.conn = conn;
    this.address = (conn.remoteAddr as Deno.NetAddr).hostname;
    this.#onTimeout = onTimeout;
  }

  /** Starts a request's deadline: it has `ms` to arrive and be answered. */
  request(ms: number): void {
    this.#begun = this.input.length > 0;
    this.#arm(ms);
  }

  /**
   * The request is read and its answer is being written: past the deadline
   * now, the peer is not reading, and there is nobody to tell.
   */
  answering(): void {
    this.#begun = false;
  }

  /** Starts the wait between requests: silence past it closes quietly. */
  idle(ms: number): void {
    this.#begun = false;
    this.#arm(ms);
  }

  disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Closes the connection, unless the 408 after a timeout is doing so. */
  end(): void {
    if (this.timedOut === null) closeQuietly(this.conn);
  }

  #arm(ms: number): void {
    this.disarm();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#begun) this.timedOut = this.#onTimeout(this.conn);
      else closeQuietly(this.conn);
    }, ms);
  }

  /**
   * Reads once more onto the input; false at the peer's end, or once the
   * deadline has passed (what came is dropped: the 408 is on its way).
   */
  async fill(): Promise<boolean> {
    let count: number | null;
    try {
      count = await this.conn.read(this.#buffer);
    } catch {
      return false;
    }
    if (count === null || this.timedOut !== null) return false;
    this.#begun = true;
    this.input = this.input.length === 0
      ? this.#buffer.slice(0, count)
      : concatBytes([this.input, this.#buffer.subarray(0, count)]);
    return true;
  }

  /** Takes `count` bytes off the input, reading as needed; false at the end. */
  async skip(count: number): Promise<boolean> {
    let left = count;
    for (;;) {
      const taken = Math.min(left, this.input.length);
      this.input = this.input.subarray(taken);
      left -= taken;
      if (left === 0) return true;
      if (!(await this.fill())) return false;
    }
  }
}

/** A running web listener. */
export class WebListener {
  /** Where it listens, with the port actually bound. */
  readonly addr: Deno.NetAddr;
  /** Whether it serves HTTPS, for the URL it announces. */
  readonly tls: boolean;
  readonly #listener: Deno.Listener | WebAcceptor;
  readonly #options: WebListenerOptions;
  readonly #headers: Record<string, string>;
  readonly #headTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  readonly #maxRequests: number;
  /** On loopback: only local names and IP addresses are served. */
  readonly #loopbackOnly: boolean;
  /** Connections still in HTTP (not handed to the chat). */
  readonly #open = new Set<Deno.Conn>();
  /** What lets go of each open connection's place under the caps. */
  readonly #release = new Map<Deno.Conn, () => void>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #acceptLoop: Promise<void>;
  #accepting = true;
  #closed = false;

  /**
   * Binds and starts serving.
   * @throws Deno.errors.AddrInUse and the like when the port cannot be bound
   */
  constructor(options: WebListenerOptions) {
    this.#options = options;
    this.tls = options.tls !== undefined;
    this.#headers = securityHeaders(this.tls);
    this.#headTimeoutMs = options.headTimeoutMs ?? HEAD_TIMEOUT_MS;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
    this.#maxRequests = options.maxRequests ?? MAX_REQUESTS;
    this.#loopbackOnly = listensOnLoopback(options.hostname);
    const listen = { hostname: options.hostname, port: options.port };
    this.#listener = options.tls ?? Deno.listen(listen);
    this.addr = this.#listener.addr as Deno.NetAddr;
    this.#acceptLoop = this.#accept();
  }

  /** The URL a browser opens. */
  url(host: string): string {
    return `${this.tls ? "https" : "http"}://${host}:${this.addr.port}/`;
  }

  /**
   * Refuses further upgrades (503), while the chat says goodbye; every
   * answer from now on closes its connection.
   */
  stopAccepting(): void {
    this.#accepting = false;
  }

  /** Stops listening and closes every connection still in HTTP. */
  async shutdown(): Promise<void> {
    this.#accepting = false;
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#listener.close();
      } catch {
        // Already closed.
      }
    }
    for (const conn of this.#open) closeQuietly(conn);
    await this.#acceptLoop;
    await Promise.all(this.#tasks);
  }

  async #accept(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch {
        // Closed by shutdown, or a transient failure (out of descriptors):
        // stop when closed, else take a breath before the next accept.
        if (this.#closed) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      this.#open.add(conn);
      const task = this.#admitted(conn)
        .catch(() => closeQuietly(conn))
        .finally(() => {
          this.#open.delete(conn);
          this.#release.get(conn)?.();
          this.#tasks.delete(task);
        });
      this.#tasks.add(task);
    }
  }

  /** Counts the connection against the server's caps, then serves it. */
  async #admitted(conn: Deno.Conn): Promise<void> {
    const address = (conn.remoteAddr as Deno.NetAddr).hostname;
    const admission = this.#options.admit?.(address) ?? { release: () => {} };
    if ("refused" in admission) {
      const timer = setTimeout(() => closeQuietly(conn), LINGER_MS);
      try {
        await this.#reply(
          conn,
          null,
          admission.status ?? 503,
          admission.refused,
          admission.headers ?? {},
          true,
        );
      } finally {
        clearTimeout(timer);
      }
      return;
    }
    let released = false;
    this.#release.set(conn, () => {
      if (released) return;
      released = true;
      this.#release.delete(conn);
      admission.release();
    });
    const http = new HttpConnection(conn, (conn) => this.#timedOut(conn));
    try {
      await this.#serve(http);
    } finally {
      http.disarm();
      await http.timedOut;
    }
  }

  /**
   * A connection's requests, one after another: the first within the head
   * deadline from the accept (a peer that connects and says nothing is
   * closed then), each next one within the idle timeout of the answer
   * before, and each within the head deadline from its first byte.
   */
  async #serve(http: HttpConnection): Promise<void> {
    for (let served = 0; served < this.#maxRequests; served++) {
      if (served > 0 && http.input.length === 0) {
        http.idle(this.#idleTimeoutMs);
        if (!(await http.fill())) {
          http.end();
          return;
        }
      }
      http.request(this.#headTimeoutMs);
      const last = served + 1 === this.#maxRequests ||
        this.#idleTimeoutMs === 0;
      if (await this.#exchange(http, last, served === 0) === "closed") return;
    }
    http.end();
  }

  /**
   * Reads one request (its head, and a body it has, skipped), then answers
   * or upgrades. `last`: the connection closes after this answer whatever
   * the client wants. `first`: the connection's first request, the one a
   * chat line typed at the wrong port would be (later ones come from a
   * client that has spoken HTTP, and a bad one is a 400).
   */
  async #exchange(
    http: HttpConnection,
    last: boolean,
    first: boolean,
  ): Promise<Outcome> {
    const { conn, address } = http;
    const maxHeadBytes = this.#options.maxHeadBytes ?? MAX_HEAD_BYTES;
    /** Answers a request that cannot be served, then closes. */
    const refuse = async (
      request: RequestHead | null,
      error: HeadError,
    ): Promise<Outcome> => {
      http.answering();
      await this.#reply(conn, request, error.status, error.text, error.headers);
      return "closed";
    };
    let end: HeadEnd | null;
    for (;;) {
      const blank = leadingBlankLines(http.input);
      if (blank > 0) http.input = http.input.subarray(blank);
      if (startsLikeTls(http.input)) {
        return await refuse(null, {
          status: 400,
          text: this.tls
            ? "Not HTTP: a TLS handshake inside TLS"
            : "This port speaks plain HTTP, not HTTPS: use http://",
        });
      }
      if (first && startsLikeChat(http.input)) return await this.#notHttp(http);
      end = headEnd(http.input);
      if (end !== null || http.input.length > maxHeadBytes) break;
      if (!(await http.fill())) {
        http.end();
        return "closed";
      }
    }
    if (end === null || end.next > maxHeadBytes) {
      return await refuse(null, {
        status: 431,
        text: "Request head too large",
      });
    }
    const text = decoder.decode(http.input.subarray(0, end.text));
    http.input = http.input.slice(end.next);
    const head = parseRequestHead(text);
    if ("status" in head) return await refuse(null, head);
    const body = requestBody(head);
    if ("status" in body) return await refuse(head, body);
    let url: string;
    try {
      if (!head.target.startsWith("/")) throw new Error("not origin-form");
      url = new URL(`${this.tls ? "https" : "http"}://web${head.target}`).href;
    } catch {
      return await refuse(head, { status: 400, text: "Bad request target" });
    }
    let close = last || !this.#accepting || !clientKeepsAlive(head);
    // No route takes a body: a short one is skipped so the next request is
    // read from where it starts; another closes the connection after the
    // refusal (and one the client waits to send on 100-continue is not
    // asked for).
    if ("chunked" in body) close = true;
    else if (body.length > 0) {
      if (
        body.length > MAX_SKIPPED_BODY ||
        head.headers.get("expect")?.toLowerCase() === "100-continue"
      ) {
        close = true;
      } else if (!(await http.skip(body.length))) {
        http.end();
        return "closed";
      }
    }
    http.answering();
    const route = routeRequest(
      { method: head.method, url, headers: head.headers },
      this.#options.assets,
      this.#options.allowedOrigins,
      this.#loopbackOnly,
    );
    switch (route.kind) {
      case "asset":
        await this.#respond(
          conn,
          head,
          200,
          { "content-type": route.asset.contentType },
          route.asset.body,
          close,
        );
        return close ? "closed" : "next";
      case "refuse":
        if (route.status === 403) {
          this.#options.onRefused?.(address, 403, new URL(url).pathname);
        }
        await this.#reply(
          conn,
          head,
          route.status,
          route.text,
          route.headers,
          close,
        );
        return close ? "closed" : "next";
      case "upgrade":
        return await this.#upgrade(http, head);
    }
  }

  /**
   * Answers a first line that is no HTTP request (chat typed at the wrong
   * port) at once, in a 400 whose text is what a person needs: the page's
   * address and the chat's port. Still HTTP, for the terminal client tells
   * this port apart by its answer's first bytes.
   */
  async #notHttp(http: HttpConnection): Promise<Outcome> {
    http.answering();
    const local = http.conn.localAddr as Deno.NetAddr;
    const host = local.hostname.includes(":")
      ? `[${local.hostname}]`
      : local.hostname;
    const chat = this.#options.chatPort === undefined
      ? ""
      : `; to chat with nc or telnet, connect to port ${this.#options.chatPort}`;
    await this.#reply(
      http.conn,
      null,
      400,
      `This is tern's web port, which speaks HTTP: open ${
        this.tls ? "https" : "http"
      }://${host}:${this.addr.port}/ in a browser${chat}`,
    );
    return "closed";
  }

  async #upgrade(http: HttpConnection, head: RequestHead): Promise<Outcome> {
    const { conn, address } = http;
    if (!this.#accepting) {
      await this.#reply(conn, head, 503, "The server is shutting down");
      return "closed";
    }
    const problem = handshakeProblem(head);
    if (problem !== null) {
      await this.#reply(
        conn,
        head,
        problem.status,
        problem.text,
        problem.headers,
      );
      return "closed";
    }
    const accept = await websocketAccept(
      head.headers.get("sec-websocket-key")!,
    );
    await writeAll(
      conn,
      encoder.encode(responseHead(101, {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-accept": accept,
      })),
    );
    http.disarm();
    this.#open.delete(conn);
    // The chat counts it from here on.
    this.#release.get(conn)?.();
    if (this.#closed) {
      closeQuietly(conn);
      return "closed";
    }
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    this.#options.onWebSocket(conn, http.input.slice(), address);
    return "closed";
  }

  /**
   * A request that did not arrive whole in time: told 408 and closed, the
   * answer given at most {@linkcode LINGER_MS} to leave.
   */
  async #timedOut(conn: Deno.Conn): Promise<void> {
    const timer = setTimeout(() => closeQuietly(conn), LINGER_MS);
    try {
      await this.#reply(
        conn,
        null,
        408,
        "The request did not arrive in time",
        {},
        true,
      );
    } catch {
      // Closed by the timer or the peer.
    } finally {
      clearTimeout(timer);
      closeQuietly(conn);
    }
  }

  /**
   * A short plain-text answer, with the headers its status needs. Closes
   * the connection after it unless `close` is false.
   */
  #reply(
    conn: Deno.Conn,
    request: RequestHead | null,
    status: number,
    text: string,
    extra: Record<string, string> = {},
    close = true,
  ): Promise<void> {
    const headers: Record<string, string> = {
      ...extra,
      "content-type": "text/plain; charset=utf-8",
    };
    return this.#respond(
      conn,
      request,
      status,
      headers,
      encoder.encode(`${text}\n`),
      close,
    );
  }

  /**
   * Writes a response (its head alone to a HEAD request), then either
   * closes the connection once the peer has it, saying `Connection: close`,
   * or keeps it for the next request, saying how long and for how many
   * more it stays open. Either token goes after any option of the
   * response's own (a 426's `upgrade`).
   */
  async #respond(
    conn: Deno.Conn,
    request: RequestHead | null,
    status: number,
    headers: Record<string, string>,
    body: Uint8Array,
    close: boolean,
  ): Promise<void> {
    const token = close ? "close" : "keep-alive";
    const head = encoder.encode(responseHead(status, {
      date: new Date().toUTCString(),
      ...this.#headers,
      ...headers,
      "content-length": String(body.length),
      connection: headers.connection === undefined
        ? token
        : `${headers.connection}, ${token}`,
      ...(close ? {} : {
        "keep-alive": `timeout=${Math.floor(this.#idleTimeoutMs / 1000)}`,
      }),
    }));
    const headOnly = request?.method === "HEAD";
    await writeAll(conn, headOnly ? head : concatBytes([head, body]));
    if (close) await linger(conn);
  }
}

/**
 * Half-closes, then reads and drops what the peer still sends until it
 * closes, {@linkcode LINGER_BYTES} or {@linkcode LINGER_MS}; then closes.
 */
async function linger(conn: Deno.Conn): Promise<void> {
  const timer = setTimeout(() => closeQuietly(conn), LINGER_MS);
  try {
    await conn.closeWrite();
    const buffer = new Uint8Array(READ_BYTES);
    let dropped = 0;
    while (dropped < LINGER_BYTES) {
      const count = await conn.read(buffer);
      if (count === null) break;
      dropped += count;
    }
  } catch {
    // Closed by the timer or the peer: either way, done.
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
