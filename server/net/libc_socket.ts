/**
 * The C library's socket calls that Deno does not offer, for plain TCP
 * connections on Linux: a write made at once, and keepalive timing.
 *
 * **Writes made at once.** A big room's message costs one write per member.
 * Through `conn.write` each write is an asynchronous operation of Deno's
 * runtime: a promise, a pass through its event loop, and a few microseconds
 * of its own on top of the kernel's (BENCHMARKS.md, "Direct writes"). A
 * plain TCP socket the kernel has room in takes the bytes at once anyway,
 * so the server hands them over itself, with one `send(2)` called through
 * Deno's foreign function interface, and falls back to `conn.write` only
 * for what the kernel would not take (a reader that is behind): that write
 * then waits for the socket as before, and the send queue keeps judging the
 * reader.
 *
 * **Keepalive timing.** Deno turns TCP keepalive on but leaves its timing
 * to the system (two hours of silence on Linux), so a peer that vanished
 * without closing (a laptop shut, a NAT that forgot it) would hold its
 * nickname for hours; TLS connections get `--keepalive-idle` through
 * Node's API, and plain ones get it here.
 *
 * Used only where it is known to be right: on Linux, with `--allow-ffi`
 * granted, for plain TCP connections (TLS encrypts in the runtime, and a
 * WebSocket frames its bytes), and only once the socket's descriptor is
 * checked to be the connection's own (its two ports match). Anywhere else
 * every write is Deno's and keepalive keeps the system's timing.
 *
 * @module
 */

import type { ByteWriter } from "../../wire/write_all.ts";

/** `send` flag: a closed peer is an error returned, not a SIGPIPE. */
const MSG_NOSIGNAL = 0x4000;
/** Room for a `sockaddr_in6`, the larger of the two address families. */
const SOCKADDR_BYTES = 28;

/** `setsockopt` levels and options (Linux). */
const IPPROTO_TCP = 6;
const TCP_KEEPIDLE = 4;
const TCP_KEEPINTVL = 5;
const TCP_KEEPCNT = 6;
/**
 * Once keepalive probes start: seconds between them, and how many go
 * unanswered before the connection is reset.
 */
const KEEPALIVE_INTERVAL_S = 10;
const KEEPALIVE_PROBES = 6;

const SYMBOLS = {
  send: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  setsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "u32"],
    result: "i32",
  },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>;

/** A socket the send queue can write to at once, or wait on. */
export interface DirectSocket extends ByteWriter {
  /** Deno's own write, for what the kernel would not take at once. */
  write(bytes: Uint8Array): Promise<number>;
  /**
   * Hands the kernel what it takes now: the count, 0 when it takes nothing
   * (the socket is full, or the call failed: `write` then waits, or says
   * why).
   * @throws when the connection has been closed
   */
  tryWrite(bytes: Uint8Array): number;
  /** Closes the connection; later writes throw. */
  close(): void;
}

/** The C library's socket calls, once opened. */
export class LibcSocket {
  readonly #libc: Libc;

  /** @param libc the opened library */
  private constructor(libc: Libc) {
    this.#libc = libc;
  }

  /**
   * Opens the C library, or says why not: not Linux, `--allow-ffi` not
   * granted (asked without prompting), or no `libc.so.6` (musl).
   */
  static open(): LibcSocket | { unavailable: string } {
    if (Deno.build.os !== "linux") return { unavailable: "not Linux" };
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
      return { unavailable: "--allow-ffi not granted" };
    }
    try {
      return new LibcSocket(Deno.dlopen("libc.so.6", SYMBOLS));
    } catch (error) {
      return { unavailable: `libc.so.6: ${(error as Error).message}` };
    }
  }

  /**
   * `conn` with a write made at once, or null when its descriptor cannot
   * be found or is not the connection's own (then Deno's writes serve).
   */
  socket(conn: Deno.TcpConn): DirectSocket | null {
    const fd = descriptorOf(conn);
    if (fd === null || !this.#isConnection(fd, conn)) return null;
    return new SendSocket(conn, fd, this.#libc.symbols);
  }

  /**
   * Starts keepalive probes on `conn` after `idleMs` of silence, then
   * every 10 s, and resets it after 6 unanswered: a vanished peer is found
   * about a minute after the idle time. False when its descriptor cannot be
   * found (the system's timing stays).
   */
  keepAlive(conn: Deno.TcpConn, idleMs: number): boolean {
    const fd = descriptorOf(conn);
    if (fd === null || !this.#isConnection(fd, conn)) return false;
    const set = (option: number, value: number) =>
      this.#libc.symbols.setsockopt(
        fd,
        IPPROTO_TCP,
        option,
        new Int32Array([value]),
        4,
      ) === 0;
    return set(TCP_KEEPIDLE, Math.max(1, Math.round(idleMs / 1000))) &&
      set(TCP_KEEPINTVL, KEEPALIVE_INTERVAL_S) &&
      set(TCP_KEEPCNT, KEEPALIVE_PROBES);
  }

  /** Closes the library (the server's close, and tests). */
  close(): void {
    this.#libc.close();
  }

  /** Whether `fd`'s local and peer ports are `conn`'s. */
  #isConnection(fd: number, conn: Deno.TcpConn): boolean {
    const libc = this.#libc.symbols;
    return portOf(fd, libc.getsockname) === conn.localAddr.port &&
      portOf(fd, libc.getpeername) === conn.remoteAddr.port;
  }
}

/**
 * A plain TCP connection written at once through `send`. A class, so that
 * every connection shares its methods: closures would cost each one three
 * functions and their scope.
 */
class SendSocket implements DirectSocket {
  readonly #conn: Deno.TcpConn;
  readonly #fd: number;
  readonly #libc: Libc["symbols"];
  #closed = false;

  constructor(conn: Deno.TcpConn, fd: number, libc: Libc["symbols"]) {
    this.#conn = conn;
    this.#fd = fd;
    this.#libc = libc;
  }

  write(bytes: Uint8Array): Promise<number> {
    return this.#conn.write(bytes);
  }

  tryWrite(bytes: Uint8Array): number {
    // The descriptor's number is free for reuse once closed.
    if (this.#closed) throw new Deno.errors.BadResource("connection closed");
    // A failure (a full socket, an interrupted call, a reset peer) takes
    // nothing: Deno's write of the same bytes then waits for room, or fails
    // with the runtime's own error. errno is not read: the runtime may make
    // other calls between `send` and a read of it.
    const sent = this.#libc.send(this.#fd, bytes, bytes.length, MSG_NOSIGNAL);
    return sent > 0 ? sent : 0;
  }

  close(): void {
    this.#closed = true;
    this.#conn.close();
  }
}

/** A socket's port from `getsockname` or `getpeername`, or null. */
function portOf(
  fd: number,
  query: (fd: number, address: Uint8Array, length: Uint8Array) => number,
): number | null {
  const address = new Uint8Array(SOCKADDR_BYTES);
  const length = new Uint32Array([SOCKADDR_BYTES]);
  if (query(fd, address, new Uint8Array(length.buffer)) !== 0) return null;
  // sockaddr_in and sockaddr_in6 both keep the port, big-endian, at 2.
  return (address[2]! << 8) | address[3]!;
}

/**
 * The operating system's descriptor of a Deno connection: not part of
 * Deno's public API, so looked for by the name its runtime gives it, and
 * checked by the caller before use.
 */
function descriptorOf(conn: Deno.Conn): number | null {
  for (const key of Object.getOwnPropertySymbols(conn)) {
    if (key.description !== "Deno.internal.fd") continue;
    const fd = (conn as unknown as Record<symbol, unknown>)[key];
    return typeof fd === "number" && fd > 2 ? fd : null;
  }
  return null;
}
