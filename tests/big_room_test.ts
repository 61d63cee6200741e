/**
 * The big-room policy over real sockets: past `--big-room` members a room
 * announces no joins or leaves, a newcomer gets the member count, and `/who`
 * comes a page at a time, however big the room.
 */

import assert from "node:assert/strict";
import { LineClient, seatMembers, seatNamed, startServer } from "./helpers.ts";
import { tellCounts } from "../server/rooms.ts";
import { type ServerEvent } from "../protocol.ts";
import { foldKey } from "../wire/names.ts";
import { Session } from "../server/session.ts";

/** Connects and logs in a text-mode client, up to its welcome. */
async function textLogin(port: number, nick: string): Promise<LineClient> {
  const client = await LineClient.connect(port);
  await client.send(nick);
  await client.expect(/^\*\*\* Welcome, /);
  return client;
}

/** The names and next cursor of a text-mode `/who` line. */
function parseWhoLine(line: string): { names: string[]; next?: string } {
  const match =
    /^\*\*\* #lobby \((\d+)\): (.*?)(?:; more: \/who #lobby after (\S+))?$/
      .exec(line);
  assert.ok(match, `not a /who line: ${line.slice(0, 120)}`);
  const names = match[2]!.split(", ");
  return match[3] === undefined ? { names } : { names, next: match[3] };
}

Deno.test("a room at the big-room size announces no joins or leaves to its members", async () => {
  await using chat = await startServer({ bigRoomMembers: 3 });
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  await alice.expect("*** bob joined #lobby");
  // carol makes three: the room is big from her arrival on.
  await using carol = await textLogin(chat.port, "carol");
  await carol.expect("*** carol joined #lobby");
  await carol.expect(
    "*** #lobby has 3 members; /who lists them a page at a time",
  );
  await using dave = await textLogin(chat.port, "dave");
  await dave.expect(
    "*** #lobby has 4 members; /who lists them a page at a time",
  );
  await dave.send("/quit bye");
  await dave.closed();
  await bob.send("/join #dev");
  await bob.expect("*** bob joined #dev");
  await bob.send("/part #lobby");
  await bob.expect("*** bob left #lobby");
  const aliceSaw = await alice.linesUntilPong();
  assert.deepEqual(
    aliceSaw.filter((line) => /carol|dave|bob/.test(line)),
    [],
    "alice heard nothing of the big room's comings and goings",
  );
  // Down to two, the room announces again.
  await carol.send("/quit");
  await alice.expect("*** carol left #lobby (quit)");
  await using _erin = await LineClient.text(chat.port, "erin");
  await alice.expect("*** erin joined #lobby");
});

Deno.test("the test clients log in to a big room as to a small one, reading up to its count where a small room sends its list", async () => {
  await using chat = await startServer({ bigRoomMembers: 2 });
  await using ann = await LineClient.json(chat.port, "ann");
  assert.equal(JSON.parse(ann.received[ann.consumed - 1]!).type, "who");
  await using bea = await LineClient.json(chat.port, "bea");
  assert.deepEqual(JSON.parse(bea.received[bea.consumed - 1]!), {
    type: "members",
    room: "#lobby",
    count: 2,
  });
  await using cy = await LineClient.text(chat.port, "cy");
  assert.equal(
    cy.received[cy.consumed - 1],
    "*** #lobby has 3 members; /who lists them a page at a time",
  );
  // Each was read up to there: what comes next is news (ann is told the
  // room became big) or the answer to what it sends next.
  assert.deepEqual(
    (await ann.linesUntilPong(true)).map((line) => JSON.parse(line)),
    [{ type: "members", room: "#lobby", count: 2 }],
  );
  assert.deepEqual(await bea.linesUntilPong(true), []);
  assert.deepEqual(await cy.linesUntilPong(), []);
});

Deno.test("/who of a room name that cannot be says what is wrong with it; of a room that is not, names it", async () => {
  await using chat = await startServer({ bigRoomMembers: 2 });
  await using alice = await LineClient.text(chat.port, "alice");
  await alice.send("/who !!!");
  await alice.expect(
    "*** Error: Room name may hold only letters, digits, _ and - after its #",
  );
  await alice.send("/who nowhere after bob");
  await alice.expect("*** Error: There is no room #nowhere");
  await using bot = await LineClient.connect(chat.port);
  await bot.sendJson({ type: "hello", nick: "bot" });
  await bot.expectEvent("members");
  await bot.sendJson({ type: "who", room: "", ref: "empty" });
  const empty = await bot.expectEvent("error");
  assert.deepEqual(empty, {
    type: "error",
    code: "room_invalid",
    message: "Room name is empty",
    ref: "empty",
  });
});

Deno.test("a big room still announces kicks", async () => {
  await using chat = await startServer({ bigRoomMembers: 2 }, {
    operatorPassword: "secret-op",
  });
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await textLogin(chat.port, "bob");
  await bob.expect(
    "*** #lobby has 2 members; /who lists them a page at a time",
  );
  await alice.send("/oper secret-op");
  await alice.expect(/^\*\*\* You are now an operator/);
  await alice.send("/kick bob spam");
  await alice.expect(/^\*\*\* bob left #lobby \(kicked/);
});

Deno.test("a newcomer to a big room gets the count, then pages /who to the end (JSON)", async () => {
  await using chat = await startServer({ bigRoomMembers: 3 });
  const nicks = ["dora", "Ann", "cy", "bea", "Eve"];
  const clients: LineClient[] = [];
  try {
    for (const nick of nicks) {
      const client = await LineClient.connect(chat.port);
      clients.push(client);
      await client.sendJson({ type: "hello", nick });
      await client.expectEvent("welcome");
    }
    const eve = clients.at(-1)!;
    const count = await eve.expectEvent("members");
    assert.deepEqual(count, { type: "members", room: "#lobby", count: 5 });
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 5; page++) {
      await eve.sendJson({
        type: "who",
        limit: 2,
        ref: `p${page}`,
        ...(after === undefined ? {} : { after }),
      });
      const reply = await eve.expectEvent("who", (e) => e.ref === `p${page}`);
      assert.equal(reply.count, 5);
      assert.ok(reply.members.length <= 2);
      seen.push(...reply.members.map((m) => m.nick));
      after = reply.next;
      if (after === undefined) break;
    }
    assert.deepEqual(seen, ["Ann", "bea", "cy", "dora", "Eve"]);
    // An empty cursor is refused, not read as "from the start".
    await eve.sendJson({ type: "who", after: "", ref: "empty" });
    const refusal = await eve.expectEvent("error", (e) => e.ref === "empty");
    assert.equal(refusal.code, "bad_request");
    assert.match(refusal.message, /"after" must not be empty/);
    // So is a room name, which sorts before every nickname too.
    await eve.sendJson({ type: "who", after: "#lobby", ref: "room" });
    const roomCursor = await eve.expectEvent("error", (e) => e.ref === "room");
    assert.equal(roomCursor.code, "bad_request");
    assert.match(roomCursor.message, /"after" must be a nickname/);
    const first = clients[0]!;
    const firstSaw = await first.linesUntilPong(true);
    const joins = firstSaw.map((line) => JSON.parse(line) as ServerEvent)
      .filter((e) => e.type === "join").map((e) => (e as { nick: string }).nick)
      .filter((nick) => nick !== "dora");
    // dora heard Ann join (two members), and nobody after the room was big.
    assert.deepEqual(joins, ["Ann"]);
  } finally {
    for (const client of clients) await client.close();
  }
});

Deno.test("a 10,000-member room (members seated in-process, requesters on real sockets) pages /who completely without a disconnect", async () => {
  await using chat = await startServer({ maxConnections: 10_010 });
  seatMembers(chat.server, 9_998);
  await using text = await textLogin(chat.port, "zt");
  await text.expect(
    "*** #lobby has 9999 members; /who lists them a page at a time",
  );
  await using json = await LineClient.connect(chat.port);
  await json.sendJson({ type: "hello", nick: "zj" });
  const count = await json.expectEvent("members");
  assert.equal(count.count, 10_000);

  // JSON: the largest pages, following the cursor.
  const jsonNames: string[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    await json.sendJson({
      type: "who",
      limit: 1000,
      ref: String(pages),
      ...(after === undefined ? {} : { after }),
    });
    const ref = String(pages);
    const page = await json.expectEvent("who", (e) => e.ref === ref);
    assert.equal(page.count, 10_000);
    jsonNames.push(...page.members.map((m) => m.nick));
    after = page.next;
    pages++;
  } while (after !== undefined && pages < 20);
  assert.equal(pages, 10);

  // Text: the default pages of 100, as a person would with "after".
  const textNames: string[] = [];
  let line = "/who";
  for (let page = 0; page < 150; page++) {
    await text.send(line);
    const parsed = parseWhoLine(await text.expect(/^\*\*\* #lobby \(\d+\):/));
    textNames.push(...parsed.names);
    if (parsed.next === undefined) break;
    line = `/who after ${parsed.next}`;
  }

  for (const names of [jsonNames, textNames]) {
    assert.equal(names.length, 10_000);
    assert.equal(new Set(names).size, 10_000);
    assert.ok(names.includes("zt") && names.includes("zj"));
    const keys = names.map(foldKey);
    assert.deepEqual(keys, [...keys].sort());
  }
  // Both requesters are still connected and answered.
  await json.linesUntilPong(true);
  await text.linesUntilPong();
  assert.ok(!json.ended && !text.ended);
});

Deno.test("text mode: /who after without a nickname, or more, is a usage error, not a room called after", async () => {
  await using chat = await startServer();
  seatMembers(chat.server, 150);
  await using ann = await textLogin(chat.port, "ann");
  await ann.expect(
    "*** #lobby has 151 members; /who lists them a page at a time",
  );
  // A room named after the paging word would be found, so the error is the
  // parser's and not "There is no room".
  await using bob = await textLogin(chat.port, "bob");
  await bob.send("/join #after");
  await bob.expect("*** bob joined #after");
  for (
    const line of [
      "/who after",
      "/who #lobby after",
      "/who more",
      "/who after #lobby",
      "/who after a.b",
    ]
  ) {
    await ann.send(line);
    assert.match(
      await ann.expect(/^\*\*\* (Error: |#)/),
      /^\*\*\* Error: Usage: \/who \[#ROOM\] \[after NICK\]: /,
      line,
    );
  }
  await ann.send("/who #after");
  await ann.expect("*** #after (1): bob");
  await ann.send("/who after m00097");
  const page = parseWhoLine(await ann.expect(/^\*\*\* #lobby \(\d+\):/));
  assert.deepEqual(page.names.slice(0, 2), ["m00098", "m00099"]);
});

Deno.test("a big room's messages arrive complete and in order, no echo to a text sender", async () => {
  await using chat = await startServer({ bigRoomMembers: 2 });
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.connect(chat.port);
  await bob.sendJson({ type: "hello", nick: "bob" });
  await bob.expectEvent("members");
  await using carol = await textLogin(chat.port, "carol");
  await carol.expect(/^\*\*\* #lobby has 3 members/);
  await alice.sendBytes(new TextEncoder().encode("one\ntwo\nthree\n"));
  await bob.sendJson({ type: "message", text: "four" });
  // The pong comes after everything the room was sent before the ping.
  const carolSaw = await carol.linesUntilPong();
  const bobSaw = await bob.linesUntilPong(true);
  const texts = (lines: string[]) =>
    lines.filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as ServerEvent)
      .flatMap((e) => e.type === "message" ? [e.text] : []);
  assert.deepEqual(texts(bobSaw), ["one", "two", "three", "four"]);
  assert.deepEqual(carolSaw.filter((line) => line.startsWith("<")), [
    "<alice> one",
    "<alice> two",
    "<alice> three",
    "<bob> four",
  ]);
  const aliceSaw = await alice.linesUntilPong();
  // bob's arrival made the room big: alice was told its size.
  assert.deepEqual(aliceSaw, [
    "*** #lobby has 2 members; /who lists them a page at a time",
    "<bob> four",
  ]);
});

Deno.test("a member of two big rooms gets their lines in the order they were said", async () => {
  await using chat = await startServer({ bigRoomMembers: 2 });
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await textLogin(chat.port, "bob");
  await using carol = await LineClient.connect(chat.port);
  await carol.sendJson({ type: "hello", nick: "carol" });
  await carol.expectEvent("members");
  for (const client of [alice, bob]) {
    await client.send("/join #dev");
    await client.expect(/^\*\*\* #dev (\(|has )/);
  }
  await carol.sendJson({ type: "join", room: "#dev" });
  await carol.expectEvent("members");
  await bob.send("/switch #lobby");
  await bob.expect(/^\*\*\* Now talking in #lobby/);
  // Alternating rooms in one read: each room's log holds every other line.
  const said = Array.from({ length: 20 }, (_, i) => String(i));
  await alice.sendBytes(
    new TextEncoder().encode(
      said.map((n, i) => `/switch ${i % 2 === 0 ? "#lobby" : "#dev"}\n${n}\n`)
        .join(""),
    ),
  );
  await alice.linesUntilPong();
  const bobSaw = (await bob.linesUntilPong())
    .flatMap((line) => /<alice> (\d+)$/.exec(line)?.[1] ?? []);
  assert.deepEqual(bobSaw, said);
  const carolSaw = (await carol.linesUntilPong(true))
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as ServerEvent)
    .flatMap((e) => e.type === "message" ? [e.text] : []);
  assert.deepEqual(carolSaw, said);
});

Deno.test("a /who page in a room of 5,000 looks at its own members, not the room's; a rename moves its place", async () => {
  await using chat = await startServer({ maxConnections: 5_010 });
  seatMembers(chat.server, 5_000);
  await using alice = await textLogin(chat.port, "alice");
  await alice.expect(/^\*\*\* #lobby has 5001 members/);
  // Count every nickname read while the server answers one page.
  const nick = Object.getOwnPropertyDescriptor(Session.prototype, "nick")!;
  let reads = 0;
  Object.defineProperty(Session.prototype, "nick", {
    ...nick,
    get(this: Session) {
      reads++;
      return nick.get!.call(this);
    },
  });
  try {
    await alice.send("/who #lobby after m02000");
    const page = parseWhoLine(await alice.expect(/^\*\*\* #lobby \(5001\):/));
    assert.equal(page.names[0], "m02001");
    assert.equal(page.names.length, 100);
  } finally {
    Object.defineProperty(Session.prototype, "nick", nick);
  }
  assert.ok(reads < 1_000, `${reads} nicknames read for a page of 100`);
  await alice.send("/nick m02000b");
  await alice.expect(/^\*\*\* You are now known as m02000b|m02000b/);
  await alice.send("/who #lobby after m02000");
  const page = parseWhoLine(await alice.expect(/^\*\*\* #lobby \(5001\):/));
  assert.deepEqual(page.names.slice(0, 2), ["m02000b", "m02001"]);
  assert.ok(!page.names.includes("alice"));
});

Deno.test("a big room's JSON members are sent its count as it moves, one event an interval however many come and go", async () => {
  await using chat = await startServer({
    bigRoomMembers: 3,
    bigRoomCountMs: 60_000,
  });
  const hub = chat.server.hub;
  seatMembers(chat.server, 3);
  await using bot = await LineClient.json(chat.port, "bot");
  await using person = await LineClient.text(chat.port, "person");
  // The first change is sent at the server's next sweep (within 1 s).
  const first = await bot.expectEvent("count");
  assert.deepEqual(first, { type: "count", room: "#lobby", count: 5 });
  // Twenty arrive within the interval: nothing is sent for any of them.
  const arrivals = seatNamed(
    chat.server,
    Array.from({ length: 20 }, (_, i) => `late${i}`),
  );
  const quiet = await bot.linesUntilPong(true);
  assert.deepEqual(quiet.filter((line) => line.includes('"count"')), []);
  // Once the interval has passed, one event says where the count stands.
  tellCounts(hub, hub.now() + 60_000);
  const counts = (await bot.linesUntilPong(true)).filter((line) =>
    line.includes('"count"')
  ).map((line) => JSON.parse(line));
  assert.deepEqual(counts, [{ type: "count", room: "#lobby", count: 25 }]);
  // Text mode keeps no count: a person at nc reads nothing of it.
  const seen = await person.linesUntilPong();
  assert.deepEqual(seen, []);
  assert.equal(arrivals.length, 20);
});
