/**
 * Peers that attack a transport rather than the chat: a TLS client that
 * keeps sending while flood control has stopped reading it, silent
 * handshakes at the HTTPS port, and input that never becomes a line. Each
 * once cost the server memory, descriptors or a core without limit.
 */

import assert from "node:assert/strict";
import { ChatServer } from "../server.ts";
import type { Limits } from "../server/limits.ts";
import { LineStream, within } from "./helpers.ts";

const fixture = (name: string) =>
  Deno.readTextFileSync(new URL(`./fixtures/${name}`, import.meta.url));
const CA = fixture("ca.pem");
const encoder = new TextEncoder();

/** A server with a TLS listener (and optionally HTTPS) on free ports. */
async function startTlsServer(limits: Partial<Limits>, https = false) {
  const server = new ChatServer({
    hostname: "127.0.0.1",
    port: 0,
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
