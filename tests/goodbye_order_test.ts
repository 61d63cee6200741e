/**
 * Over real sockets: a goodbye the server gives comes after every answer
 * the connection was already owed, so a line the others received is always
 * confirmed to its sender (JSON: its copy with its `ref`; text: the answers
 * to what it sent after it) before the `bye` and the close.
 */

import assert from "node:assert/strict";
import { LineClient, startServer } from "./helpers.ts";
import { oneWrite, refOf } from "./reply_order.ts";

const encoder = new TextEncoder();

/** The types (with refs) of the JSON lines from `start` on. */
function typesFrom(client: LineClient, start: number): string[] {
  return client.received.slice(start).map((line) => {
    const ref = refOf(line);
    return `${JSON.parse(line).type}${ref === undefined ? "" : `:${ref}`}`;
  });
}

/** Flood control that cuts a connection soon: 10 lines at once, then 10 a second, cut after 150 ms of waiting. */
const FLOOD = { floodRate: 10, floodBurst: 10, floodDisconnectMs: 150 };

/**
 * Has `client` flood past the cut-off: 12 lines in one write, the last two
 * paced, so its lines have waited 200 ms in this spell; `last` is the line
 * whose answer shows the server has handled them all.
 */
async function floodPastCutOff(
  client: LineClient,
  line: (i: number) => string,
  answered: RegExp,
): Promise<void> {
  const lines = Array.from({ length: 12 }, (_, i) => line(i + 1) + "\n");
  await client.sendBytes(encoder.encode(lines.join("")));
  await client.expect(answered);
}

/**
 * Lets `lines` tokens (and half of one more) refill at 10 a second. A wait
 * on the clock is the point: flood control's budget refills with time, and
 * the spell of pacing goes on (it ends after a second without waiting).
 */
function refill(lines: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, (lines + 0.5) * 100));
}

Deno.test("JSON: flood control's cut in the read that sent a message comes after the message's confirmation and the answers before it", async () => {
  await using chat = await startServer(FLOOD);
  await using bob = await LineClient.json(chat.port, "bob");
  await using alice = await LineClient.json(chat.port, "alice");
  await floodPastCutOff(
    alice,
    (i) =>
      JSON.stringify({ type: "message", text: `flood ${i}`, ref: `f${i}` }),
    /"ref":"f12"/,
  );
  await refill(2);
  const start = alice.received.length;
  await alice.sendBytes(oneWrite(
    { type: "message", text: "last words", ref: "said" },
    { type: "ping", token: "t", ref: "asked" },
    { type: "message", text: "one too many", ref: "cut" },
  ));
  await alice.closed();
  assert.deepEqual(typesFrom(alice, start), [
    "message:said",
    "pong:asked",
    "bye",
  ]);
  assert.equal(JSON.parse(alice.received.at(-1)!).code, "flood");
  await bob.expectEvent("message", (event) => event.text === "last words");
  const after = await bob.linesUntilPong(true);
  assert.ok(!after.some((line) => line.includes("one too many")));
});

Deno.test("text: flood control's cut in the read that sent a message comes after the answers to what was sent with it", async () => {
  await using chat = await startServer(FLOOD);
  await using bob = await LineClient.text(chat.port, "bob");
  await using alice = await LineClient.text(chat.port, "alice");
  await floodPastCutOff(
    alice,
    (i) => i === 12 ? "/ping f12" : `flood ${i}`,
    /^\*\*\* pong f12$/,
  );
  await refill(3);
  const start = alice.received.length;
  await alice.send("last words\n/msg bob psst\n/ping t\none too many");
  await alice.closed();
  const told = alice.received.slice(start);
  assert.equal(told.length, 3, told.join("\n"));
  assert.equal(told[0], "*alice -> bob* psst");
  assert.equal(told[1], "*** pong t");
  assert.match(told[2]!, /^\*\*\* Disconnected \(flood\): /);
  await bob.expect("<alice> last words");
  await bob.expect("*alice -> bob* psst");
});

Deno.test("JSON and text: too many wrong passwords in the read that sent a message end the connection after its confirmation", async () => {
  await using chat = await startServer({ maxPasswordAttempts: 1 }, {
    operatorPassword: "op-pw",
  });
  await using bob = await LineClient.json(chat.port, "bob");
  await using alice = await LineClient.json(chat.port, "alice");
  let start = alice.received.length;
  await alice.sendBytes(oneWrite(
    { type: "message", text: "last words", ref: "said" },
    { type: "ping", token: "t", ref: "asked" },
    { type: "oper", password: "wrong", ref: "guess" },
  ));
  await alice.closed();
  assert.deepEqual(typesFrom(alice, start), [
    "message:said",
    "pong:asked",
    "bye",
  ]);
  await bob.expectEvent("message", (event) => event.text === "last words");

  await using ann = await LineClient.text(chat.port, "ann");
  start = ann.received.length;
  await ann.send("more words\n/msg bob psst\n/ping t\n/oper wrong");
  await ann.closed();
  const told = ann.received.slice(start);
  assert.equal(told.length, 3, told.join("\n"));
  assert.equal(told[0], "*ann -> bob* psst");
  assert.equal(told[1], "*** pong t");
  assert.match(told[2]!, /^\*\*\* Disconnected \(bad_password\): /);
  await bob.expectEvent("message", (event) => event.text === "more words");
});

for (const codec of ["json", "text"] as const) {
  Deno.test(`${codec}: a kick handled in the same turn as the target's message: the target gets what it was owed, then the kick`, async () => {
    await using chat = await startServer({}, { operatorPassword: "op-pw" });
    await using op = await LineClient.json(chat.port, "op");
    await op.sendJson({ type: "oper", password: "op-pw", ref: "o" });
    await op.expect(/"ref":"o"/);
    await using bob = await LineClient.json(chat.port, "bob");
    await using alice = codec === "json"
      ? await LineClient.json(chat.port, "alice")
      : await LineClient.text(chat.port, "alice");
    const start = alice.received.length;
    // Both written before the server reads either: their reads complete
    // in one turn, alice's first, so the kick is handled before her
    // message's commit has run.
    await Promise.all([
      alice.sendBytes(
        codec === "json"
          ? oneWrite(
            { type: "message", text: "last words", ref: "said" },
            { type: "ping", token: "t", ref: "asked" },
          )
          : encoder.encode("last words\n/msg bob psst\n/ping t\n"),
      ),
      op.sendBytes(oneWrite({ type: "kick", nick: "alice", reason: "enough" })),
    ]);
    await alice.closed();
    const accepted = (await bob.linesUntilPong(true)).some((line) =>
      line.includes("last words")
    );
    const told = codec === "json"
      ? typesFrom(alice, start)
      : alice.received.slice(start);
    const bye = told.pop();
    if (codec === "json") {
      assert.equal(JSON.parse(alice.received.at(-1)!).code, "kicked");
    } else {
      assert.match(bye!, /^\*\*\* Disconnected \(kicked\): Kicked by op/);
    }
    // If the kick was read first, nothing was accepted and nothing is owed.
    assert.deepEqual(
      told,
      !accepted
        ? []
        : codec === "json"
        ? ["message:said", "pong:asked"]
        : ["*alice -> bob* psst", "*** pong t"],
    );
  });
}

for (const codec of ["json", "text"] as const) {
  Deno.test(`${codec}: a last line without its newline, then the end of input: the line is handled and its answer still arrives before the close`, async () => {
    await using chat = await startServer({ passwordIterations: 1000 });
    await using bob = await LineClient.json(chat.port, "bob");
    // Registered: a private message to bob is stored before it is sent,
    // so its echo waits for the history's commit, as a room message does.
    await bob.sendJson({ type: "register", password: "bobs password" });
    await bob.expectEvent("notice", (event) => /regist/i.test(event.text));
    await using alice = codec === "json"
      ? await LineClient.json(chat.port, "alice")
      : await LineClient.text(chat.port, "alice");
    const start = alice.received.length;
    // What `printf '...' | nc -N` sends: the last line ends with the input.
    await alice.sendBytes(encoder.encode(
      codec === "json"
        ? JSON.stringify({ type: "message", text: "bye all", ref: "said" })
        : "bye all\n/msg bob psst",
    ));
    await alice.conn.closeWrite();
    await alice.closed();
    assert.deepEqual(
      codec === "json" ? typesFrom(alice, start) : alice.received.slice(start),
      codec === "json" ? ["message:said"] : ["*alice -> bob* psst"],
    );
    await bob.expectEvent("message", (event) => event.text === "bye all");
  });
}
