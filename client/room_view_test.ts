import assert from "node:assert/strict";
import { RoomView } from "./room_view.ts";
import { LineEditor } from "./line_editor.ts";
import { tagRoom } from "./render.ts";
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

Deno.test("Tab in the line editor completes a joined room, else inserts a space", () => {
  const view = new RoomView();
  for (const room of ["#lobby", "#dev"]) view.onEvent(join(room), "me");
  const editor = new LineEditor();
  editor.feed("hi\tthere");
  assert.equal(editor.text, "hi there", "no completer: a space");
  editor.feed("\x15");
  editor.complete = (before) => view.complete(before);
  editor.feed("/sw #lo\t");
  assert.equal(editor.text, "/sw #lobby ");
  editor.feed("\x15/who x\t");
  assert.equal(editor.text, "/who x ", "nothing to complete: a space");
  editor.secret = true;
  editor.feed("\x15/sw #lo\t");
  assert.equal(editor.text, "/sw #lo ", "a password line never completes");
});

Deno.test("tagRoom puts the room, colored, in front of each line", () => {
  assert.deepEqual(tagRoom(["12:01 <bob> hi"], "#dev", false), [
    "[#dev] 12:01 <bob> hi",
  ]);
  assert.deepEqual(tagRoom(["x"], "#d\x1b[2Jev", true), [
    "\x1b[36m[#dev]\x1b[0m x",
  ]);
});
