import assert from "node:assert/strict";
import { decodeRelay, encodeRelay } from "./relay.ts";
import type { RoomMessage } from "../../protocol.ts";

const message: RoomMessage = {
  type: "action",
  id: 0,
  ts: 1700000000000,
  room: "#lobby",
  from: "ana",
  text: "waves",
};

Deno.test("a relayed message comes back with the id Redis put in front", () => {
  const line = `42 ${encodeRelay("node-a", 7, message)}`;
  assert.deepEqual(decodeRelay(line), {
    id: 42,
    node: "node-a",
    token: 7,
    message: { ...message, id: 42 },
  });
});

Deno.test("a malformed relay is refused, not trusted", () => {
  const good = encodeRelay("node-a", 1, message);
  for (
    const line of [
      "",
      good,
      `0 ${good}`,
      `-3 ${good}`,
      `x ${good}`,
      "5 {not json",
      "5 null",
      `5 ${JSON.stringify({ node: "n", token: 1, type: "private" })}`,
      `5 ${good.replace('"text":"waves"', '"text":5')}`,
    ]
  ) {
    assert.deepEqual(decodeRelay(line), null, line);
  }
});

Deno.test("relayed text is cleaned of controls like any other", () => {
  const dirty = { ...message, text: "a\u0007b" };
  assert.deepEqual(
    decodeRelay(`3 ${encodeRelay("n", 1, dirty)}`)?.message.text,
    "ab",
  );
});
