import assert from "node:assert/strict";
import type { RoomMessage } from "../../wire/events.ts";
import {
  answersWho,
  ChatModel,
  conversationOfRef,
  insertById,
  MEMBERS_MORE_REF,
  moreMembersRequest,
  nickColor,
  privateRef,
  TYPED_REF,
  TYPED_WHO_REF,
  typedRef,
  WHO_MORE_REF,
  whoPageRole,
} from "./model.ts";
import { decodeTextRequest } from "../../wire/text_codec.ts";
import type { ClientRequest } from "../../wire/events.ts";
import { retryDelay } from "./connection.ts";

function message(id: number, text = `m${id}`, from = "bob"): RoomMessage {
  return { type: "message", id, ts: id * 1000, room: "#lobby", from, text };
}

Deno.test("a message held once, whether it comes live, in a replay or a page", () => {
  const model = new ChatModel();
  model.me = "ann";
  const lobby = model.conversation("room", "#lobby");
  model.activate(lobby.key);
  assert.equal(model.roomMessage(message(5)), true);
  assert.equal(model.roomMessage(message(5)), false);
  assert.equal(
    model.mergeHistory(lobby, [message(3), message(4), message(5)]),
    2,
  );
  assert.equal(
    model.mergeHistory(lobby, [message(1), message(2), message(3)]),
    2,
  );
  assert.equal(model.roomMessage(message(6)), true);
  assert.deepEqual(lobby.lines.map((line) => line.id), [1, 2, 3, 4, 5, 6]);
  assert.equal(model.lastSeenId, 6);
  assert.equal(model.oldestId(lobby), 1);
  assert.equal(model.newestId(lobby), 6);
});

Deno.test("older history goes above notices; live messages below them", () => {
  const lines = [
    { ts: 0, kind: "notice" as const, text: "joined" },
    { id: 10, ts: 0, kind: "message" as const, text: "ten" },
    { ts: 0, kind: "notice" as const, text: "away" },
  ];
  insertById(lines, { id: 11, ts: 0, kind: "message", text: "eleven" });
  insertById(lines, { id: 4, ts: 0, kind: "message", text: "four" });
  assert.deepEqual(lines.map((line) => line.text), [
    "four",
    "joined",
    "ten",
    "away",
    "eleven",
  ]);
});

Deno.test("unread counts conversations off screen, never one's own lines", () => {
  const model = new ChatModel();
  model.me = "ann";
  const lobby = model.conversation("room", "#lobby");
  model.activate(lobby.key);
  model.privateMessage({
    type: "private",
    id: 1,
    ts: 0,
    from: "bob",
    to: "ann",
    text: "psst",
  });
  model.privateMessage({
    type: "private",
    id: 2,
    ts: 0,
    from: "ann",
    to: "bob",
    text: "hi",
  });
  model.roomMessage(message(3));
  const bob = model.conversations.get("@bob")!;
  assert.equal(bob.unread, 1);
  assert.equal(lobby.unread, 0);
  model.activate(bob.key);
  assert.equal(bob.unread, 0);
});

Deno.test("members follow joins, leaves, renames and away", () => {
  const model = new ChatModel();
  model.members(
    "#lobby",
    { members: [{ nick: "bob" }, { nick: "cy", away: "lunch" }] },
  );
  model.memberChange("#lobby", { kind: "join", nick: "dee" });
  model.memberChange("#lobby", { kind: "nick", old: "cy", nick: "cyd" });
  model.memberChange("#lobby", { kind: "leave", nick: "bob" });
  model.memberChange("#lobby", { kind: "away", nick: "dee", reason: "" });
  assert.deepEqual(
    [...model.conversation("room", "#lobby").members].sort(),
    [["cyd", "lunch"], ["dee", ""]],
  );
});

Deno.test("reconnect delays double to a cap, spread by jitter", () => {
  assert.equal(retryDelay(0, 0.5), 500);
  assert.equal(retryDelay(1, 0.5), 1000);
  assert.equal(retryDelay(0, 0), 375);
  assert.equal(retryDelay(0, 1), 625);
  assert.equal(retryDelay(30, 0.5), 15_000);
  assert.equal(nickColor("Ann", 8), nickColor("ann", 8));
});

Deno.test("a refused private message is shown in its own conversation", () => {
  const model = new ChatModel();
  model.me = "ann";
  const lobby = model.conversation("room", "#lobby");
  const bob = model.conversation("private", "Bob");
  model.activate(lobby.key);
  const key = conversationOfRef(privateRef("Bob"));
  assert.equal(key, bob.key);
  assert.equal(conversationOfRef("typed"), null);
  assert.equal(conversationOfRef(undefined), null);
  model.notice("Not sent: Bob is now someone else", "error", key!);
  assert.equal(bob.lines.at(-1)?.kind, "error");
  assert.equal(lobby.lines.length, 0);
});

Deno.test("a big room's members come a page at a time, only when asked for", () => {
  const model = new ChatModel();
  const room = model.conversation("room", "#big");
  model.memberTotal("#big", 10_000);
  assert.equal(room.memberCount, 10_000);
  assert.deepEqual(moreMembersRequest(room), {
    type: "who",
    room: "#big",
    ref: MEMBERS_MORE_REF,
  });
  assert.deepEqual(whoPageRole(MEMBERS_MORE_REF), { typed: false });
  model.members("#big", {
    members: [{ nick: "ann" }, { nick: "bea" }],
    count: 10_000,
    next: "bea",
  });
  assert.deepEqual([...room.members.keys()], ["ann", "bea"]);
  assert.equal(room.memberCount, 10_000, "the count stays with a partial list");
  const more = moreMembersRequest(room);
  assert.deepEqual(more, {
    type: "who",
    room: "#big",
    after: "bea",
    ref: `${MEMBERS_MORE_REF}:bea`,
  });
  assert.deepEqual(whoPageRole(more!.ref), { typed: false, after: "bea" });
  model.members("#big", { members: [{ nick: "cy" }], count: 10_000 }, "bea");
  assert.deepEqual([...room.members.keys()], ["ann", "bea", "cy"]);
  assert.equal(moreMembersRequest(room), null, "the last page");
  // A whole list has neither count nor cursor.
  model.members("#big", { members: [{ nick: "dee" }] });
  assert.equal(room.memberCount, null);
  assert.equal(moreMembersRequest(room), null);
});

Deno.test("/who more goes on from the last /who asked for, where its list stands", () => {
  const model = new ChatModel();
  assert.equal(model.lastWho(), null);
  model.members("#big", {
    members: [{ nick: "ann" }],
    count: 300,
    next: "ann",
  });
  model.lastWhoRoom = "#big";
  assert.deepEqual(model.lastWho(), { room: "#big", next: "ann" });
  model.members("#big", { members: [{ nick: "zed" }], count: 300 }, "ann");
  assert.deepEqual(model.lastWho(), { room: "#big" });
});

/** The typed line's ref, as the page gives it. */
function typed(line: string): string {
  const request = decodeTextRequest(line) as ClientRequest;
  assert.equal(request.type, "who", line);
  return typedRef(request);
}

/** A page of `#big`, of 9 members, as its ref says it was asked for. */
function bigPage(
  model: ChatModel,
  ref: unknown,
  members: string[],
  next?: string,
): boolean {
  return model.members("#big", {
    members: members.map((nick) => ({ nick })),
    count: 9,
    ...(next === undefined ? {} : { next }),
  }, whoPageRole(ref).after);
}

Deno.test("a typed /who #room after NICK that goes on from the list is added to it, as More members is", () => {
  assert.equal(typed("/who #big after bea"), `${WHO_MORE_REF}bea`);
  assert.equal(typed("/who after bea"), `${WHO_MORE_REF}bea`);
  assert.equal(typed("/who #big"), TYPED_WHO_REF);
  assert.equal(typed("/who"), TYPED_WHO_REF);
  assert.equal(typedRef({ type: "rooms" }), TYPED_REF);
  assert.deepEqual(whoPageRole(typed("/who #big after bea")), {
    typed: true,
    after: "bea",
  });
  assert.deepEqual(whoPageRole(TYPED_WHO_REF), { typed: true });
  const model = new ChatModel();
  const room = model.conversation("room", "#big");
  bigPage(model, undefined, ["ann", "bea"], "bea"); // the join's list
  assert.equal(
    bigPage(model, typed("/who #big after BEA"), ["cy", "dee"], "dee"),
    true,
  );
  assert.deepEqual([...room.members.keys()], ["ann", "bea", "cy", "dee"]);
  bigPage(model, moreMembersRequest(room)!.ref, ["eve"], "eve");
  assert.deepEqual(room.members.size, 5);
  assert.equal(room.membersNext, "eve");
  // A typed /who without a cursor starts the list again.
  bigPage(model, typed("/who #big"), ["ann"], "ann");
  assert.deepEqual([...room.members.keys()], ["ann"]);
});

Deno.test("a page from a cursor past where the list ends leaves the list whole from the top, with no gap", () => {
  const model = new ChatModel();
  const room = model.conversation("room", "#big");
  bigPage(model, typed("/who #big"), ["ann", "bea"], "bea");
  // Past the list's end, and past the room's last member: neither is added,
  // and the list still goes on from where it ends.
  assert.equal(
    bigPage(model, typed("/who #big after fay"), ["gus"], "gus"),
    false,
  );
  assert.equal(bigPage(model, typed("/who #big after zzz"), []), false);
  assert.deepEqual([...room.members.keys()], ["ann", "bea"]);
  assert.equal(room.membersNext, "bea");
  assert.equal(room.memberCount, 9);
  // A page that answers a cursor the list has since moved past (the button
  // pressed twice) is not added twice over.
  const twice = moreMembersRequest(room)!.ref;
  assert.equal(bigPage(model, twice, ["cy"], "cy"), true);
  assert.equal(bigPage(model, twice, ["cy"], "cy"), false);
  assert.deepEqual([...room.members.keys()], ["ann", "bea", "cy"]);
  // A whole list takes no page from a cursor.
  model.members("#big", { members: [{ nick: "ann" }] });
  assert.equal(bigPage(model, typed("/who #big after ann"), []), false);
});

Deno.test("a list held in part shows no news of names past its end", () => {
  const model = new ChatModel();
  const room = model.conversation("room", "#big");
  model.memberTotal("#big", 500);
  model.memberChange("#big", { kind: "away", nick: "zed", reason: "" });
  assert.equal(room.members.size, 0, "nothing held, nothing shown");
  bigPage(model, undefined, ["ann", "cy"], "cy");
  model.memberChange("#big", { kind: "away", nick: "zed", reason: "" });
  model.memberChange("#big", { kind: "back", nick: "yan" });
  model.memberChange("#big", { kind: "join", nick: "xia" });
  model.memberChange("#big", { kind: "nick", old: "ann", nick: "wu" });
  model.memberChange("#big", { kind: "nick", old: "vic", nick: "bea" });
  model.memberChange("#big", { kind: "away", nick: "cy", reason: "lunch" });
  assert.deepEqual([...room.members].sort(), [
    ["bea", null],
    ["cy", "lunch"],
  ]);
  // A whole list takes every change.
  model.members("#lobby", { members: [{ nick: "ann" }] });
  model.memberChange("#lobby", { kind: "join", nick: "zed" });
  assert.deepEqual(
    [...model.conversation("room", "#lobby").members.keys()],
    ["ann", "zed"],
  );
});

Deno.test("/who more typed again before its page comes waits for it, then goes on from it", () => {
  const model = new ChatModel();
  const room = model.conversation("room", "#big");
  // /who #big, answered.
  model.whoAsked();
  bigPage(model, typed("/who #big"), ["ann", "bea"], "bea");
  model.lastWhoRoom = "#big";
  model.whoAnswered();
  // /who more goes at once; another, typed before its page comes, waits.
  assert.deepEqual(model.whoMore(), {
    type: "who",
    room: "#big",
    after: "bea",
    ref: `${WHO_MORE_REF}bea`,
  });
  model.whoAsked();
  assert.equal(model.whoMore(), null, "the page it goes on from is due");
  // The page comes: the next goes on from it.
  assert.equal(answersWho(`${WHO_MORE_REF}bea`), true);
  bigPage(model, `${WHO_MORE_REF}bea`, ["cy", "dee"], "dee");
  model.whoAnswered();
  assert.deepEqual(model.whoMore(), {
    type: "who",
    room: "#big",
    after: "dee",
    ref: `${WHO_MORE_REF}dee`,
  });
  model.whoAsked();
  // The last page: the one after it is the error saying so.
  bigPage(model, `${WHO_MORE_REF}dee`, ["eve"]);
  model.whoAnswered();
  assert.deepEqual([...room.members.keys()], [
    "ann",
    "bea",
    "cy",
    "dee",
    "eve",
  ]);
  assert.equal(model.whoMore()?.type, "error");
});

Deno.test("a /who more waiting on a page asked on a lost connection goes once the next connection is welcomed", () => {
  const model = new ChatModel();
  bigPage(model, typed("/who #big"), ["ann"], "ann");
  model.lastWhoRoom = "#big";
  model.whoAsked(); // More members, never answered: the connection dropped.
  assert.equal(model.whoMore(), null);
  model.whoReconnected();
  assert.equal(model.whoMore()?.type, "who");
});

Deno.test("the page's who requests are told from its other typed lines by their refs", () => {
  for (const line of ["/who", "/who #big", "/who #big after cy"]) {
    assert.equal(answersWho(typed(line)), true, line);
  }
  const model = new ChatModel();
  model.memberTotal("#big", 500);
  const more = moreMembersRequest(model.conversation("room", "#big"))!;
  assert.equal(answersWho(more.ref), true);
  model.members("#big", {
    members: [{ nick: "ann" }],
    count: 500,
    next: "ann",
  });
  assert.equal(
    answersWho(moreMembersRequest(model.conversation("room", "#big"))!.ref),
    true,
  );
  for (
    const ref of [TYPED_REF, "login", "older", undefined, privateRef("cy")]
  ) {
    assert.equal(answersWho(ref), false, String(ref));
  }
});

/** Members named `nicks`, as a page lists them. */
function named(...nicks: string[]): { nick: string }[] {
  return nicks.map((nick) => ({ nick }));
}

Deno.test("a big room back under the size fetches its list again at the first join or part it announces, and counts from there", () => {
  const model = new ChatModel();
  model.me = "ann";
  const room = model.conversation("room", "#r");
  model.joinList("#r", { members: named("ann", "bob", "cy", "dee") });
  // eve's arrival makes the room big: its count, and then no news of who
  // comes and goes (bob and cy leave unannounced).
  model.memberTotal("#r", 5);
  assert.equal(room.memberCount, 5);
  // Back under the size, it announces dee's part: the list is fetched
  // again, once; the count follows the news meanwhile.
  assert.deepEqual(model.memberChange("#r", { kind: "leave", nick: "dee" }), {
    type: "who",
    room: "#r",
    ref: MEMBERS_MORE_REF,
  });
  assert.equal(room.memberCount, 4);
  assert.equal(model.memberChange("#r", { kind: "join", nick: "fay" }), null);
  assert.equal(room.memberCount, 5);
  // The page: the whole list, counted from itself from then on.
  model.members(
    "#r",
    { members: named("ann", "eve", "fay") },
    whoPageRole(MEMBERS_MORE_REF).after,
  );
  assert.equal(room.memberCount, null);
  assert.equal(model.memberChange("#r", { kind: "join", nick: "gus" }), null);
  assert.equal(model.leftEverywhere("eve", "#r", "quit"), null);
  assert.deepEqual([...room.members.keys()].sort(), ["ann", "fay", "gus"]);
  // The same from a departure for good.
  model.memberTotal("#r", 100);
  assert.deepEqual(model.leftEverywhere("fay", "#r", "lost")?.type, "who");
  assert.equal(room.memberCount, 99);
});

Deno.test("a big room's kicks and one's own comings and goings do not say it is back under the size", () => {
  const model = new ChatModel();
  model.me = "ann";
  const room = model.conversation("room", "#big");
  model.memberTotal("#big", 500);
  // A big room announces kicks and bans as ever: one fewer, still big.
  assert.equal(model.leftEverywhere("spam", "#big", "kicked"), null);
  assert.equal(model.leftEverywhere("spam2", "#big", "banned"), null);
  assert.equal(room.memberCount, 498);
  // One's own join and part are told even in a big room.
  assert.equal(
    model.memberChange("#big", { kind: "leave", nick: "ann" }),
    null,
  );
  assert.equal(model.memberChange("#big", { kind: "join", nick: "ann" }), null);
  // Renames, away and back are announced in every room.
  model.memberChange("#big", { kind: "nick", old: "bo", nick: "bob" });
  model.memberChange("#big", { kind: "away", nick: "bob", reason: "" });
  assert.equal(room.quiet, true);
  // Rejoined when small, the join brings the list: nothing to fetch.
  model.joinList("#big", { members: named("ann", "bob") });
  assert.equal(model.memberChange("#big", { kind: "join", nick: "cy" }), null);
  assert.equal(room.members.size, 3);
});

Deno.test("a count held with a list in part follows the joins and departures announced", () => {
  // A room between a page (100) and a larger --big-room: the join's list
  // is its first page, with the count.
  const model = new ChatModel();
  model.me = "ann";
  const room = model.conversation("room", "#mid");
  model.joinList("#mid", {
    members: named("ann", "bob"),
    count: 300,
    next: "bob",
  });
  model.members("#lobby", { members: named("ann", "bob", "yan") });
  assert.equal(model.memberChange("#mid", { kind: "join", nick: "zed" }), null);
  assert.equal(room.memberCount, 301);
  model.memberChange("#mid", { kind: "leave", nick: "zed" });
  assert.equal(room.memberCount, 300);
  // A departure for good is told once, in one room: counted there, and in
  // the rooms whose list held them.
  model.leftEverywhere("yan", "#mid", "quit");
  assert.equal(room.memberCount, 299);
  model.leftEverywhere("bob", "#lobby", "quit");
  assert.equal(room.memberCount, 298);
  assert.deepEqual([...room.members.keys()], ["ann"]);
});

Deno.test("/who more after the list started again from the top asks for the first page, not a page after no name", () => {
  const model = new ChatModel();
  model.members("#r", { members: named("ann", "bob") });
  model.lastWhoRoom = "#r";
  assert.equal(model.whoMore()?.type, "error", "that was the whole list");
  // The room became big: the list starts again from the top.
  model.memberTotal("#r", 100);
  assert.deepEqual(model.whoMore(), {
    type: "who",
    room: "#r",
    ref: TYPED_WHO_REF,
  });
});

Deno.test("a big room's count moves with the server's count and room list, and its names stay", () => {
  const model = new ChatModel();
  model.joined.add("#big");
  model.memberTotal("#big", 500);
  model.members("#big", {
    members: [{ nick: "ann" }],
    count: 500,
    next: "ann",
  });
  model.roomCount("#big", 512);
  const big = model.conversation("room", "#big");
  assert.equal(big.memberCount, 512);
  assert.deepEqual([...big.members.keys()], ["ann"], "the names held stay");
  model.listRooms([{ name: "#big", members: 498, joined: true }]);
  assert.equal(big.memberCount, 498);
  // A room not known to be big keeps the count its joins and leaves keep.
  model.conversation("room", "#small").memberCount = 3;
  model.joined.add("#small");
  model.listRooms([{ name: "#small", members: 7, joined: true }]);
  assert.equal(model.conversation("room", "#small").memberCount, 3);
});
