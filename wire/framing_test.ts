import assert from "node:assert/strict";
import {
  capMarks,
  clipText,
  type Frame,
  LineFramer,
  MAX_MARKS_PER_CHARACTER,
  printableText,
  sanitizeText,
  TelnetFilter,
} from "./framing.ts";

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
    ["lone \ud800 high", "lone \ufffd high"],
    ["lone \udc00 low", "lone \ufffd low"],
    ["pair \ud83d\ude00 kept", "pair \u{1f600} kept"],
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

Deno.test("printableText cleans like sanitizeText but keeps spacing", () => {
  assert.equal(printableText("  /\x1b[2Jfoo\tbar "), "  /foo bar ");
  assert.equal(printableText("x\ud800"), "x\ufffd");
  assert.equal(printableText("  /help  list"), "  /help  list");
});

Deno.test("clipText never cuts a surrogate pair in half", () => {
  const emoji = "\u{1f600}";
  assert.equal(clipText("a".repeat(299) + emoji, 300), "a".repeat(299));
  assert.equal(clipText("a".repeat(298) + emoji, 300), "a".repeat(298) + emoji);
  assert.equal(clipText("short", 300), "short");
  assert.equal(clipText(emoji, 0), "");
  for (let max = 0; max < 12; max++) {
    const clipped = clipText(emoji.repeat(5) + "abc", max);
    assert.ok(clipped.isWellFormed(), `max ${max}`);
    assert.ok(clipped.length <= max && clipped.length >= max - 1);
  }
});

Deno.test("LineFramer drops telnet negotiation, at any cut of the input", () => {
  // What PuTTY sends on connecting in telnet mode, then a nickname; later a
  // window-size subnegotiation in the middle of a line, and a one-byte
  // command (NOP) between lines.
  const input = new Uint8Array([
    ...[0xff, 0xfb, 0x1f, 0xff, 0xfb, 0x20, 0xff, 0xfb, 0x18, 0xff, 0xfd, 1],
    ...bytes("alice\r\nhé"),
    ...[0xff, 0xfa, 0x1f, 0, 80, 0, 24, 0xff, 0xf0],
    ...bytes("llo\r\n"),
    ...[0xff, 0xf1],
    ...bytes("/quit\n"),
  ]);
  for (let cut = 0; cut <= input.length; cut++) {
    const frames = frameChunks(new LineFramer(64), input, [cut]);
    assert.deepEqual(frames, lines("alice", "héllo", "/quit"), `cut ${cut}`);
  }
});

Deno.test("TelnetFilter keeps text around a stray IAC and bounds a subnegotiation", () => {
  const filter = new TelnetFilter();
  assert.deepEqual(
    filter.filter(new Uint8Array([0x61, 0xff, 0x62, 0x63])),
    bytes("abc"),
  );
  const plain = bytes("no telnet here\n");
  assert.equal(filter.filter(plain), plain);
  // A subnegotiation that never ends stops swallowing after 64 bytes.
  const endless = new Uint8Array([
    0xff,
    0xfa,
    0x18,
    ...new Uint8Array(80).fill(0x41),
  ]);
  assert.equal(filter.filter(endless).length, 80 - 63);
});

Deno.test("LineFramer: IAC SB before no option a client subnegotiates is text, and swallows no line", () => {
  // "ÿú" typed on a Latin-1 terminal is IAC SB; taken for a subnegotiation
  // it swallowed the lines after it, unseen and unanswered.
  const input = new Uint8Array([
    ...bytes("before\n"),
    ...[0xff, 0xfa],
    ...bytes("a line\nanother\n"),
  ]);
  for (let cut = 0; cut <= input.length; cut++) {
    const frames = frameChunks(new LineFramer(64), input, [cut]);
    assert.deepEqual(
      frames,
      lines("before", "a line", "another"),
      `cut ${cut}`,
    );
  }
});

Deno.test("capMarks: a character keeps at most MAX_MARKS_PER_CHARACTER combining marks", () => {
  const acute = "\u0301";
  const zalgo = ("a" + acute.repeat(40)).repeat(3) + " ok";
  const capped = ("a" + acute.repeat(MAX_MARKS_PER_CHARACTER)).repeat(3) +
    " ok";
  assert.equal(capMarks(zalgo), capped);
  assert.equal(sanitizeText(zalgo), capped);
  // Joiners between the marks do not hide a run.
  const hidden = "b" + `${acute}\u200d`.repeat(20);
  const kept = [...capMarks(hidden)].filter((c) => c === acute).length;
  assert.equal(kept, MAX_MARKS_PER_CHARACTER);
  // Real writing is untouched.
  for (
    const text of [
      "Tiếng Việt có dấu",
      "हिन्दी में लिखा",
      "בְּרֵאשִׁ֖ית",
      "བསྒྲུབས་",
      "1\ufe0f\u20e3 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈",
      "a" + acute.repeat(MAX_MARKS_PER_CHARACTER),
    ]
  ) {
    assert.equal(capMarks(text), text, text);
  }
});

Deno.test("LineFramer: bytes that never become a frame are counted, for the reader to charge", () => {
  const framer = new LineFramer(8);
  const bytes = (text: string) => new TextEncoder().encode(text);
  assert.deepEqual(framer.push(bytes("x".repeat(20))), [
    { kind: "too_long", limit: 8 },
  ]);
  assert.equal(
    framer.takeSkippedBytes(),
    12,
    "beyond the 8 the frame stands for",
  );
  assert.deepEqual(framer.push(bytes("y".repeat(100))), []);
  assert.equal(framer.takeSkippedBytes(), 100);
  assert.deepEqual(framer.push(bytes("z\nok\n")), [{
    kind: "line",
    text: "ok",
  }]);
  assert.equal(framer.takeSkippedBytes(), 1);
  // Telnet commands are dropped too: a stream of them is no free ride.
  const will = [0xff, 0xfb, 0x01];
  assert.deepEqual(
    framer.push(new Uint8Array([...will, ...will, ...will, ...bytes("hi\n")])),
    [{ kind: "line", text: "hi" }],
  );
  assert.equal(framer.takeSkippedBytes(), 9);
  assert.equal(framer.takeSkippedBytes(), 0);
});

Deno.test("LineFramer reports a telnet Ctrl-C and its timing mark after the lines before them", () => {
  // What a telnet client sends when its user presses Ctrl-C: Interrupt
  // Process, then DO TIMING-MARK; it shows nothing more until answered.
  const input = new Uint8Array([
    ...bytes("hello\r\n"),
    ...[0xff, 0xf4, 0xff, 0xfd, 0x06],
  ]);
  assert.deepEqual(new LineFramer(64).push(input), [
    { kind: "line", text: "hello" },
    { kind: "telnet", interrupt: true, timingMark: true },
  ]);
  // Other negotiation is still dropped without a word.
  assert.deepEqual(
    new LineFramer(64).push(new Uint8Array([0xff, 0xfd, 0x01, 0xff, 0xf1])),
    [],
  );
});
