/**
 * TLS: the server's TLS listener beside the plain one, clients that trust
 * the right CA and the wrong one, and proof that the wire carries no
 * plaintext. The fixtures are a test CA and a server certificate it signs
 * (tests/fixtures/make.sh), since a self-signed leaf is refused.
 */

import assert from "node:assert/strict";
import { ChatServer } from "../server.ts";
import { LineClient, LineStream, within } from "./helpers.ts";

const fixture = (name: string) =>
  Deno.readTextFileSync(new URL(`./fixtures/${name}`, import.meta.url));
const CA = fixture("ca.pem");
const OTHER_CA = fixture("other-ca.pem");
const encoder = new TextEncoder();

/** A server with both listeners on free ports. */
async function startTlsServer(loginTimeoutMs = 60_000) {
  const server = new ChatServer({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: fixture("server.pem"), key: fixture("server.key"), port: 0 },
    limits: { closeGraceMs: 200, loginTimeoutMs },
  });
  const { plain, tls } = await server.start();
  return {
    server,
    plainPort: plain!.port,
    tlsPort: tls!.port,
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/** Logs in over TLS with a JSON hello and returns the line stream. */
async function tlsClient(port: number, nick: string) {
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port,
    caCerts: [CA],
  });
  const lines = new LineStream(conn.readable);
  const writer = conn.writable.getWriter();
  const send = (value: unknown) =>
    writer.write(encoder.encode(JSON.stringify(value) + "\n"));
  await send({ type: "hello", nick });
  await lines.expectEvent("welcome");
  return {
    lines,
    send,
    async close() {
      await writer.close().catch(() => {});
      await lines.done;
    },
  };
}

Deno.test("TLS and plain clients share the rooms", async () => {
  await using chat = await startTlsServer();
  const secure = await tlsClient(chat.tlsPort, "secure");
  try {
    await using plain = await LineClient.text(chat.plainPort, "plain");
    await secure.send({ type: "message", text: "over TLS" });
    await plain.expect("<secure> over TLS");
    await plain.send("over plain TCP");
    await secure.lines.expectEvent(
      "message",
      (e) => e.text === "over plain TCP",
    );
  } finally {
    await secure.close();
  }
});

Deno.test("a client that does not trust the server's CA is refused", async () => {
  await using chat = await startTlsServer();
  await assert.rejects(
    async () => {
      const conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: chat.tlsPort,
        caCerts: [OTHER_CA],
      });
      try {
        await conn.handshake();
      } finally {
        conn.close();
      }
    },
    (error: Error) =>
      /UnknownIssuer|invalid peer certificate/i.test(error.message),
  );
  await within(
    chat.server.connectionsAtMost(0),
    "the refused connection to go",
  );
});

Deno.test("the TLS wire carries no plaintext", async () => {
  await using chat = await startTlsServer();
  // A relay between client and server that keeps every byte it forwards.
  const relay = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: Uint8Array[] = [];
  const relaying = (async () => {
    const inbound = await relay.accept();
    const outbound = await Deno.connect({
      hostname: "127.0.0.1",
      port: chat.tlsPort,
    });
    const pump = async (from: Deno.Conn, to: Deno.Conn) => {
      const buffer = new Uint8Array(16 * 1024);
      try {
        while (true) {
          const count = await from.read(buffer);
          if (count === null) break;
          seen.push(buffer.slice(0, count));
          await to.write(buffer.subarray(0, count));
        }
      } catch {
        // One side closed.
      } finally {
        try {
          to.close();
        } catch {
          // Already closed.
        }
      }
    };
    await Promise.all([pump(inbound, outbound), pump(outbound, inbound)]);
  })();
  try {
    await using watcher = await LineClient.text(chat.plainPort, "watcher");
    const secure = await tlsClient(relay.addr.port, "secure");
    await secure.send({ type: "message", text: "attack at dawn" });
    await watcher.expect("<secure> attack at dawn");
    await watcher.send("the eagle has landed");
    await secure.lines.expectEvent("message", (e) => e.from === "watcher");
    await secure.close();
  } finally {
    relay.close();
    await relaying;
  }
  const wire = new TextDecoder("latin1").decode(
    new Uint8Array(seen.flatMap((chunk) => [...chunk])),
  );
  assert.ok(wire.length > 0);
  for (
    const secret of [
      "attack at dawn",
      "the eagle has landed",
      "secure",
      '"hello"',
    ]
  ) {
    assert.ok(!wire.includes(secret), `"${secret}" crossed the wire in clear`);
  }
});

Deno.test("plaintext to the TLS port is dropped; others are unaffected", async () => {
  await using chat = await startTlsServer();
  await using plain = await LineClient.text(chat.plainPort, "plain");
  await using confused = await LineClient.connect(chat.tlsPort);
  await confused.send("alice");
  await confused.closed();
  await plain.send("/ping ok");
  await plain.expect("*** pong ok");
});

Deno.test("a silent TCP connect to the TLS port is closed at the login timeout", async () => {
  await using chat = await startTlsServer(300);
  await using silent = await LineClient.connect(chat.tlsPort);
  await silent.closed();
  await within(chat.server.connectionsAtMost(0), "the silent connection to go");
});
