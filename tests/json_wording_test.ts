/**
 * A bot or the web page talks JSON: it sends `{"type":"identify"}`, not
 * `/identify`. Every hint that names a command is worded for the one
 * reading it, while a person at `nc` keeps the slash words. And a wrong
 * password says how many more the connection may send before it is cut.
 */

import assert from "node:assert/strict";
import { LineClient, startServer } from "./helpers.ts";
import { nickLostNotice } from "../server/cluster/redis_node.ts";

/** The message of the next error `bot` receives, checked for `code`. */
async function errorText(bot: LineClient, code: string): Promise<string> {
  const error = await bot.expectEvent("error");
  assert.equal(error.code, code, error.message);
  return error.message;
}

Deno.test("JSON wording: /register's notice names identify in the hello", async () => {
  await using chat = await startServer({ passwordIterations: 1000 });
  await using alice = await LineClient.text(chat.port, "alice");
  await alice.send("/register secretpass1");
  await alice.expect(
    "*** Nickname alice is now registered to you; use /identify PASSWORD next time",
  );
  await using bot = await LineClient.json(chat.port, "bot");
  await bot.sendJson({ type: "register", password: "secretpass1" });
  const notice = await bot.expectEvent(
    "notice",
    (e) => /registered/.test(e.text),
  );
  assert.equal(
    notice.text,
    'Nickname bot is now registered to you; next time add "identify" with the password to your hello',
  );
});

Deno.test("JSON wording: identify for an unregistered name, a registered /nick, private history", async () => {
  await using chat = await startServer({ passwordIterations: 1000 });
  await using owner = await LineClient.text(chat.port, "owner");
  await owner.send("/register secretpass1");
  await owner.expect(/now registered/);
  await using alice = await LineClient.text(chat.port, "alice");
  await using bot = await LineClient.json(chat.port, "bot");

  await alice.send("/identify somepassword");
  await alice.expect(
    "*** Error: Nickname alice is not registered; /register PASSWORD claims yours",
  );
  await bot.sendJson({ type: "identify", password: "somepassword" });
  assert.equal(
    await errorText(bot, "no_such_nick"),
    'Nickname bot is not registered; a "register" request claims yours',
  );

  await owner.send("/quit");
  await owner.closed();
  await alice.send("/nick owner");
  await alice.expect(
    "*** Error: Nickname owner is registered; /identify owner PASSWORD if it is yours",
  );
  await bot.sendJson({ type: "nick", nick: "owner" });
  assert.equal(
    await errorText(bot, "nick_registered"),
    'Nickname owner is registered; an "identify" request with its password if it is yours',
  );

  await alice.send("/history @owner");
  await alice.expect(
    "*** Error: Private messages are kept only for registered nicknames; /register or /identify first",
  );
  await bot.sendJson({ type: "history", with: "owner" });
  assert.equal(
    await errorText(bot, "not_permitted"),
    'Private messages are kept only for registered nicknames; a "register" or "identify" request first',
  );
});

Deno.test("JSON wording: identify before login without a nickname", async () => {
  await using chat = await startServer({ passwordIterations: 1000 });
  await using nc = await LineClient.connect(chat.port);
  await nc.send("/identify somepassword");
  await nc.expect(
    "*** Error: Choose a registered nickname first, or send /identify NICK PASSWORD",
  );
  await using bot = await LineClient.connect(chat.port);
  await bot.sendJson({ type: "identify", password: "somepassword" });
  assert.equal(
    await errorText(bot, "not_ready"),
    'Choose a registered nickname first, or send "identify" with "nick" and "password"',
  );
});

Deno.test("JSON wording: operator-only requests and kicking oneself", async () => {
  await using chat = await startServer({}, { operatorPassword: "op-pw" });
  await using bob = await LineClient.text(chat.port, "bob");
  await using bot = await LineClient.json(chat.port, "bot");
  await bob.send("/kick bot");
  await bob.expect(
    "*** Error: Only operators may use /kick; /oper PASSWORD if you are one",
  );
  await bot.sendJson({ type: "kick", nick: "bob" });
  assert.equal(
    await errorText(bot, "not_permitted"),
    'Only operators may send "kick"; an "oper" request with the password if you are one',
  );

  await bob.send("/oper op-pw");
  await bob.expect("*** You are now an operator");
  await bob.send("/kick bob");
  await bob.expect(
    "*** Error: You cannot kick yourself; /quit leaves the chat",
  );
  await bot.sendJson({ type: "oper", password: "op-pw" });
  await bot.expectEvent("notice", (e) => /operator/.test(e.text));
  await bot.sendJson({ type: "kick", nick: "bot" });
  assert.equal(
    await errorText(bot, "not_permitted"),
    'You cannot kick yourself; a "quit" request leaves the chat',
  );
});

Deno.test("JSON wording: rooms one is not in, the lobby, and the room limits", async () => {
  await using chat = await startServer({ maxRoomsPerAddress: 1 });
  await using alice = await LineClient.text(chat.port, "alice");
  await using bot = await LineClient.json(chat.port, "bot");

  await alice.send("/part #dev");
  await alice.expect("*** Error: You are not in #dev; /join #dev first");
  await bot.sendJson({ type: "part", room: "#dev" });
  assert.equal(
    await errorText(bot, "not_member"),
    'You are not in #dev; a "join" request for it first',
  );

  await alice.send("/part #lobby");
  await alice.expect(
    "*** Error: You are in #lobby, where everyone starts; /quit leaves the chat",
  );
  await bot.sendJson({ type: "part", room: "#lobby" });
  assert.equal(
    await errorText(bot, "already_there"),
    'You are in #lobby, where everyone starts; a "quit" request leaves the chat',
  );

  // alice opens #one (the address's one room); then neither may open more.
  await alice.send("/join #one");
  await alice.expect("*** alice joined #one");
  await alice.send("/join #two");
  await alice.expect(
    "*** Error: Your address has opened 1 rooms that still exist, the most one address may (1); join an existing room (/rooms lists them), or wait until one of yours empties",
  );
  await bot.sendJson({ type: "join", room: "#two" });
  assert.equal(
    await errorText(bot, "full"),
    'Your address has opened 1 rooms that still exist, the most one address may (1); join an existing room (a "rooms" request lists them), or wait until one of yours empties',
  );
});

Deno.test("JSON wording: a join past --max-rooms-per-user", async () => {
  await using chat = await startServer({ maxRoomsPerUser: 1 });
  await using alice = await LineClient.text(chat.port, "alice");
  await using bot = await LineClient.json(chat.port, "bot");
  await alice.send("/join #x");
  await alice.expect(
    "*** Error: You are in 1 rooms, the most one connection may be in (1); /part one first",
  );
  await bot.sendJson({ type: "join", room: "#x" });
  assert.equal(
    await errorText(bot, "too_many_rooms"),
    'You are in 1 rooms, the most one connection may be in (1); a "part" request for one first',
  );
});

Deno.test("JSON wording: a nickname shared after a cluster outage", () => {
  assert.match(nickLostNotice("ann"), /choose another with \/nick NAME$/);
  assert.match(
    nickLostNotice("ann", "requests"),
    /choose another with a "nick" request$/,
  );
});

Deno.test("wrong passwords say how many tries are left, in text and JSON", async () => {
  await using chat = await startServer({
    maxPasswordAttempts: 3,
    passwordIterations: 1000,
  }, { password: "s3cret-pw", operatorPassword: "op-pw" });

  await using person = await LineClient.connect(chat.port);
  await person.expect("*** This server needs a password. Password:");
  await person.send("guess");
  await person.expect(
    "*** Error: Wrong server password: 2 tries left before the connection is closed",
  );
  await person.send("/pass s3cret-pw");
  await person.expect(/^\*\*\* Password accepted/);
  await person.send("alice");
  await person.expect("*** alice joined #lobby");
  await person.send("/oper nope");
  await person.expect(
    "*** Error: Wrong operator password: 1 try left before the connection is closed",
  );
  await person.send("/register secretpass1");
  await person.expect(/now registered/);

  await using bot = await LineClient.connect(chat.port);
  await bot.sendJson({ type: "hello", nick: "bot", password: "wrong" });
  const server = await bot.expectEvent("error");
  assert.equal(server.code, "bad_password");
  assert.equal(server.password, "server");
  assert.equal(server.triesLeft, 2);
  assert.equal(
    server.message,
    "Wrong server password: 2 tries left before the connection is closed",
  );
  await bot.sendJson({
    type: "hello",
    nick: "alice",
    password: "s3cret-pw",
    identify: "not-hers",
  });
  const nickname = await bot.expectEvent("error");
  assert.equal(nickname.password, "nickname");
  assert.equal(nickname.triesLeft, 1);
  assert.match(nickname.message, /^Wrong nickname password: 1 try left/);
  await bot.sendJson({ type: "hello", nick: "alice", identify: "nor-this" });
  const last = await bot.expectEvent("bye");
  assert.equal(last.reason, "Too many wrong nickname passwords");
  await bot.closed();
});

Deno.test("JSON wording: a hello with hints commands gets the slash words people type", async () => {
  await using chat = await startServer({ maxRoomsPerUser: 1 });
  // The web page and the terminal client: their users type /quit.
  await using typed = await LineClient.connect(chat.port);
  await typed.sendJson({ type: "hello", nick: "typist", hints: "commands" });
  await typed.expectEvent("who");
  await typed.sendJson({ type: "part", room: "#lobby" });
  assert.equal(
    await errorText(typed, "already_there"),
    "You are in #lobby, where everyone starts; /quit leaves the chat",
  );
  await typed.sendJson({ type: "join", room: "#x" });
  assert.equal(
    await errorText(typed, "too_many_rooms"),
    "You are in 1 rooms, the most one connection may be in (1); /part one first",
  );
  await typed.sendJson({ type: "kick", nick: "typist" });
  assert.equal(
    await errorText(typed, "not_permitted"),
    "Only operators may use /kick; /oper PASSWORD if you are one",
  );
  // A bot that says so, or says nothing, keeps the request types.
  await using bot = await LineClient.connect(chat.port);
  await bot.sendJson({ type: "hello", nick: "bot", hints: "requests" });
  await bot.expectEvent("who");
  await bot.sendJson({ type: "part", room: "#lobby" });
  assert.equal(
    await errorText(bot, "already_there"),
    'You are in #lobby, where everyone starts; a "quit" request leaves the chat',
  );
});

Deno.test("JSON wording: a hello's hints hold for its own refusals, and only two words are hints", async () => {
  await using chat = await startServer({}, { password: "s3cret-pw" });
  await using typed = await LineClient.connect(chat.port);
  await typed.sendJson({ type: "hello", nick: "typist", hints: "commands" });
  assert.equal(
    await errorText(typed, "bad_password"),
    "This server needs a password",
  );
  await typed.sendJson({ type: "hello", nick: "typist", hints: "slash" });
  assert.equal(
    await errorText(typed, "bad_request"),
    'Bad hello: "hints" must be "commands" or "requests" when present',
  );
});
