/**
 * Nobody logs in or renames to a name that passes for the server or its
 * staff, in text or JSON mode, and the refusal says what to do next.
 */

import assert from "node:assert/strict";
import { LineClient, startServer } from "./helpers.ts";

Deno.test("the server's name and staff names are refused at login and on /nick", async () => {
  await using chat = await startServer({}, { name: "hub" });
  await using nc = await LineClient.connect(chat.port);
  await nc.send("Admin");
  await nc.expect(
    "*** Error: Nickname Admin is reserved: it could pass for the server or its staff; choose another",
  );
  await nc.send("HUB");
  await nc.expect(/^\*\*\* Error: Nickname HUB is reserved/);
  await nc.send("carol");
  await nc.expect("*** carol joined #lobby");
  await nc.send("/nick NickServ");
  await nc.expect(/^\*\*\* Error: Nickname NickServ is reserved/);
  await using bot = await LineClient.connect(chat.port);
  await bot.sendJson({ type: "hello", nick: "s\u0435rver", ref: "h" });
  const error = await bot.expectEvent("error");
  assert.equal(error.code, "nick_invalid");
  assert.equal(error.ref, "h");
  await bot.sendJson({ type: "hello", nick: "serverbot", ref: "h2" });
  await bot.expectEvent("welcome");
});
