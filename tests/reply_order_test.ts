/**
 * Replies come in the order of the requests, over real sockets: a client
 * that sends a room message and, in the same write, a command gets the
 * message's confirmation (JSON) or the echo of what it sent before (text)
 * first, then the command's answer, in small rooms and big ones.
 */

import assert from "node:assert/strict";
import { LineClient, startServer } from "./helpers.ts";
import { inOneWrite, oneWrite, refOf } from "./reply_order.ts";

/**
 * Sends a message (ref `said`) and `request` (ref `asked`) in one write and
 * returns what came back for either, in arrival order.
 */
function messageThen(
  client: LineClient,
  request: object,
): Promise<string[]> {
  return inOneWrite(client, { type: "message", text: "first" }, request);
}

/** Asserts the confirmation came before anything answering the request. */
function confirmedFirst(lines: string[]): void {
  assert.equal(refOf(lines[0]!), "said", `overtaken:\n${lines.join("\n")}`);
  const confirmation = JSON.parse(lines[0]!);
  assert.equal(confirmation.type, "message");
  assert.equal(confirmation.text, "first");
}

/** The commands whose answers used to overtake a message sent just before. */
const COMMANDS: ReadonlyArray<[string, object]> = [
  ["/help", { type: "help" }],
  ["/topic", { type: "topic" }],
  ["/motd", { type: "motd" }],
  ["/switch", { type: "switch", room: "#lobby" }],
];

for (const [name, request] of COMMANDS) {
  Deno.test(`${name} sent in the same write as a message is answered after the message's confirmation`, async () => {
    await using chat = await startServer({}, { motd: ["Be kind."] });
    await using other = await LineClient.json(chat.port, "other");
    await using bot = await LineClient.json(chat.port, "bot");
    confirmedFirst(await messageThen(bot, request));
    await other.expectEvent("message", (event) => event.text === "first");
  });
}

Deno.test("in a big room, every command's answer comes after the confirmation of the message before it", async () => {
  await using chat = await startServer({ bigRoomMembers: 3 }, {
    motd: ["Be kind."],
  });
  await using ann = await LineClient.json(chat.port, "ann");
  await using _bea = await LineClient.json(chat.port, "bea");
  await using bot = await LineClient.json(chat.port, "bot");
  assert.ok(
    bot.received.some((line) => line.includes('"type":"members"')),
    "the lobby is big",
  );
  for (const [, request] of [...COMMANDS, ["/away", { type: "away" }]]) {
    confirmedFirst(await messageThen(bot, request as object));
  }
  // The others heard each of them, through the room's batch.
  const heard = await ann.linesUntilPong(true);
  assert.deepEqual(
    heard.filter((line) => line.includes('"type":"message"')).map((line) =>
      JSON.parse(line).from
    ),
    ["bot", "bot", "bot", "bot", "bot"],
  );
});

Deno.test("text mode: a command's answer comes after the echo of the private message sent before it", async () => {
  await using chat = await startServer({}, { motd: ["Be kind."] });
  await using other = await LineClient.text(chat.port, "other");
  await using alice = await LineClient.text(chat.port, "alice");
  for (const command of ["/help", "/topic", "/motd", "/switch #lobby"]) {
    const start = alice.received.length;
    // A room line first: what it sends waits for the history's commit.
    await alice.send(`hello\n/msg other psst\n${command}\n/ping done`);
    await alice.expect("*** pong done");
    const lines = alice.received.slice(start, -1);
    assert.equal(
      lines[0],
      "*alice -> other* psst",
      `${command} overtook the echo:\n${lines.join("\n")}`,
    );
    assert.ok(lines.length > 1, `${command} was answered`);
  }
  await other.expect("<alice> hello");
});

Deno.test("a quit in the same write as a message gets the confirmation before the bye", async () => {
  for (const bigRoomMembers of [0, 2]) {
    await using chat = await startServer({ bigRoomMembers });
    await using other = await LineClient.json(chat.port, "other");
    await using bot = await LineClient.json(chat.port, "bot");
    const start = bot.received.length;
    await bot.sendBytes(oneWrite(
      { type: "message", text: "last words", ref: "said" },
      { type: "quit" },
      { type: "message", text: "never read" },
    ));
    await bot.closed();
    assert.deepEqual(
      bot.received.slice(start).map((line) => JSON.parse(line).type),
      ["message", "bye"],
      `big room from ${bigRoomMembers}`,
    );
    await other.expectEvent("message", (event) => event.text === "last words");
    const after = await other.linesUntilPong(true);
    assert.ok(!after.some((line) => line.includes("never read")));
  }
});

Deno.test("the last one out of a big room still gets the confirmation of what it said there", async () => {
  await using chat = await startServer({ bigRoomMembers: 1 });
  await using bot = await LineClient.json(chat.port, "bot");
  await bot.sendJson({ type: "join", room: "#solo" });
  await bot.expect(/"type":"members","room":"#solo"/);
  const start = bot.received.length;
  await bot.sendBytes(oneWrite(
    { type: "message", room: "#solo", text: "alone", ref: "said" },
    { type: "part", room: "#solo", ref: "left" },
  ));
  await bot.expectEvent("switch");
  assert.deepEqual(
    bot.received.slice(start).map((line) => refOf(line) ?? null),
    ["said", "left", null],
  );
});
