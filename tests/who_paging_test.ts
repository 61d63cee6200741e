/**
 * `/who` paging as people and programs use it: a whole big room's list,
 * pulled a page at a time under the default flood control, and what such a
 * walk costs a client that asks for pages it is not reading.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DEFAULT_LIMITS } from "../server/limits.ts";
import { LineClient, seatMembers, seatNamed, startServer } from "./helpers.ts";
import { renameSession } from "../server/nicknames.ts";
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

Deno.test("a walk while people come, go and rename between pages: everyone who stayed comes once, in order, and the walk is never paced", async () => {
  await using chat = await startServer(DEFAULT_FLOOD);
  const hub = chat.server.hub;
  const nicks = Array.from(
    { length: 1000 },
    (_, i) => `n${String(i).padStart(4, "0")}`,
  );
  seatNamed(chat.server, nicks);
  await using bot = await LineClient.connect(chat.port);
  await bot.sendJson({ type: "hello", nick: "bot" });
  await bot.expectEvent("members");
  const session = (nick: string) => hub.nicks.get(nick)!;
  const touched = new Set<string>();
  const joinedAhead: string[] = [];
  const seen: string[] = [];
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
    seen.push(...page.members.map((m) => m.nick));
    after = page.next;
    pages++;
    if (after === undefined) break;
    // Between pages: the cursor's own member leaves, and so does one
    // ahead; one joins ahead and one behind; one ahead renames to behind
    // the cursor and one behind to ahead of it.
    const at = nicks.indexOf(after);
    const gone = [after, nicks[at + 30]];
    for (const nick of gone) {
      if (nick === undefined || hub.nicks.get(nick) === undefined) continue;
      touched.add(nick);
      hub.disconnect(session(nick), "quit");
    }
    const ahead = `${after}x`;
    joinedAhead.push(ahead);
    seatNamed(chat.server, [ahead, `a${String(pages).padStart(3, "0")}`]);
    const forward = nicks[at + 60];
    if (forward !== undefined && hub.nicks.get(forward) !== undefined) {
      touched.add(forward);
      renameSession(hub, session(forward), `b${forward}`);
    }
    const back = nicks[at - 10];
    if (back !== undefined && hub.nicks.get(back) !== undefined) {
      touched.add(back);
      renameSession(hub, session(back), `z${back}`);
    }
  } while (pages < 50);
  assert.ok(pages > 5 && after === undefined, `${pages} pages`);
  // In fold-key order, strictly: no name twice.
  assert.ok(inFoldOrder(seen));
  const shown = new Set(seen);
  for (const nick of nicks) {
    if (!touched.has(nick)) assert.ok(shown.has(nick), `${nick} missed`);
  }
  // Who joined past the cursor is listed; who joined before it is not.
  for (const nick of joinedAhead) assert.ok(shown.has(nick), nick);
  assert.ok(!seen.some((nick) => /^a\d{3}$/.test(nick)));
  assert.deepEqual(jsonPacingNotices(bot), []);
});

Deno.test("two walks at once from one connection, of two rooms and of one room twice, each whole and never paced", async () => {
  await using chat = await startServer(DEFAULT_FLOOD);
  seatMembers(chat.server, 1_000, "#a");
  seatMembers(chat.server, 700, "#b");
  await using bot = await LineClient.json(chat.port, "bot");
  const walks = [
    { room: "#a", limit: 100 },
    { room: "#b" },
    { room: "#a", limit: 250 },
  ].map((ask, i) => ({
    ask,
    id: i,
    after: undefined as string | undefined,
    done: false,
    names: [] as string[],
  }));
  for (let round = 0; round < 20 && walks.some((w) => !w.done); round++) {
    // One request of each walk in one write, then their pages.
    const open = walks.filter((walk) => !walk.done);
    await bot.sendBytes(
      new TextEncoder().encode(
        open.map((walk) =>
          JSON.stringify({
            type: "who",
            ...walk.ask,
            ref: `w${walk.id}-${round}`,
            ...(walk.after === undefined ? {} : { after: walk.after }),
          }) + "\n"
        ).join(""),
      ),
    );
    for (const walk of open) {
      const ref = `w${walk.id}-${round}`;
      const page = await bot.expectEvent("who", (e) => e.ref === ref);
      assert.equal(page.room, walk.ask.room);
      walk.names.push(...page.members.map((m) => m.nick));
      walk.after = page.next;
      walk.done = page.next === undefined;
    }
  }
  assert.deepEqual(walks.map((walk) => walk.names.length), [1000, 700, 1000]);
  assert.deepEqual(walks[0]!.names, walks[2]!.names);
  for (const walk of walks) assert.ok(inFoldOrder(walk.names));
  assert.deepEqual(jsonPacingNotices(bot), []);
});

Deno.test("at, under and over the big-room size: the join's list or count, and /who whole or paged", async () => {
  await using chat = await startServer();
  const limit = DEFAULT_LIMITS.bigRoomMembers;
  for (const size of [limit - 1, limit, limit + 1]) {
    const room = `#r${size}`;
    seatMembers(chat.server, size - 1, room);
    await using ann = await textLogin(chat.port, `ann${size}`);
    await ann.send(`/join ${room}`);
    if (size < limit) {
      // Under the size, the join lists everyone.
      const list = parseWhoLine(await ann.expect(/^\*\*\* #r\d+ [(h]/));
      assert.equal(list.names.length, size);
      assert.equal(list.more, undefined);
    } else {
      await ann.expect(
        `*** ${room} has ${size} members; /who lists them a page at a time`,
      );
    }
    await ann.send("/who");
    const first = parseWhoLine(await ann.expect(/^\*\*\* #r\d+ \(/));
    assert.equal(first.room, room);
    const json = await LineClient.json(chat.port, `bot${size}`);
    try {
      await json.sendJson({ type: "who", room, ref: "w" });
      const page = await json.expectEvent("who", (e) => e.ref === "w");
      if (size <= 100) {
        // One page holds them all: no count, no cursor.
        assert.equal(first.names.length, size);
        assert.equal(first.more, undefined);
        assert.equal(page.members.length, size);
        assert.equal(page.count, undefined);
        assert.equal(page.next, undefined);
      } else {
        assert.equal(first.names.length, 100);
        assert.equal(first.more, `/who ${room} after ${first.names.at(-1)}`);
        await ann.send(first.more!);
        const last = parseWhoLine(await ann.expect(/^\*\*\* #r\d+ \(/));
        assert.deepEqual(last.names.length, 1);
        assert.equal(last.more, undefined);
        assert.equal(page.count, size);
        assert.equal(page.members.length, 100);
        await json.sendJson({ type: "who", room, after: page.next, ref: "2" });
        const next = await json.expectEvent("who", (e) => e.ref === "2");
        assert.equal(next.members.length, 1);
        assert.equal(next.count, size);
        assert.equal(next.next, undefined);
      }
    } finally {
      await json.close();
    }
  }
});
