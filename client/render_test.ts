import assert from "node:assert/strict";
import type { ServerEvent } from "../protocol.ts";
import { nickColor, NickPalette, renderEvent } from "./render.ts";

const plain = { self: "alice", color: false };

Deno.test("renderEvent shows messages with a time and the sender", () => {
  const [line] = renderEvent(
    {
      type: "message",
      id: 1,
      ts: Date.now(),
      room: "#lobby",
      from: "bob",
      text: "hi",
    },
    plain,
  );
  assert.match(line!, /^\d\d:\d\d <bob> hi$/);
});

Deno.test("renderEvent tells sent and received private messages apart", () => {
  const base = { type: "private", id: 1, ts: 0, text: "psst" } as const;
  const [sent] = renderEvent({ ...base, from: "alice", to: "bob" }, plain);
  const [received] = renderEvent({ ...base, from: "bob", to: "alice" }, plain);
  assert.match(sent!, /-> \*bob\* psst$/);
  assert.match(received!, / \*bob\* psst$/);
});

Deno.test("renderEvent marks private lines with an earlier holder of the name", () => {
  const base = {
    type: "private",
    id: 1,
    ts: 0,
    text: "psst",
    earlier: true,
  } as const;
  const [sent] = renderEvent({ ...base, from: "alice", to: "bob" }, plain);
  const [received] = renderEvent({ ...base, from: "bob", to: "alice" }, plain);
  assert.match(sent!, /-> \*bob \(earlier holder\)\* psst$/);
  assert.match(received!, / \*bob \(earlier holder\)\* psst$/);
});

Deno.test("renderEvent strips escapes a hostile server might send", () => {
  const event: ServerEvent = {
    type: "message",
    id: 1,
    ts: 0,
    room: "#x",
    from: "b\x1b[2Jad",
    text: "\x1b]0;owned\x07hi",
  };
  const [line] = renderEvent(event, plain);
  assert.ok(!line!.includes("\x1b"), JSON.stringify(line));
});

Deno.test("renderEvent colors nicknames the same way every time", () => {
  assert.equal(nickColor("Bob"), nickColor("bob"));
  const event: ServerEvent = {
    type: "message",
    id: 1,
    ts: 0,
    room: "#x",
    from: "bob",
    text: "x",
  };
  const [line] = renderEvent(event, { self: "alice", color: true });
  assert.ok(line!.includes(`\x1b[${nickColor("bob")}mbob\x1b[0m`));
});

Deno.test("renderEvent renders every event type without throwing", () => {
  const events: ServerEvent[] = [
    { type: "welcome", nick: "alice", server: "tern", version: 1 },
    { type: "join", ts: 0, room: "#a", nick: "b" },
    { type: "leave", ts: 0, room: "#a", nick: "b", reason: "lost" },
    { type: "nick", ts: 0, room: "#a", old: "b", nick: "c" },
    { type: "away", ts: 0, room: "#a", nick: "b", reason: "" },
    { type: "back", ts: 0, room: "#a", nick: "b" },
    { type: "rooms", rooms: [] },
    { type: "who", room: "#a", members: [{ nick: "b", away: "x" }] },
    { type: "history", room: "#a", messages: [] },
    { type: "help", commands: [{ usage: "/x", summary: "y" }] },
    { type: "notice", text: "n" },
    { type: "error", code: "usage", message: "m" },
    { type: "pong" },
    { type: "bye", code: "quit", reason: "r" },
  ];
  for (const event of events) {
    const lines = renderEvent(event, plain);
    assert.ok(Array.isArray(lines), event.type);
    for (const line of lines) assert.ok(line.length > 0, event.type);
  }
  assert.match(
    renderEvent({ type: "error", code: "usage", message: "m" }, plain)[0]!,
    /^!! m$/,
  );
});

Deno.test("NickPalette gives the people in a conversation different colors", () => {
  const palette = new NickPalette();
  const names = ["alice", "bob", "carol", "dave", "eve", "frank", "grace"];
  const colors = names.map((name) => palette.colorOf(name));
  assert.equal(new Set(colors).size, names.length, String(colors));
  assert.notEqual(palette.colorOf("bob"), palette.colorOf("carol"));
  assert.equal(palette.colorOf("BOB"), colors[1], "a nickname keeps its color");
  const [line] = renderEvent(
    { type: "message", id: 1, ts: 0, room: "#x", from: "carol", text: "x" },
    { self: "alice", color: true, palette },
  );
  assert.ok(line!.includes(`\x1b[${colors[2]}mcarol\x1b[0m`));
});

Deno.test("renderEvent marks your rooms in /rooms when you are in several, as nc does", () => {
  const rooms: ServerEvent = {
    type: "rooms",
    rooms: [
      { name: "#dev", members: 3, joined: true, current: true },
      { name: "#lobby", members: 5, joined: true },
      { name: "#ops", members: 1 },
    ],
  };
  assert.deepEqual(renderEvent(rooms, plain), [
    "-- Rooms (3): #dev (3, current), #lobby (5, joined), #ops (1)",
  ]);
  // In one room, marks would say nothing.
  assert.deepEqual(
    renderEvent({
      type: "rooms",
      rooms: [{ name: "#lobby", members: 2, joined: true, current: true }, {
        name: "#dev",
        members: 1,
      }],
    }, plain),
    ["-- Rooms (2): #lobby (2), #dev (1)"],
  );
});

Deno.test("renderEvent pages private messages as /history pages rooms: dated, with the command for older ones", () => {
  const old = new Date(2020, 0, 2, 3, 4).getTime();
  const message = (id: number, from: string, to: string) => ({
    type: "private" as const,
    id,
    ts: old,
    from,
    to,
    text: `m${id}`,
  });
  const page = renderEvent({
    type: "conversation",
    with: "bob",
    messages: [message(7, "bob", "alice"), message(9, "alice", "bob")],
    more: true,
    reply: {},
  }, plain);
  assert.deepEqual(page, [
    "-- Private messages with bob, the latest:",
    "2020-01-02 03:04 *bob* m7",
    "2020-01-02 03:04 -> *bob* m9",
    "-- Older messages: /history @bob before 7",
  ]);
  const start = renderEvent({
    type: "conversation",
    with: "bob",
    messages: [message(3, "bob", "alice")],
    reply: { before: 7 },
  }, plain);
  assert.deepEqual(start, [
    "-- Private messages with bob, older than 7:",
    "2020-01-02 03:04 *bob* m3",
    "-- That is the start of your private messages with bob",
  ]);
  assert.deepEqual(
    renderEvent({
      type: "conversation",
      with: "bob",
      messages: [],
      reply: { before: 3 },
    }, plain),
    ["-- No private messages with bob before 3"],
  );
});

Deno.test("renderEvent shows others' words with each run of blanks as one space, the help table with its columns", () => {
  const [line] = renderEvent(
    {
      type: "message",
      id: 1,
      ts: Date.now(),
      room: "#lobby",
      from: "bob",
      text: `hi${" \u200b\t\u3000".repeat(40)}-- alice is now an operator`,
    },
    plain,
  );
  // Before, the padding reached the terminal and the fake note began a
  // screen line of its own.
  assert.match(line!, /^\d\d:\d\d <bob> hi -- alice is now an operator$/);
  assert.deepEqual(
    renderEvent({
      type: "help",
      commands: [{ usage: "/a", summary: "one" }, {
        usage: "/longer",
        summary: "two",
      }],
    }, plain),
    ["-- Commands:", "-- /a       one", "-- /longer  two"],
  );
});
