import assert from "node:assert/strict";
import { LibcSocket } from "./libc_socket.ts";

/** A connected pair on 127.0.0.1: the server's side and the peer's. */
async function pair(): Promise<{ server: Deno.TcpConn; peer: Deno.TcpConn }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const peer = await Deno.connect({
      hostname: "127.0.0.1",
      port: listener.addr.port,
    });
    return { server: await listener.accept(), peer };
  } finally {
    listener.close();
  }
}

async function readExactly(conn: Deno.Conn, count: number): Promise<string> {
  const out = new Uint8Array(count);
  let got = 0;
  while (got < count) {
    const n = await conn.read(out.subarray(got));
    if (n === null) break;
    got += n;
  }
  return new TextDecoder().decode(out.subarray(0, got));
}

function openOrFail(): LibcSocket {
  const opened = LibcSocket.open();
  // The test task grants --allow-ffi, as the server's task does.
  if ("unavailable" in opened) assert.fail(opened.unavailable);
  return opened;
}

Deno.test("LibcSocket writes a plain TCP connection's bytes at once, views included", async () => {
  const direct = openOrFail();
  const { server, peer } = await pair();
  try {
    const socket = direct.socket(server);
    assert.ok(socket !== null);
    const bytes = new TextEncoder().encode("xxhello\n");
    assert.equal(socket.tryWrite(bytes.subarray(2)), 6);
    assert.equal(await readExactly(peer, 6), "hello\n");
    // Deno's own write still works, for what waits on the socket.
    assert.equal(await socket.write(bytes.subarray(0, 2)), 2);
    assert.equal(await readExactly(peer, 2), "xx");
  } finally {
    server.close();
    peer.close();
    direct.close();
  }
});

Deno.test("LibcSocket says 0 when the reader stops reading, and when the peer is gone, whose error Deno's write then gives", async () => {
  const direct = openOrFail();
  const { server, peer } = await pair();
  let peerOpen = true;
  try {
    const socket = direct.socket(server)!;
    const chunk = new Uint8Array(64 * 1024);
    // The kernel's buffers are finite: bounded well past them.
    let full = false;
    for (let i = 0; i < 2000 && !full; i++) {
      full = socket.tryWrite(chunk) === 0;
    }
    assert.ok(full, "a socket nobody reads fills up");
    peer.close();
    peerOpen = false;
    // The peer's reset arrives with the next segments: each write made at
    // once takes nothing, and Deno's write of the same bytes fails.
    let error: unknown = null;
    for (let i = 0; i < 200 && error === null; i++) {
      assert.equal(socket.tryWrite(chunk.subarray(0, 1)), 0);
      try {
        await socket.write(chunk.subarray(0, 1));
      } catch (caught) {
        error = caught;
      }
    }
    assert.ok(
      error instanceof Deno.errors.ConnectionReset ||
        error instanceof Deno.errors.BrokenPipe,
      String(error),
    );
  } finally {
    server.close();
    if (peerOpen) peer.close();
    direct.close();
  }
});

Deno.test("LibcSocket refuses to write once the connection is closed", async () => {
  const direct = openOrFail();
  const { server, peer } = await pair();
  try {
    const socket = direct.socket(server)!;
    socket.close();
    assert.throws(
      () => socket.tryWrite(new Uint8Array(1)),
      Deno.errors.BadResource,
    );
  } finally {
    peer.close();
    direct.close();
  }
});

Deno.test("LibcSocket will not write to a descriptor that is not the connection's own", async () => {
  const direct = openOrFail();
  const one = await pair();
  const two = await pair();
  try {
    const fd = Object.getOwnPropertySymbols(one.server).find((key) =>
      key.description === "Deno.internal.fd"
    );
    assert.ok(fd !== undefined, "the runtime names its descriptor");
    // Connection two's addresses with connection one's descriptor.
    const mixed = {
      [fd]: (one.server as unknown as Record<symbol, number>)[fd],
      localAddr: two.server.localAddr,
      remoteAddr: two.server.remoteAddr,
    } as unknown as Deno.TcpConn;
    assert.equal(direct.socket(mixed), null);
    assert.ok(direct.socket(two.server) !== null);
  } finally {
    for (const { server, peer } of [one, two]) {
      server.close();
      peer.close();
    }
    direct.close();
  }
});

Deno.test("LibcSocket sets a plain connection's keepalive timing", async () => {
  const libc = openOrFail();
  const { server, peer } = await pair();
  const lib = Deno.dlopen("libc.so.6", {
    getsockopt: {
      parameters: ["i32", "i32", "i32", "buffer", "buffer"],
      result: "i32",
    },
  });
  try {
    server.setKeepAlive(true);
    assert.equal(libc.keepAlive(server, 45_000), true);
    const fd = Object.getOwnPropertySymbols(server).find((key) =>
      key.description === "Deno.internal.fd"
    )!;
    const option = (name: number) => {
      const value = new Int32Array(1);
      const length = new Uint32Array([4]);
      const status = lib.symbols.getsockopt(
        (server as unknown as Record<symbol, number>)[fd]!,
        6,
        name,
        value,
        length,
      );
      assert.equal(status, 0);
      return value[0];
    };
    // TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT
    assert.deepEqual([option(4), option(5), option(6)], [45, 10, 6]);
  } finally {
    lib.close();
    server.close();
    peer.close();
    libc.close();
  }
});
