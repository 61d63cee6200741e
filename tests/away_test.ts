/**
 * Away and back over real sockets: going away is news once, and an away that
 * changes nothing is not told to the room again.
 */
import assert from "node:assert/strict";
import { LineClient, startServer } from "./helpers.ts";

Deno.test("away again with the same reason is not announced again; the asker is told why; a new reason is", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  await using bot = await LineClient.json(chat.port, "bot");
  await alice.expect("*** bot joined #lobby");
  await alice.send("/away lunch");
  await alice.expect("*** alice is away: lunch");
  await bot.expectEvent("away", (e) => e.reason === "lunch");
  await alice.send("/away lunch");
  await alice.expect("*** Error: You are already away: lunch");
  await alice.send("/away");
  await alice.expect("*** alice is away");
  await alice.send("/away");
  await alice.expect("*** Error: You are already away");
  await alice.send("/away dinner");
  await alice.expect("*** alice is away: dinner");
  await bot.sendJson({ type: "away", reason: "x", ref: "a1" });
  await bot.expectEvent("away", (e) => e.nick === "bot");
  await bot.sendJson({ type: "away", reason: "x", ref: "a2" });
  const refused = await bot.expectEvent("error", (e) => e.ref === "a2");
  assert.equal(refused.code, "already_there");
  assert.equal(refused.message, "You are already away: x");
  const seen = (await bot.linesUntilPong(true))
    .map((line) => JSON.parse(line))
    .filter((e) => e.type === "away");
  assert.deepEqual(seen, []);
  const news = bot.received.filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line))
    .filter((e) => e.type === "away" && e.nick === "alice")
    .map((e) => e.reason);
  assert.deepEqual(news, ["lunch", "", "dinner"]);
  assert.deepEqual(
    (await alice.linesUntilPong()).filter((line) => /is away/.test(line)),
    ["*** bot is away: x"],
  );
});

Deno.test("a muted person away again is told their reason is still not shown, and nothing is announced", async () => {
  await using chat = await startServer({}, { operatorPassword: "op-pw" });
  await using op = await LineClient.text(chat.port, "op");
  await op.send("/oper op-pw");
  await op.expect("*** You are now an operator");
  await using bob = await LineClient.text(chat.port, "bob");
  await op.send("/mute bob");
  await bob.expect("*** You have been muted by op");
  await bob.send("/away spam");
  await op.expect("*** bob is away");
  await bob.send("/away spam");
  await bob.expect(
    "*** Error: You are already away; you are muted, so your reason is not shown",
  );
  const seen = await op.linesUntilPong();
  assert.ok(!seen.some((line) => /away/.test(line)), seen.join("\n"));
});
