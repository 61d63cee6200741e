import assert from "node:assert/strict";
import {
  messagesOf,
  previousOf,
  relayOfEntry,
  roomStreamKey,
  type StreamEntry,
} from "./room_streams.ts";
import { encodeRelay } from "./relay.ts";

const message = (id: number, text: string) => ({
  type: "message" as const,
  id,
  ts: 1,
  room: "#Lobby",
  from: "ana",
  text,
});

Deno.test("a room's stream is named by the room's fold key", () => {
  assert.equal(roomStreamKey("#Lobby"), roomStreamKey("#lobby"));
  assert.equal(roomStreamKey("#lobby"), "tern:room:#lobby:log");
});

Deno.test("a stream entry gives back the message, its id from the entry's", () => {
  const entry = {
    id: "42-0",
    message: { r: encodeRelay("node", 7, message(0, "hi")) },
  };
  const relay = relayOfEntry(entry);
  assert.equal(relay?.id, 42);
  assert.equal(relay?.token, 7);
  assert.deepEqual(relay?.message, message(42, "hi"));
  // Not ours: another id form, no relay field, or a broken one.
  assert.equal(relayOfEntry({ id: "42-1", message: entry.message }), null);
  assert.equal(relayOfEntry({ id: "42-0", message: {} }), null);
  assert.equal(relayOfEntry({ id: "42-0", message: { r: "{" } }), null);
});

Deno.test("messagesOf puts a reverse read oldest first and skips what is not ours", () => {
  const entries: StreamEntry[] = [3, 2, 1].map((id) => ({
    id: `${id}-0`,
    message: { r: encodeRelay("n", id, message(0, `m${id}`)) },
  }));
  entries.splice(1, 0, { id: "5-0", message: { x: "?" } });
  assert.deepEqual(messagesOf(entries).map((m) => m.text), ["m1", "m2", "m3"]);
});

Deno.test("an entry says which message of its room came before it", () => {
  assert.equal(previousOf({ id: "9-0", message: { r: "", p: "7" } }), 7);
  assert.equal(previousOf({ id: "1-0", message: { r: "", p: "0" } }), 0);
  assert.equal(previousOf({ id: "1-0", message: { r: "" } }), 0);
});
