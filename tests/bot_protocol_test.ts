/**
 * What PROTOCOL.md promises bot authors: `ref` comes back on the reply to
 * every request, confirmations of messages and the asker's own copy of the
 * news it made (join, leave, rename, away, back, topic) included, and a `hello` refused
 * for a taken nickname may be sent again on the same connection.
 */

import assert from "node:assert/strict";
import { LineClient, startServer } from "./helpers.ts";

Deno.test("bots: ref comes back on message, action and private confirmations and history", async () => {
  await using chat = await startServer();
  await using bot = await LineClient.json(chat.port, "bot");
  await using bob = await LineClient.json(chat.port, "bob");
  await bot.sendJson({ type: "message", text: "hi", ref: "m1" });
  const said = await bot.expectEvent("message", (e) => e.text === "hi");
  assert.equal(said.ref, "m1");
  const seen = await bob.expectEvent("message", (e) => e.text === "hi");
  assert.equal(seen.ref, undefined, "others never see the sender's ref");
  await bot.sendJson({ type: "action", text: "waves", ref: "a1" });
  assert.equal((await bot.expectEvent("action")).ref, "a1");
  await bot.sendJson({ type: "private", to: "bob", text: "psst", ref: "p1" });
  assert.equal((await bot.expectEvent("private")).ref, "p1");
  assert.equal((await bob.expectEvent("private")).ref, undefined);
  await bot.sendJson({ type: "history", limit: 5, ref: "h1" });
  const page = await bot.expectEvent("history", (e) => e.ref === "h1");
  assert.deepEqual(page.messages.map((m) => m.ref), [undefined, undefined]);
});

Deno.test("bots: ref comes back on the asker's own join, leave, rename, away, back and topic", async () => {
  await using chat = await startServer({}, { operatorPassword: "op secret" });
  await using bot = await LineClient.json(chat.port, "bot");
  await using bob = await LineClient.json(chat.port, "bob");
  await bob.sendJson({ type: "join", room: "#dev" });
  await bob.expectEvent("who", (e) => e.room === "#dev");
  await bot.sendJson({ type: "join", room: "#dev", ref: "j" });
  assert.equal(
    (await bot.expectEvent("join", (e) => e.room === "#dev")).ref,
    "j",
  );
  await bot.sendJson({ type: "join", room: "#ops", ref: "j2" });
  assert.equal(
    (await bot.expectEvent("join", (e) => e.room === "#ops")).ref,
    "j2",
  );
  await bot.sendJson({ type: "part", room: "#ops", ref: "p" });
  assert.equal((await bot.expectEvent("leave")).ref, "p");
  // Across two shared rooms (the news goes to each member once) and in one.
  await bot.sendJson({ type: "away", reason: "lunch", ref: "a" });
  assert.equal((await bot.expectEvent("away")).ref, "a");
  await bot.sendJson({ type: "back", ref: "b" });
  assert.equal((await bot.expectEvent("back")).ref, "b");
  await bot.sendJson({ type: "nick", nick: "bot2", ref: "n" });
  assert.equal((await bot.expectEvent("nick")).ref, "n");
  await bot.sendJson({ type: "oper", password: "op secret" });
  await bot.sendJson({ type: "topic", text: "builds", ref: "t" });
  assert.equal((await bot.expectEvent("topic")).ref, "t");
  // Nobody else ever sees the asker's ref.
  await bob.expectEvent("topic");
  const others = bob.received.filter((line) => line.includes('"bot'));
  assert.ok(others.length >= 5, others.join("\n"));
  assert.ok(others.every((line) => !line.includes('"ref"')), others.join("\n"));
});

Deno.test("bots: hello may be sent again after nick_taken", async () => {
  await using chat = await startServer();
  await using _holder = await LineClient.json(chat.port, "bot");
  await using bot = await LineClient.connect(chat.port);
  await bot.sendJson({ type: "hello", nick: "bot", ref: "1" });
  const taken = await bot.expectEvent("error");
  assert.deepEqual([taken.code, taken.ref], ["nick_taken", "1"]);
  await bot.sendJson({ type: "hello", nick: "bot_2", ref: "2" });
  const welcome = await bot.expectEvent("welcome");
  assert.deepEqual([welcome.nick, welcome.ref], ["bot_2", "2"]);
});
