import assert from "node:assert/strict";
import {
  type ClientFrame,
  CLOSE_INVALID_DATA,
  CLOSE_PROTOCOL_ERROR,
  closeFrame,
  closeReply,
  encodeFrame,
  FrameReader,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_TEXT,
  textFramesOfLines,
} from "./ws_frames.ts";
import {
  clientKeepsAlive,
  handshakeProblem,
  headEnd,
  leadingBlankLines,
  parseRequestHead,
  requestBody,
  type RequestHead,
  responseHead,
} from "./http_head.ts";

const encoder = new TextEncoder();
const MASK = [0x12, 0x34, 0x56, 0x78];

/** A client frame as a browser sends it: masked. */
function clientFrame(
  opcode: number,
  payload: Uint8Array | string,
  final = true,
): Uint8Array {
  const body = typeof payload === "string" ? encoder.encode(payload) : payload;
  const head: number[] = [(final ? 0x80 : 0) | opcode];
  if (body.length < 126) head.push(0x80 | body.length);
  else if (body.length < 0x10000) {
    head.push(0x80 | 126, body.length >>> 8, body.length & 0xff);
  } else {
    head.push(0x80 | 127, 0, 0, 0, 0);
    head.push(
      body.length >>> 24,
      (body.length >>> 16) & 0xff,
      (body.length >>> 8) & 0xff,
      body.length & 0xff,
    );
  }
  const masked = body.map((byte, i) => byte ^ MASK[i & 3]!);
  return new Uint8Array([...head, ...MASK, ...masked]);
}

function readAll(reader: FrameReader, ...chunks: Uint8Array[]): ClientFrame[] {
  return chunks.flatMap((chunk) => reader.push(chunk));
}

Deno.test("textFramesOfLines: one text frame per line, each length form", () => {
  for (const size of [0, 125, 126, 65535, 65536, 70000]) {
    const line = "x".repeat(size);
    const framed = textFramesOfLines(encoder.encode(`${line}\n${line}\n`));
    const head = size < 126 ? 2 : size < 0x10000 ? 4 : 10;
    assert.equal(framed.length, 2 * (head + size), `size ${size}`);
    assert.equal(framed[0], 0x81);
    assert.equal(framed[head + size], 0x81);
    const second = framed.subarray(head + size);
    if (size >= 126 && size < 0x10000) {
      assert.equal((second[2]! << 8) | second[3]!, size);
    }
  }
  assert.deepEqual([...textFramesOfLines(encoder.encode("{}"))], [
    0x81,
    2,
    0x7b,
    0x7d,
  ]);
});

Deno.test("closeFrame carries the code and a reason cut to 123 bytes", () => {
  const frame = closeFrame(1001, "é".repeat(100));
  assert.equal(frame[0], 0x80 | OP_CLOSE);
  assert.equal(frame[1], 125);
  assert.equal((frame[2]! << 8) | frame[3]!, 1001);
});

Deno.test("closeReply echoes every code a peer may send, those the server never sends too", () => {
  for (
    const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011]
      .concat([1012, 1013, 1014, 3000, 3999, 4000, 4999])
  ) {
    assert.equal(closeReply(code), code, String(code));
  }
  for (const code of [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) {
    assert.equal(closeReply(code), 1000, String(code));
  }
});

Deno.test("FrameReader: masked text, byte by byte, and whole", () => {
  const bytes = clientFrame(OP_TEXT, '{"type":"rooms"}');
  const reader = new FrameReader(100);
  const frames = readAll(
    reader,
    ...[...bytes].map((byte) => new Uint8Array([byte])),
  );
  assert.deepEqual(frames, [{ kind: "text", text: '{"type":"rooms"}' }]);
  const two = new Uint8Array([...bytes, ...clientFrame(OP_TEXT, "é")]);
  assert.deepEqual(new FrameReader(100).push(two), [
    { kind: "text", text: '{"type":"rooms"}' },
    { kind: "text", text: "é" },
  ]);
});

Deno.test("FrameReader: fragments join, with a ping between them", () => {
  const reader = new FrameReader(100);
  const frames = readAll(
    reader,
    clientFrame(OP_TEXT, "hel", false),
    clientFrame(OP_PING, "p"),
    clientFrame(OP_CONTINUATION, "lo", false),
    clientFrame(OP_CONTINUATION, "!"),
  );
  assert.deepEqual(frames, [
    { kind: "ping", payload: encoder.encode("p") },
    { kind: "text", text: "hello!" },
  ]);
});

Deno.test("FrameReader: a message past the limit is skipped and reported, the next one read", () => {
  const reader = new FrameReader(10);
  const long = clientFrame(OP_TEXT, "x".repeat(70_000));
  const frames = readAll(
    reader,
    long.subarray(0, 5000),
    long.subarray(5000),
    clientFrame(OP_TEXT, "a".repeat(6), false),
    clientFrame(OP_CONTINUATION, "b".repeat(6)),
    clientFrame(OP_TEXT, "ok"),
  );
  assert.deepEqual(frames, [
    { kind: "too_long", limit: 10 },
    { kind: "too_long", limit: 10 },
    { kind: "text", text: "ok" },
  ]);
});

Deno.test("FrameReader: a message of endless empty fragments ends as too long, keeping none of them", () => {
  const reader = new FrameReader(10);
  const empty = clientFrame(OP_CONTINUATION, "", false);
  const many = new Uint8Array(empty.length * 1000);
  for (let i = 0; i < 1000; i++) many.set(empty, i * empty.length);
  const frames = readAll(
    reader,
    clientFrame(OP_TEXT, "a", false),
    many,
    clientFrame(OP_CONTINUATION, "b"),
    // Empty fragments within the allowance join as nothing.
    clientFrame(OP_TEXT, "o", false),
    clientFrame(OP_CONTINUATION, "", false),
    clientFrame(OP_CONTINUATION, "k"),
  );
  assert.deepEqual(frames, [
    { kind: "too_long", limit: 10 },
    { kind: "text", text: "ok" },
  ]);
});

Deno.test("FrameReader: bytes no message stands for are counted, for the reader to charge", () => {
  const reader = new FrameReader(10);
  reader.push(clientFrame(OP_TEXT, "hello"));
  assert.equal(reader.takeSkippedBytes(), 6, "a text frame's header");
  reader.push(clientFrame(OP_PING, "p".repeat(100)));
  assert.equal(reader.takeSkippedBytes(), 106);
  reader.push(clientFrame(OP_BINARY, new Uint8Array(50)));
  assert.equal(reader.takeSkippedBytes(), 56);
  // A message past the limit: its too_long stands for the limit's bytes.
  reader.push(clientFrame(OP_TEXT, "x".repeat(1000)));
  assert.equal(reader.takeSkippedBytes(), 1008 - 10);
  assert.equal(reader.takeSkippedBytes(), 0);
});

Deno.test("FrameReader: binary messages are reported, not read", () => {
  const reader = new FrameReader(10);
  assert.deepEqual(reader.push(clientFrame(OP_BINARY, new Uint8Array(3))), [
    { kind: "binary" },
  ]);
  assert.deepEqual(reader.push(clientFrame(OP_BINARY, new Uint8Array(30))), [
    { kind: "binary" },
  ]);
});

Deno.test("FrameReader: the close frame's code and reason; nothing read after", () => {
  const reader = new FrameReader(100);
  const payload = new Uint8Array([0x0f, 0xa0, ...encoder.encode("bye")]);
  const frames = readAll(
    reader,
    new Uint8Array([
      ...clientFrame(OP_CLOSE, payload),
      ...clientFrame(OP_TEXT, "late"),
    ]),
  );
  assert.deepEqual(frames, [{ kind: "close", code: 4000, reason: "bye" }]);
  assert.deepEqual(reader.push(clientFrame(OP_TEXT, "later")), []);
});

Deno.test("FrameReader: protocol errors fail the connection with their code", () => {
  const cases: Array<[string, Uint8Array, number]> = [
    ["unmasked", encodeFrame(OP_TEXT, encoder.encode("hi")), 1002],
    [
      "reserved bit",
      (() => {
        const frame = clientFrame(OP_TEXT, "hi");
        frame[0] = frame[0]! | 0x40;
        return frame;
      })(),
      CLOSE_PROTOCOL_ERROR,
    ],
    ["fragmented ping", clientFrame(OP_PING, "p", false), 1002],
    ["continuation first", clientFrame(OP_CONTINUATION, "x"), 1002],
    ["unknown opcode", clientFrame(0x3, "x"), 1002],
    [
      "not UTF-8",
      clientFrame(OP_TEXT, new Uint8Array([0xc3, 0x28])),
      CLOSE_INVALID_DATA,
    ],
    [
      "close body of one byte",
      clientFrame(OP_CLOSE, new Uint8Array([3])),
      1002,
    ],
    ...[0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000].map((
      code,
    ): [string, Uint8Array, number] => [
      `close code ${code}`,
      clientFrame(OP_CLOSE, new Uint8Array([code >> 8, code & 0xff])),
      CLOSE_PROTOCOL_ERROR,
    ]),
    [
      "close reason not UTF-8",
      clientFrame(OP_CLOSE, new Uint8Array([0x03, 0xe8, 0xc3, 0x28])),
      CLOSE_INVALID_DATA,
    ],
  ];
  for (const [what, bytes, code] of cases) {
    const frames = new FrameReader(100).push(bytes);
    assert.equal(frames.length, 1, what);
    assert.equal(frames[0]!.kind, "fail", what);
    assert.equal((frames[0] as { code: number }).code, code, what);
  }
  const reader = new FrameReader(100);
  reader.push(clientFrame(OP_TEXT, "a", false));
  assert.equal(reader.push(clientFrame(OP_TEXT, "b"))[0]!.kind, "fail");
});

Deno.test("http_head: head end, request parsing, response head, handshake checks", () => {
  assert.equal(headEnd(encoder.encode("GET / HTTP/1.1\r\nHost: a\r\n")), null);
  assert.equal(headEnd(encoder.encode("GET / HTTP/1.1\r\n\r")), null);
  assert.equal(headEnd(encoder.encode("GET / HTTP/1.1\nHost: a\n")), null);
  // Bare LF line ends, as typed into nc, and mixtures of both.
  for (
    const [text, end] of [
      ["GET / HTTP/1.1\r\nHost: a\r\n\r\nframes", { text: 23, next: 27 }],
      ["GET / HTTP/1.1\nHost: a\n\nframes", { text: 22, next: 24 }],
      ["GET / HTTP/1.1\r\nHost: a\n\r\n", { text: 23, next: 26 }],
      ["GET / HTTP/1.1\nHost: a\r\n\n", { text: 22, next: 25 }],
    ] as const
  ) {
    assert.deepEqual(headEnd(encoder.encode(text)), end, JSON.stringify(text));
  }
  const typed = parseRequestHead("GET / HTTP/1.1\nHost: h\nA: 1");
  assert.ok("method" in typed);
  assert.equal(typed.headers.get("host"), "h");
  assert.equal(typed.headers.get("a"), "1");
  const head = parseRequestHead("GET /x?y HTTP/1.1\r\nHost: h\r\nA: 1\r\nA: 2");
  assert.ok("method" in head);
  assert.equal(head.method, "GET");
  assert.equal(head.target, "/x?y");
  assert.equal(head.headers.get("a"), "1, 2");
  for (
    const bad of [
      "GET /",
      "GET  HTTP/1.1",
      "G(T / HTTP/1.1",
      "GET / HTTP/1.1\r\nno colon",
      "GET / HTTP/1.1\r\n: empty name",
    ]
  ) {
    const result = parseRequestHead(bad);
    assert.ok("status" in result, bad);
    assert.equal(result.status, 400, bad);
  }
  const http2 = parseRequestHead("GET / HTTP/2.0");
  assert.ok("status" in http2 && http2.status === 505);
  assert.match(http2.text, /HTTP\/1\.0 and HTTP\/1\.1/);
  assert.match(responseHead(101, { a: "b" }), /^HTTP\/1\.1 101 Switching/);
});

Deno.test("parseRequestHead refuses a Host that RFC 9112 section 3.2 refuses", () => {
  const refusal = (text: string) => {
    const head = parseRequestHead(text);
    assert.ok("status" in head, text);
    assert.equal(head.status, 400, text);
    return head.text;
  };
  assert.match(refusal("GET / HTTP/1.1"), /HTTP\/1\.1 request needs a Host/);
  assert.match(refusal("GET / HTTP/1.1\r\nX: 1"), /needs a Host/);
  assert.match(refusal("GET / HTTP/1.1\r\nHost: a\r\nHost: a"), /once/);
  assert.match(refusal("GET / HTTP/1.0\r\nHost: a\r\nhost: b"), /once/);
  for (const bad of ["a b", "a, b", "a/b", "a@b", "a:80x", "[::1", "%zz"]) {
    assert.match(refusal(`GET / HTTP/1.1\r\nHost: ${bad}`), /host/, bad);
  }
  // HTTP/1.0 had no Host; an empty one is what a target without a host sends.
  for (
    const good of [
      "GET / HTTP/1.0",
      "GET / HTTP/1.1\r\nHost: ",
      "GET / HTTP/1.1\r\nhost: example.com",
      "GET / HTTP/1.1\r\nHost: 127.0.0.1:7080",
      "GET / HTTP/1.1\r\nHost: [::1]:7080",
      "GET / HTTP/1.1\r\nHost: xn--caf-dma.example:80",
    ]
  ) {
    assert.ok("method" in parseRequestHead(good), good);
  }
});

/** A handshake head as a browser sends it, with `change` applied. */
function handshake(
  change:
    & { version?: string; method?: string; drop?: string }
    & Record<
      string,
      string
    > = {},
): RequestHead {
  const { version = "HTTP/1.1", method = "GET", drop, ...set } = change;
  const headers: Record<string, string> = {
    host: "127.0.0.1:7080",
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    "sec-websocket-version": "13",
    ...set,
  };
  if (drop !== undefined) delete headers[drop];
  const head = parseRequestHead(
    [
      `${method} /ws ${version}`,
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ].join("\r\n"),
  );
  assert.ok("method" in head);
  return head;
}

Deno.test("handshakeProblem accepts what browsers send", () => {
  assert.equal(handshakeProblem(handshake()), null);
  assert.equal(
    handshakeProblem(handshake({ connection: "keep-alive, Upgrade" })),
    null,
  );
  assert.equal(handshakeProblem(handshake({ upgrade: "WebSocket" })), null);
  for (const key of ["AAAAAAAAAAAAAAAAAAAAAA==", "/////////////////////w=="]) {
    assert.equal(
      handshakeProblem(handshake({ "sec-websocket-key": key })),
      null,
      key,
    );
  }
});

Deno.test("handshakeProblem refuses HTTP/1.0: RFC 6455 asks HTTP/1.1 or later", () => {
  assert.deepEqual(handshakeProblem(handshake({ version: "HTTP/1.0" })), {
    status: 400,
    text: "A WebSocket handshake needs HTTP/1.1",
  });
});

Deno.test("handshakeProblem refuses what is not a GET, with the method it takes", () => {
  assert.deepEqual(handshakeProblem(handshake({ method: "HEAD" })), {
    status: 405,
    text: "A WebSocket handshake is a GET",
    headers: { allow: "GET" },
  });
});

Deno.test("handshakeProblem refuses another version with 426 naming version 13", () => {
  for (const version of ["8", "12", "13, 13", ""]) {
    const problem = handshakeProblem(
      handshake({ "sec-websocket-version": version }),
    );
    assert.equal(problem?.status, 426, version);
    assert.equal(problem?.headers?.["sec-websocket-version"], "13");
    assert.equal(problem?.headers?.upgrade, "websocket");
  }
  const missing = handshakeProblem(
    handshake({ drop: "sec-websocket-version" }),
  );
  assert.equal(missing?.status, 426);
});

Deno.test("handshakeProblem refuses an empty Host, bad tokens and a key of another shape", () => {
  const refused = (change: Parameters<typeof handshake>[0]) => {
    const problem = handshakeProblem(handshake(change));
    assert.equal(problem?.status, 400, JSON.stringify(change));
    return problem!.text;
  };
  assert.match(refused({ host: "" }), /Host/);
  assert.match(refused({ upgrade: "h2c" }), /Upgrade/);
  assert.match(refused({ connection: "keep-alive" }), /Connection/);
  assert.match(refused({ connection: "upgrade-insecure" }), /Connection/);
  for (
    const key of [
      "short",
      "dGhlIHNhbXBsZSBub25jZQ",
      "dGhlIHNhbXBsZSBub25jZQ==, dGhlIHNhbXBsZSBub25jZQ==",
      // 16 bytes, but the last character's low bits are not zero: that is
      // not how base64 writes 16 bytes.
      "dGhlIHNhbXBsZSBub25jZR==",
      "dGhlIHNhbXBsZSBub25jZQ=",
      "dGhlIHNhbXBsZSBub25jZQ===",
      "dGhlIHNhbXBsZSBub25jZQ-_",
    ]
  ) {
    assert.match(refused({ "sec-websocket-key": key }), /Key/, key);
  }
  assert.match(refused({ drop: "sec-websocket-key" }), /Key/);
});

function headOf(text: string): RequestHead {
  const head = parseRequestHead(text);
  assert.ok("method" in head, text);
  return head;
}

Deno.test("requestBody frames a body as RFC 9112 section 6.3 has it, refusing what cannot be trusted", () => {
  const post = (...lines: string[]) =>
    requestBody(headOf(["POST / HTTP/1.1", "Host: a", ...lines].join("\r\n")));
  assert.deepEqual(post(), { length: 0 });
  assert.deepEqual(post("Content-Length: 0"), { length: 0 });
  assert.deepEqual(post("Content-Length: 12"), { length: 12 });
  assert.deepEqual(post("Content-Length: 7", "Content-Length: 7"), {
    length: 7,
  });
  assert.deepEqual(post("Transfer-Encoding: gzip, Chunked"), {
    chunked: true,
  });
  for (
    const lines of [
      ["Content-Length: 7", "Content-Length: 8"],
      ["Content-Length: -1"],
      ["Content-Length: 1e3"],
      ["Content-Length: 0x10"],
      ["Content-Length: "],
      ["Content-Length: 99999999999999999999"],
      ["Content-Length: 5", "Transfer-Encoding: chunked"],
      ["Transfer-Encoding: chunked, gzip"],
      ["Transfer-Encoding: identity"],
    ]
  ) {
    const body = post(...lines);
    assert.equal("status" in body && body.status, 400, lines.join(" / "));
  }
  const old = requestBody(
    headOf("POST / HTTP/1.0\r\nTransfer-Encoding: chunked"),
  );
  assert.equal("status" in old && old.status, 400);
});

Deno.test("clientKeepsAlive: HTTP/1.1 unless close, HTTP/1.0 only when asked", () => {
  const cases: Array<[string, boolean]> = [
    ["GET / HTTP/1.1\r\nHost: a", true],
    ["GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive", true],
    ["GET / HTTP/1.1\r\nHost: a\r\nConnection: Close", false],
    ["GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close", false],
    ["GET / HTTP/1.1\r\nHost: a\r\nConnection: closed", true],
    ["GET / HTTP/1.0", false],
    ["GET / HTTP/1.0\r\nConnection: keep-alive", true],
    ["GET / HTTP/1.0\r\nConnection: keep-alive, close", false],
  ];
  for (const [text, expected] of cases) {
    assert.equal(clientKeepsAlive(headOf(text)), expected, text);
  }
});

Deno.test("leadingBlankLines skips empty lines before a request line, and nothing else", () => {
  const count = (text: string) =>
    leadingBlankLines(new TextEncoder().encode(text));
  assert.equal(count(""), 0);
  assert.equal(count("GET"), 0);
  assert.equal(count("\r\n\r\nGET"), 4);
  assert.equal(count("\n\r\nGET"), 3);
  assert.equal(count("\r\rGET"), 0);
  assert.equal(count(" \r\nGET"), 0);
});
