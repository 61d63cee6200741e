import assert from "node:assert/strict";
import { EncodedEvent } from "./encoded_event.ts";
import { encodeTextEvent, encodeTextEventElsewhere } from "./text_codec.ts";
import type { ServerEvent } from "./events.ts";

const decoder = new TextDecoder();

Deno.test("a room's line for a member elsewhere is tagged; for the current room it is as ever", () => {
  const message: ServerEvent = {
    type: "message",
    id: 1,
    ts: 0,
    room: "#dev",
    from: "bob",
    text: "hi",
  };
  const encoded = new EncodedEvent(message);
  assert.equal(decoder.decode(encoded.bytes("text")), "<bob> hi\n");
  assert.equal(
    decoder.decode(encoded.bytes("text", true)),
    "[#dev] <bob> hi\n",
  );
  // Each variant is encoded once, however many members take it.
  assert.equal(encoded.bytes("text", true), encoded.bytes("text", true));
  assert.equal(encoded.bytes("text"), encoded.bytes("text"));
  // JSON names the room anyway: one encoding for everyone.
  assert.equal(encoded.bytes("json", true), encoded.bytes("json"));
  assert.equal(
    encodeTextEventElsewhere({
      type: "leave",
      ts: 0,
      room: "#dev",
      nick: "bob",
      reason: "quit",
    }),
    "[#dev] *** bob left #dev (quit)\n",
  );
});

Deno.test("a reply is never tagged, whatever the room it names", () => {
  const who: ServerEvent = { type: "who", room: "#dev", members: [] };
  const encoded = new EncodedEvent(who);
  assert.equal(encoded.bytes("text", true), encoded.bytes("text"));
});

Deno.test("/rooms marks joined and current rooms only for someone in several", () => {
  assert.equal(
    encodeTextEvent({
      type: "rooms",
      rooms: [
        { name: "#dev", members: 3, joined: true, current: true },
        { name: "#lobby", members: 2, joined: true },
        { name: "#ops", members: 1 },
      ],
    }),
    "*** Rooms (3): #dev (3, current), #lobby (2, joined), #ops (1)\n",
  );
  assert.equal(
    encodeTextEvent({
      type: "rooms",
      rooms: [
        { name: "#lobby", members: 2, joined: true, current: true },
        { name: "#ops", members: 1 },
      ],
    }),
    "*** Rooms (2): #lobby (2), #ops (1)\n",
  );
  assert.equal(
    encodeTextEvent({ type: "switch", room: "#dev" }),
    "*** Now talking in #dev\n",
  );
});
