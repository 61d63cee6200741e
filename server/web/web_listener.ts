/**
 * The HTTP side of the server: a TCP (or TLS) listener that reads one
 * request per connection, serves the web client's files from memory, and
 * upgrades `/ws` to a WebSocket whose raw connection it hands to the chat.
 * Every decision about a request is made by http_rules.ts and http_head.ts;
 * this module only applies it.
 *
 * Why not `Deno.serve` with `Deno.upgradeWebSocket`: the runtime's
 * WebSocket costs a task and a system call per frame sent, and a broadcast
 * sends one frame per event per member. Framing ourselves (ws_frames.ts)
 * lets everything queued for a peer in one turn leave in one write, as on
 * TCP; BENCHMARKS.md has the measurements.
 *
 * @module
 */

import { type Asset, routeRequest, securityHeaders } from "./http_rules.ts";
import {
  handshakeProblem,
  type HeadEnd,
  headEnd,
  MAX_HEAD_BYTES,
  parseRequestHead,
  type RequestHead,
  responseHead,
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
  hostname: string;
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
  /** Told of a handshake refused for its origin, for the log. */
  onRefused?: (address: string, status: number, path: string) => void;
  /** Time a peer gets to send its whole request head. @default {HEAD_TIMEOUT_MS} */
  headTimeoutMs?: number;
  /** Longest request head accepted. @default {MAX_HEAD_BYTES} */
  maxHeadBytes?: number;
  /**
   * Asked for each connection as it is accepted, before anything is read:
   * the text of a refusal (the server is full, the address has too many
   * connections or is banned), answered with 503, or a function to call
   * once the connection leaves its request, handed on or closed. So
   * connections still in their request count against the same caps as
   * chat connections. @default every connection admitted
   */
  admit?: (address: string) => { refused: string } | { release: () => void };
}

/**
 * Time a connection gets, after its response, for the peer to close first
 * while what it sent unasked is read and dropped: closing with unread bytes
 * would reset the connection and could lose the response on the way.
 */
const LINGER_MS = 1000;

/** Most unread bytes dropped while lingering before the close. */
const LINGER_BYTES = 64 * 1024;

/**
 * Time a connection gets to send its request head and take the answer
 * (`headTimeoutMs`' default): a browser sends its head at once, so a peer
 * still silent after this is holding a descriptor for nothing.
 */
export const HEAD_TIMEOUT_MS = 10_000;

/** Bytes per read while a request head arrives. */
const READ_BYTES = 4096;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A running web listener. */
export class WebListener {
  readonly addr: Deno.NetAddr;
  readonly tls: boolean;
  readonly #listener: Deno.Listener | WebAcceptor;
  readonly #options: WebListenerOptions;
  readonly #headers: Record<string, string>;
  /** Connections still in their one request (not handed to the chat). */
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
    const listen = { hostname: options.hostname, port: options.port };
    this.#listener = options.tls ?? Deno.listen(listen);
    this.addr = this.#listener.addr as Deno.NetAddr;
    this.#acceptLoop = this.#accept();
  }

  /** The URL a browser opens. */
  url(host: string): string {
    return `${this.tls ? "https" : "http"}://${host}:${this.addr.port}/`;
  }

  /** Refuses further upgrades (503), while the chat says goodbye. */
  stopAccepting(): void {
    this.#accepting = false;
  }

  /** Stops listening and closes every connection still in its request. */
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
        await this.#reply(conn, 503, admission.refused);
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
    await this.#handle(conn);
  }

  /**
   * One connection's request, all of it (head, answer, handshake) within
   * the head deadline: a peer that neither sends nor reads is closed.
   */
  async #handle(conn: Deno.Conn): Promise<void> {
    const timer = setTimeout(
      () => closeQuietly(conn),
      this.#options.headTimeoutMs ?? HEAD_TIMEOUT_MS,
    );
    try {
      await this.#request(conn);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads the request head, then answers or upgrades. */
  async #request(conn: Deno.Conn): Promise<void> {
    const address = (conn.remoteAddr as Deno.NetAddr).hostname;
    let bytes: Uint8Array = new Uint8Array(0);
    let end: HeadEnd | null = null;
    const buffer = new Uint8Array(READ_BYTES);
    const maxHeadBytes = this.#options.maxHeadBytes ?? MAX_HEAD_BYTES;
    while (end === null && bytes.length <= maxHeadBytes) {
      const count = await conn.read(buffer);
      if (count === null) {
        closeQuietly(conn);
        return;
      }
      bytes = concatBytes([bytes, buffer.subarray(0, count)]);
      if (startsLikeTls(bytes)) {
        await this.#reply(
          conn,
          400,
          this.tls
            ? "Not HTTP: a TLS handshake inside TLS"
            : "This port speaks plain HTTP, not HTTPS: use http://",
        );
        return;
      }
      end = headEnd(bytes);
    }
    if (end === null || end.next > maxHeadBytes) {
      await this.#reply(conn, 431, "Request head too large");
      return;
    }
    const head = parseRequestHead(decoder.decode(bytes.subarray(0, end.text)));
    if ("status" in head) {
      await this.#reply(conn, head.status, head.text);
      return;
    }
    let url: string;
    try {
      if (!head.target.startsWith("/")) throw new Error("not origin-form");
      url = new URL(`${this.tls ? "https" : "http"}://web${head.target}`).href;
    } catch {
      await this.#reply(conn, 400, "Bad request target");
      return;
    }
    const route = routeRequest(
      { method: head.method, url, headers: head.headers },
      this.#options.assets,
      this.#options.allowedOrigins,
    );
    switch (route.kind) {
      case "asset":
        await this.#respond(
          conn,
          200,
          { "content-type": route.asset.contentType },
          route.asset.body,
          route.head,
        );
        return;
      case "refuse":
        if (route.status === 403) {
          this.#options.onRefused?.(address, 403, new URL(url).pathname);
        }
        await this.#reply(conn, route.status, route.text, route.headers);
        return;
      case "upgrade":
        await this.#upgrade(conn, head, bytes.subarray(end.next), address);
        return;
    }
  }

  async #upgrade(
    conn: Deno.Conn,
    head: RequestHead,
    rest: Uint8Array,
    address: string,
  ): Promise<void> {
    if (!this.#accepting) {
      await this.#reply(conn, 503, "The server is shutting down");
      return;
    }
    const problem = handshakeProblem(head);
    if (problem !== null) {
      await this.#reply(conn, problem.status, problem.text, problem.headers);
      return;
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
    this.#open.delete(conn);
    // The chat counts it from here on.
    this.#release.get(conn)?.();
    if (this.#closed) {
      closeQuietly(conn);
      return;
    }
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    this.#options.onWebSocket(conn, rest.slice(), address);
  }

  /** A short plain-text answer, with the headers its status needs. */
  #reply(
    conn: Deno.Conn,
    status: number,
    text: string,
    extra: Record<string, string> = {},
  ): Promise<void> {
    const headers: Record<string, string> = {
      ...extra,
      "content-type": "text/plain; charset=utf-8",
    };
    return this.#respond(
      conn,
      status,
      headers,
      encoder.encode(`${text}\n`),
      false,
    );
  }

  /**
   * Writes a response, then closes the connection once the peer has it.
   * Every response says `Connection: close`, after any option of its own
   * (a 426's `upgrade`).
   */
  async #respond(
    conn: Deno.Conn,
    status: number,
    headers: Record<string, string>,
    body: Uint8Array,
    headOnly: boolean,
  ): Promise<void> {
    const head = encoder.encode(responseHead(status, {
      ...this.#headers,
      ...headers,
      "content-length": String(body.length),
      connection: headers.connection === undefined
        ? "close"
        : `${headers.connection}, close`,
    }));
    await writeAll(conn, headOnly ? head : concatBytes([head, body]));
    await linger(conn);
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
