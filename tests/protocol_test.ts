import assert from "node:assert/strict";
import {
  type ClientRequest,
  COMMANDS,
  decodeJsonEvent,
  decodeJsonRequest,
  decodeTextRequest,
  EncodedEvent,
  encodeJsonEvent,
  encodeJsonRequest,
  encodeTextEvent,
  encodeTextRequest,
  type Frame,
  LineFramer,
  parseDuration,
  sanitizeText,
  type ServerEvent,
} from "../protocol.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

/** Feeds `input` cut at the given offsets and collects every frame. */
function frameChunks(
  framer: LineFramer,
  input: Uint8Array,
  cuts: number[],
): Frame[] {
  const frames: Frame[] = [];
  let start = 0;
  for (const cut of [...cuts, input.length]) {
    frames.push(...framer.push(input.subarray(start, cut)));
    start = cut;
  }
  return frames;
}

const lines = (...texts: string[]): Frame[] =>
  texts.map((text) => ({ kind: "line", text }));

Deno.test("LineFramer joins a line split over many reads", () => {
  const framer = new LineFramer(64);
  const input = bytes("hello world\n");
  const frames = frameChunks(framer, input, [1, 2, 3, 5, 8, 11]);
  assert.deepEqual(frames, lines("hello world"));
});

Deno.test("LineFramer splits many lines from one read", () => {
  const framer = new LineFramer(64);
  assert.deepEqual(
    framer.push(bytes("a\nbb\r\n\nccc\n")),
    lines("a", "bb", "", "ccc"),
  );
});

Deno.test("LineFramer gives the same lines at every cut of the input", () => {
  const input = bytes("first\r\nsecond line\nthird é ✓\r\n");
  const whole = new LineFramer(64).push(input);
  assert.deepEqual(whole, lines("first", "second line", "third é ✓"));
  for (let cut = 0; cut <= input.length; cut++) {
    for (let cut2 = cut; cut2 <= input.length; cut2++) {
      const framer = new LineFramer(64);
      assert.deepEqual(
        frameChunks(framer, input, [cut, cut2]),
        whole,
        `cuts at ${cut} and ${cut2}`,
      );
    }
  }
});

Deno.test("LineFramer keeps a CRLF split across reads as one line end", () => {
  const framer = new LineFramer(64);
  assert.deepEqual(framer.push(bytes("abc\r")), []);
  assert.deepEqual(framer.push(bytes("\ndef\n")), lines("abc", "def"));
});

Deno.test("LineFramer treats a bare CR as part of the line, not an end", () => {
  const framer = new LineFramer(64);
  assert.deepEqual(framer.push(bytes("a\rb\n")), lines("a\rb"));
});

Deno.test("LineFramer decodes a character split between reads intact", () => {
  const framer = new LineFramer(64);
  const input = bytes("✓\n"); // three bytes, then the newline
  assert.deepEqual(frameChunks(framer, input, [1, 2]), lines("✓"));
});

Deno.test("LineFramer turns invalid UTF-8 into U+FFFD", () => {
  const framer = new LineFramer(64);
  const input = new Uint8Array([0x61, 0xff, 0xc0, 0x80, 0x62, 0x0a]);
  const [frame] = framer.push(input);
  assert.equal(frame?.kind, "line");
  const text = (frame as { text: string }).text;
  assert.ok(text.startsWith("a\ufffd"), text);
  assert.ok(text.endsWith("b"));
  assert.ok(!/[\x80-\xff]/.test(text.replace(/\ufffd/g, "")));
});

Deno.test("LineFramer strips a UTF-8 byte-order mark", () => {
  const framer = new LineFramer(64);
  const input = new Uint8Array([0xef, 0xbb, 0xbf, ...bytes("alice\n")]);
  assert.deepEqual(framer.push(input), lines("alice"));
});

Deno.test("LineFramer accepts a line of exactly the limit", () => {
  const framer = new LineFramer(8);
  assert.deepEqual(framer.push(bytes("12345678\n")), lines("12345678"));
  assert.deepEqual(framer.push(bytes("12345678\r\n")), lines("12345678"));
});

Deno.test("LineFramer refuses a line over the limit and resumes after it", () => {
  const framer = new LineFramer(8);
  assert.deepEqual(framer.push(bytes("123456789\nok\n")), [
    { kind: "too_long", limit: 8 },
    { kind: "line", text: "ok" },
  ]);
});

Deno.test("LineFramer never holds more than the limit of a huge line", () => {
  const framer = new LineFramer(16);
  const frames: Frame[] = [];
  const chunk = new Uint8Array(1000).fill(0x78);
  for (let i = 0; i < 100; i++) {
    frames.push(...framer.push(chunk));
    assert.ok(framer.bufferedBytes <= 17, `holds ${framer.bufferedBytes}`);
  }
  frames.push(...framer.push(bytes("\nnext\n")));
  assert.deepEqual(frames, [
    { kind: "too_long", limit: 16 },
    { kind: "line", text: "next" },
  ]);
});

Deno.test("LineFramer refuses a long line that arrives in small pieces", () => {
  const framer = new LineFramer(8);
  const frames = frameChunks(framer, bytes("abcdefghijkl\nz\n"), [3, 6, 9]);
  assert.deepEqual(frames, [
    { kind: "too_long", limit: 8 },
    { kind: "line", text: "z" },
  ]);
});

Deno.test("LineFramer delivers a last line without a newline at the end", () => {
  const framer = new LineFramer(64);
  assert.deepEqual(framer.push(bytes("one\ntwo")), lines("one"));
  assert.deepEqual(framer.end(), lines("two"));
  assert.deepEqual(new LineFramer(8).end(), []);
});

Deno.test("sanitizeText removes terminal escapes and controls", () => {
  const cases: Array<[string, string]> = [
    ["\x1b[2Jcleared", "cleared"],
    ["\x1b]0;pwned\x07title", "title"],
    ["\x1b]52;c;SGVsbG8=\x1b\\clip", "clip"],
    ["bell\x07 and del\x7f", "bell and del"],
    ["c1 \u009b31mred", "c1 red"],
    ["nul\0byte", "nulbyte"],
    ["tab\there", "tab here"],
    ["two\nlines\r\nhere", "two lines  here"],
    ["bidi \u202eevil\u202c", "bidi evil"],
    ["isolate \u2066x\u2069", "isolate x"],
    ["emoji 👩‍💻 keeps its joiner", "emoji 👩‍💻 keeps its joiner"],
    ["  padded  ", "padded"],
    ["\x1b[31mred\x1b[0m text", "red text"],
    ["\x1bPdcs string\x1b\\after", "after"],
  ];
  for (const [input, expected] of cases) {
    assert.equal(sanitizeText(input), expected, JSON.stringify(input));
  }
});

Deno.test("sanitizeText leaves nothing that starts an escape", () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 2000; i++) {
    let text = "";
    for (let j = 0; j < 20; j++) {
      text += String.fromCharCode(Math.floor(random() * 0xa0));
    }
    const clean = sanitizeText(text);
    assert.ok(!/\p{Cc}/u.test(clean), JSON.stringify(text));
  }
});

Deno.test("decodeTextRequest reads messages and every command", () => {
  const cases: Array<[string, ClientRequest | null]> = [
    ["hello there", { type: "message", text: "hello there" }],
    ["   ", null],
    ["", null],
    ["//slash", { type: "message", text: "/slash" }],
    ["/nick bob", { type: "nick", nick: "bob" }],
    ["/NICK bob", { type: "nick", nick: "bob" }],
    ["/join #dev", { type: "join", room: "#dev" }],
    ["/j dev", { type: "join", room: "dev" }],
    ["/part", { type: "part" }],
    ["/rooms", { type: "rooms" }],
    ["/list", { type: "rooms" }],
    ["/who", { type: "who" }],
    ["/who #dev", { type: "who", room: "#dev" }],
    ["/msg bob hi  there", { type: "private", to: "bob", text: "hi  there" }],
    ["/me waves", { type: "action", text: "waves" }],
    ["/away lunch", { type: "away", reason: "lunch" }],
    ["/away", { type: "away" }],
    ["/back", { type: "back" }],
    ["/help", { type: "help" }],
    ["/quit bye all", { type: "quit", reason: "bye all" }],
    ["/quit", { type: "quit" }],
    ["/ping", { type: "ping" }],
  ];
  for (const [line, expected] of cases) {
    assert.deepEqual(decodeTextRequest(line), expected, line);
  }
});

Deno.test("decodeTextRequest answers bad commands with error events", () => {
  const unknown = decodeTextRequest("/frobnicate now");
  assert.equal(unknown?.type, "error");
  assert.equal((unknown as { code: string }).code, "unknown_command");
  for (
    const line of ["/nick", "/nick a b", "/msg bob", "/msg", "/me", "/join"]
  ) {
    const result = decodeTextRequest(line);
    assert.equal(result?.type, "error", line);
    assert.equal((result as { code: string }).code, "usage", line);
  }
});

const SAMPLE_REQUESTS: ClientRequest[] = [
  { type: "message", text: "hi" },
  { type: "message", text: "/not a command" },
  { type: "action", text: "waves" },
  { type: "private", to: "bob", text: "psst" },
  { type: "nick", nick: "carol" },
  { type: "join", room: "#dev" },
  { type: "part" },
  { type: "part", room: "#dev" },
  { type: "switch", room: "#dev" },
  { type: "rooms" },
  { type: "who" },
  { type: "who", room: "#dev" },
  { type: "away", reason: "lunch" },
  { type: "away" },
  { type: "back" },
  { type: "help" },
  { type: "quit", reason: "bye" },
  { type: "quit" },
  { type: "ping", token: "t1" },
  { type: "pass", password: "s3cret" },
  { type: "oper", password: "0per" },
  { type: "kick", nick: "mallory", reason: "spam" },
  { type: "kick", nick: "mallory" },
  { type: "ban", target: "mallory", duration: "30m", reason: "spam links" },
  { type: "ban", target: "10.0.0.1" },
  { type: "ban", target: "mallory", reason: "no duration" },
  { type: "unban", target: "10.0.0.1" },
  { type: "bans" },
  { type: "mute", nick: "mallory" },
  { type: "unmute", nick: "mallory" },
  { type: "topic", text: "release day" },
  { type: "topic" },
  { type: "motd", text: "be kind" },
  { type: "motd" },
  { type: "register", password: "correct horse" },
  { type: "identify", password: "secret" },
  { type: "identify", nick: "alice", password: "secret" },
  { type: "drop" },
  { type: "drop", nick: "mallory" },
  { type: "history" },
  { type: "history", limit: 20 },
  { type: "history", room: "#dev", before: 120, limit: 10 },
  { type: "history", with: "bob" },
];

Deno.test("text codec round-trips every request", () => {
  for (const request of SAMPLE_REQUESTS) {
    assert.deepEqual(
      decodeTextRequest(encodeTextRequest(request)),
      request,
      JSON.stringify(request),
    );
  }
});

Deno.test("every text command has a JSON request", () => {
  const covered = new Set(SAMPLE_REQUESTS.map((r) => r.type));
  for (const command of COMMANDS) {
    assert.ok(covered.has(command.request), command.name);
  }
});

Deno.test("JSON codec round-trips every request, with ref", () => {
  const requests: ClientRequest[] = [
    { type: "hello", nick: "alice", room: "#dev" },
    { type: "hello", nick: "alice", password: "pw" },
    { type: "hello", nick: "alice", identify: "account pw" },
    { type: "pong", token: "p1" },
    ...SAMPLE_REQUESTS,
    { type: "rooms", ref: "r1" },
  ];
  for (const request of requests) {
    const line = encodeJsonRequest(request);
    assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"));
    assert.deepEqual(decodeJsonRequest(line.trimEnd()), request);
  }
});

Deno.test("decodeJsonRequest turns bad input into error events", () => {
  const cases: Array<[string, string]> = [
    ["{not json", "bad_json"],
    ["null", "bad_request"],
    ["[1,2]", "bad_request"],
    ['"text"', "bad_request"],
    ["{}", "bad_request"],
    ['{"type":42}', "bad_request"],
    ['{"type":"teleport"}', "unknown_type"],
    ['{"type":"message"}', "bad_request"],
    ['{"type":"message","text":5}', "bad_request"],
    ['{"type":"private","to":"bob"}', "bad_request"],
    ['{"type":"who","room":["#a"]}', "bad_request"],
    ['{"type":"message","text":1e400}', "bad_request"],
    ['{"type":"error","code":"x","message":"forged"}', "unknown_type"],
  ];
  for (const [line, code] of cases) {
    const result = decodeJsonRequest(line);
    assert.equal(result.type, "error", line);
    assert.equal((result as { code: string }).code, code, line);
  }
});

Deno.test("decodeJsonRequest echoes ref on errors and ignores __proto__", () => {
  const error = decodeJsonRequest('{"type":"message","ref":"q7"}');
  assert.deepEqual(error, {
    type: "error",
    code: "bad_request",
    message: 'Bad message: "text" must be a string',
    ref: "q7",
  });
  const request = decodeJsonRequest(
    '{"type":"message","text":"x","__proto__":{"admin":true}}',
  );
  assert.deepEqual(request, { type: "message", text: "x" });
  assert.equal((request as Record<string, unknown>).admin, undefined);
});

const SAMPLE_EVENTS: ServerEvent[] = [
  { type: "welcome", nick: "alice", server: "tern", version: 1 },
  { type: "message", id: 1, ts: 1000, room: "#lobby", from: "bob", text: "hi" },
  {
    type: "action",
    id: 2,
    ts: 1000,
    room: "#lobby",
    from: "bob",
    text: "waves",
  },
  { type: "private", id: 3, ts: 1000, from: "bob", to: "alice", text: "psst" },
  { type: "join", ts: 1, room: "#dev", nick: "bob" },
  {
    type: "leave",
    ts: 1,
    room: "#dev",
    nick: "bob",
    reason: "quit",
    message: "bye",
  },
  { type: "leave", ts: 1, room: "#dev", nick: "bob", reason: "part" },
  { type: "nick", ts: 1, room: "#dev", old: "bob", nick: "rob" },
  { type: "away", ts: 1, room: "#dev", nick: "bob", reason: "lunch" },
  { type: "back", ts: 1, room: "#dev", nick: "bob" },
  { type: "rooms", rooms: [{ name: "#lobby", members: 2 }] },
  {
    type: "who",
    room: "#lobby",
    members: [{ nick: "a" }, { nick: "b", away: "" }],
  },
  {
    type: "history",
    room: "#lobby",
    messages: [{
      type: "message",
      id: 1,
      ts: 0,
      room: "#lobby",
      from: "a",
      text: "x",
    }],
  },
  { type: "help", commands: [{ usage: "/help", summary: "list" }] },
  { type: "notice", text: "hello" },
  { type: "error", code: "nick_taken", message: "taken", ref: "r" },
  { type: "pong", token: "t" },
  { type: "ping", token: "p" },
  { type: "topic", room: "#lobby", topic: "hi", by: "op", ts: 5 },
  { type: "topic", room: "#lobby", topic: "" },
  { type: "motd", lines: ["be kind", "have fun"] },
  {
    type: "bans",
    bans: [{ address: "10.0.0.1", nick: "m", until: 0, reason: "spam" }],
  },
  {
    type: "conversation",
    with: "bob",
    messages: [{
      type: "private",
      id: 9,
      ts: 0,
      from: "a",
      to: "bob",
      text: "x",
    }],
  },
  { type: "bye", code: "quit", reason: "Goodbye" },
];

Deno.test("JSON codec round-trips every event type", () => {
  for (const event of SAMPLE_EVENTS) {
    const line = encodeJsonEvent(event);
    assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"));
    assert.deepEqual(decodeJsonEvent(line.trimEnd()), event);
  }
});

Deno.test("decodeJsonEvent skips greeting text and unknown events", () => {
  assert.equal(decodeJsonEvent("*** Welcome to tern."), null);
  assert.equal(decodeJsonEvent('{"type":"from-the-future"}'), null);
  assert.equal(decodeJsonEvent("{broken"), null);
});

Deno.test("text events: messages are exactly <nick> text, notices start ***", () => {
  for (const event of SAMPLE_EVENTS) {
    const text = encodeTextEvent(event);
    assert.ok(text.endsWith("\n"), event.type);
    for (const line of text.slice(0, -1).split("\n")) {
      if (event.type === "message") {
        assert.equal(line, "<bob> hi");
      } else if (event.type === "action") {
        assert.equal(line, "* bob waves");
      } else if (event.type === "private") {
        assert.equal(line, "*bob -> alice* psst");
      } else if (event.type === "conversation") {
        assert.ok(
          /^(\*\*\* |\[\d\d:\d\d:\d\d\] \*a -> bob\* x$)/.test(line),
          line,
        );
      } else if (event.type === "history") {
        assert.ok(/^(\*\*\* |\[\d\d:\d\d:\d\d\] <a> x$)/.test(line), line);
      } else {
        assert.ok(line.startsWith("*** "), `${event.type}: ${line}`);
      }
    }
  }
});

Deno.test("EncodedEvent encodes once per codec however often it is asked", () => {
  const event: ServerEvent = { type: "notice", text: "hi" };
  const encoded = new EncodedEvent(event);
  const json = encoded.bytes("json");
  assert.equal(encoded.bytes("json"), json);
  assert.equal(encoded.bytes("text"), encoded.bytes("text"));
  assert.equal(
    new TextDecoder().decode(json),
    '{"type":"notice","text":"hi"}\n',
  );
  assert.equal(new TextDecoder().decode(encoded.bytes("text")), "*** hi\n");
});

Deno.test("history requests reject counts that are not whole numbers above 0", () => {
  for (
    const field of ['"limit":0', '"limit":-3', '"limit":1.5', '"before":"9"']
  ) {
    const result = decodeJsonRequest(`{"type":"history",${field}}`);
    assert.equal(result.type, "error", field);
  }
  assert.deepEqual(decodeTextRequest("/history 999"), {
    type: "history",
    limit: 200,
  });
  assert.equal(decodeTextRequest("/history sideways")?.type, "error");
});

Deno.test("parseDuration reads ban durations", () => {
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("10m"), 600_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration("7d"), 604_800_000);
  for (const text of ["", "10", "m", "1.5h", "-1d", "10y"]) {
    assert.equal(parseDuration(text), undefined, text);
  }
});
