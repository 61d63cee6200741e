/**
 * The TLS listener, built on `node:tls` rather than `Deno.listenTls`.
 *
 * Why: a `Deno.TlsConn` closed before its handshake finishes keeps its TCP
 * socket open until the handshake completes (the runtime finishes the
 * handshake before shutting down), so a peer that connects and stays silent
 * pins a file descriptor indefinitely, past any limit the server keeps.
 * `node:tls` exposes the raw socket, which can be destroyed at once. This
 * module enforces the handshake deadline on that raw socket (the runtime's
 * own `handshakeTimeout` reports but does not close) and adapts each secured
 * socket to the small part of `Deno.Conn` the server reads and writes.
 *
 * @module
 */

import type { Socket } from "node:net";
import { normalizeAddress } from "../ban_list.ts";
import tls from "node:tls";

/** What the server needs from an accepted connection, TCP or TLS. */
export interface ChatConnection {
  /** The peer's address, for logs, bans and per-address limits. */
  readonly remoteAddr: { hostname: string };
  /** Like `Deno.Conn.read`: bytes read, or null at the end of the stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Like `Deno.Conn.write`: resolves once the bytes are handed on. */
  write(bytes: Uint8Array): Promise<number>;
  /** Closes at once; a read that waits then ends. */
  close(): void;
}

/** Where and how to listen. */
export interface TlsListenerOptions {
  /** The address to bind. */
  hostname: string;
  /** The port to bind; 0 takes a free one. */
  port: number;
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
  /** Time a peer has to complete the handshake before it is dropped. */
  handshakeTimeoutMs: number;
  /** Handshakes in progress at once; more connections are dropped. */
  maxPendingHandshakes: number;
  /**
   * Connections one address may hold, counting its handshakes in progress
   * and its open connections (`openFrom`); more are dropped at once. 0: no
   * limit. Without it one address could hold `maxPendingHandshakes` silent
   * sockets, filling the server before any reached the server's own cap.
   */
  maxPerAddress?: number;
  /**
   * What the per-address cap counts an address as (the server's
   * `--ipv6-prefix`: an IPv6 /64 is one). @default {the address itself}
   */
  keyOf?: (address: string) => string;
  /** Connections already open from an address key (the server's count). */
  openFrom?: (key: string) => number;
  /**
   * Whether a new connection from `address` (normalized) may begin its
   * handshake; false drops it at once, before the handshake's costly
   * signature. Asked after the caps above. @default {every connection}
   */
  admit?: (address: string) => boolean;
  /**
   * Silence after which TCP keepalive probes start, so a peer that vanished
   * is found in minutes rather than the system's two hours. 0: the system's
   * setting. (`node:net` takes this per socket; `Deno.TcpConn` cannot.)
   */
  keepaliveIdleMs?: number;
  /** Told about failed handshakes, for the log. */
  onHandshakeError?: (address: string, message: string) => void;
}

/**
 * Received bytes held before the socket is paused (flow control). A
 * constant: the framer's --max-line bounds what a line may hold; this only
 * sizes the read-ahead.
 */
const READ_HIGH_WATER = 64 * 1024;

/**
 * Received bytes held, unread by the server, past which a connection whose
 * reads cannot be stopped (see {@linkcode ReadSwitch}) is dropped: the
 * server would otherwise hold whatever a flooder sends while flood control
 * waits.
 */
export const MAX_UNREAD_INPUT = 16 * READ_HIGH_WATER;

/**
 * What really stops a TLS socket's reads. `pause()` does not, in Deno's
 * node:tls: the TLS layer keeps reading the TCP socket and holds what it
 * decrypts, so a peer that flood control has stopped reading could make the
 * server hold gigabytes. The runtime's TCP handle under the TLS one does
 * stop (and start) reading the socket, so the kernel's buffers fill and the
 * peer waits, as on a plain connection.
 */
export interface ReadSwitch {
  /** Stops reading the socket: the kernel's buffers fill and the peer waits. */
  readStop(): unknown;
  /** Reads the socket again once the server wants input. */
  readStart(): unknown;
}

/** The TCP handle under `socket`, where the runtime offers it; else null. */
function tcpReadSwitch(socket: tls.TLSSocket): ReadSwitch | null {
  const handle = (socket as unknown as {
    _handle?: { _nativeTcpHandle?: Partial<ReadSwitch> };
  })._handle?._nativeTcpHandle;
  return typeof handle?.readStop === "function" &&
      typeof handle.readStart === "function"
    ? handle as ReadSwitch
    : null;
}

/**
 * A secured socket as a {@linkcode ChatConnection}. Exported for tests,
 * which drive it with a stand-in socket and read switch.
 */
export class NodeTlsConnection implements ChatConnection {
  /** The peer's address, for logs, bans and per-address limits. */
  readonly remoteAddr: { hostname: string };
  #socket: tls.TLSSocket;
  #reads: ReadSwitch | null;
  #chunks: Uint8Array[] = [];
  #bufferedBytes = 0;
  #paused = false;
  #ended = false;
  #failure: string | null = null;
  #closed = false;
  #wake: (() => void) | null = null;

  /**
   * Starts taking the socket's data at once, so none is lost before the first
   * read.
   * @param socket the secured socket
   * @param reads what stops its reads; null where the runtime offers
   *   nothing that does: then reading goes on and a connection holding more
   *   than {@linkcode MAX_UNREAD_INPUT} unread is dropped instead
   */
  constructor(
    socket: tls.TLSSocket,
    reads: ReadSwitch | null = tcpReadSwitch(socket),
  ) {
    this.#socket = socket;
    this.#reads = reads;
    this.remoteAddr = { hostname: socket.remoteAddress ?? "unknown" };
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#bufferedBytes += chunk.length;
      if (this.#bufferedBytes > READ_HIGH_WATER) this.#pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (error: Error) => {
      this.#failure = error.message;
      this.#notify();
    });
  }

  #pause(): void {
    if (this.#reads === null) {
      if (this.#bufferedBytes <= MAX_UNREAD_INPUT) return;
      this.#failure = "input kept coming while the server was not reading";
      this.#chunks = [];
      this.#bufferedBytes = 0;
      this.#socket.destroy();
      return;
    }
    if (this.#paused) return;
    this.#paused = true;
    this.#socket.pause();
    this.#reads.readStop();
  }

  #resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#socket.resume();
    this.#reads?.readStart();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (true) {
      if (this.#closed) throw new Deno.errors.BadResource("Connection closed");
      const chunk = this.#chunks[0];
      if (chunk !== undefined) {
        const count = Math.min(chunk.length, buffer.length);
        buffer.set(chunk.subarray(0, count));
        if (count === chunk.length) this.#chunks.shift();
        else this.#chunks[0] = chunk.subarray(count);
        this.#bufferedBytes -= count;
        if (this.#bufferedBytes <= READ_HIGH_WATER / 2) this.#resume();
        return count;
      }
      if (this.#failure !== null) {
        throw new Deno.errors.ConnectionReset(this.#failure);
      }
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }

  write(bytes: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.#closed || this.#socket.destroyed) {
        reject(new Deno.errors.BrokenPipe("Connection closed"));
        return;
      }
      this.#socket.write(bytes, (error?: Error | null) => {
        if (error) reject(new Deno.errors.BrokenPipe(error.message));
        else resolve(bytes.length);
      });
    });
  }

  /** Ends the sending side (TLS close_notify, then FIN); reads go on. */
  closeWrite(): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new Deno.errors.BadResource("Connection closed"));
    }
    return new Promise((resolve) => this.#socket.end(() => resolve()));
  }

  /** Drops the connection at once (no close_notify) and ends a waiting read. */
  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("Already closed");
    this.#closed = true;
    this.#socket.destroy();
    this.#notify();
  }
}

/**
 * The peer of a TLS socket. One that failed its handshake no longer knows
 * its own address; the raw socket under it (`_parent`, in Node and Deno's
 * node:tls) still does.
 */
function peerOf(
  socket: tls.TLSSocket,
): { address: string | undefined; port: number | undefined } {
  const raw = (socket as unknown as { _parent?: Socket })._parent;
  return {
    address: socket.remoteAddress ?? raw?.remoteAddress,
    port: socket.remotePort ?? raw?.remotePort,
  };
}

/** A TLS listener whose accepted connections are already secured. */
export class TlsListener {
  #server: tls.Server;
  #options: TlsListenerOptions;
  /** Raw sockets still in their handshake, by "address port". */
  #handshaking = new Map<string, Socket>();
  /** Handshakes in progress per address key (normalized). */
  #pendingFrom = new Map<string, number>();
  /** Takes a handshake off its address's count, by "address port". */
  #uncount = new Map<string, () => void>();
  #ready: ChatConnection[] = [];
  #waiting: Array<{
    resolve: (conn: ChatConnection) => void;
    reject: (error: Error) => void;
  }> = [];
  #closed = false;
  #addr: Deno.NetAddr | null = null;

  private constructor(options: TlsListenerOptions) {
    this.#options = options;
    this.#server = tls.createServer({ cert: options.cert, key: options.key });
    this.#server.on("connection", (raw: Socket) => this.#onConnection(raw));
    this.#server.on("secureConnection", (socket: tls.TLSSocket) => {
      const key = `${socket.remoteAddress} ${socket.remotePort}`;
      this.#handshaking.delete(key);
      this.#uncount.get(key)?.();
      this.#uncount.delete(key);
      this.#deliver(new NodeTlsConnection(socket));
    });
    this.#server.on(
      "tlsClientError",
      (error: Error, socket: tls.TLSSocket) => {
        const peer = peerOf(socket);
        options.onHandshakeError?.(peer.address ?? "unknown", error.message);
        this.#drop(`${peer.address} ${peer.port}`);
        socket.destroy();
      },
    );
    this.#server.on("error", () => {
      // Listener errors surface through accept() rejecting after close.
    });
  }

  /**
   * Binds and starts listening.
   * @throws the bind error (address in use, permission) as Deno would
   */
  static async open(options: TlsListenerOptions): Promise<TlsListener> {
    const listener = new TlsListener(options);
    await new Promise<void>((resolve, reject) => {
      listener.#server.once("error", reject);
      listener.#server.listen(options.port, options.hostname, () => {
        listener.#server.off("error", reject);
        resolve();
      });
    });
    const address = listener.#server.address();
    if (address === null || typeof address === "string") {
      throw new Error("TLS listener has no address");
    }
    listener.#addr = {
      transport: "tcp",
      hostname: address.address,
      port: address.port,
    };
    return listener;
  }

  /** The bound address. */
  get addr(): Deno.NetAddr {
    return this.#addr!;
  }

  #onConnection(raw: Socket): void {
    raw.on("error", () => {
      // Reported through tlsClientError or the connection's own handler.
    });
    raw.setKeepAlive(true, this.#options.keepaliveIdleMs ?? 0);
    const normalized = normalizeAddress(raw.remoteAddress ?? "unknown");
    const address = this.#options.keyOf?.(normalized) ?? normalized;
    const pending = this.#pendingFrom.get(address) ?? 0;
    const perAddress = this.#options.maxPerAddress ?? 0;
    if (
      this.#handshaking.size >= this.#options.maxPendingHandshakes ||
      (perAddress > 0 &&
        pending + (this.#options.openFrom?.(address) ?? 0) >= perAddress) ||
      this.#options.admit?.(normalized) === false
    ) {
      raw.destroy();
      return;
    }
    this.#pendingFrom.set(address, pending + 1);
    let counted = true;
    const uncount = () => {
      if (!counted) return;
      counted = false;
      const left = (this.#pendingFrom.get(address) ?? 1) - 1;
      if (left <= 0) this.#pendingFrom.delete(address);
      else this.#pendingFrom.set(address, left);
    };
    const key = `${raw.remoteAddress} ${raw.remotePort}`;
    this.#handshaking.set(key, raw);
    // Counted until the handshake ends either way: the server counts the
    // connection from then on.
    this.#uncount.set(key, uncount);
    const deadline = setTimeout(() => {
      if (this.#handshaking.get(key) === raw) this.#drop(key);
    }, this.#options.handshakeTimeoutMs);
    raw.once("close", () => {
      clearTimeout(deadline);
      uncount();
      if (this.#uncount.get(key) === uncount) this.#uncount.delete(key);
      if (this.#handshaking.get(key) === raw) this.#handshaking.delete(key);
    });
  }

  #drop(key: string): void {
    const raw = this.#handshaking.get(key);
    this.#handshaking.delete(key);
    raw?.destroy();
  }

  #deliver(conn: ChatConnection): void {
    const waiter = this.#waiting.shift();
    if (waiter !== undefined) waiter.resolve(conn);
    else this.#ready.push(conn);
  }

  /** The next secured connection; rejects once the listener is closed. */
  accept(): Promise<ChatConnection> {
    const ready = this.#ready.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.#closed) {
      return Promise.reject(new Deno.errors.BadResource("Listener closed"));
    }
    return new Promise((resolve, reject) =>
      this.#waiting.push({ resolve, reject })
    );
  }

  /** Stops listening and drops every connection still in its handshake. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    for (const key of [...this.#handshaking.keys()]) this.#drop(key);
    for (const conn of this.#ready.splice(0)) conn.close();
    for (const waiter of this.#waiting.splice(0)) {
      waiter.reject(new Deno.errors.BadResource("Listener closed"));
    }
  }
}
