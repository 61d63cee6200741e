import assert from "node:assert/strict";
import {
  COMMANDS,
  decodeTextRequest,
  encodeTextEvent,
  encodeTextRequest,
  oneCommandHelp,
  parseDuration,
} from "./text_codec.ts";
import type { ClientRequest, ServerEvent } from "./events.ts";
import { SAMPLE_EVENTS, SAMPLE_REQUESTS } from "./test_samples.ts";

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
    const line of [
      "/nick",
      "/nick a b",
      "/msg bob",
      "/msg",
      "/me",
      "/join",
      "/history before 99999999999999999999999",
      "/history #lobby before 0",
      "/history #a #b",
      "/history @ann @bob",
      "/history #a @bob",
      "/history before 5 before 3",
      "/ban bob 1.5h spam",
      "/ban bob 30 spam",
      "/ban bob 0s",
      "/ban bob 2W",
    ]
  ) {
    const result = decodeTextRequest(line);
    assert.equal(result?.type, "error", line);
    assert.equal((result as { code: string }).code, "usage", line);
  }
});

Deno.test("/who: after and more are paging words, never a room; a room of that name takes its #", () => {
  const cases: Array<[string, ClientRequest]> = [
    ["/who after bob", { type: "who", after: "bob" }],
    ["/who AFTER bob", { type: "who", after: "bob" }],
    ["/who #dev after bob", { type: "who", room: "#dev", after: "bob" }],
    ["/who dev after bob", { type: "who", room: "dev", after: "bob" }],
    ["/who after after", { type: "who", after: "after" }],
    ["/who #lobby after more", { type: "who", room: "#lobby", after: "more" }],
    ["/who #after", { type: "who", room: "#after" }],
    ["/who #more after ann", { type: "who", room: "#more", after: "ann" }],
    ["/names #dev", { type: "who", room: "#dev" }],
  ];
  for (const [line, expected] of cases) {
    assert.deepEqual(decodeTextRequest(line), expected, line);
  }
  const refused: Array<[string, RegExp]> = [
    ["/who after", /after needs the nickname .*\/who #after/],
    ["/who #dev after", /after needs the nickname/],
    ["/who more", /"more" is not a room \(that is \/who #more\)/],
    ["/who #dev more", /"more" is not a room/],
    ["/who after #dev", /the room comes first, as in \/who #dev after NICK/],
    ["/who #a #b", /one room, then only "after NICK"/],
    ["/who dev bob", /one room, then only "after NICK"/],
    ["/who #dev after bob carol", /nothing goes after the nickname/],
  ];
  for (const [line, message] of refused) {
    const result = decodeTextRequest(line);
    assert.equal(result?.type, "error", line);
    assert.equal((result as { code: string }).code, "usage", line);
    assert.match((result as { message: string }).message, message, line);
    assert.match(
      (result as { message: string }).message,
      /^Usage: \/who \[#ROOM\] \[after NICK\]: /,
    );
  }
  // A room whose bare name is a paging word is written with its #.
  for (const room of ["after", "More"]) {
    const line = encodeTextRequest({ type: "who", room, after: "x" });
    assert.equal(line, `/who #${room} after x`);
    assert.deepEqual(decodeTextRequest(line), {
      type: "who",
      room: `#${room}`,
      after: "x",
    });
  }
});

Deno.test("a who page past the last member says so and how to start again", () => {
  const text = encodeTextEvent({
    type: "who",
    room: "#dev",
    members: [],
    count: 3,
  });
  assert.equal(
    text,
    "*** #dev (3): no members after that name; /who #dev starts from the top\n",
  );
});

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

Deno.test("parseDuration reads ban durations", () => {
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("10m"), 600_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration("7d"), 604_800_000);
  for (const text of ["", "10", "m", "1.5h", "-1d", "10y", "0s", "00m"]) {
    assert.equal(parseDuration(text), undefined, text);
  }
});

Deno.test("a big room's size reads right for one member as for many", () => {
  assert.equal(
    encodeTextEvent({ type: "members", room: "#dev", count: 1 }),
    "*** #dev has 1 member; /who lists them a page at a time\n",
  );
  assert.equal(
    encodeTextEvent({ type: "members", room: "#dev", count: 10000 }),
    "*** #dev has 10000 members; /who lists them a page at a time\n",
  );
});

/**
 * Blanks and invisible characters that could pad a line out to a
 * terminal's edge, so that what follows starts a screen line of its own.
 */
const PADDINGS: ReadonlyArray<[string, string]> = [
  ["spaces", " ".repeat(100)],
  ["tabs", "\t".repeat(30)],
  ["ideographic spaces", "\u3000".repeat(50)],
  ["no-break spaces", "\u00a0".repeat(100)],
  ["en and em spaces", "\u2002\u2003\u2009".repeat(40)],
  ["spaces between zero-width spaces", " \u200b".repeat(80)],
  ["spaces between word joiners and BOMs", "\u2060 \ufeff ".repeat(40)],
  ["spaces between joiners", "\u200d ".repeat(80)],
  ["spaces carrying accents", " \u0301".repeat(80)],
  ["spaces between tag characters", " \u{e0020}".repeat(80)],
  ["Hangul fillers", "\u3164\uffa0".repeat(40)],
  ["blank braille cells", "\u2800".repeat(100)],
  ["line and paragraph separators", "\u2028\u2029".repeat(40)],
  ["next lines", "\u0085".repeat(80)],
];

Deno.test("text events: what others typed, padded with blanks or invisible characters, shows with one space", () => {
  for (const [what, pad] of PADDINGS) {
    const typed = `x${pad}*** alice is now an operator`;
    const events = [
      { type: "message", id: 1, ts: 0, room: "#a", from: "m", text: typed },
      { type: "action", id: 1, ts: 0, room: "#a", from: "m", text: typed },
      { type: "private", id: 1, ts: 0, from: "m", to: "b", text: typed },
      {
        type: "leave",
        ts: 0,
        room: "#a",
        nick: "m",
        reason: "quit",
        message: typed,
      },
      { type: "away", ts: 0, room: "#a", nick: "m", reason: typed },
      { type: "topic", ts: 0, room: "#a", topic: typed, by: "op" },
      { type: "motd", lines: [typed] },
      { type: "notice", text: `Kicked by op: ${typed}` },
      { type: "who", room: "#a", members: [{ nick: "m", away: typed }] },
      { type: "bans", bans: [{ address: "192.0.2.1", reason: typed }] },
      { type: "bye", code: "kicked", reason: `Kicked by op: ${typed}` },
      {
        type: "history",
        room: "#a",
        messages: [
          { type: "message", id: 1, ts: 0, room: "#a", from: "m", text: typed },
        ],
      },
      {
        type: "conversation",
        with: "m",
        messages: [{
          type: "private",
          id: 1,
          ts: 0,
          from: "m",
          to: "b",
          text: typed,
        }],
      },
    ] as ServerEvent[];
    for (const event of events) {
      const lines = encodeTextEvent(event).split("\n").filter((line) =>
        line.includes("operator")
      );
      assert.equal(lines.length, 1, `${what}, ${event.type}`);
      const line = lines[0]!;
      // Before, the padding went out as it came (tabs and separators as
      // spaces): on an 80-column terminal the fake notice began a line.
      assert.match(
        line,
        /x ?\*\*\* alice is now an operator/,
        `${what}, ${event.type}: ${JSON.stringify(line)}`,
      );
      assert.doesNotMatch(
        line.replace(/^\*\*\* {3}/, "*** "),
        /[\s\u2800\u3164\uffa0]{2}|[\u200b\u2060\ufeff\u{e0020}]/u,
        `${what}, ${event.type}: ${JSON.stringify(line)}`,
      );
    }
  }
});

Deno.test("text events: ordinary text, emoji sequences and the help table's columns are kept", () => {
  const kept = [
    "naïve café, 10\u00a0km at 9:00",
    "👩‍💻 and ❤️ and 🇫🇷",
    "می‌خواهم", // Persian needs its zero-width non-joiner
    "Tiếng Việt",
    "f*** that, ***bold***",
  ];
  for (const text of kept) {
    assert.equal(
      encodeTextEvent({
        type: "message",
        id: 1,
        ts: 0,
        room: "#a",
        from: "m",
        text,
      }),
      `<m> ${text}\n`,
    );
  }
  const help = encodeTextEvent({
    type: "help",
    commands: [
      { usage: "/a", summary: "one" },
      { usage: "/longer", summary: "two" },
    ],
  });
  assert.equal(
    help,
    "*** Commands:\n***   /a       one\n***   /longer  two\n",
  );
});

Deno.test("an empty /history page says what there is none of, a room's or a conversation's", () => {
  const empty = { messages: [], reply: {} };
  assert.equal(
    encodeTextEvent({ type: "history", room: "#dev", ...empty }),
    "*** No messages in #dev\n",
  );
  assert.equal(
    encodeTextEvent({ type: "conversation", with: "bob", ...empty }),
    "*** No private messages with bob\n",
  );
  assert.equal(
    encodeTextEvent({
      type: "conversation",
      with: "bob",
      messages: [],
      reply: { before: 7 },
    }),
    "*** No private messages with bob before 7\n",
  );
});

Deno.test("/help // explains the //TEXT that /help lists", () => {
  for (const word of ["//", "/", "//TEXT"]) {
    const reply = oneCommandHelp(word);
    assert.equal(reply.type, "help", word);
    assert.equal(
      encodeTextEvent(reply),
      "*** //TEXT: send a message that starts with /\n",
      word,
    );
  }
});
