import assert from "node:assert/strict";
import { RoomView } from "./room_view.ts";
import type { ServerEvent } from "../wire/events.ts";

const join = (room: string, nick = "me"): ServerEvent => ({
  type: "join",
  ts: 0,
  room,
  nick,
});
const say = (room: string, from: string): ServerEvent => ({
  type: "message",
  id: 1,
  ts: 0,
  room,
  from,
  text: "hi",
});

Deno.test("RoomView follows its own joins, switches and parts", () => {
  const view = new RoomView();
  view.onEvent(join("#lobby"), "me");
  view.onEvent(join("#dev"), "me");
  view.onEvent(join("#ops", "bob"), "me");
  assert.deepEqual(view.rooms, ["#lobby", "#dev"]);
  assert.equal(view.current, "#dev");
  assert.ok(view.isElsewhere("#LOBBY"));
  assert.ok(!view.isElsewhere("#dev"));
  assert.ok(!view.isElsewhere("#ops"), "not a room the client is in");
  view.onEvent({ type: "switch", room: "#lobby" }, "me");
  assert.equal(view.current, "#lobby");
  view.onEvent(
    { type: "leave", ts: 0, room: "#dev", nick: "me", reason: "part" },
    "me",
  );
  assert.deepEqual(view.rooms, ["#lobby"]);
  assert.equal(view.current, "#lobby");
});

Deno.test("RoomView counts other rooms' lines until the room is current", () => {
  const view = new RoomView();
  view.onEvent(join("#lobby"), "me");
  view.onEvent(join("#ops"), "me");
  view.onEvent(join("#dev"), "me");
  view.onEvent(say("#lobby", "bob"), "me");
  view.onEvent(say("#lobby", "bob"), "me");
  view.onEvent(say("#ops", "carol"), "me");
  view.onEvent(say("#dev", "bob"), "me");
  view.onEvent(say("#ops", "me"), "me");
  assert.equal(view.unreadSummary(), "#lobby(2) #ops(1)");
  view.onEvent({ type: "switch", room: "#lobby" }, "me");
  assert.equal(view.unreadSummary(), "#ops(1)");
  view.onEvent(say("#dev", "bob"), "me");
  assert.equal(view.unreadSummary(), "#ops(1) #dev(1)");
});

Deno.test("RoomView completes joined room names after room commands", () => {
  const view = new RoomView();
  for (const room of ["#lobby", "#dev", "#design"]) {
    view.onEvent(join(room), "me");
  }
  assert.equal(view.complete("/switch #l"), "/switch #lobby ");
  assert.equal(view.complete("/sw lo"), "/sw #lobby ");
  assert.equal(
    view.complete("/part #de"),
    null,
    "#dev and #design agree no further",
  );
  assert.equal(view.complete("/part #d"), "/part #de");
  assert.equal(view.complete("/switch "), "/switch #lobby ");
  assert.equal(view.complete("/switch #x"), null);
  assert.equal(view.complete("hello #l"), null, "not a room command");
});

Deno.test("RoomView.reset returns the rooms to restore after a reconnect", () => {
  const view = new RoomView();
  for (const room of ["#lobby", "#dev", "#ops"]) view.onEvent(join(room), "me");
  view.onEvent({ type: "switch", room: "#dev" }, "me");
  assert.deepEqual(view.reset(), {
    others: ["#lobby", "#ops"],
    current: "#dev",
  });
  assert.deepEqual(view.rooms, []);
  assert.equal(view.current, null);
});
