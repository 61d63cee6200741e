import assert from "node:assert/strict";
import {
  decodeEvent,
  decodePrivate,
  decodeState,
  encodeEvent,
  encodePrivateDraft,
  type NodeEvent,
} from "./node_events.ts";

const state = {
  nick: "ana",
  away: null,
  op: true,
  address: "10.0.0.1",
  rooms: ["#lobby"],
  claim: "tern:nick:ana",
};

Deno.test("every kind of event comes back as it was sent", () => {
  const events: NodeEvent[] = [
    {
      kind: "member",
      node: "n1",
      sid: 3,
      state,
      notice: { type: "join", room: "#lobby", ts: 5, announce: true },
    },
    {
      kind: "member",
      node: "n1",
      sid: 3,
      state: null,
      notice: {
        type: "leave",
        reason: "kicked",
        ts: 6,
        announced: ["#lobby"],
        detail: "by op",
      },
    },
    { kind: "sync", node: "n1" },
    { kind: "gone", node: "n2", reason: "lost" },
    {
      kind: "topic",
      node: "n1",
      id: 9,
      room: "#dev",
      topic: "t",
      by: "op",
      ts: 7,
    },
    { kind: "motd", node: "n1", lines: ["hi"] },
    { kind: "mute", node: "n1", nick: "bob", muted: true, by: "op" },
    { kind: "ban", node: "n1", ban: { address: "10.0.0.2", by: "op" } },
    { kind: "unban", node: "n1", address: "10.0.0.2" },
    { kind: "kick", node: "n1", to: "n2", sid: 4, detail: "by op" },
    { kind: "undelivered", node: "n2", to: "n1", sid: 4, id: 12, nick: "bob" },
  ];
  for (const event of events) {
    assert.deepEqual(decodeEvent(encodeEvent(event)), event);
  }
  assert.deepEqual(decodeState(JSON.stringify(state)), state);
});

Deno.test("a malformed event is refused, not trusted", () => {
  for (
    const text of [
      "",
      "{",
      "null",
      "[]",
      '{"kind":"nope","node":"n"}',
      '{"kind":"member","node":"n","sid":"3","state":null,"notice":{"type":"state"}}',
      '{"kind":"member","node":"n","sid":3,"state":null,"notice":{"type":"leave","reason":"bored","ts":1,"announced":[]}}',
      '{"kind":"gone","node":"n","reason":"tired"}',
      '{"kind":"kick","node":"n","to":"m","sid":1}',
      '{"kind":"undelivered","node":"n","to":"m","sid":1,"nick":"bob"}',
      '{"kind":"ban","node":"n","ban":{"address":5,"by":"op"}}',
    ]
  ) {
    assert.equal(decodeEvent(text), null, text);
  }
  assert.equal(decodeState('{"nick":"a"}'), undefined);
});

Deno.test("a relayed private message carries the id and holder Redis put in front", () => {
  const draft = {
    type: "private" as const,
    ts: 5,
    from: "ana",
    to: "bob",
    text: "hi\u0007",
  };
  const relayed = decodePrivate(`12 n2/7 ${encodePrivateDraft(draft)}`);
  assert.deepEqual(relayed, {
    node: "n2",
    sid: 7,
    message: { ...draft, id: 12, text: "hi" },
  });
  // With where its sender is, to be told should it be lost.
  const sender = { node: "n1", sid: 4 };
  assert.deepEqual(
    decodePrivate(`12 n2/7 ${encodePrivateDraft(draft, sender)}`),
    { node: "n2", sid: 7, message: { ...draft, id: 12, text: "hi" }, sender },
  );
  for (
    const line of ["", "12", "x n2/7 {}", "12 n2 {}", "12 n2/7 {", "0 n/1 {}"]
  ) {
    assert.equal(decodePrivate(line), null, line);
  }
});
