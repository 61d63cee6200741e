/**
 * Every goodbye carries a machine-readable code besides its words, in JSON
 * and text mode, so a client can tell "come back later" from "do not come
 * back"; a takeover says who took the nickname and from where.
 */

import assert from "node:assert/strict";
import { byeMeansReconnect, parseByeLine } from "../protocol.ts";
import { LineClient, registerNick, startServer } from "./helpers.ts";

Deno.test("bye: JSON goodbyes carry a code: quit, kicked, flood, timeout, shutdown", async () => {
  // Flood control paces: the flooder's lines wait their turn, and input
  // that keeps coming past the budget for 0.3 s ends the connection.
  await using chat = await startServer({
    floodRate: 10,
    floodBurst: 2,
    floodDisconnectMs: 300,
    loginTimeoutMs: 300,
  }, { operatorPassword: "op-pw" });
  await using op = await LineClient.text(chat.port, "op");
  await op.send("/oper op-pw");
  await op.expect("*** You are now an operator");

  await using quitter = await LineClient.json(chat.port, "quitter");
  await quitter.sendJson({ type: "quit" });
  assert.deepEqual(await quitter.expectEvent("bye"), {
    type: "bye",
    code: "quit",
    reason: "Goodbye",
  });

  await using kicked = await LineClient.json(chat.port, "kicked");
  await op.send("/kick kicked go away");
  assert.deepEqual(await kicked.expectEvent("bye"), {
    type: "bye",
    code: "kicked",
    reason: "Kicked by op: go away",
  });

  await using flooder = await LineClient.json(chat.port, "flooder");
  for (let i = 0; i < 10 && !flooder.ended; i++) {
    await flooder.sendJson({ type: "message", text: `x${i}` }).catch(() => {});
  }
  const flood = await flooder.expectEvent("bye");
  assert.equal(flood.code, "flood");
  assert.doesNotMatch(flood.reason, /Disconnected/, "no doubled words");

  await using silent = await LineClient.connect(chat.port);
  await silent.send('{"type":"pong","token":"x"}');
  const timeout = await silent.expectEvent("bye");
  assert.equal(timeout.code, "timeout");

  await using stayer = await LineClient.json(chat.port, "stayer");
  await chat.server.close();
  const shutdown = await stayer.expectEvent("bye");
  assert.deepEqual(shutdown, {
    type: "bye",
    code: "shutdown",
    reason: "Server shutting down",
  });
});

Deno.test("bye: text mode says the code in brackets, and a ban at connect does too", async () => {
  await using chat = await startServer({}, {
    hostname: "::",
    operatorPassword: "op-pw",
  });
  await using op = await LineClient.text(chat.port, "op");
  await op.send("/oper op-pw");
  await op.expect("*** You are now an operator");
  await using mallory = await LineClient.connect(chat.port, true, "::1");
  await mallory.send("mallory");
  await op.expect("*** mallory joined #lobby");
  await op.send("/ban mallory 1h spam");
  const line = await mallory.expect(/^\*\*\* Disconnected/);
  assert.match(
    line,
    /^\*\*\* Disconnected \(banned\): Banned by op until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: spam$/,
  );
  assert.deepEqual(parseByeLine(line), {
    code: "banned",
    reason: line.slice("*** Disconnected (banned): ".length),
  });
  await using again = await LineClient.connect(chat.port, true, "::1");
  const refused = await again.expect(/^\*\*\* Disconnected/);
  assert.equal(parseByeLine(refused)?.code, "banned");
  await again.closed();
});

Deno.test("bye: a takeover tells the displaced side who took the nickname and from where", async () => {
  await using chat = await startServer({ passwordIterations: 1000 });
  await registerNick(chat.port, "alice", "alices password");
  await using first = await LineClient.connect(chat.port);
  await first.sendJson({
    type: "hello",
    nick: "alice",
    identify: "alices password",
  });
  await first.expectEvent("welcome");
  await using second = await LineClient.connect(chat.port);
  await second.sendJson({
    type: "hello",
    nick: "alice",
    identify: "alices password",
  });
  await second.expectEvent("welcome");
  const bye = await first.expectEvent("bye");
  assert.equal(bye.code, "taken_over");
  assert.match(bye.reason, /^alice logged in from 127\.0\.0\.1 /);
  assert.equal(byeMeansReconnect(bye.code), false);

  // In text mode, with /identify after the prompt, the same.
  await using third = await LineClient.connect(chat.port);
  await third.send("alice");
  await third.expect(/is registered/);
  await third.send("/identify alices password");
  await third.expect("*** alice joined #lobby");
  const taken = await second.expectEvent("bye");
  assert.equal(taken.code, "taken_over");
});

Deno.test("bye: which codes mean reconnect", () => {
  const again = ["shutdown", "timeout", "slow", "full"] as const;
  const never = [
    "quit",
    "kicked",
    "banned",
    "taken_over",
    "flood",
    "bad_password",
    "refused",
  ] as const;
  for (const code of again) assert.equal(byeMeansReconnect(code), true, code);
  for (const code of never) assert.equal(byeMeansReconnect(code), false, code);
});
