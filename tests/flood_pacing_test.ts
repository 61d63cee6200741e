/**
 * Flood control paces instead of refusing: a paste over `nc` arrives whole,
 * in order, at the budget's pace; the sender is told once; the budget is in
 * bytes as well as lines and counts bad lines too; the welcome states it;
 * and only the flooder waits.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DEFAULT_LIMITS } from "../server/limits.ts";
import { LineClient, startServer, WAIT_MS } from "./helpers.ts";

const encoder = new TextEncoder();

/** Lines of a paste, each distinct and numbered. */
const paste = (count: number, width = 60) =>
  Array.from({ length: count }, (_, i) => `${i} `.padEnd(width, "."));

/** The sender's lines a text-mode reader has received, as sent. */
const fromSender = (reader: LineClient, nick: string) =>
  reader.received
    .filter((line) => line.startsWith(`<${nick}> `))
    .map((line) => line.slice(nick.length + 3));

/** Sends `lines` in one write, as a terminal pastes into `nc`. */
async function pasteInto(client: LineClient, lines: string[]): Promise<void> {
  await client.sendBytes(encoder.encode(lines.join("\n") + "\n"));
}

/** Pacing notices a client has been sent. */
const pacingNotices = (client: LineClient) =>
  client.received.filter((line) =>
    line.startsWith("*** You are sending faster than")
  );

Deno.test("a 30-line paste over nc arrives whole and in order; the sender is told once", async () => {
  await using chat = await startServer({
    floodBurst: DEFAULT_LIMITS.floodBurst,
    floodRate: 10,
  });
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  const lines = paste(30);
  await pasteInto(alice, lines);
  await bob.waitFor(
    () => fromSender(bob, "alice").length >= 30,
    "the whole paste",
  );
  assert.deepEqual(fromSender(bob, "alice"), lines);
  await alice.linesUntilPong();
  assert.equal(pacingNotices(alice).length, 1);
  assert.ok(!alice.received.some((line) => line.startsWith("*** Error")));
});

Deno.test("a 100-line paste over nc arrives whole, in order, at the budget's pace", async () => {
  const rate = 20;
  await using chat = await startServer({
    floodBurst: DEFAULT_LIMITS.floodBurst,
    floodRate: rate,
  });
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  const lines = paste(100);
  const started = performance.now();
  await pasteInto(alice, lines);
  await bob.waitFor(
    () => fromSender(bob, "alice").length >= 100,
    "the whole paste",
    4 * WAIT_MS,
  );
  const seconds = (performance.now() - started) / 1000;
  assert.deepEqual(fromSender(bob, "alice"), lines);
  // The burst goes at once, the other 90 at the rate: 4.5 s at 20 a second.
  const expected = (100 - DEFAULT_LIMITS.floodBurst) / rate;
  assert.ok(
    seconds >= expected * 0.9 && seconds < expected + 3,
    `${seconds.toFixed(2)} s for 100 lines; the rate says ${expected} s`,
  );
  await alice.linesUntilPong();
  assert.equal(pacingNotices(alice).length, 1);
});

Deno.test("the budget is in bytes as well: long lines are paced even with lines to spare", async () => {
  await using chat = await startServer({
    floodBurst: 100,
    floodRate: 100,
    floodBurstBytes: 8192,
    floodByteRate: 16_384,
  });
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  const lines = paste(10, 4000);
  const started = performance.now();
  await pasteInto(alice, lines);
  await bob.waitFor(
    () => fromSender(bob, "alice").length >= 10,
    "the long lines",
  );
  const seconds = (performance.now() - started) / 1000;
  assert.deepEqual(fromSender(bob, "alice"), lines);
  // Two lines fit the byte burst; the other eight, 32 KB, go at 16 KB/s.
  assert.ok(seconds >= 1.6, `${seconds.toFixed(2)} s for 40 KB`);
  assert.equal(pacingNotices(alice).length, 1);
});

Deno.test("invalid lines and unknown commands count against the budget", async () => {
  await using chat = await startServer({ floodBurst: 5, floodRate: 10 });
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  const junk = Array.from({ length: 5 }, (_, i) => `/bogus${i}`);
  const said = ["after 0", "after 1", "after 2"];
  await pasteInto(alice, [...junk, ...said]);
  await bob.waitFor(
    () => fromSender(bob, "alice").length >= 3,
    "the lines after the junk",
  );
  assert.deepEqual(fromSender(bob, "alice"), said);
  await alice.linesUntilPong();
  assert.equal(
    alice.received.filter((line) => line.includes("Unknown command")).length,
    5,
  );
  assert.equal(pacingNotices(alice).length, 1, "the junk used the burst");
});

Deno.test("the welcome states the budget, in JSON and in text", async () => {
  await using chat = await startServer({
    floodBurst: DEFAULT_LIMITS.floodBurst,
    floodRate: DEFAULT_LIMITS.floodRate,
  });
  await using json = await LineClient.connect(chat.port);
  await json.sendJson({ type: "hello", nick: "bot" });
  const welcome = await json.expectEvent("welcome");
  assert.deepEqual(welcome.rate, {
    lines: 2,
    burst: 10,
    bytes: 4096,
    burstBytes: 40960,
  });
  await using text = await LineClient.connect(chat.port);
  await text.send("person");
  await text.expect(/^\*\*\* Welcome, person!/);
  assert.equal(
    await text.expect(() => true),
    "*** You may send 10 lines at once, then 2 a second (4096 bytes); faster lines wait their turn, and none is dropped.",
  );
  await using off = await startServer({ floodRate: 0 });
  await using free = await LineClient.connect(off.port);
  await free.sendJson({ type: "hello", nick: "bot" });
  assert.equal((await free.expectEvent("welcome")).rate, undefined);
});

Deno.test("only the flooder waits: others are answered at once while it is paced", async () => {
  await using chat = await startServer({ floodBurst: 10, floodRate: 5 });
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  const lines = paste(40);
  await pasteInto(alice, lines);
  await alice.expect(/^\*\*\* You are sending faster than/);
  // Alice's paste takes 6 s at 5 lines a second; bob's pings come back
  // meanwhile, each long before alice's next line.
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    await bob.linesUntilPong();
    assert.ok(performance.now() - started < 400, "bob was not held up");
  }
  assert.ok(fromSender(bob, "alice").length < 40, "alice is still paced");
  await bob.waitFor(
    () => fromSender(bob, "alice").length >= 40,
    "the whole paste",
    4 * WAIT_MS,
  );
  assert.deepEqual(fromSender(bob, "alice"), lines);
});
