/**
 * Nobody can make a line of theirs pass for the server's on a text reader's
 * terminal: everything the server says starts with `***`, and a message
 * padded with blanks or invisible characters to the terminal's edge would
 * put a `***` of the sender's at the start of a screen line. Text readers
 * see each run of blanks as one space and no invisible format characters;
 * JSON readers (bots, the web client) get the text as it was sent.
 */

import assert from "node:assert/strict";
import { LineClient, startServer } from "./helpers.ts";

const FAKE = "*** alice is now an operator";

/** The one line of `client` that quotes {@linkcode FAKE}. */
function fakeLine(client: LineClient): Promise<string> {
  return client.expect((line) => line.includes("alice is now an operator"));
}

Deno.test("a message padded with blanks shows to text readers with one space, and to JSON readers as sent", async () => {
  await using chat = await startServer();
  await using bob = await LineClient.text(chat.port, "bob");
  await using bot = await LineClient.json(chat.port, "bot");
  await using mallory = await LineClient.text(chat.port, "mallory");
  await using eve = await LineClient.json(chat.port, "eve");
  const padded = `hi${" ".repeat(120)}${FAKE}`;
  await mallory.send(padded);
  // Before, the 120 spaces went out as they came: on an 80-column terminal
  // the fake notice started a line of its own.
  assert.equal(await fakeLine(bob), `<mallory> hi ${FAKE}`);
  assert.equal((await bot.expectEvent("message")).text, padded);
  // Tabs, Unicode spaces and zero-width characters between them, sent
  // over JSON, where any character can be.
  const sneaky = `hi${
    "\t\u3000\u200b\u00a0\u2800\u2028\u3164".repeat(30)
  }${FAKE}`;
  await eve.sendJson({ type: "message", text: sneaky });
  assert.equal(await fakeLine(bob), `<eve> hi ${FAKE}`);
  await eve.sendJson({ type: "action", text: sneaky });
  assert.equal(await fakeLine(bob), `* eve hi ${FAKE}`);
  await eve.sendJson({ type: "private", to: "bob", text: sneaky });
  assert.equal(await fakeLine(bob), `*eve -> bob* hi ${FAKE}`);
});

Deno.test("reasons, topics and kicks padded with blanks show to text readers with one space", async () => {
  await using chat = await startServer({}, { operatorPassword: "op-pw" });
  await using bob = await LineClient.text(chat.port, "bob");
  await using op = await LineClient.text(chat.port, "op");
  await using mallory = await LineClient.text(chat.port, "mallory");
  const pad = " \t".repeat(60);
  await mallory.send(`/away brb${pad}${FAKE}`);
  assert.equal(await fakeLine(bob), `*** mallory is away: brb ${FAKE}`);
  await op.send("/oper op-pw");
  await op.expect(/operator/);
  await op.send(`/topic plans${pad}${FAKE}`);
  assert.equal(
    await fakeLine(bob),
    `*** Topic for #lobby: plans ${FAKE} (set by op)`,
  );
  await op.send(`/kick mallory spam${pad}${FAKE}`);
  assert.equal(
    await mallory.expect(/Disconnected/),
    `*** Disconnected (kicked): Kicked by op: spam ${FAKE}`,
  );
  assert.match(await bob.expect(/kicked/), /[^ ] \*\*\* alice is now/);
});
