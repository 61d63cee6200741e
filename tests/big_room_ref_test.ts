/**
 * A JSON sender's `ref` in a big room over real sockets: its confirmation
 * comes through the room's batch with the ref, in the same place among the
 * room's messages as everyone else's copy, and nobody else sees the ref.
 */

import assert from "node:assert/strict";
import { LineClient, startServer } from "./helpers.ts";
import { type ServerEvent } from "../protocol.ts";

type Said = ServerEvent & { type: "message" | "action" };

/** Reads `count` room messages and actions, in the order they arrive. */
async function readSaid(client: LineClient, count: number): Promise<Said[]> {
  const said: Said[] = [];
  while (said.length < count) {
    const line = await client.expect((text) => {
      if (!text.startsWith("{")) return false;
      const type = (JSON.parse(text) as ServerEvent).type;
      return type === "message" || type === "action";
    });
    said.push(JSON.parse(line) as Said);
  }
  return said;
}

Deno.test("a JSON sender's confirmation in a big room carries its ref, in order", async () => {
  await using chat = await startServer({ bigRoomMembers: 3 });
  await using alice = await LineClient.json(chat.port, "alice");
  await using bob = await LineClient.json(chat.port, "bob");
  // carol makes three: the room is big, its lines go through the batch.
  await using carol = await LineClient.connect(chat.port);
  await carol.send("carol");
  await carol.expect(/^\*\*\* #lobby has 3 members/);
  const lines = (requests: object[]) =>
    new TextEncoder().encode(
      requests.map((r) => JSON.stringify(r) + "\n").join(""),
    );
  // Several in one write each, so a hold gathers more than one.
  await alice.sendBytes(lines([
    { type: "message", text: "a1", ref: "r1" },
    { type: "action", text: "a2", ref: "r2" },
    { type: "message", text: "a3" },
  ]));
  await bob.sendBytes(lines([
    { type: "message", text: "b1" },
    { type: "message", text: "b2", ref: "rb" },
  ]));
  await carol.send("c1");
  const aliceSaw = await readSaid(alice, 6);
  const bobSaw = await readSaid(bob, 6);
  const texts = (said: Said[]) => said.map((e) => e.text);
  assert.deepEqual(
    texts(aliceSaw),
    texts(bobSaw),
    "each sender's confirmation is where the others' copies are",
  );
  const refs = (said: Said[]) =>
    Object.fromEntries(said.map((e) => [e.text, e.ref ?? null]));
  assert.deepEqual(refs(aliceSaw), {
    a1: "r1",
    a2: "r2",
    a3: null,
    b1: null,
    b2: null,
    c1: null,
  });
  assert.deepEqual(refs(bobSaw), {
    a1: null,
    a2: null,
    a3: null,
    b1: null,
    b2: "rb",
    c1: null,
  });
  // The text sender still gets no copy of its own line.
  const carolSaw = await carol.linesUntilPong();
  const heard = carolSaw.filter((line) => /^(<|\* )/.test(line));
  assert.equal(heard.length, 5);
  assert.ok(!heard.some((line) => line.includes("c1")), heard.join("\n"));
});

Deno.test("a JSON sender that parts a big room right after speaking still gets its confirmation, before its leave", async () => {
  await using chat = await startServer({ bigRoomMembers: 3 });
  await using alice = await LineClient.json(chat.port, "alice");
  await using bob = await LineClient.json(chat.port, "bob");
  await using carol = await LineClient.connect(chat.port);
  await carol.send("carol");
  await carol.expect(/^\*\*\* #lobby has 3 members/);
  await alice.sendJson({ type: "join", room: "#dev" });
  await alice.expectEvent("who");
  await alice.sendJson({ type: "switch", room: "#lobby" });
  await alice.expectEvent("switch");
  // Both in one read: the part comes before the message is stored.
  await alice.sendBytes(
    new TextEncoder().encode(
      JSON.stringify({ type: "message", text: "last", ref: "r" }) + "\n" +
        JSON.stringify({ type: "part", room: "#lobby" }) + "\n",
    ),
  );
  const types = (await alice.linesUntilPong(true))
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as ServerEvent)
    .map((e) => e.type === "message" ? `message ${e.ref}` : e.type);
  assert.deepEqual(types, ["message r", "leave", "switch"]);
  const [said] = await readSaid(bob, 1);
  assert.equal(said!.text, "last");
});
