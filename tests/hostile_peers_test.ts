/**
 * Peers that attack a transport rather than the chat: a TLS client that
 * keeps sending while flood control has stopped reading it, silent
 * handshakes at the HTTPS port, and input that never becomes a line. Each
 * once cost the server memory, descriptors or a core without limit.
 */

import assert from "node:assert/strict";
import { ChatServer } from "../server.ts";
import type { Limits } from "../server/limits.ts";
import {
  LineClient,
  LineStream,
  startServer,
  startWebServer,
  within,
} from "./helpers.ts";

const fixture = (name: string) =>
  Deno.readTextFileSync(new URL(`./fixtures/${name}`, import.meta.url));
const CA = fixture("ca.pem");
const encoder = new TextEncoder();

/** A client frame, masked with zeros (so the payload goes as it is). */
function clientFrame(opcode: number, payload: Uint8Array, final = true) {
  const head = payload.length < 126
    ? [(final ? 0x80 : 0) | opcode, 0x80 | payload.length]
    : [
      (final ? 0x80 : 0) | opcode,
      0x80 | 126,
      payload.length >> 8,
      payload.length & 0xff,
    ];
  return new Uint8Array([...head, 0, 0, 0, 0, ...payload]);
}

/**
 * A WebSocket spoken by hand: the handshake, then the text of each text
 * frame from the server as a line of a {@linkcode LineStream}.
 */
async function rawWebSocket(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode(
    `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      "Sec-WebSocket-Version: 13\r\n\r\n",
  ));
  async function* texts(): AsyncGenerator<Uint8Array> {
    let buffer = new Uint8Array(0);
    let headDone = false;
    const chunk = new Uint8Array(65536);
    while (true) {
      const count = await conn.read(chunk).catch(() => null);
      if (count === null) return;
      const joined = new Uint8Array(buffer.length + count);
      joined.set(buffer);
      joined.set(chunk.subarray(0, count), buffer.length);
      buffer = joined;
      if (!headDone) {
        const text = new TextDecoder().decode(buffer);
        const end = text.indexOf("\r\n\r\n");
        if (end === -1) continue;
        buffer = buffer.slice(end + 4);
        headDone = true;
      }
      while (buffer.length >= 2) {
        let length = buffer[1]! & 0x7f;
        let at = 2;
        if (length === 126) {
          if (buffer.length < 4) break;
          length = (buffer[2]! << 8) | buffer[3]!;
          at = 4;
        }
        if (buffer.length < at + length) break;
        if ((buffer[0]! & 0x0f) === 1) {
          yield new Uint8Array([...buffer.subarray(at, at + length), 0x0a]);
        }
        buffer = buffer.slice(at + length);
      }
    }
  }
  const lines = new LineStream(texts());
  return {
    conn,
    lines,
    send: (bytes: Uint8Array) => conn.write(bytes),
    sendJson: (value: unknown) =>
      conn.write(clientFrame(0x1, encoder.encode(JSON.stringify(value)))),
    async [Symbol.asyncDispose]() {
      try {
        conn.close();
      } catch {
        // Closed by the server.
      }
      await lines.done;
    },
  };
}

async function startTlsServer(
  limits: Partial<Limits>,
  https = false,
  options: { throttleLoopback?: boolean } = {},
) {
  const server = new ChatServer({
    hostname: "127.0.0.1",
    port: 0,
    ...options,
    tls: { cert: fixture("server.pem"), key: fixture("server.key"), port: 0 },
    ...(https ? { web: { port: null, httpsPort: 0 } } : {}),
    limits: { closeGraceMs: 200, maxPerAddress: 0, ...limits },
  });
  const addresses = await server.start();
  return {
    server,
    tlsPort: addresses.tls!.port,
    httpsPort: addresses.https?.port ?? 0,
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/**
 * Writes `chunk` over and over until `total` bytes have gone or one write
 * has waited `stallMs` (the server stopped reading and the kernel's buffers
 * are full); returns the bytes written. The stuck write is settled before
 * returning, by closing the connection.
 */
async function writeUntilStalled(
  conn: Deno.Conn,
  chunk: Uint8Array,
  total: number,
  stallMs: number,
): Promise<number> {
  let written = 0;
  while (written < total) {
    const write = conn.write(chunk);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<"stalled">((resolve) => {
      timer = setTimeout(() => resolve("stalled"), stallMs);
    });
    const result = await Promise.race([write, stalled]);
    clearTimeout(timer);
    if (result === "stalled") {
      conn.close();
      await write.catch(() => {});
      return written;
    }
    written += result;
  }
  conn.close();
  return written;
}

Deno.test("TLS: a client flood control has stopped reading is held back by TCP, not buffered by the server", async () => {
  await using chat = await startTlsServer({
    floodRate: 1,
    floodBurst: 1,
    floodByteRate: 100,
    floodBurstBytes: 100,
  });
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: chat.tlsPort,
    caCerts: [CA],
  });
  const lines = new LineStream(conn.readable);
  await conn.write(encoder.encode('{"type":"hello","nick":"flooder"}\n'));
  await lines.expectEvent("welcome");
  const line = encoder.encode(
    `{"type":"message","text":"${"x".repeat(80)}"}\n`,
  );
  const chunk = new Uint8Array(line.length * 2000);
  for (let i = 0; i < 2000; i++) chunk.set(line, i * line.length);
  // Loopback's socket buffers take a few megabytes; before, the server
  // took everything at once and held it in memory.
  const written = await writeUntilStalled(conn, chunk, 64 << 20, 2000);
  await lines.done;
  assert.ok(
    written < 24 << 20,
    `the server read ${written >> 20} MiB from a client it was pacing`,
  );
});

Deno.test("HTTPS: a connection that never starts its TLS handshake is closed at the head deadline", async () => {
  await using chat = await startTlsServer({ httpHeadTimeoutMs: 300 }, true);
  const silent = await Deno.connect({
    hostname: "127.0.0.1",
    port: chat.httpsPort,
  });
  try {
    // Before, the socket stayed open (and its descriptor held) for as long
    // as the peer kept it, past the deadline and the per-address cap.
    const end = await within(
      silent.read(new Uint8Array(16)).catch(() => null),
      "the server to close a silent HTTPS connection",
    );
    assert.equal(end, null);
  } finally {
    silent.close();
  }
});

/** Flood control small enough to reach in a few kilobytes. */
const TIGHT_FLOOD: Partial<Limits> = {
  floodRate: 2,
  floodBurst: 10,
  floodByteRate: 1000,
  floodBurstBytes: 2000,
};

const PACED = /^\*\*\* You are sending faster than/;

Deno.test("TCP: a line that never ends is paced by flood control as its bytes arrive", async () => {
  await using chat = await startServer(TIGHT_FLOOD);
  await using flooder = await LineClient.text(chat.port, "flooder");
  // Before, only the first 4096 bytes counted: the rest were read and
  // dropped as fast as they came, costing the server a core.
  await flooder.sendBytes(new Uint8Array(8 * 1024).fill(0x41));
  await flooder.expect(/^\*\*\* Error: Line longer than 4096 bytes/);
  await flooder.expect(PACED);
});

Deno.test("TCP: telnet commands without end are paced too", async () => {
  await using chat = await startServer(TIGHT_FLOOD);
  await using flooder = await LineClient.text(chat.port, "telnet");
  const will = new Uint8Array(3 * 2000);
  for (let i = 0; i < will.length; i += 3) will.set([0xff, 0xfb, 0x01], i);
  await flooder.sendBytes(will);
  await flooder.expect(PACED);
});

Deno.test("before login, lines too long, blank lines and bytes without a newline all count against --max-login-lines", async () => {
  await using chat = await startServer({ maxLoginLines: 5, maxLineBytes: 100 });
  const tooLong = new TextEncoder().encode(`${"x".repeat(200)}\n`.repeat(6));
  const blank = new TextEncoder().encode("\n".repeat(6));
  const endless = new Uint8Array(100 * 1024).fill(0x41);
  for (const input of [tooLong, blank, endless]) {
    await using client = await LineClient.connect(chat.port);
    await client.sendBytes(input).catch(() => {});
    await client.expect(
      "*** Disconnected (refused): Too many lines before login",
    );
    await client.closed();
  }
});

const PACED_EVENT = (event: { text: string }) =>
  event.text.startsWith("You are sending faster than");

Deno.test("WebSocket: pings, a message too long and binary messages are paced by flood control", async () => {
  await using chat = await startWebServer({
    ...TIGHT_FLOOD,
    closeGraceMs: 200,
  });
  const ping = clientFrame(0x9, new Uint8Array(125));
  const pings = new Uint8Array(ping.length * 100);
  for (let i = 0; i < 100; i++) pings.set(ping, i * ping.length);
  const long = clientFrame(0x1, new Uint8Array(60_000).fill(0x20));
  const binary = clientFrame(0x2, new Uint8Array(1));
  const binaries = new Uint8Array(binary.length * 20);
  for (let i = 0; i < 20; i++) binaries.set(binary, i * binary.length);
  for (
    const [what, input] of [["pings", pings], ["too long", long], [
      "binary",
      binaries,
    ]] as const
  ) {
    await using socket = await rawWebSocket(chat.httpPort);
    await socket.sendJson({ type: "hello", nick: what.replace(" ", "_") });
    await socket.lines.expectEvent("welcome");
    // Before, none of these met the budget: pings and skipped bytes were
    // read as fast as they came, binary messages each answered at once.
    await socket.send(input);
    await within(socket.lines.expectEvent("notice", PACED_EVENT), what);
  }
});

Deno.test("TLS: past --connect-rate a connection is dropped before its handshake, which costs the server a signature", async () => {
  await using chat = await startTlsServer(
    {
      connectBurst: 3,
      connectRate: 0.001,
    },
    false,
    { throttleLoopback: true },
  );
  let handshakes = 0;
  for (let i = 0; i < 10; i++) {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: chat.tlsPort,
      caCerts: [CA],
    });
    try {
      await conn.handshake();
      handshakes++;
    } catch {
      // Dropped before any handshake: what a peer over the rate gets.
    } finally {
      conn.close();
    }
  }
  // Before, all ten were handshaken, and only then told to slow down: the
  // rate bounded connections, not the handshakes they cost.
  assert.equal(handshakes, 3);
});

/**
 * One HTTPS connection as a browser's: its handshake, then `GET /`; the
 * status line, or null when it was dropped before its handshake.
 */
async function httpsGet(port: number): Promise<string | null> {
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port,
    caCerts: [CA],
  });
  try {
    try {
      await conn.handshake();
    } catch {
      return null;
    }
    await conn.write(encoder.encode(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
    ));
    const reader = conn.readable.pipeThrough(new TextDecoderStream())
      .getReader();
    let head = "";
    try {
      for (let i = 0; i < 1000 && !head.includes("\r\n"); i++) {
        const { value, done } = await reader.read();
        if (done) break;
        head += value;
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
    return head.split("\r\n")[0] ?? head;
  } finally {
    try {
      conn.close();
    } catch {
      // Closed by the server, or by cancelling its reader.
    }
  }
}

Deno.test("HTTPS: past --https-connect-rate a connection is dropped before its handshake", async () => {
  await using chat = await startTlsServer(
    { httpsConnectBurst: 3, httpsConnectRate: 0.001 },
    true,
    { throttleLoopback: true },
  );
  let handshakes = 0;
  for (let i = 0; i < 10; i++) {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: chat.httpsPort,
      caCerts: [CA],
    });
    try {
      await conn.handshake();
      handshakes++;
    } catch {
      // Dropped before any handshake: what a peer over the rate gets.
    } finally {
      conn.close();
    }
  }
  // Before, the HTTPS port had no rate: all ten were handshaken, and one
  // address could have the server sign hundreds of handshakes a second.
  assert.equal(handshakes, 3);
});

Deno.test("HTTPS: page loads fit the default --https-connect-rate, and leave the chat's rate alone", async () => {
  // The chat's rate at its tightest: HTTPS must use a bucket of its own.
  await using chat = await startTlsServer(
    { connectBurst: 1, connectRate: 0.001 },
    true,
    { throttleLoopback: true },
  );
  // A browser opens up to six connections at once for a page; a load and
  // two reloads, each all at once.
  for (let load = 0; load < 3; load++) {
    const statuses = await Promise.all(
      Array.from({ length: 6 }, () => httpsGet(chat.httpsPort)),
    );
    assert.deepEqual(
      statuses,
      Array(6).fill("HTTP/1.1 200 OK"),
      `page load ${load}`,
    );
  }
  // The chat's own burst of one is still there for the chat.
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: chat.tlsPort,
    caCerts: [CA],
  });
  try {
    await conn.handshake();
  } finally {
    conn.close();
  }
});

/** Whether a TLS connection to `port` gets through its handshake. */
async function handshakes(port: number): Promise<boolean> {
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port,
    caCerts: [CA],
  });
  try {
    await conn.handshake();
    return true;
  } catch {
    // Dropped before any handshake.
    return false;
  } finally {
    conn.close();
  }
}

Deno.test("TLS and HTTPS: a banned address is dropped before its handshake", async () => {
  await using chat = await startTlsServer({}, true);
  const bans = chat.server.hub.bans;
  assert.ok(bans.add({ address: "127.0.0.1", by: "op", reason: "spam" }));
  // Before, the HTTPS port refused a banned address only with a 503 after
  // the handshake, so each connection still cost the server a signature.
  for (
    const [what, port] of [["HTTPS", chat.httpsPort], ["TLS", chat.tlsPort]]
  ) {
    for (let i = 0; i < 3; i++) {
      assert.equal(await handshakes(port as number), false, `${what} ${i}`);
    }
  }
  bans.remove("127.0.0.1");
  assert.equal(await handshakes(chat.httpsPort), true);
  assert.equal(await handshakes(chat.tlsPort), true);
});
