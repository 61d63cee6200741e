/**
 * `/who` paging as people and programs use it: a whole big room's list,
 * pulled a page at a time under the default flood control, and what such a
 * walk costs a client that asks for pages it is not reading.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DEFAULT_LIMITS } from "../server/limits.ts";
import { LineClient, seatMembers, startServer } from "./helpers.ts";
import { foldKey } from "../wire/names.ts";

/** Flood control as a server started without flags has it. */
const DEFAULT_FLOOD = {
  floodRate: DEFAULT_LIMITS.floodRate,
  floodBurst: DEFAULT_LIMITS.floodBurst,
  floodBurstBytes: DEFAULT_LIMITS.floodBurstBytes,
  floodByteRate: DEFAULT_LIMITS.floodByteRate,
  floodDisconnectMs: DEFAULT_LIMITS.floodDisconnectMs,
};

/** Pacing notices a text client has been sent. */
const pacingNotices = (client: LineClient) =>
  client.received.filter((line) =>
    line.startsWith("*** You are sending faster than")
  );

/** Pacing notices a JSON client has been sent. */
const jsonPacingNotices = (client: LineClient) =>
  client.received.filter((line) =>
    line.startsWith("{") && line.includes("You are sending faster than")
  );

/** A text `/who` line: its room, count, names and the next page's command. */
function parseWhoLine(
  line: string,
): { room: string; names: string[]; more?: string } {
  const match = /^\*\*\* (#\S+) \((\d+)\): (.*?)(?:; more: (\/who .*))?$/
    .exec(line);
  assert.ok(match, `not a /who line: ${line.slice(0, 120)}`);
  const names = match[3]!.split(", ");
  return match[4] === undefined
    ? { room: match[1]!, names }
    : { room: match[1]!, names, more: match[4] };
}

/** Connects and logs in a text-mode client, up to its welcome. */
async function textLogin(port: number, nick: string): Promise<LineClient> {
  const client = await LineClient.connect(port);
  await client.send(nick);
  await client.expect(/^\*\*\* Welcome, /);
  return client;
}

/** Whether a list is in fold-key order, as pages come. */
function inFoldOrder(names: string[]): boolean {
  const keys = names.map(foldKey);
  return keys.every((key, i) => i === 0 || keys[i - 1]! < key);
}

Deno.test("under the default flood control, a text client pulls all 10,000 names of a big room, each once, never paced", async () => {
  await using chat = await startServer({
    ...DEFAULT_FLOOD,
    maxConnections: 10_010,
  });
  seatMembers(chat.server, 9_999);
  await using ann = await textLogin(chat.port, "ann");
  await ann.expect(/^\*\*\* #lobby has 10000 members/);
  const names: string[] = [];
  let line: string | undefined = "/who";
  let pages = 0;
  // A page a request, each sent once the last has been read: as a person
  // (or a script) following each page's own command does.
  while (line !== undefined && pages < 200) {
    await ann.send(line);
    const page = parseWhoLine(await ann.expect(/^\*\*\* #lobby \(/));
    pages++;
    names.push(...page.names);
    assert.deepEqual(pacingNotices(ann), [], `paced at page ${pages}`);
    line = page.more;
  }
  assert.equal(pages, 100);
  assert.equal(names.length, 10_000);
  assert.equal(new Set(names).size, 10_000);
  assert.ok(inFoldOrder(names));
  assert.ok(names.includes("ann"));
  await ann.linesUntilPong();
  assert.deepEqual(pacingNotices(ann), []);
  assert.ok(!ann.ended);
});

Deno.test("under the default flood control, a JSON client walks a big room by its cursors at the default page size, never paced", async () => {
  await using chat = await startServer(DEFAULT_FLOOD);
  seatMembers(chat.server, 2_999);
  await using bot = await LineClient.connect(chat.port);
  await bot.sendJson({ type: "hello", nick: "bot" });
  await bot.expectEvent("members");
  const names: string[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const ref = `p${pages}`;
    await bot.sendJson({
      type: "who",
      ref,
      ...(after === undefined ? {} : { after }),
    });
    const page = await bot.expectEvent("who", (e) => e.ref === ref);
    names.push(...page.members.map((m) => m.nick));
    after = page.next;
    pages++;
    assert.deepEqual(jsonPacingNotices(bot), [], `paced at page ${pages}`);
  } while (after !== undefined && pages < 100);
  assert.equal(pages, 30);
  assert.equal(new Set(names).size, 3_000);
  assert.ok(inFoldOrder(names));
});

Deno.test("a page request that goes on from no page given costs a line: repeats, fresh starts and tiny pages are paced", async () => {
  // The default burst at a quicker rate, so the paced lines drain soon.
  await using chat = await startServer({ floodBurst: 10, floodRate: 20 });
  seatMembers(chat.server, 500);
  await using ann = await textLogin(chat.port, "ann");
  await ann.expect(/^\*\*\* #lobby has 501 members/);
  await ann.send("/who");
  const first = parseWhoLine(await ann.expect(/^\*\*\* #lobby \(/));
  assert.ok(first.more !== undefined);
  // The same continuation fifteen times in one write: the first goes on
  // from the page, the rest go on from nothing given and are paced.
  await ann.sendBytes(
    new TextEncoder().encode(`${first.more}\n`.repeat(15)),
  );
  await ann.linesUntilPong();
  assert.equal(pacingNotices(ann).length, 1);

  await using eve = await textLogin(chat.port, "eve");
  await eve.expect(/^\*\*\* #lobby has 502 members/);
  // Fresh first pages, over and over, cost a line each.
  await eve.sendBytes(new TextEncoder().encode("/who\n".repeat(15)));
  await eve.linesUntilPong();
  assert.equal(pacingNotices(eve).length, 1);

  // A JSON walk in pages smaller than the default costs a line a page.
  await using bot = await LineClient.connect(chat.port);
  await bot.sendJson({ type: "hello", nick: "bot" });
  await bot.expectEvent("members");
  let after: string | undefined;
  for (let page = 0; page < 15; page++) {
    const ref = `p${page}`;
    await bot.sendJson({
      type: "who",
      limit: 5,
      ref,
      ...(after === undefined ? {} : { after }),
    });
    after = (await bot.expectEvent("who", (e) => e.ref === ref)).next;
  }
  assert.ok(jsonPacingNotices(bot).length >= 1);
});

Deno.test("the arrival that makes a room big tells its members the count: a list kept from joins would go stale unsaid", async () => {
  await using chat = await startServer({ bigRoomMembers: 3 });
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.json(chat.port, "bob");
  await alice.expect("*** bob joined #lobby");
  // carol makes three: alice and bob are told, once, what carol is told.
  await using carol = await LineClient.connect(chat.port);
  await carol.sendJson({ type: "hello", nick: "carol" });
  await carol.expectEvent("members", (e) => e.count === 3);
  await alice.expect(
    "*** #lobby has 3 members; /who lists them a page at a time",
  );
  await bob.expectEvent("members", (e) => e.count === 3);
  // dave, past the size, is news to nobody; carol got one count, not two.
  await using dave = await textLogin(chat.port, "dave");
  await dave.expect(/^\*\*\* #lobby has 4 members/);
  for (const [client, json] of [[alice, false], [bob, true], [carol, true]]) {
    const saw = await (client as LineClient).linesUntilPong(json as boolean);
    assert.deepEqual(
      saw.filter((line) => /members|dave/.test(line)),
      [],
      "nothing more",
    );
  }
  assert.equal(
    carol.received.filter((line) => line.includes('"members"')).length,
    1,
  );
  // Back under and up again: told again.
  await dave.send("/quit");
  await dave.closed();
  await carol.sendJson({ type: "quit" });
  await carol.closed();
  await using eve = await textLogin(chat.port, "eve");
  await eve.expect(/^\*\*\* #lobby has 3 members/);
  await alice.expect(/^\*\*\* #lobby has 3 members/);
  assert.ok(!alice.received.includes("*** eve joined #lobby"));
});
