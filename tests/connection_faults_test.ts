/**
 * Connection-level faults: silent TLS handshakes from one address, a client
 * whose bad lines would flood the log, and dead peers.
 */

import assert from "node:assert/strict";
import { ChatServer } from "../server.ts";
import { Logger } from "../server/log.ts";
import { LineClient, LineStream, within } from "./helpers.ts";

const fixture = (name: string) =>
  Deno.readTextFileSync(new URL(`./fixtures/${name}`, import.meta.url));

/** Resolves once the server closes `conn` (a read ends or fails). */
async function closedByServer(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64);
  try {
    while ((await conn.read(buffer)) !== null) {
      // Anything the server says before closing is fine.
    }
  } catch {
    // A reset is a close too.
  }
}

Deno.test("silent TLS handshakes count against the per-address cap", async () => {
  const server = new ChatServer({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: fixture("server.pem"), key: fixture("server.key"), port: 0 },
    limits: { closeGraceMs: 200, loginTimeoutMs: 30_000, maxPerAddress: 3 },
  });
  const { tls } = await server.start();
  const port = tls!.port;
  const silent: Deno.Conn[] = [];
  try {
    // Three silent sockets in their handshake: the address's whole share.
    for (let i = 0; i < 3; i++) {
      silent.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    }
    // A fourth is dropped at once, not after the 30 s handshake deadline.
    const extra = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await within(closedByServer(extra), "the extra socket to be dropped");
    } finally {
      extra.close();
    }
    // Freeing one lets a real TLS client in.
    silent.shift()!.close();
    await within(
      (async () => {
        while (true) {
          const conn = await Deno.connectTls({
            hostname: "127.0.0.1",
            port,
            caCerts: [fixture("ca.pem")],
          });
          const lines = new LineStream(conn.readable);
          try {
            await lines.expect(/Choose a nickname/, 1000);
            return;
          } catch {
            // The freed slot was not yet counted free: try again.
          } finally {
            try {
              conn.close();
            } catch {
              // Already closed when its stream ended.
            }
            await lines.done;
          }
        }
      })(),
      "a TLS client to get in",
    );
  } finally {
    for (const conn of silent) conn.close();
    await server.close();
  }
});

Deno.test("a client that writes bad lines and never reads gets a few log lines, then one summary", async () => {
  const lines: string[] = [];
  const server = new ChatServer({
    hostname: "127.0.0.1",
    port: 0,
    logger: new Logger("debug", "text", (line) => lines.push(line)),
    limits: {
      closeGraceMs: 200,
      floodRate: 0,
      maxPerAddress: 0,
      maxSendQueueBytes: 4096,
      sendQueueSoftBytes: 2048,
    },
  });
  const port = (await server.start()).plain!.port;
  try {
    // 9 KB of bad lines from a client that never reads its errors.
    const bad = await LineClient.connect(port, false);
    await bad.send("nick-for-bad-lines");
    await bad.sendBytes(
      new TextEncoder().encode("/nosuchcommand\n".repeat(600)),
    );
    await within(server.connectionsAtMost(0), "the bad client to be cut");
    await bad.close();
    const perEvent = new Map<string, number>();
    for (const line of lines) {
      if (!/ session=\d+/.test(line)) continue;
      const event = line.split(" ")[2]!;
      perEvent.set(event, (perEvent.get(event) ?? 0) + 1);
    }
    for (const [event, count] of perEvent) {
      assert.ok(
        count <= 6,
        `${event} logged ${count} times:\n${lines.join("\n")}`,
      );
    }
    const limit = server.hub.limits.logRepeatLimit;
    const repeated = [...perEvent].filter(([, count]) => count >= limit);
    assert.ok(repeated.length > 0, "some event repeated enough to be limited");
    assert.ok(
      lines.some((line) =>
        / WARN log_suppressed session=\d+ event=\w+ count=\d+$/.test(line)
      ),
      lines.join("\n"),
    );
  } finally {
    await server.close();
  }
});

/**
 * Seconds until the kernel's keepalive timer fires on the server side of
 * each established connection to `port`, as `ss` reports them.
 */
async function keepaliveTimers(port: number): Promise<number[]> {
  const ss = await new Deno.Command("ss", {
    args: ["-tno", "state", "established", `( sport = :${port} )`],
  }).output();
  const text = new TextDecoder().decode(ss.stdout);
  const unit: Record<string, number> = { ms: 0.001, sec: 1, min: 60 };
  return [...text.matchAll(/timer:\(keepalive,([\d.]+)(ms|sec|min)/g)].map(
    (match) => Number(match[1]) * unit[match[2]!]!,
  );
}

/**
 * Greets a silent peer on `conn` and checks that the server's side of it,
 * on `port`, probes within 30 s (the server is given 30 s of idle).
 */
async function expectProbedWithin30s(
  server: ChatServer,
  conn: Deno.Conn,
  port: number,
): Promise<void> {
  const lines = new LineStream(conn.readable);
  try {
    await lines.expect(/Choose a nickname/);
    const timers = await keepaliveTimers(port);
    assert.equal(timers.length, 1, "one keepalive timer, on the server side");
    assert.ok(timers[0]! <= 30, `probes start within 30 s, not ${timers[0]} s`);
  } finally {
    try {
      conn.close();
    } catch {
      // Closed with its stream.
    }
    await lines.done;
    await server.close();
  }
}

Deno.test("a silent TLS peer is probed after --keepalive-idle, not after the system's two hours", async () => {
  const server = new ChatServer({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: fixture("server.pem"), key: fixture("server.key"), port: 0 },
    limits: { closeGraceMs: 200, keepaliveIdleMs: 30_000 },
  });
  const { tls } = await server.start();
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: tls!.port,
    caCerts: [fixture("ca.pem")],
  });
  await expectProbedWithin30s(server, conn, tls!.port);
});

Deno.test("a silent plain TCP peer is probed after --keepalive-idle too", async () => {
  const server = new ChatServer({
    hostname: "127.0.0.1",
    port: 0,
    limits: { closeGraceMs: 200, keepaliveIdleMs: 30_000 },
  });
  const { plain } = await server.start();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: plain!.port });
  await expectProbedWithin30s(server, conn, plain!.port);
});

Deno.test("a burst of refused connections writes --log-repeat refusal lines, not one each", async () => {
  const lines: string[] = [];
  const server = new ChatServer({
    hostname: "127.0.0.1",
    port: 0,
    logger: new Logger("debug", "text", (line) => lines.push(line)),
    limits: { closeGraceMs: 200, maxPerAddress: 1, logRepeatLimit: 3 },
  });
  const port = (await server.start()).plain!.port;
  const held = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    for (let i = 0; i < 20; i++) {
      const extra = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await within(closedByServer(extra), "a refused socket to be closed");
      } finally {
        extra.close();
      }
    }
    const refused = lines.filter((line) => / WARN refused /.test(line));
    assert.equal(refused.length, 3, lines.join("\n"));
  } finally {
    held.close();
    await server.close();
  }
});
