/**
 * Socket writes made at once, through the C library's `send`, instead of
 * through Deno's asynchronous write.
 *
 * A big room's message costs one write per member. Through `conn.write`
 * each write is an asynchronous operation of Deno's runtime: a promise, a
 * pass through its event loop, and a few microseconds of its own on top of
 * the kernel's (BENCHMARKS.md, "Direct writes"). A plain TCP socket the
 * kernel has room in takes the bytes at once anyway, so the server hands
 * them over itself, with one `send(2)` called through Deno's foreign
 * function interface, and falls back to `conn.write` only for what the
 * kernel would not take (a reader that is behind): that write then waits
 * for the socket as before, and the send queue keeps judging the reader.
 *
 * Used only where it is known to be right: on Linux, with `--allow-ffi`
 * granted, for plain TCP connections (TLS encrypts in the runtime, and a
 * WebSocket frames its bytes), and only once the socket's descriptor is
 * checked to be the connection's own (its two ports match). Anywhere else,
 * or with `--sync-writes 0`, every write is Deno's.
 *
 * @module
 */

import type { ByteWriter } from "../../wire/write_all.ts";

/** `send` flag: a closed peer is an error returned, not a SIGPIPE. */
const MSG_NOSIGNAL = 0x4000;
/** errno values that are not failures. */
const EINTR = 4;
const EAGAIN = 11;
/** Room for a `sockaddr_in6`, the larger of the two address families. */
const SOCKADDR_BYTES = 28;

const SYMBOLS = {
  send: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>;

/** A socket the send queue can write to at once, or wait on. */
export interface DirectSocket extends ByteWriter {
  /** Deno's own write, for what the kernel would not take at once. */
  write(bytes: Uint8Array): Promise<number>;
  /**
   * Hands the kernel what it takes now: the count (0 when the socket is
   * full).
   * @throws when the connection is reset or closed
   */
  tryWrite(bytes: Uint8Array): number;
  /** Closes the connection; later writes throw. */
  close(): void;
}

/** The C library's functions this needs, once opened. */
export class DirectSend {
  readonly #libc: Libc;

  /** @param libc the opened library */
  private constructor(libc: Libc) {
    this.#libc = libc;
  }

  /**
   * Opens the C library, or says why not: not Linux, `--allow-ffi` not
   * granted (asked without prompting), or no `libc.so.6` (musl).
   */
  static open(): DirectSend | { unavailable: string } {
    if (Deno.build.os !== "linux") return { unavailable: "not Linux" };
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
      return { unavailable: "--allow-ffi not granted" };
    }
    try {
      return new DirectSend(Deno.dlopen("libc.so.6", SYMBOLS));
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
    const libc = this.#libc.symbols;
    let closed = false;
    return {
      write: (bytes) => conn.write(bytes),
      tryWrite: (bytes) => {
        // The descriptor's number is free for reuse once closed.
        if (closed) throw new Deno.errors.BadResource("connection closed");
        while (true) {
          const sent = libc.send(fd, bytes, bytes.length, MSG_NOSIGNAL);
          if (sent >= 0) return sent;
          const errno = this.#errno();
          if (errno === EAGAIN) return 0;
          if (errno !== EINTR) {
            throw new Deno.errors.ConnectionReset(`send: errno ${errno}`);
          }
        }
      },
      close: () => {
        closed = true;
        conn.close();
      },
    };
  }

  /** Closes the library (the server's close, and tests). */
  close(): void {
    this.#libc.close();
  }

  #errno(): number {
    const at = this.#libc.symbols.__errno_location();
    return at === null ? 0 : new Deno.UnsafePointerView(at).getInt32();
  }

  /** Whether `fd`'s local and peer ports are `conn`'s. */
  #isConnection(fd: number, conn: Deno.TcpConn): boolean {
    const libc = this.#libc.symbols;
    return portOf(fd, libc.getsockname) === conn.localAddr.port &&
      portOf(fd, libc.getpeername) === conn.remoteAddr.port;
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
