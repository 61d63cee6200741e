/**
 * Abuse and faults, one test per hostile scenario: floods, connection caps,
 * slow handshakes, dead peers, passwords, operators, bans, a command that
 * throws, thousands of connections, and shutdown under traffic.
 */

import assert from "node:assert/strict";
import { Logger } from "../server/log.ts";
import type { RoomMessage } from "../protocol.ts";
import { ChatServer } from "../server.ts";
import { connectionsDropTo, LineClient, startServer } from "./helpers.ts";

/** A logger whose lines the test can read. */
function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    logger: new Logger("debug", "json", (line) => lines.push(line)),
  };
}

Deno.test("flood: lines past the burst wait their turn, in order; input that keeps coming past the budget disconnects", async () => {
  // Flood control paces instead of refusing. It used to refuse every line
  // past the burst and cut the sender after ten refusals, so a paste lost
  // lines; now every line arrives, in order, the sender is told once, and
  // only input that keeps coming past the budget for --flood-disconnect
  // ends the connection.
  await using chat = await startServer({
    floodBurst: 5,
    floodRate: 10,
    floodDisconnectMs: 1000,
  });
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  const burst = Array.from({ length: 8 }, (_, i) => `line ${i}`);
  await alice.sendBytes(new TextEncoder().encode(burst.join("\n") + "\n"));
  for (let i = 0; i < 8; i++) await bob.expect(`<alice> line ${i}`);
  const told = (await alice.linesUntilPong()).filter((line) =>
    line.startsWith("*** You are sending faster than 10 lines")
  );
  assert.equal(told.length, 1, "told once, not per line");
  assert.ok(!alice.received.some((line) => line.includes("Error")));
  const flood = Array.from({ length: 100 }, (_, i) => `more ${i}`);
  await alice.sendBytes(new TextEncoder().encode(flood.join("\n") + "\n"));
  await alice.expect(
    "*** Disconnected (flood): input kept coming faster than 10 lines a second for 1 second",
  );
  await bob.expect(
    "*** alice left #lobby (flooding: input kept coming faster than 10 lines a second for 1 second)",
  );
  const delivered = bob.received.filter((line) =>
    line.startsWith("<alice> more")
  );
  assert.ok(delivered.length > 0 && delivered.length < 100);
  delivered.forEach((line, i) => assert.equal(line, `<alice> more ${i}`));
});

Deno.test("connections past the total cap are told the server is full", async () => {
  await using chat = await startServer({ maxConnections: 3 });
  const first = await Promise.all(
    [1, 2, 3].map(() => LineClient.connect(chat.port)),
  );
  for (const client of first) await client.expect(/^\*\*\* Choose a nickname/);
  await using extra = await LineClient.connect(chat.port);
  await extra.expect(
    "*** Disconnected (full): The server is full; try again later",
  );
  await extra.closed();
  await first[0]!.close();
  await connectionsDropTo(chat.server, 2);
  await using _later = await LineClient.text(chat.port, "later");
  await Promise.all(first.slice(1).map((client) => client.close()));
});

Deno.test("connections past the per-address cap are refused with a reason", async () => {
  await using chat = await startServer({ maxPerAddress: 2 });
  await using a = await LineClient.text(chat.port, "a");
  await using _b = await LineClient.text(chat.port, "b");
  await using c = await LineClient.connect(chat.port);
  await c.expect(
    "*** Disconnected (full): Too many connections from your address (at most 2)",
  );
  await c.closed();
  await a.send("/quit");
  await connectionsDropTo(chat.server, 1);
  await using _d = await LineClient.text(chat.port, "d");
});

Deno.test("slowloris: a login sent one byte at a time is cut at the timeout", async () => {
  await using chat = await startServer({ loginTimeoutMs: 400 });
  await using slow = await LineClient.connect(chat.port);
  await using silent = await LineClient.connect(chat.port);
  const dripping = (async () => {
    for (const byte of new TextEncoder().encode("alicealicealice")) {
      if (slow.ended) return;
      await slow.sendBytes(new Uint8Array([byte])).catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  await slow.expect(
    "*** Disconnected (timeout): Timed out: login took too long",
  );
  await silent.expect(
    "*** Disconnected (timeout): Timed out: login took too long",
  );
  await Promise.all([slow.closed(), silent.closed(), dripping]);
  await connectionsDropTo(chat.server, 0);
});

Deno.test("too many lines before login close the connection", async () => {
  await using chat = await startServer({ maxLoginLines: 5 });
  await using spammer = await LineClient.connect(chat.port);
  const lines = Array.from({ length: 8 }, () => "not a nick!");
  await spammer.sendBytes(new TextEncoder().encode(lines.join("\n") + "\n"));
  await spammer.expect(
    "*** Disconnected (refused): Too many lines before login",
  );
  await spammer.closed();
});

Deno.test("JSON clients are pinged when silent and dropped if they never answer", async () => {
  await using chat = await startServer({
    pingIntervalMs: 150,
    pingTimeoutMs: 1000,
  });
  await using lively = await LineClient.json(chat.port, "lively");
  await using dead = await LineClient.json(chat.port, "dead");
  const first = await lively.expectEvent("ping");
  await lively.sendJson({ type: "pong", token: first.token });
  // Answering kept it alive: it is pinged again rather than dropped.
  const second = await lively.expectEvent("ping");
  assert.notEqual(second.token, first.token);
  await lively.sendJson({ type: "pong", token: second.token });
  await dead.expectEvent("ping");
  await dead.expectEvent(
    "bye",
    (e) => e.reason === "Timed out: no answer to ping",
  );
  await lively.waitFor(
    (lines) =>
      lines.some((line) => line.includes('"nick":"dead","reason":"timeout"')),
    "the room to hear that dead timed out",
  );
  await lively.sendJson({ type: "ping", token: "still-here" });
  await lively.expectEvent("pong", (e) => e.token === "still-here");
});

Deno.test("an idle text client is dropped only when the idle timeout is set", async () => {
  await using chat = await startServer({ idleTimeoutMs: 200 });
  await using idle = await LineClient.text(chat.port, "idle");
  await idle.expect("*** Disconnected (timeout): Timed out: idle too long");
  await idle.closed();
});

Deno.test("room limits: no room past the cap, no member past a room's size", async () => {
  await using chat = await startServer({ maxRooms: 2, maxRoomMembers: 2 });
  await using a = await LineClient.text(chat.port, "a");
  await using b = await LineClient.text(chat.port, "b");
  await using c = await LineClient.connect(chat.port);
  await c.send("c");
  await c.expect("*** Error: #lobby is full (2 members)");
  await a.send("/join #one");
  await a.expect("*** a joined #one");
  await b.send("/join #two");
  await b.expect(/^\*\*\* Error: No new rooms can be made/);
  // Joining another room keeps the first: a place in #lobby frees on /part.
  await a.send("/part #lobby");
  await a.expect("*** a left #lobby");
  await c.send("c");
  await c.expect("*** c joined #lobby");
});

Deno.test("room limits: one address opens at most --max-rooms-per-address rooms; its rooms count until they empty", async () => {
  await using chat = await startServer({ maxRoomsPerAddress: 2 });
  await using a = await LineClient.text(chat.port, "a");
  await using b = await LineClient.text(chat.port, "b");
  await a.send("/join #one");
  await a.expect("*** a joined #one");
  await b.send("/join #two");
  await b.expect("*** b joined #two");
  // The lobby is nobody's; joining a room that exists is always allowed.
  await b.send("/join #three");
  await b.expect(
    "*** Error: Your address has opened 2 rooms that still exist, the most one address may (2); join an existing room (/rooms lists them), or wait until one of yours empties",
  );
  await b.send("/join #one");
  await b.expect("*** b joined #one");
  // #one stays in the count after its opener leaves, while b is in it.
  await a.send("/part #one");
  await a.expect("*** a left #one");
  await a.send("/join #three");
  await a.expect(/^\*\*\* Error: Your address has opened 2 rooms/);
  await b.send("/part #one");
  await b.expect("*** b left #one");
  await a.send("/join #three");
  await a.expect("*** a joined #three");

  await using bot = await LineClient.connect(chat.port);
  await bot.sendJson({ type: "hello", nick: "bot", room: "#four", ref: "h" });
  const refused = await bot.expectEvent("error");
  assert.equal(refused.code, "full");
  assert.equal(refused.ref, "h");
});

Deno.test("server password: asked for first, wrong ones refused, then closed", async () => {
  const { logger, lines } = capturingLogger();
  await using chat = await startServer({ maxPasswordAttempts: 3 }, {
    password: "s3cret-pw",
    logger,
  });
  await using person = await LineClient.connect(chat.port);
  await person.expect("*** This server needs a password. Password:");
  await person.send("guess");
  await person.expect(
    "*** Error: Wrong server password: 2 tries left before the connection is closed",
  );
  await person.send("/join #x");
  await person.expect("*** Error: Send the server password first");
  await person.send("/pass s3cret-pw");
  await person.expect(/^\*\*\* Password accepted\. Choose a nickname/);
  await person.send("alice");
  await person.expect("*** alice joined #lobby");

  await using bot = await LineClient.connect(chat.port);
  await bot.sendJson({ type: "hello", nick: "bot" });
  assert.match((await bot.expectEvent("error")).message, /add "password"/);
  await bot.sendJson({ type: "hello", nick: "bot", password: "s3cret-pw" });
  await bot.expectEvent("welcome");

  await using guesser = await LineClient.connect(chat.port);
  for (const guess of ["a", "b", "c"]) await guesser.send(guess);
  await guesser.expect(
    "*** Disconnected (bad_password): Too many wrong server passwords",
  );
  await guesser.closed();
  assert.ok(lines.some((line) => line.includes('"bad_password"')));
  assert.ok(!lines.some((line) => line.includes("s3cret-pw")), "never logged");
});

Deno.test("operators: /oper, then kick; non-operators are refused", async () => {
  const { logger, lines } = capturingLogger();
  await using chat = await startServer({}, {
    operatorPassword: "op-pw",
    logger,
  });
  await using op = await LineClient.text(chat.port, "op");
  await using bob = await LineClient.text(chat.port, "bob");
  await bob.send("/kick op");
  await bob.expect(
    "*** Error: Only operators may use /kick; /oper PASSWORD if you are one",
  );
  await op.send("/oper wrong");
  await op.expect(
    "*** Error: Wrong operator password: 2 tries left before the connection is closed",
  );
  await op.send("/oper op-pw");
  await op.expect("*** You are now an operator");
  await op.send("/who");
  await op.expect("*** #lobby (2): bob, @op");
  await op.send("/kick bob spamming");
  await bob.expect("*** Disconnected (kicked): Kicked by op: spamming");
  await bob.closed();
  await op.expect("*** bob left #lobby (kicked: by op: spamming)");
  assert.ok(lines.some((line) => line.includes('"event":"kick"')));
  assert.ok(!lines.some((line) => line.includes("op-pw")));
});

Deno.test("bans hold against reconnects from the same address until lifted", async () => {
  // Listening on :: lets clients arrive from two addresses: 127.0.0.1 (as
  // ::ffff:127.0.0.1) and ::1, so one can ban the other.
  await using chat = await startServer({}, {
    hostname: "::",
    operatorPassword: "op-pw",
  });
  const connectV6 = () => LineClient.connect(chat.port, true, "::1");
  await using op = await LineClient.text(chat.port, "op");
  await op.send("/oper op-pw");
  await op.expect("*** You are now an operator");
  await using mallory = await connectV6();
  await mallory.send("mallory");
  await op.expect("*** mallory joined #lobby");
  await op.send("/ban op");
  await op.expect("*** Error: You cannot ban your own address");
  await op.send("/ban mallory 1h spam links");
  await mallory.expect(
    /^\*\*\* Disconnected \(banned\): Banned by op until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: spam links$/,
  );
  await op.expect(
    /^\*\*\* Banned ::1 \(mallory, until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, spam links\); 1 disconnected$/,
  );
  await using again = await connectV6();
  await again.expect(
    /^\*\*\* Disconnected \(banned\): You are banned until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: spam links$/,
  );
  await again.closed();
  await op.send("/bans");
  await op.expect(/^\*\*\* Bans \(1\): ::1 \(mallory, until/);
  await op.send("/unban mallory");
  await op.expect("*** Unbanned ::1");
  await using back = await connectV6();
  await back.send("mallory");
  await op.expect("*** mallory joined #lobby");
});

Deno.test("mute silences a nickname, across a reconnect, until unmuted", async () => {
  await using chat = await startServer({}, { operatorPassword: "op-pw" });
  await using op = await LineClient.text(chat.port, "op");
  await op.send("/oper op-pw");
  await op.expect("*** You are now an operator");
  const bob = await LineClient.text(chat.port, "bob");
  await op.send("/mute bob");
  await bob.expect("*** You have been muted by op");
  await bob.send("can anyone hear me");
  await bob.expect("*** Error: You are muted");
  await bob.close();
  await using bob2 = await LineClient.text(chat.port, "bob");
  await bob2.send("how about now");
  await bob2.expect("*** Error: You are muted");
  const opSaw = await op.linesUntilPong();
  assert.ok(!opSaw.some((line) => line.startsWith("<bob>")));
  await op.send("/mute bob");
  await op.expect("*** Error: bob is already muted");
  await op.send("/unmute bob");
  await bob2.expect("*** You may talk again (unmuted by op)");
  await op.send("/unmute bob");
  await op.expect("*** Error: bob is not muted");
  await bob2.send("thanks");
  await op.expect("<bob> thanks");
});

Deno.test("topic and message of the day: everyone reads, operators set", async () => {
  await using chat = await startServer({}, {
    operatorPassword: "op-pw",
    motd: ["Be kind.", "\x1b[31mNo spam.", ""],
  });
  await using bob = await LineClient.connect(chat.port);
  await bob.send("bob");
  await bob.expect("*** Message of the day:");
  await bob.expect("***   Be kind.");
  await bob.expect("***   No spam.");
  await bob.expect("*** bob joined #lobby");
  await bob.send("/topic new topic");
  await bob.expect(/^\*\*\* Error: Only operators may use \/topic/);
  await using op = await LineClient.text(chat.port, "op");
  await op.send("/oper op-pw");
  await op.send("/topic Release day");
  await bob.expect("*** Topic for #lobby: Release day (set by op)");
  await bob.send("/topic");
  await bob.expect("*** Topic for #lobby: Release day (set by op)");
  await using carol = await LineClient.connect(chat.port);
  await carol.send("carol");
  await carol.expect("*** Topic for #lobby: Release day (set by op)");
  await op.send("/motd Welcome back");
  await op.expect("*** Message of the day set");
  await using dave = await LineClient.connect(chat.port);
  await dave.send("dave");
  await dave.expect("***   Welcome back");
});

Deno.test("a command that throws costs one error reply, not the server", async () => {
  const server = new ChatServer({
    hostname: "127.0.0.1",
    port: 0,
    limits: { closeGraceMs: 200 },
  });
  // A fault injected where a handler calls into the hub.
  const hub = server.hub;
  const publish = hub.publish.bind(hub);
  hub.publish = (room, message: RoomMessage, sender) => {
    if (message.text === "boom") throw new Error("injected fault");
    publish(room, message, sender);
  };
  const port = (await server.start()).plain!.port;
  try {
    await using alice = await LineClient.text(port, "alice");
    await using bob = await LineClient.text(port, "bob");
    await alice.send("boom");
    await alice.expect(
      "*** Error: Internal error; the request was not completed",
    );
    await alice.send("still fine");
    await bob.expect("<alice> still fine");
    await using _carol = await LineClient.text(port, "carol");
  } finally {
    await server.close();
  }
});

Deno.test("5,000 connections opened and dropped leave nothing behind", async () => {
  await using chat = await startServer();
  await using steady = await LineClient.text(chat.port, "steady");
  const total = 5000;
  const batch = 250;
  for (let start = 0; start < total; start += batch) {
    await Promise.all(
      Array.from({ length: batch }, async (_, i) => {
        const conn = await Deno.connect({
          hostname: "127.0.0.1",
          port: chat.port,
        });
        try {
          const n = start + i;
          if (n % 3 === 1) {
            await conn.write(new TextEncoder().encode(`u${n}\n`));
          }
          if (n % 3 === 2) {
            await conn.write(new TextEncoder().encode('{"type":"hel'));
          }
        } finally {
          conn.close();
        }
      }),
    );
  }
  await connectionsDropTo(chat.server, 1);
  assert.equal(chat.server.nicks.size, 1);
  await steady.send("/who");
  await steady.expect("*** #lobby (1): steady");
  await using _newcomer = await LineClient.text(chat.port, "newcomer");
});

Deno.test("shutdown under heavy traffic loses nothing it accepted", async () => {
  const chat = await startServer({ maxSendQueueBytes: 64 * 1024 * 1024 });
  const readers = await Promise.all(
    ["r1", "r2", "r3"].map((nick) => LineClient.json(chat.port, nick)),
  );
  const senders = await Promise.all(
    ["s1", "s2"].map((nick) => LineClient.text(chat.port, nick)),
  );
  const blasting = senders.map(async (sender, n) => {
    for (let i = 0; i < 20_000 && !sender.ended; i++) {
      await sender.send(`s${n} message ${i}`).catch(() => {});
    }
  });
  await readers[0]!.waitFor(
    (lines) => lines.length > 500,
    "traffic to be flowing",
  );
  await chat.server.close();
  const accepted = chat.server.lastMessageId;
  assert.ok(accepted > 0);
  for (const reader of readers) {
    await reader.closed();
    const events = reader.received
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line));
    const ids = events.filter((e) => e.type === "message").map((e) => e.id);
    assert.equal(ids.length, accepted, "every accepted message arrived");
    assert.deepEqual(ids, Array.from({ length: accepted }, (_, i) => i + 1));
    assert.deepEqual(events.at(-1), {
      type: "bye",
      code: "shutdown",
      reason: "Server shutting down",
    });
  }
  await Promise.all(blasting);
  await Promise.all([...readers, ...senders].map((client) => client.close()));
});

Deno.test("log lines are structured, one per notable event", async () => {
  const { logger, lines } = capturingLogger();
  const server = new ChatServer({ hostname: "127.0.0.1", port: 0, logger });
  const port = (await server.start()).plain!.port;
  const alice = await LineClient.text(port, "alice");
  await alice.send("/quit");
  await alice.closed();
  await alice.close();
  await server.close();
  const events = lines.map((line) => JSON.parse(line));
  for (const event of events) {
    assert.equal(typeof event.time, "string");
    assert.ok(["debug", "info", "warn", "error"].includes(event.level));
  }
  const names = events.map((e) => e.event);
  for (const name of ["listen", "connect", "disconnect", "closed"]) {
    assert.ok(names.includes(name), `${name} in ${names}`);
  }
  const disconnect = events.find((e) => e.event === "disconnect");
  assert.equal(disconnect.nick, "alice");
  assert.equal(disconnect.reason, "quit");
});
