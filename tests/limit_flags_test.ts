/**
 * The limits that moved from constants into the table take effect at the
 * values given, not only at their defaults.
 */

import assert from "node:assert/strict";
import { LineClient, startServer } from "./helpers.ts";

Deno.test("--min-password-length, --max-topic and --max-reason apply as set", async () => {
  await using chat = await startServer({
    passwordIterations: 1000,
    minPasswordLength: 12,
    maxTopicLength: 5,
    maxReasonLength: 3,
  }, { operatorPassword: "op-pw" });
  await using alice = await LineClient.text(chat.port, "alice");
  await alice.send("/register elevenchars");
  await alice.expect("*** Error: Choose a password of at least 12 characters");
  await alice.send("/oper op-pw");
  await alice.expect("*** You are now an operator");
  await alice.send("/topic abcdefghij");
  await alice.expect("*** Topic for #lobby: abcde (set by alice)");
  await using bob = await LineClient.text(chat.port, "bob");
  await bob.send("/away lunchtime");
  await alice.expect("*** bob is away: lun");
});

Deno.test("--history-page sets the page a /history without a count gets", async () => {
  await using chat = await startServer({ historyPage: 2 });
  await using bot = await LineClient.json(chat.port, "bot");
  for (const text of ["one", "two", "three"]) {
    await bot.sendJson({ type: "message", text });
    await bot.expectEvent("message", (e) => e.text === text);
  }
  await bot.sendJson({ type: "history", ref: "h" });
  const page = await bot.expectEvent("history", (e) => e.ref === "h");
  assert.deepEqual(page.messages.map((m) => m.text), ["two", "three"]);
});
