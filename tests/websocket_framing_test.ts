/**
 * The server's own WebSocket framing on real sockets, byte for byte: the
 * handshake, fragments, ping and pong, the closing handshake, refused
 * handshakes, a broadcast's events each in a frame of its own, and a flood
 * of frames cut off after what it was owed.
 */

import assert from "node:assert/strict";
import {
  connectionsDropTo,
  LineClient,
  startWebServer,
  within,
} from "./helpers.ts";
import { HttpWire } from "./http_wire.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A masked client frame. */
function clientFrame(opcode: number, text: string, final = true): Uint8Array {
  const body = encoder.encode(text);
  assert.ok(body.length < 126);
  const mask = [1, 2, 3, 4];
  return new Uint8Array([
    (final ? 0x80 : 0) | opcode,
    0x80 | body.length,
    ...mask,
    ...body.map((byte, i) => byte ^ mask[i & 3]!),
  ]);
}

/** One server frame as read off the wire. */
interface ServerFrame {
  final: boolean;
  opcode: number;
  payload: Uint8Array;
}

/** A raw connection speaking WebSocket by hand. */
class RawSocket implements Disposable {
  #buffer = new Uint8Array(0);
  readonly #chunk = new Uint8Array(65536);

  private constructor(readonly conn: Deno.TcpConn) {}

  static async open(
    port: number,
    headers: string[] = [],
  ): Promise<{ socket: RawSocket; head: string }> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const socket = new RawSocket(conn);
    await conn.write(encoder.encode(
      [
        "GET /ws HTTP/1.1",
        `Host: 127.0.0.1:${port}`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        ...(headers.length > 0 ? headers : [
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
          "Sec-WebSocket-Version: 13",
        ]),
        "",
        "",
      ].join("\r\n"),
    ));
    const head = await socket.#head();
    return { socket, head };
  }

  async #fill(): Promise<boolean> {
    const count = await within(this.conn.read(this.#chunk), "bytes");
    if (count === null) return false;
    const joined = new Uint8Array(this.#buffer.length + count);
    joined.set(this.#buffer);
    joined.set(this.#chunk.subarray(0, count), this.#buffer.length);
    this.#buffer = joined;
    return true;
  }

  async #head(): Promise<string> {
    while (true) {
      const text = decoder.decode(this.#buffer);
      const end = text.indexOf("\r\n\r\n");
      if (end !== -1) {
        this.#buffer = this.#buffer.slice(
          encoder.encode(text.slice(0, end + 4)).length,
        );
        return text.slice(0, end);
      }
      if (!await this.#fill()) return text;
    }
  }

  /** The next frame, or null at the end of the stream. */
  async frame(): Promise<ServerFrame | null> {
    while (true) {
      const b = this.#buffer;
      if (b.length >= 2) {
        assert.equal(b[1]! & 0x80, 0, "server frames are not masked");
        let length = b[1]! & 0x7f;
        let at = 2;
        if (length === 126 && b.length >= 4) {
          length = (b[2]! << 8) | b[3]!;
          at = 4;
        } else if (length === 127) {
          assert.fail("no frame here is that long");
        }
        if (length !== 126 && b.length >= at + length) {
          this.#buffer = b.slice(at + length);
          return {
            final: (b[0]! & 0x80) !== 0,
            opcode: b[0]! & 0x0f,
            payload: b.slice(at, at + length),
          };
        }
      }
      if (!await this.#fill()) return null;
    }
  }

  /** Text frames until one whose JSON `type` is `type`. */
  async untilEvent(type: string): Promise<Record<string, unknown>> {
    while (true) {
      const frame = await this.frame();
      if (frame === null) assert.fail(`the stream ended before ${type}`);
      if (frame.opcode !== 1) continue;
      const event = JSON.parse(decoder.decode(frame.payload));
      if (event.type === type) return event;
    }
  }

  async send(bytes: Uint8Array): Promise<void> {
    await this.conn.write(bytes);
  }

  [Symbol.dispose](): void {
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
  }
}

Deno.test("websocket framing: the handshake's accept key, fragments, ping and pong", async () => {
  await using chat = await startWebServer();
  const { socket, head } = await RawSocket.open(chat.httpPort);
  using _ = socket;
  assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  // RFC 6455 section 1.3's example key and answer.
  assert.match(
    head,
    /\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i,
  );
  const hello = JSON.stringify({ type: "hello", nick: "raw" });
  await socket.send(
    new Uint8Array([
      ...clientFrame(1, hello.slice(0, 10), false),
      ...clientFrame(9, "are you there"),
      ...clientFrame(0, hello.slice(10)),
    ]),
  );
  let pong: ServerFrame | null = null;
  while (pong === null) {
    const frame = await socket.frame();
    assert.ok(frame !== null);
    if (frame.opcode === 0xa) pong = frame;
  }
  assert.equal(decoder.decode(pong.payload), "are you there");
  const welcome = await socket.untilEvent("welcome");
  assert.equal(welcome.nick, "raw");
});

Deno.test("websocket framing: a turn's events leave as one frame each", async () => {
  await using chat = await startWebServer();
  const { socket } = await RawSocket.open(chat.httpPort);
  using _ = socket;
  await socket.send(
    clientFrame(1, JSON.stringify({ type: "hello", nick: "a" })),
  );
  await socket.untilEvent("welcome");
  // Three requests in one write: their replies are queued in one turn.
  await socket.send(
    new Uint8Array([
      ...clientFrame(1, JSON.stringify({ type: "ping", token: "1" })),
      ...clientFrame(1, JSON.stringify({ type: "ping", token: "2" })),
      ...clientFrame(1, JSON.stringify({ type: "ping", token: "3" })),
    ]),
  );
  const tokens: string[] = [];
  while (tokens.length < 3) {
    const frame = await socket.frame();
    assert.ok(frame !== null);
    assert.ok(frame.final);
    const text = decoder.decode(frame.payload);
    assert.doesNotMatch(text, /\n/, "one event per frame, no newline");
    const event = JSON.parse(text);
    if (event.type === "pong") tokens.push(event.token);
  }
  assert.deepEqual(tokens, ["1", "2", "3"]);
});

Deno.test("websocket framing: a binary frame's refusal comes after the replies to the frames before it", async () => {
  await using chat = await startWebServer({ passwordIterations: 1000 });
  const { socket } = await RawSocket.open(chat.httpPort);
  using _ = socket;
  await socket.send(
    clientFrame(1, JSON.stringify({ type: "hello", nick: "b" })),
  );
  await socket.untilEvent("welcome");
  // In one write: a message (delivered once stored), a registration (its
  // password is hashed meanwhile), then a binary frame.
  const said = { type: "message", text: "hi", ref: "said" };
  const register = { type: "register", password: "long enough", ref: "reg" };
  await socket.send(
    new Uint8Array([
      ...clientFrame(1, JSON.stringify(said)),
      ...clientFrame(1, JSON.stringify(register)),
      ...clientFrame(2, "\x01\x02"),
    ]),
  );
  const answers: unknown[] = [];
  while (answers.length < 3) {
    const frame = await socket.frame();
    assert.ok(frame !== null, `the stream ended after ${answers}`);
    if (frame.opcode !== 1) continue;
    const event = JSON.parse(decoder.decode(frame.payload));
    // The first room's join, history and member list carry neither.
    if (event.ref !== undefined || event.type === "error") {
      answers.push(event.ref ?? event.code);
    }
  }
  assert.deepEqual(answers, ["said", "reg", "bad_request"]);
});

Deno.test("websocket framing: a socket cut for flooding frames gets its accepted message's confirmation before its goodbye", async () => {
  // Flood control is off: the frames waiting behind a running request are
  // what cut this connection (WebSocketInput), at 64.
  await using chat = await startWebServer({ passwordIterations: 1000 });
  await using bob = await LineClient.json(chat.port, "bob");
  const { socket } = await RawSocket.open(chat.httpPort);
  using _ = socket;
  await socket.send(
    clientFrame(1, JSON.stringify({ type: "hello", nick: "flo" })),
  );
  await socket.untilEvent("who");
  // In one write, so in one read: a message (confirmed once stored), a
  // registration (its password hashed meanwhile), then more frames than
  // may wait behind it.
  const said = { type: "message", text: "last words", ref: "said" };
  const register = { type: "register", password: "long enough", ref: "reg" };
  const pings = Array.from(
    { length: 100 },
    (_, i) => clientFrame(1, JSON.stringify({ type: "ping", ref: `p${i}` })),
  );
  await socket.send(
    new Uint8Array([
      ...clientFrame(1, JSON.stringify(said)),
      ...clientFrame(1, JSON.stringify(register)),
      ...pings.flatMap((frame) => [...frame]),
    ]),
  );
  const told: string[] = [];
  let bye: Record<string, unknown> | null = null;
  let close: ServerFrame | null = null;
  for (let frames = 0; frames < 100 && close === null; frames++) {
    const frame = await socket.frame();
    assert.ok(frame !== null, `the stream ended after ${told}`);
    if (frame.opcode === 8) close = frame;
    if (frame.opcode !== 1) continue;
    const event = JSON.parse(decoder.decode(frame.payload));
    if (event.type === "bye") bye = event;
    told.push(
      event.ref === undefined ? event.type : `${event.type}:${event.ref}`,
    );
  }
  // The message was accepted, so its confirmation comes first; the
  // registration, still hashing when the connection was cut, is not made,
  // and nothing after the cut is answered.
  assert.deepEqual(told, ["message:said", "bye"]);
  assert.equal(bye?.code, "flood");
  assert.ok(close !== null, "a close frame ends it");
  assert.equal(await socket.frame(), null, "then the connection ends");
  await bob.expectEvent("message", (event) => event.text === "last words");
  await connectionsDropTo(chat.server, 1);
  await using again = await LineClient.json(chat.port, "flo");
  assert.deepEqual(await again.linesUntilPong(true), []);
});

Deno.test("websocket framing: --max-waiting-frames frames may wait behind a running request, one more is a flood", async () => {
  await using chat = await startWebServer({
    passwordIterations: 1000,
    maxWaitingFrames: 4,
  });
  // What a connection that sends a registration and then `pings` frames in
  // one write is told, up to its last pong or its goodbye.
  const answersTo = async (nick: string, pings: number) => {
    const { socket } = await RawSocket.open(chat.httpPort);
    using _ = socket;
    await socket.send(clientFrame(1, JSON.stringify({ type: "hello", nick })));
    await socket.untilEvent("who");
    const register = { type: "register", password: "long enough", ref: "r" };
    await socket.send(
      new Uint8Array([
        ...clientFrame(1, JSON.stringify(register)),
        ...Array.from(
          { length: pings },
          (_, i) =>
            clientFrame(1, JSON.stringify({ type: "ping", ref: `p${i}` })),
        ).flatMap((frame) => [...frame]),
      ]),
    );
    const told: string[] = [];
    for (let frames = 0; frames < 50; frames++) {
      const frame = await socket.frame();
      if (frame === null || frame.opcode === 8) break;
      if (frame.opcode !== 1) continue;
      const event = JSON.parse(decoder.decode(frame.payload));
      if (event.type === "bye") {
        told.push(`bye:${event.code}`);
        break;
      }
      if (event.ref !== undefined) told.push(String(event.ref));
      if (event.ref === `p${pings - 1}`) break;
    }
    return told;
  };
  assert.deepEqual(await answersTo("four", 4), ["r", "p0", "p1", "p2", "p3"]);
  assert.deepEqual(await answersTo("five", 5), ["bye:flood"]);
});

Deno.test("websocket framing: the peer's close is answered with its code, then the end", async () => {
  await using chat = await startWebServer();
  // 1012-1014 and the 3000-4999 ranges are codes this server never sends
  // itself; RFC 6455 section 5.5.1 still has them echoed.
  for (const code of [1000, 1001, 1003, 1012, 1013, 1014, 3000, 4000, 4999]) {
    const { socket } = await RawSocket.open(chat.httpPort);
    using _ = socket;
    await socket.send(
      clientFrame(1, JSON.stringify({ type: "hello", nick: `c${code}` })),
    );
    await socket.untilEvent("welcome");
    const close = new Uint8Array([0x88, 0x82, 0, 0, 0, 0, code >> 8, code]);
    await socket.send(close);
    let frame: ServerFrame | null;
    do frame = await socket.frame(); while (
      frame !== null && frame.opcode !== 8
    );
    assert.ok(frame !== null, `a close frame came back for ${code}`);
    assert.equal((frame.payload[0]! << 8) | frame.payload[1]!, code);
    assert.equal(await socket.frame(), null, "then the connection ends");
    await connectionsDropTo(chat.server, 0);
  }
});

Deno.test("websocket framing: an unmasked frame closes with 1002", async () => {
  await using chat = await startWebServer();
  const { socket } = await RawSocket.open(chat.httpPort);
  using _ = socket;
  await socket.send(new Uint8Array([0x81, 2, 0x7b, 0x7d]));
  let frame: ServerFrame | null;
  do frame = await socket.frame(); while (frame !== null && frame.opcode !== 8);
  assert.ok(frame !== null);
  assert.equal((frame.payload[0]! << 8) | frame.payload[1]!, 1002);
  await connectionsDropTo(chat.server, 0);
});

/**
 * Sends `request` as is and reads the first answer, framed by its length
 * (an upgrade's head is the whole answer).
 */
async function answerTo(port: number, request: string): Promise<string> {
  using wire = await HttpWire.open(port);
  await wire.send(request);
  const answer = await wire.response(request.startsWith("HEAD "));
  assert.ok(answer !== null, "an answer");
  return `${answer.head}\r\n\r\n${answer.body}`;
}

/** A handshake request with the request line and headers given. */
function handshakeText(line: string, headers: string[]): string {
  return [line, ...headers, "", ""].join("\r\n");
}

Deno.test("websocket framing: handshakes RFC 6455 does not allow are refused with a one-line reason", async () => {
  await using chat = await startWebServer();
  const host = `Host: 127.0.0.1:${chat.httpPort}`;
  const fine = [
    host,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
  ];
  const without = (name: string, ...extra: string[]) => [
    ...fine.filter((header) => !header.startsWith(`${name}:`)),
    ...extra,
  ];
  const cases: Array<[string, string, string[], RegExp]> = [
    ["HTTP/1.0", "GET /ws HTTP/1.0", fine, /^HTTP\/1\.1 400 Bad Request\r\n/],
    [
      "HEAD",
      "HEAD /ws HTTP/1.1",
      fine,
      /^HTTP\/1\.1 405 .*\r\nallow: GET\r\n/s,
    ],
    [
      "version 8",
      "GET /ws HTTP/1.1",
      without("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"),
      /^HTTP\/1\.1 426 .*\r\nsec-websocket-version: 13\r\n/s,
    ],
    ["no Host", "GET /ws HTTP/1.1", without("Host"), /^HTTP\/1\.1 400 /],
    [
      "a key of 15 bytes",
      "GET /ws HTTP/1.1",
      without("Sec-WebSocket-Key", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA"),
      /^HTTP\/1\.1 400 /,
    ],
    [
      "no Connection: Upgrade",
      "GET /ws HTTP/1.1",
      without("Connection", "Connection: keep-alive"),
      /^HTTP\/1\.1 400 /,
    ],
    [
      "no Upgrade",
      "GET /ws HTTP/1.1",
      without("Upgrade"),
      /^HTTP\/1\.1 426 .*\r\nupgrade: websocket\r\n/s,
    ],
  ];
  for (const [name, line, headers, status] of cases) {
    const answer = await answerTo(
      chat.httpPort,
      handshakeText(line, headers),
    );
    assert.match(answer, status, name);
    assert.match(answer, /\r\ncontent-type: text\/plain/, name);
    // A refused handshake closes; a 426 to a plain GET keeps the connection.
    assert.match(
      answer,
      name === "no Upgrade"
        ? /\r\nconnection: upgrade, keep-alive\r\n/
        : /\r\nconnection: (upgrade, )?close\r\n/,
      name,
    );
    // The body is one line saying why; a HEAD's answer has none.
    const body = answer.slice(answer.indexOf("\r\n\r\n") + 4);
    assert.match(body, name === "HEAD" ? /^$/ : /^[^\n]+\n$/, name);
  }
  // The same headers over HTTP/1.1 are taken.
  const { socket, head } = await RawSocket.open(chat.httpPort);
  socket[Symbol.dispose]();
  assert.match(head, /^HTTP\/1\.1 101 /);
  await connectionsDropTo(chat.server, 0);
});

Deno.test("web listener: a page request over HTTP/1.1 needs one Host that is a host (RFC 9112 section 3.2); HTTP/1.0 needs none", async () => {
  await using chat = await startWebServer();
  const cases: Array<[string, string, RegExp]> = [
    ["no Host", "GET / HTTP/1.1\r\n\r\n", /^HTTP\/1\.1 400 [^]*\r\n\r\n.*Host/],
    [
      "two Hosts",
      "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
      /^HTTP\/1\.1 400 [^]*\r\n\r\n.*Host/,
    ],
    [
      "a Host that is no host",
      "GET /app.js HTTP/1.1\r\nHost: a b\r\n\r\n",
      /^HTTP\/1\.1 400 [^]*\r\n\r\n.*Host/,
    ],
    ["HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", /^HTTP\/1\.1 200 /],
    [
      "HTTP/1.1 with Host",
      "HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
      /^HTTP\/1\.1 200 /,
    ],
    // The refusal of another version names the ones served.
    [
      "HTTP/2.0",
      "GET / HTTP/2.0\r\n\r\n",
      /^HTTP\/1\.1 505 [^]*\r\n\r\nHTTP\/1\.0 and HTTP\/1\.1 only\n$/,
    ],
  ];
  for (const [name, request, answer] of cases) {
    assert.match(await answerTo(chat.httpPort, request), answer, name);
  }
});

Deno.test("websocket framing: oversized heads and bad request lines are refused", async () => {
  await using chat = await startWebServer();
  {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: chat.httpPort,
    });
    try {
      await conn.write(encoder.encode(
        `GET / HTTP/1.1\r\nX-Big: ${"b".repeat(20_000)}\r\n\r\n`,
      ));
      const buffer = new Uint8Array(1024);
      const count = await within(conn.read(buffer), "the answer");
      assert.match(
        decoder.decode(buffer.subarray(0, count ?? 0)),
        /^HTTP\/1\.1 431 /,
      );
    } finally {
      conn.close();
    }
  }
  {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: chat.httpPort,
    });
    try {
      await conn.write(encoder.encode("BREW /pot HTTP/1.1\r\nbad\r\n\r\n"));
      const buffer = new Uint8Array(1024);
      const count = await within(conn.read(buffer), "the answer");
      assert.match(
        decoder.decode(buffer.subarray(0, count ?? 0)),
        /^HTTP\/1\.1 400 /,
      );
    } finally {
      conn.close();
    }
  }
});

Deno.test("websocket framing: messages sent just before the peer's close are confirmed before the close frame", async () => {
  await using chat = await startWebServer();
  await using watcher = await LineClient.text(chat.port, "watcher");
  const { socket } = await RawSocket.open(chat.httpPort);
  using _ = socket;
  await socket.send(
    clientFrame(1, JSON.stringify({ type: "hello", nick: "leaving" })),
  );
  await socket.untilEvent("who");
  await watcher.expect("*** leaving joined #lobby");
  // A bot's last words and its close in one write: the close frame is the
  // end of its input, and what it was owed comes first, as on TCP.
  const requests = [
    { type: "ping", ref: "p" },
    { type: "message", text: "one", ref: "m1" },
    { type: "message", text: "two", ref: "m2" },
  ].map((request) => clientFrame(1, JSON.stringify(request)));
  const close = new Uint8Array([
    0x88,
    0x82,
    0,
    0,
    0,
    0,
    1000 >> 8,
    1000 & 0xff,
  ]);
  await socket.send(
    Uint8Array.from([...requests, close].flatMap((frame) => [...frame])),
  );
  await watcher.expect("<leaving> one");
  await watcher.expect("<leaving> two");
  const refs: string[] = [];
  let frame: ServerFrame | null;
  do {
    frame = await socket.frame();
    if (frame?.opcode === 1) {
      const event = JSON.parse(decoder.decode(frame.payload));
      if (typeof event.ref === "string") refs.push(event.ref);
    }
  } while (frame !== null && frame.opcode !== 8);
  assert.deepEqual(refs, ["p", "m1", "m2"]);
  assert.ok(frame !== null, "a close frame after them");
  assert.equal((frame.payload[0]! << 8) | frame.payload[1]!, 1000);
  assert.equal(await socket.frame(), null, "then the connection ends");
});

Deno.test("websocket framing: a burst past flood control's budget is paced, in order, never cut as a flood", async () => {
  // Few frames may wait behind a running request (--max-waiting-frames),
  // but frames held by flood control are not such frames: the socket is
  // not read until their turn, as a TCP connection's lines wait.
  await using chat = await startWebServer({
    floodRate: 50,
    floodBurst: 2,
    maxWaitingFrames: 4,
  });
  const { socket } = await RawSocket.open(chat.httpPort);
  using _ = socket;
  await socket.send(
    clientFrame(1, JSON.stringify({ type: "hello", nick: "paster" })),
  );
  await socket.untilEvent("who");
  const lines = Array.from({ length: 30 }, (_, i) => `line ${i}`);
  await socket.send(
    Uint8Array.from(
      lines.flatMap((text) => [
        ...clientFrame(1, JSON.stringify({ type: "message", text })),
      ]),
    ),
  );
  const confirmed: string[] = [];
  while (confirmed.length < lines.length) {
    const frame = await socket.frame();
    assert.ok(frame !== null && frame.opcode === 1, `cut after ${confirmed}`);
    const event = JSON.parse(decoder.decode(frame.payload));
    assert.notEqual(event.type, "bye", `cut after ${confirmed}`);
    if (event.type === "message") confirmed.push(event.text);
  }
  assert.deepEqual(confirmed, lines);
});
