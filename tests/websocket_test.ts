/**
 * The WebSocket transport with real sockets and no browser: the same JSON
 * protocol as a TCP line client, the origin check, frame limits, the
 * connection caps, the slow-consumer rule and a graceful shutdown.
 */

import assert from "node:assert/strict";
import { ChatServer } from "../server.ts";
import {
  connectionsDropTo,
  LineClient,
  LineStream,
  startWebServer,
  within,
} from "./helpers.ts";

const encoder = new TextEncoder();

/** A WebSocket client whose frames are read as lines, one per frame. */
class WsClient extends LineStream implements AsyncDisposable {
  readonly socket: WebSocket;
  /** The close event's code, once closed. */
  readonly closeCode: Promise<number>;

  private constructor(socket: WebSocket, frames: ReadableStream<Uint8Array>) {
    super(frames);
    this.socket = socket;
    this.closeCode = new Promise((resolve) =>
      socket.addEventListener("close", (event) => resolve(event.code))
    );
  }

  static async open(url: string): Promise<WsClient> {
    const socket = new WebSocket(url);
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const frames = new ReadableStream<Uint8Array>({
      start: (c) => controller = c,
    });
    socket.addEventListener("message", (event) => {
      controller.enqueue(encoder.encode(`${event.data}\n`));
    });
    socket.addEventListener("close", () => controller.close());
    await within(
      new Promise((resolve, reject) => {
        socket.addEventListener("open", resolve);
        socket.addEventListener("error", reject);
      }),
      "the WebSocket to open",
    );
    return new WsClient(socket, frames);
  }

  send(value: unknown): void {
    this.socket.send(typeof value === "string" ? value : JSON.stringify(value));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.close();
    await within(this.closeCode, "the WebSocket to close");
    await this.done;
  }
}

/** Sends a raw HTTP request and returns the status line. */
async function rawStatus(port: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encoder.encode(request));
    const lines = new LineStream(conn.readable);
    return await lines.expect(/^HTTP\/1\.1 /);
  } finally {
    try {
      conn.close();
    } catch {
      // Closed by the server already.
    }
  }
}

function handshake(port: number, origin: string | null): string {
  return [
    "GET /ws HTTP/1.1",
    `Host: 127.0.0.1:${port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
    ...(origin === null ? [] : [`Origin: ${origin}`]),
    "",
    "",
  ].join("\r\n");
}

Deno.test("websocket: the JSON protocol, shared with TCP users, ids and all", async () => {
  await using chat = await startWebServer();
  await using bob = await LineClient.json(chat.port, "bob");
  await using ws = await WsClient.open(chat.ws);
  await ws.expectEvent("notice", (event) => event.text.startsWith("Welcome"));
  ws.send({ type: "hello", nick: "web", ref: "r1" });
  const welcome = await ws.expectEvent("welcome");
  assert.equal(welcome.ref, "r1");
  await ws.expectEvent("who");
  ws.send({ type: "message", text: "from a browser" });
  const seenByBob = await bob.expectEvent("message");
  const seenByWeb = await ws.expectEvent("message");
  assert.deepEqual(seenByWeb, seenByBob);
  assert.equal(seenByBob.from, "web");
  await bob.sendJson({ type: "private", to: "web", text: "psst" });
  const whisper = await ws.expectEvent("private");
  assert.equal(whisper.text, "psst");
  ws.send({ type: "nope" });
  const error = await ws.expectEvent("error");
  assert.equal(error.code, "unknown_type");
  ws.send("not json");
  assert.equal((await ws.expectEvent("error")).code, "bad_json");
  // An empty or blank message is ignored, as a blank TCP line is.
  ws.send("");
  ws.send("  ");
  ws.send({ type: "ping", token: "after-blanks" });
  const next = JSON.parse(await ws.expect(() => true));
  assert.deepEqual(next, { type: "pong", token: "after-blanks" });
});

Deno.test("websocket: a frame past the line limit and a binary frame are refused, the socket stays", async () => {
  await using chat = await startWebServer({ maxLineBytes: 256 });
  await using ws = await WsClient.open(chat.ws);
  ws.send({ type: "hello", nick: "web" });
  await ws.expectEvent("welcome");
  ws.send({ type: "message", text: "x".repeat(300) });
  const long = await ws.expectEvent("error");
  assert.equal(long.code, "line_too_long");
  ws.socket.send(new Uint8Array([1, 2, 3]));
  const binary = await ws.expectEvent("error");
  assert.equal(binary.code, "bad_request");
  ws.send({ type: "ping", token: "still-here" });
  await ws.expectEvent("pong", (event) => event.token === "still-here");
});

Deno.test("websocket: an Origin from another site is refused with 403", async () => {
  await using chat = await startWebServer({}, {
    web: { port: 0, allowedOrigins: ["https://chat.example"] },
  });
  const port = chat.httpPort;
  assert.equal(
    await rawStatus(port, handshake(port, "http://evil.example")),
    "HTTP/1.1 403 Forbidden",
  );
  assert.equal(
    await rawStatus(port, handshake(port, `http://127.0.0.1:${port + 1}`)),
    "HTTP/1.1 403 Forbidden",
  );
  assert.equal(
    await rawStatus(port, handshake(port, "https://chat.example")),
    "HTTP/1.1 101 Switching Protocols",
  );
  assert.equal(
    await rawStatus(port, handshake(port, `http://127.0.0.1:${port}`)),
    "HTTP/1.1 101 Switching Protocols",
  );
  await connectionsDropTo(chat.server, 0);
});

/** A handshake (or a page request) naming `host` in its Host and Origin. */
function namedRequest(path: string, host: string, upgrade: boolean): string {
  return [
    `GET ${path} HTTP/1.1`,
    `Host: ${host}`,
    ...(upgrade
      ? [
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        `Origin: http://${host}`,
      ]
      : ["Connection: close"]),
    "",
    "",
  ].join("\r\n");
}

Deno.test("websocket: on loopback, a page whose name was rebound to 127.0.0.1 is refused, Origin and Host agreeing or not", async () => {
  // DNS rebinding: attacker.example's page, loaded from the attacker, has
  // its name resolve to 127.0.0.1 and opens ws://attacker.example:PORT/ws.
  // Its Origin matches its Host, so only the name tells.
  await using chat = await startWebServer({}, {
    web: { port: 0, allowedOrigins: ["http://chat.example"] },
  });
  const port = chat.httpPort;
  for (const path of ["/ws", "/"]) {
    const upgrade = path === "/ws";
    assert.equal(
      await rawStatus(
        port,
        namedRequest(path, `attacker.example:${port}`, upgrade),
      ),
      "HTTP/1.1 403 Forbidden",
      path,
    );
    for (
      const host of [
        `127.0.0.1:${port}`,
        `localhost:${port}`,
        `tern.localhost:${port}`,
        `[::1]:${port}`,
        "chat.example",
      ]
    ) {
      const expected = upgrade
        ? "HTTP/1.1 101 Switching Protocols"
        : "HTTP/1.1 200 OK";
      const origin = host === "chat.example" ? "http://chat.example" : null;
      const text = namedRequest(path, host, upgrade);
      assert.equal(
        await rawStatus(
          port,
          origin === null
            ? text
            : text.replace(/Origin: [^\r]*/, `Origin: ${origin}`),
        ),
        expected,
        `${path} ${host}`,
      );
    }
  }
  await connectionsDropTo(chat.server, 0);
});

Deno.test("websocket: the page comes with its security headers; other paths 404, other methods 405", async () => {
  await using chat = await startWebServer();
  const base = `http://127.0.0.1:${chat.httpPort}`;
  const page = await fetch(`${base}/`);
  const html = await page.text();
  assert.equal(page.status, 200);
  assert.match(html, /<script type="module" src="\/app.js">/);
  assert.doesNotMatch(html, /<script>/, "no inline script");
  assert.match(
    page.headers.get("content-security-policy")!,
    /default-src 'self'/,
  );
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  assert.equal(page.headers.get("x-frame-options"), "DENY");
  const script = await fetch(`${base}/app.js`);
  assert.match(script.headers.get("content-type")!, /^text\/javascript/);
  await script.body?.cancel();
  const missing = await fetch(`${base}/../deno.json`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  const post = await fetch(`${base}/`, { method: "POST", body: "x" });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
});

Deno.test("websocket: the per-address cap counts WebSockets and TCP alike", async () => {
  await using chat = await startWebServer({ maxPerAddress: 1 });
  await using tcp = await LineClient.json(chat.port, "first");
  await using ws = await WsClient.open(chat.ws);
  const bye = await ws.expectEvent("bye");
  assert.match(bye.reason, /Too many connections from your address/);
  assert.equal(await within(ws.closeCode, "the close"), 1008);
  assert.equal(tcp.ended, false);
});

Deno.test("websocket: login deadline closes a socket that never says hello", async () => {
  await using chat = await startWebServer({ loginTimeoutMs: 200 });
  await using ws = await WsClient.open(chat.ws);
  await ws.expectEvent("bye");
  await within(ws.closeCode, "the close");
  await connectionsDropTo(chat.server, 0);
});

Deno.test("websocket: shutdown sends bye and a going-away close frame", async () => {
  const chat = await startWebServer();
  await using ws = await WsClient.open(chat.ws);
  ws.send({ type: "hello", nick: "web" });
  await ws.expectEvent("welcome");
  await chat.server.close();
  const bye = await ws.expectEvent("bye");
  assert.equal(bye.reason, "Server shutting down");
  assert.equal(await within(ws.closeCode, "the close"), 1001);
});

Deno.test("websocket: a peer that stops reading is cut off as slow by its send queue", async () => {
  await using chat = await startWebServer({
    maxSendQueueBytes: 256 * 1024,
    sendQueueSoftBytes: 64 * 1024,
    sendQueueSoftMs: 200,
    writeTimeoutMs: 300,
  });
  await using talker = await LineClient.json(chat.port, "talker");
  // A handshake, a hello, and then nothing is ever read again.
  const stuck = await Deno.connect({
    hostname: "127.0.0.1",
    port: chat.httpPort,
  });
  try {
    await stuck.write(encoder.encode(handshake(chat.httpPort, null)));
    const hello = encoder.encode(
      JSON.stringify({ type: "hello", nick: "stuck" }),
    );
    // A masked client text frame (mask of zeros leaves the payload as is).
    const frame = new Uint8Array([
      0x81,
      0x80 | hello.length,
      0,
      0,
      0,
      0,
      ...hello,
    ]);
    await stuck.write(frame);
    await talker.expectEvent("join", (event) => event.nick === "stuck");
    const text = "y".repeat(3000);
    let sent = 0;
    await within(
      (async () => {
        while (chat.server.sessions.size > 1 && sent < 20_000) {
          await talker.sendJson({ type: "message", text });
          sent++;
          if (sent % 50 === 0) await talker.linesUntilPong(true);
        }
      })(),
      "the stuck WebSocket to be cut off",
      20_000,
    );
    await talker.waitFor(
      (lines) => lines.some((line) => line.includes('"nick":"stuck","reason"')),
      "the stuck peer's leave",
    );
    const leave = talker.received.find((line) =>
      line.includes('"nick":"stuck","reason"')
    )!;
    assert.match(leave, /"reason":"(slow|timeout)"/);
  } finally {
    stuck.close();
  }
});

const fixture = (name: string) =>
  Deno.readTextFileSync(new URL(`./fixtures/${name}`, import.meta.url));

Deno.test("websocket: with a certificate, the page and the socket over HTTPS", async () => {
  await using chat = await startWebServer({}, {
    tls: { cert: fixture("server.pem"), key: fixture("server.key"), port: 0 },
    web: { port: null, httpsPort: 0 },
  });
  const httpsPort = (chat.server as ChatServer).webUrls()[0]!;
  assert.match(httpsPort, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  const client = Deno.createHttpClient({ caCerts: [fixture("ca.pem")] });
  try {
    const page = await fetch(httpsPort, { client });
    assert.equal(page.status, 200);
    assert.ok(page.headers.get("strict-transport-security"));
    await page.body?.cancel();
  } finally {
    client.close();
  }
  const port = Number(new URL(httpsPort).port);
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port,
    caCerts: [fixture("ca.pem")],
  });
  try {
    await conn.write(encoder.encode(handshake(port, null)));
    const lines = new LineStream(conn.readable);
    assert.equal(
      await lines.expect(/^HTTP\/1\.1 /),
      "HTTP/1.1 101 Switching Protocols",
    );
  } finally {
    conn.close();
  }
});

Deno.test("websocket: deno task start prints the URL to open, and it serves the page", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  );
  const permissions = String(config.tasks.start).split(/\s+/)
    .filter((word) => word.startsWith("--allow-"));
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...permissions,
      "server.ts",
      "--port",
      "0",
      "--http-port",
      "0",
      "--db",
      ":memory:",
    ],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const stdout = new LineStream(child.stdout);
  try {
    const line = await stdout.expect(/^Web client: open /, 15_000);
    const url = /open (http:\/\/127\.0\.0\.1:\d+\/) in a browser$/.exec(line);
    assert.ok(url, line);
    const page = await fetch(url[1]!);
    assert.match(await page.text(), /<title>tern<\/title>/);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await stdout.done;
  }
});
