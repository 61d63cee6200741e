/**
 * Many rooms at once, over real sockets: a person belongs to several rooms
 * and has a current one. Text mode tags lines from the other rooms, JSON
 * names the room on every request and event, a person's news reaches each
 * member once, and the per-connection room limit holds.
 */

import assert from "node:assert/strict";
import { LineClient, startServer } from "./helpers.ts";
import { Session, type SessionSocket } from "../server/session.ts";
import { claimNick } from "../server/nicknames.ts";
import { enterRoom } from "../server/rooms.ts";
import { handleFrames } from "../server/commands/dispatch.ts";
import type { Hub } from "../server/hub.ts";
import { concatBytes } from "../wire/bytes.ts";

Deno.test("text mode: the current room's lines come plain, the other rooms' tagged", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  await using carol = await LineClient.text(chat.port, "carol");
  await alice.send("/join #dev");
  await alice.expect("*** alice joined #dev");
  await carol.send("/join #dev");
  await alice.expect("*** carol joined #dev");
  await carol.send("/switch #lobby");
  await carol.expect("*** Now talking in #lobby");

  await bob.send("lobby line");
  await alice.expect("[#lobby] <bob> lobby line");
  await carol.expect("<bob> lobby line");
  await carol.send("/switch #dev");
  await carol.expect("*** Now talking in #dev");
  await carol.send("dev line");
  await alice.expect("<carol> dev line");
  await carol.send("/me waves");
  await alice.expect("* carol waves");

  // Switching tells nobody, and turns the tagging round.
  await alice.send("/switch #lobby");
  await alice.expect("*** Now talking in #lobby");
  await carol.send("dev again");
  await alice.expect("[#dev] <carol> dev again");
  await alice.send("back in the lobby");
  await bob.expect("<alice> back in the lobby");
  await carol.expect("[#lobby] <alice> back in the lobby");
  const bobSaw = await bob.linesUntilPong();
  assert.deepEqual(bobSaw, [], "bob heard nothing of the switches");
});

Deno.test("JSON mode: a client in three rooms hears all three and talks to each by room", async () => {
  await using chat = await startServer();
  await using bot = await LineClient.json(chat.port, "bot");
  await using human = await LineClient.text(chat.port, "human");
  for (const room of ["#a", "#b"]) {
    await bot.sendJson({ type: "join", room });
    await bot.expectEvent("who", (e) => e.room === room);
  }
  await human.send("/join #a");
  await human.expect("*** human joined #a");
  await human.send("/join #b");
  await human.expect("*** human joined #b");

  // The bot is in #lobby, #a and #b; #b is current. It hears all three.
  for (const room of ["#lobby", "#a", "#b"]) {
    await human.send(`/switch ${room}`);
    await human.expect(`*** Now talking in ${room}`);
    await human.send(`hello ${room}`);
    const heard = await bot.expectEvent("message", (e) => e.from === "human");
    assert.equal(heard.room, room);
    assert.equal(heard.text, `hello ${room}`);
  }
  // The human is in #b now; the bot talks to each room by name.
  for (const room of ["#lobby", "#a", "#b"]) {
    await bot.sendJson({ type: "message", room, text: `to ${room}` });
    const echo = await bot.expectEvent("message", (e) => e.from === "bot");
    assert.equal(echo.room, room);
    await human.expect(
      room === "#b" ? `<bot> to ${room}` : `[${room}] <bot> to ${room}`,
    );
  }
  // Without a room, a message goes to the current room, which switch sets.
  await bot.sendJson({ type: "switch", room: "#a", ref: "s" });
  assert.deepEqual(await bot.expectEvent("switch"), {
    type: "switch",
    room: "#a",
    ref: "s",
  });
  await bot.sendJson({ type: "action", text: "beeps" });
  await human.expect("[#a] * bot beeps");
  // A room it is not in is refused, and nothing is said.
  await bot.sendJson({ type: "message", room: "#c", text: "nope", ref: "x" });
  const refused = await bot.expectEvent("error");
  assert.equal(refused.code, "not_member");
  assert.equal(refused.ref, "x");
  // Join never leaves a room: parting one names it.
  await bot.sendJson({ type: "part", room: "#lobby" });
  await human.expect("[#lobby] *** bot left #lobby");
  await bot.sendJson({ type: "rooms", ref: "r" });
  const rooms = await bot.expectEvent("rooms", (e) => e.ref === "r");
  assert.deepEqual(
    rooms.rooms.filter((r) => r.joined).map((r) => [r.name, r.current]),
    [["#a", true], ["#b", undefined]],
  );
});

Deno.test("a rename, away, back and quit reach each member once, however many rooms they share", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.json(chat.port, "bob");
  await using carol = await LineClient.text(chat.port, "carol");
  for (const who of [alice, carol]) {
    await who.send("/join #dev");
    await who.expect(/ joined #dev$/);
  }
  await bob.sendJson({ type: "join", room: "#dev" });
  await bob.expectEvent("who", (e) => e.room === "#dev");
  // carol is back in the lobby; alice stays in #dev; all share both rooms.
  await carol.send("/switch #lobby");
  await carol.expect("*** Now talking in #lobby");

  await alice.send("/nick alicia");
  await alice.send("/away lunch");
  await alice.send("/back");
  await alice.send("/quit bye");
  await alice.closed();
  await carol.expect("*** alicia left #lobby (quit: bye)");
  await bob.expectEvent("leave", (e) => e.nick === "alicia");
  const carolSaw = await carol.linesUntilPong();
  const bobSaw = await bob.linesUntilPong(true);
  // carol hears it all once, from her current room, untagged.
  assert.deepEqual(
    carol.received.filter((line) =>
      /^\*\*\* alic/.test(line) && !/joined/.test(line)
    ),
    [
      "*** alice is now known as alicia",
      "*** alicia is away: lunch",
      "*** alicia is back",
      "*** alicia left #lobby (quit: bye)",
    ],
  );
  assert.deepEqual(carolSaw, []);
  // bob (JSON, current room #dev) gets one event of each, naming #dev.
  const news = bob.received.filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line))
    .filter((e) => ["nick", "away", "back", "leave"].includes(e.type));
  assert.deepEqual(
    news.map((e) => [e.type, e.room]),
    [["nick", "#dev"], ["away", "#dev"], ["back", "#dev"], ["leave", "#dev"]],
  );
  assert.deepEqual(bobSaw, []);
});

Deno.test("/part of a room that is not current keeps the current one", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  await alice.send("/join #dev");
  await alice.expect("*** alice joined #dev");
  await alice.send("/join #ops");
  await alice.expect("*** alice joined #ops");
  await alice.send("/part #dev");
  await alice.expect("*** alice left #dev");
  await alice.send("still here");
  await alice.send("/who");
  await alice.expect("*** #ops (1): alice");
  // Parting the current room falls back to the room used before it.
  await alice.send("/part");
  await alice.expect("*** alice left #ops");
  await alice.expect("*** Now talking in #lobby");
  await alice.send("in the lobby");
  await bob.expect("<alice> in the lobby");
  // A room one is not in cannot be parted or switched to.
  await alice.send("/part #dev");
  await alice.expect("*** Error: You are not in #dev; /join #dev first");
  await alice.send("/switch #dev");
  await alice.expect("*** Error: You are not in #dev; /join #dev first");
});

Deno.test("the per-connection room limit holds, and is told in the welcome", async () => {
  await using chat = await startServer({ maxRoomsPerUser: 3 });
  await using bot = await LineClient.connect(chat.port);
  await bot.sendJson({ type: "hello", nick: "bot" });
  assert.equal((await bot.expectEvent("welcome")).maxRooms, 3);
  await using alice = await LineClient.text(chat.port, "alice");
  for (const room of ["#one", "#two"]) {
    await alice.send(`/join ${room}`);
    await alice.expect(`*** alice joined ${room}`);
  }
  await alice.send("/join #three");
  await alice.expect(
    "*** Error: You are in 3 rooms, the most one connection may be in (3); /part one first",
  );
  // Switching to a room already joined is not a join.
  await alice.send("/join #one");
  await alice.expect("*** Now talking in #one");
  await alice.send("/part #two");
  await alice.expect("*** alice left #two");
  await alice.send("/join #three");
  await alice.expect("*** alice joined #three");
  await alice.send("/rooms");
  await alice.expect(
    "*** Rooms (3): #lobby (2, joined), #one (1, joined), #three (1, current)",
  );
  await bot.sendJson({ type: "join", room: "#x" });
  await bot.sendJson({ type: "join", room: "#y" });
  await bot.sendJson({ type: "join", room: "#z" });
  assert.equal((await bot.expectEvent("error")).code, "too_many_rooms");
});

Deno.test("someone who never joins a second room sees what they always saw", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  const start = alice.received.length;
  await using bob = await LineClient.text(chat.port, "bob");
  await bob.send("/join #dev");
  await bob.expect("*** bob joined #dev");
  await bob.send("dev only");
  await bob.send("/switch #lobby");
  await bob.expect("*** Now talking in #lobby");
  await bob.send("hello lobby");
  await bob.send("/nick robert");
  await bob.send("/away tea");
  await bob.send("/quit done");
  await bob.closed();
  await alice.expect("*** robert left #lobby (quit: done)");
  await alice.send("/rooms");
  await alice.expect(/^\*\*\* Rooms/);
  assert.deepEqual(alice.received.slice(start), [
    "*** bob joined #lobby",
    "<bob> hello lobby",
    "*** bob is now known as robert",
    "*** robert is away: tea",
    "*** robert left #lobby (quit: done)",
    // #dev is empty now, but has history: listed, to be found again.
    "*** Rooms (2): #lobby (1), #dev (0)",
  ]);
});

Deno.test("a big room's batched lines are tagged for members whose current room is another", async () => {
  await using chat = await startServer({ bigRoomMembers: 2 });
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.connect(chat.port);
  await bob.send("bob");
  await bob.expect(/^\*\*\* #lobby has 2 members/);
  await alice.send("/join #dev");
  await alice.expect("*** alice joined #dev");
  await bob.send("one");
  await bob.send("two");
  await alice.expect("[#lobby] <bob> one");
  await alice.expect("[#lobby] <bob> two");
  await alice.send("/switch #lobby");
  await alice.expect("*** Now talking in #lobby");
  await bob.send("three");
  await alice.expect("<bob> three");
});

Deno.test("a mute covers every room, and a kick is told once to each member of the rooms shared", async () => {
  await using chat = await startServer({}, { operatorPassword: "op-pw" });
  await using op = await LineClient.text(chat.port, "op");
  await op.send("/oper op-pw");
  await op.expect("*** You are now an operator");
  await using bot = await LineClient.json(chat.port, "bot");
  for (const who of [op]) {
    await who.send("/join #dev");
    await who.expect("*** op joined #dev");
  }
  await bot.sendJson({ type: "join", room: "#dev" });
  await bot.expectEvent("who", (e) => e.room === "#dev");
  await op.send("/mute bot");
  await op.expect("*** Muted bot");
  for (const room of ["#lobby", "#dev"]) {
    await bot.sendJson({ type: "message", room, text: "spam" });
    assert.equal((await bot.expectEvent("error")).code, "muted");
  }
  await op.send("/kick bot enough");
  await op.expect("*** bot left #dev (kicked: by op: enough)");
  const seen = await op.linesUntilPong();
  assert.ok(!seen.some((line) => line.includes("bot left")), seen.join("\n"));
  assert.ok(!seen.some((line) => line.includes("spam")), seen.join("\n"));
});

Deno.test("the big-room policy is per room: a quit is told in the small room, not the big one", async () => {
  await using chat = await startServer({ bigRoomMembers: 3 });
  await using lurker = await LineClient.text(chat.port, "lurker");
  await using alice = await LineClient.text(chat.port, "alice");
  await using carol = await LineClient.connect(chat.port);
  await carol.send("carol");
  await carol.expect(/^\*\*\* #lobby has 3 members/);
  for (const who of [alice, carol]) {
    await who.send("/join #dev");
    await who.expect(/ joined #dev$/);
  }
  // alice hears carol's quit from #dev (small); lurker, only in the big
  // lobby, hears nothing.
  await carol.send("/quit");
  await alice.expect("*** carol left #dev (quit)");
  const lurkerSaw = await lurker.linesUntilPong();
  assert.ok(
    !lurkerSaw.some((line) => line.includes("carol")),
    lurkerSaw.join("\n"),
  );
});

Deno.test("JSON: topic names its room; the join replay brings each room's topic", async () => {
  await using chat = await startServer({}, { operatorPassword: "op-pw" });
  await using bot = await LineClient.json(chat.port, "bot");
  await bot.sendJson({ type: "oper", password: "op-pw" });
  await bot.expectEvent("notice");
  await bot.sendJson({ type: "join", room: "#dev" });
  await bot.expectEvent("who", (e) => e.room === "#dev");
  await bot.sendJson({ type: "topic", room: "#lobby", text: "welcome all" });
  const set = await bot.expectEvent("topic");
  assert.deepEqual([set.room, set.topic], ["#lobby", "welcome all"]);
  await bot.sendJson({ type: "topic", ref: "t" });
  const current = await bot.expectEvent("topic", (e) => e.ref === "t");
  assert.deepEqual([current.room, current.topic], ["#dev", ""]);
  await using alice = await LineClient.connect(chat.port);
  await alice.sendJson({ type: "hello", nick: "alice", room: "#dev" });
  await alice.expectEvent("who", (e) => e.room === "#dev");
  await alice.sendJson({ type: "join", room: "#lobby" });
  const topic = await alice.expectEvent("topic");
  assert.deepEqual([topic.room, topic.topic], ["#lobby", "welcome all"]);
});

/** A socket that keeps what is written to it, for a session in-process. */
class KeptSocket implements SessionSocket {
  readonly written: Uint8Array[] = [];
  write(bytes: Uint8Array): Promise<number> {
    this.written.push(bytes.slice());
    return Promise.resolve(bytes.length);
  }
  close(): void {}
  text(): string {
    return new TextDecoder().decode(concatBytes(this.written));
  }
}

/** A text-mode session seated in-process in `rooms`, the last current. */
function seated(hub: Hub, nick: string, rooms: string[]) {
  const socket = new KeptSocket();
  const session = new Session({
    socket,
    address: "127.0.0.1",
    limits: hub.limits,
    onSendFailure: hub.sendFailed,
  });
  session.chooseCodec("text");
  claimNick(hub, session, nick);
  session.state = "active";
  for (const room of rooms) enterRoom(hub, session, room);
  return { session, socket };
}

Deno.test("text mode: a line accepted before a /switch or /part in the same turn is tagged by the room current then", async () => {
  await using chat = await startServer();
  const hub = chat.server.hub;
  const alice = seated(hub, "alice", ["#dev", "#ops", "#lobby"]);
  const bob = seated(hub, "bob", ["#dev"]);
  const carol = seated(hub, "carol", ["#lobby"]);
  const line = (text: string) => [{ kind: "line" as const, text }];
  // Each message waits for the history's commit; the switch and part
  // that follow it in the same turn change the current room at once.
  const turn = () => {
    handleFrames(hub, bob.session, line("said while alice was in #lobby"));
    handleFrames(hub, alice.session, line("/switch #dev"));
    handleFrames(hub, bob.session, line("said while alice was in #dev"));
    handleFrames(hub, carol.session, line("lobby, after the switch"));
    handleFrames(hub, alice.session, line("/part #dev"));
    handleFrames(hub, carol.session, line("lobby, after the part"));
  };
  turn();
  // Runs once everything accepted before is stored and delivered.
  await new Promise<void>((resolve) => hub.inOrder(resolve));
  await alice.session.outbound.idle();
  const lines = alice.socket.text().split("\n").filter((l) =>
    /said while|lobby, after|Now talking|left #dev/.test(l)
  );
  assert.deepEqual(lines, [
    "[#dev] <bob> said while alice was in #lobby",
    "*** Now talking in #dev",
    "<bob> said while alice was in #dev",
    "[#lobby] <carol> lobby, after the switch",
    "*** alice left #dev",
    "*** Now talking in #lobby",
    "<carol> lobby, after the part",
  ]);
  for (const { session } of [alice, bob, carol]) {
    session.outbound.close();
    hub.disconnect(session, "quit");
  }
});
