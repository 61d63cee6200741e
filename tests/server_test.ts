import assert from "node:assert/strict";
import { connectionsDropTo, LineClient, startServer } from "./helpers.ts";
import type { ServerEvent } from "../protocol.ts";

Deno.test("text mode: greeting, refused nicknames asked again, welcome", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.connect(chat.port);
  await bob.expect("*** Welcome to tern. 1 person is here.");
  await bob.expect(/^\*\*\* Choose a nickname/);
  await bob.send("no spaces allowed");
  await bob.expect(/^\*\*\* Error: Nickname may hold only/);
  await bob.send("ALICE");
  await bob.expect("*** Error: Nickname ALICE is taken; choose another");
  await bob.send("\u0430lice"); // Cyrillic а: looks like alice
  await bob.expect(/^\*\*\* Error: Nickname .* is taken/);
  await bob.send("/join #dev");
  await bob.expect("*** Error: Choose a nickname first");
  await bob.send("bob");
  await bob.expect(
    "*** Welcome, bob! You are on tern. Type /help for commands.",
  );
  await bob.expect("*** bob joined #lobby");
  await bob.expect("*** #lobby (2): alice, bob");
  await alice.expect("*** bob joined #lobby");
});

Deno.test("broadcast reaches everyone in the room but the sender", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  await using carol = await LineClient.text(chat.port, "carol");
  await alice.send("hello everyone");
  await bob.expect("<alice> hello everyone");
  await carol.expect("<alice> hello everyone");
  const aliceSaw = await alice.linesUntilPong();
  assert.ok(
    !aliceSaw.some((line) => line.includes("hello everyone")),
    "the sender gets no echo",
  );
  await carol.send("/me waves");
  await alice.expect("* carol waves");
  await bob.expect("* carol waves");
});

Deno.test("private messages reach only their target", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  await using carol = await LineClient.text(chat.port, "carol");
  await alice.send("/msg BOB meet at noon");
  await bob.expect("*alice -> bob* meet at noon");
  await alice.expect("*alice -> bob* meet at noon");
  const carolSaw = await carol.linesUntilPong();
  assert.ok(
    !carolSaw.some((line) => line.includes("noon")),
    carolSaw.join("\n"),
  );
  await alice.send("/msg nobody hello?");
  await alice.expect("*** Error: Nobody is called nobody");
  await bob.send("/away lunch");
  await alice.send("/msg bob still there?");
  await alice.expect("*** bob is away: lunch");
});

Deno.test("rooms keep their conversations apart", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  await using carol = await LineClient.text(chat.port, "carol");
  await alice.send("/join dev");
  await alice.expect("*** alice joined #dev");
  await alice.expect("*** #dev (1): alice");
  await bob.send("/join #DEV");
  await alice.expect("*** bob joined #dev");
  await bob.expect("*** #dev (2): alice, bob");
  await alice.send("dev talk");
  await bob.expect("<alice> dev talk");
  await carol.send("lobby talk");
  // Alice is still in #lobby: its lines reach her, marked as from there.
  await alice.expect("[#lobby] <carol> lobby talk");
  const lobbySaw = await carol.linesUntilPong();
  assert.ok(!lobbySaw.some((line) => line.includes("dev talk")));
  assert.ok(!lobbySaw.some((line) => line.includes("alice left")));
  await carol.send("/rooms");
  await carol.expect("*** Rooms (2): #lobby (3), #dev (2)");
  await carol.send("/who #dev");
  await carol.expect("*** #dev (2): alice, bob");
  await alice.send("/join #dev");
  await alice.expect("*** Error: You are already in #dev");
  await alice.send("/part");
  await alice.expect("*** alice left #dev");
  await alice.expect("*** Now talking in #lobby");
  await bob.expect("*** alice left #dev");
  await alice.send("/part");
  await alice.expect(/^\*\*\* Error: You are in #lobby/);
  await alice.send("/join bad room");
  await alice.expect("*** Error: Usage: /join #ROOM");
  await alice.send("/join #bad!");
  await alice.expect(/^\*\*\* Error: Room name may hold only/);
  await alice.send("/join ##");
  await alice.expect(
    "*** Error: Room name has one #, at its start, then letters, digits, _ and -",
  );
});

Deno.test("an empty room disappears, #lobby stays", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  await alice.send("/join #tmp");
  await alice.expect("*** alice joined #tmp");
  await alice.send("/part #lobby");
  await alice.expect("*** alice left #lobby");
  await alice.send("/rooms");
  await alice.expect("*** Rooms (2): #tmp (1), #lobby (0)");
  await alice.send("/part");
  await alice.expect("*** alice left #tmp");
  await alice.expect("*** alice joined #lobby");
  await alice.send("/rooms");
  await alice.expect("*** Rooms (1): #lobby (1)");
});

Deno.test("rename is announced and a taken name refused", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  await alice.send("/nick alicia");
  await alice.expect("*** alice is now known as alicia");
  await bob.expect("*** alice is now known as alicia");
  await bob.send("/nick Alicia");
  await bob.expect("*** Error: Nickname Alicia is taken");
  await bob.send("/nick alicia!");
  await bob.expect(/^\*\*\* Error: Nickname may hold only/);
  await alice.send("/nick Alicia");
  await bob.expect("*** alicia is now known as Alicia");
  // The old name is free again, and the new one is addressable by any case.
  await using newcomer = await LineClient.text(chat.port, "alice");
  await newcomer.send("/msg alicia hi");
  await alice.expect("*alice -> Alicia* hi");
});

Deno.test("joining a room replays its recent history", async () => {
  await using chat = await startServer({ historyLength: 3 });
  await using alice = await LineClient.text(chat.port, "alice");
  for (const n of [1, 2, 3, 4]) await alice.send(`message ${n}`);
  await alice.send("/me is done");
  await alice.linesUntilPong();
  await using bob = await LineClient.connect(chat.port);
  await bob.send("bob");
  await bob.expect("*** Recent messages in #lobby:");
  await bob.expect(/^\[\d\d:\d\d:\d\d\] <alice> message 3$/);
  assert.match(
    await bob.expect(() => true),
    /^\[\d\d:\d\d:\d\d\] <alice> message 4$/,
  );
  assert.match(
    await bob.expect(() => true),
    /^\[\d\d:\d\d:\d\d\] \* alice is done$/,
  );
  // The replay holds fewer than the room has, so it says how to see more.
  assert.equal(
    await bob.expect(() => true),
    "*** Older messages: /history #lobby before 3",
  );
  assert.equal(await bob.expect(() => true), "*** #lobby (2): alice, bob");
  assert.ok(!bob.received.some((line) => line.includes("message 2")));
});

Deno.test("a join replay never repeats what then arrives live, in a small room or a big one", async () => {
  for (const bigRoomMembers of [0, 2]) {
    await using chat = await startServer({ bigRoomMembers });
    await using alice = await LineClient.text(chat.port, "alice");
    await alice.send("/join #dev");
    await alice.expect(/^\*\*\* #dev /);
    await using bot = await LineClient.connect(chat.port);
    await bot.sendJson({ type: "hello", nick: "bot" });
    await bot.expectEvent("welcome");
    await bot.linesUntilPong(true);
    // One read: a message (a write now waits for the history's commit),
    // the join, and a message said in the joined room after it.
    await bot.send(
      [
        { type: "message", text: "before" },
        { type: "join", room: "#dev" },
        { type: "message", text: "after", ref: "m" },
      ].map((request) => JSON.stringify(request)).join("\n"),
    );
    const replay = await bot.expectEvent("history", (e) => e.room === "#dev");
    const live = (await bot.linesUntilPong(true))
      .map((line) => JSON.parse(line) as ServerEvent)
      .flatMap((e) => e.type === "message" && e.room === "#dev" ? [e] : []);
    assert.deepEqual(
      [...replay.messages, ...live].map((m) => m.text),
      ["after"],
      `--big-room ${bigRoomMembers}`,
    );
    assert.equal(live[0]?.ref, "m");
    await alice.expect("<bot> after");
  }
});

Deno.test("an abrupt disconnect is announced and cleaned up", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  const bob = await LineClient.text(chat.port, "bob");
  await bob.close();
  await alice.expect("*** bob left #lobby (lost connection)");
  await connectionsDropTo(chat.server, 1);
  await using _bob = await LineClient.text(chat.port, "bob");
  await alice.expect("*** bob joined #lobby");
});

Deno.test("a reset connection (unread data at close) is cleaned up", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  // Never reading the greeting, then closing, makes the kernel send RST.
  const silent = await LineClient.connect(chat.port, false);
  await silent.send("bob");
  await alice.expect("*** bob joined #lobby");
  await alice.send("something for bob to leave unread");
  await alice.linesUntilPong();
  await silent.close();
  await alice.expect("*** bob left #lobby (lost connection)");
  await connectionsDropTo(chat.server, 1);
  assert.equal(chat.server.nicks.size, 1);
});

Deno.test("a half-closed client's last lines are handled before it leaves", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.connect(chat.port);
  await bob.sendBytes(new TextEncoder().encode("bob\nlast words\nno newline"));
  await bob.conn.closeWrite();
  await alice.expect("<bob> last words");
  await alice.expect("<bob> no newline");
  await alice.expect("*** bob left #lobby (lost connection)");
  await bob.closed();
  await connectionsDropTo(chat.server, 1);
});

Deno.test("a connection dropped before choosing a nickname leaves no trace", async () => {
  await using chat = await startServer();
  for (let i = 0; i < 20; i++) {
    const client = await LineClient.connect(chat.port);
    if (i % 2 === 0) await client.send('{"type":"hel');
    await client.close();
  }
  await connectionsDropTo(chat.server, 0);
  assert.equal(chat.server.nicks.size, 0);
  assert.equal(chat.server.rooms.get("#lobby"), undefined);
});

Deno.test("/quit says goodbye, tells the room why, and closes", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  await bob.send("/quit see you \x1b[31mtomorrow");
  await bob.expect("*** Disconnected (quit): Goodbye");
  await bob.closed();
  await alice.expect("*** bob left #lobby (quit: see you tomorrow)");
  await connectionsDropTo(chat.server, 1);
});

Deno.test("a client that stops reading is cut off while others keep receiving", async () => {
  // Slowness is judged over time: the stalled client goes once more than
  // its soft limit has waited for it for half a second (the write deadline
  // is set out of reach, so this is the soft-limit rule at work).
  await using chat = await startServer({
    sendQueueSoftBytes: 32 * 1024,
    sendQueueSoftMs: 500,
    writeTimeoutMs: 60_000,
  });
  await using sender = await LineClient.text(chat.port, "sender");
  await using reader = await LineClient.text(chat.port, "reader");
  await using stalled = await LineClient.connect(chat.port, false);
  await stalled.send("stalled");
  await reader.expect("*** stalled joined #lobby");
  // Send until the stalled reader's kernel buffers and then its queue fill.
  const payload = "x".repeat(3000);
  let dropped = false;
  const watch = reader.expect(
    /^\*\*\* stalled left #lobby \(could not keep up: more than 32768 bytes waited for it for 0.5 seconds/,
    60_000,
  ).then(() => dropped = true);
  let sent = 0;
  // The reader keeps up (the sender stays within 5 messages, 15 KB, of it:
  // less than the queue limit), the stalled client does not.
  const readerHas = () =>
    reader.received.filter((line) => line.startsWith("<sender> ")).length;
  while (!dropped && sent < 40_000) {
    await sender.send(`${sent++} ${payload}`);
    if (sent - readerHas() > 5) {
      await reader.waitFor(
        () => sent - readerHas() <= 2,
        "the reader",
        60_000,
      );
    }
  }
  await watch;
  await sender.send(`${sent++} ${payload}`);
  const messages = (lines: string[]) =>
    lines.filter((line) => line.startsWith("<sender> "));
  await reader.waitFor(
    (lines) => messages(lines).length >= sent,
    `${sent} messages at the reader`,
    60_000,
  );
  messages(reader.received).forEach((line, i) =>
    assert.ok(line === `<sender> ${i} ${payload}`, `message ${i} in order`)
  );
  await connectionsDropTo(chat.server, 2);
  assert.ok(
    [...chat.server.sessions].every((s) => s.outbound.queuedBytes <= 32 * 1024),
  );
});

Deno.test("a write stuck on a non-reader past the deadline disconnects it", async () => {
  await using chat = await startServer({
    maxSendQueueBytes: 64 * 1024 * 1024,
    writeTimeoutMs: 300,
  });
  await using sender = await LineClient.text(chat.port, "sender");
  await using stalled = await LineClient.connect(chat.port, false);
  await stalled.send("stalled");
  await sender.expect("*** stalled joined #lobby");
  const payload = "y".repeat(3000);
  let left = false;
  const watch = sender.expect(
    /stalled left #lobby \(could not keep up: its connection took nothing new for 0.3 seconds/,
    30_000,
  )
    .then(() => left = true);
  for (let i = 0; i < 5000 && !left; i++) await sender.send(payload);
  await watch;
});

Deno.test("every message arrives, in order, at text and JSON readers", async () => {
  await using chat = await startServer();
  await using sender = await LineClient.text(chat.port, "sender");
  await using textReader = await LineClient.text(chat.port, "t");
  await using jsonReader = await LineClient.json(chat.port, "j");
  const count = 500;
  const lines = Array.from({ length: count }, (_, i) => `line ${i}`);
  await sender.sendBytes(new TextEncoder().encode(lines.join("\n") + "\n"));
  for (const line of lines) {
    await textReader.expect((l) => l.startsWith("<sender>")).then((got) =>
      assert.equal(got, `<sender> ${line}`)
    );
    const event = await jsonReader.expectEvent("message");
    assert.equal(event.text, line);
  }
});

Deno.test("lines over the limit are refused and the next line works", async () => {
  await using chat = await startServer({ maxLineBytes: 100 });
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  await alice.send("z".repeat(100));
  await bob.expect(`<alice> ${"z".repeat(100)}`);
  await alice.send("z".repeat(5000));
  await alice.expect(
    "*** Error: Line longer than 100 bytes; nobody saw it: send it as shorter lines",
  );
  await alice.send("still here");
  await bob.expect("<alice> still here");
  const bobSaw = await bob.linesUntilPong();
  assert.deepEqual(bobSaw, []);
});

Deno.test("a long line after a quiet login arrives whole, across many reads", async () => {
  // An idle connection reads into a small buffer; a line far longer than
  // it, and than the large buffer a busy peer moves to, must still arrive
  // whole, its multibyte characters intact wherever the reads split them.
  await using chat = await startServer({ maxLineBytes: 40_000 });
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  const long = "é€".repeat(7_000) + "end"; // 35,003 bytes
  await alice.send(long);
  await bob.expect(`<alice> ${long}`);
  await alice.send("short again");
  await bob.expect("<alice> short again");
  await alice.send(long);
  await bob.expect(`<alice> ${long}`);
});

Deno.test("escapes and controls never reach another terminal", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  await alice.sendBytes(
    new Uint8Array([
      ...new TextEncoder().encode("\x1b[2J\x1b]0;pwned\x07hi\x00 there "),
      // Never UTF-8 (0xFF would be a telnet command, dropped).
      0xfe,
      0x0a,
    ]),
  );
  await bob.expect("<alice> hi there \ufffd");
  await alice.send("\x1b[31m\x07");
  await alice.expect("*** Error: Message is empty");
});

Deno.test("an HTTP request gets one line of explanation and is closed", async () => {
  await using chat = await startServer();
  await using browser = await LineClient.connect(chat.port);
  await browser.send("GET / HTTP/1.1\r\nHost: localhost\r\n");
  await browser.expect(
    /^\*\*\* Disconnected \(refused\): This is a chat server, not a web server/,
  );
  await browser.closed();
});

Deno.test("a telnet client that opens with option negotiation logs in with its first nickname", async () => {
  await using chat = await startServer();
  await using putty = await LineClient.connect(chat.port);
  // PuTTY in telnet mode: WILL NAWS, WILL TSPEED, WILL TTYPE, DO ECHO, and
  // its window size, before anything is typed.
  await putty.sendBytes(
    new Uint8Array([
      ...[0xff, 0xfb, 0x1f, 0xff, 0xfb, 0x20, 0xff, 0xfb, 0x18, 0xff, 0xfd, 1],
      ...[0xff, 0xfa, 0x1f, 0, 80, 0, 24, 0xff, 0xf0],
    ]),
  );
  await putty.send("alice\r");
  await putty.expect("*** alice joined #lobby");
  assert.ok(!putty.received.some((line) => line.includes("Error")));
});

Deno.test("a TLS hello at the plain port is closed at once, not read as nicknames", async () => {
  await using chat = await startServer();
  await using tls = await LineClient.connect(chat.port);
  // The start of a ClientHello: record type 22, version 3.1, then binary
  // (with newlines in it, as a real one has).
  await tls.sendBytes(
    new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x0a, 0x41, 0x0a, 0]),
  );
  await tls.expect(
    /^\*\*\* Disconnected \(refused\): This port speaks plain text, not TLS/,
  );
  await tls.closed();
  assert.ok(!tls.received.some((line) => line.includes("Error")));
});

Deno.test("JSON mode: typed events with ids and times, and replies with ref", async () => {
  await using chat = await startServer();
  await using text = await LineClient.text(chat.port, "texter");
  await using bot = await LineClient.connect(chat.port);
  await bot.sendJson({ type: "hello", nick: "bot", ref: "h1" });
  const welcome = await bot.expectEvent("welcome");
  assert.deepEqual(welcome, {
    type: "welcome",
    nick: "bot",
    server: "tern",
    version: 2,
    maxRooms: 20,
    maxLine: 4096,
    ref: "h1",
  });
  const join = await bot.expectEvent("join");
  assert.equal(join.nick, "bot");
  assert.equal(typeof join.ts, "number");
  await bot.expectEvent("history");
  const who = await bot.expectEvent("who");
  assert.deepEqual(who.members.map((m) => m.nick), ["bot", "texter"]);
  await text.send("hi bot");
  const message = await bot.expectEvent("message");
  assert.equal(message.from, "texter");
  assert.equal(message.text, "hi bot");
  assert.equal(message.room, "#lobby");
  assert.ok(message.id > 0 && Math.abs(message.ts - Date.now()) < 60_000);
  await bot.sendJson({ type: "message", text: "hi human" });
  await text.expect("<bot> hi human");
  const echo = await bot.expectEvent("message", (e) => e.from === "bot");
  assert.ok(echo.id > message.id, "the JSON sender gets its message back");
  await bot.sendJson({ type: "rooms", ref: "r2" });
  const rooms = await bot.expectEvent("rooms");
  assert.deepEqual(rooms, {
    type: "rooms",
    rooms: [{ name: "#lobby", members: 2, joined: true, current: true }],
    ref: "r2",
  });
});

Deno.test("JSON mode: every request a person can make works for a bot", async () => {
  await using chat = await startServer();
  await using human = await LineClient.text(chat.port, "human");
  await using bot = await LineClient.json(chat.port, "bot");
  await bot.sendJson({ type: "action", text: "beeps" });
  await human.expect("* bot beeps");
  await bot.sendJson({ type: "private", to: "human", text: "psst" });
  await human.expect("*bot -> human* psst");
  await bot.sendJson({ type: "nick", nick: "robot" });
  await human.expect("*** bot is now known as robot");
  await bot.sendJson({ type: "away", reason: "charging" });
  await human.expect("*** robot is away: charging");
  await bot.sendJson({ type: "back" });
  await human.expect("*** robot is back");
  await bot.sendJson({ type: "who", ref: "w" });
  const who = await bot.expectEvent("who", (e) => e.ref === "w");
  assert.deepEqual(who.members.map((m) => m.nick), ["human", "robot"]);
  await bot.sendJson({ type: "help" });
  const help = await bot.expectEvent("help");
  assert.ok(help.commands.some((c) => c.usage.startsWith("/msg")));
  await bot.sendJson({ type: "join", room: "#bots" });
  await bot.expectEvent("join", (e) => e.room === "#bots");
  await bot.sendJson({ type: "part" });
  await bot.expectEvent("leave", (e) => e.room === "#bots");
  await bot.expectEvent("switch", (e) => e.room === "#lobby");
  await bot.sendJson({ type: "ping", token: "p" });
  assert.deepEqual(await bot.expectEvent("pong"), { type: "pong", token: "p" });
  await bot.sendJson({ type: "quit", reason: "shutting down" });
  assert.deepEqual(await bot.expectEvent("bye"), {
    type: "bye",
    code: "quit",
    reason: "Goodbye",
  });
  await human.expect("*** robot left #lobby (quit: shutting down)");
  await bot.closed();
});

Deno.test("JSON mode: bad lines get error events and the connection stays", async () => {
  await using chat = await startServer();
  await using bot = await LineClient.connect(chat.port);
  await bot.sendJson({ type: "message", text: "too early" });
  assert.equal((await bot.expectEvent("error")).code, "not_ready");
  await bot.sendJson({ type: "hello", nick: "bad nick" });
  assert.equal((await bot.expectEvent("error")).code, "nick_invalid");
  await bot.sendJson({ type: "hello", nick: "bot" });
  await bot.expectEvent("welcome");
  for (
    const [line, code] of [
      ["{oops", "bad_json"],
      ["[]", "bad_request"],
      ['{"type":"fly"}', "unknown_type"],
      ['{"type":"private","to":"x"}', "bad_request"],
      ['{"type":"hello","nick":"again"}', "bad_request"],
      ['{"type":"message","text":"   "}', "bad_request"],
    ]
  ) {
    await bot.send(line!);
    const error = await bot.expectEvent("error");
    assert.equal(error.code, code, line);
  }
  await bot.sendJson({ type: "ping" });
  await bot.expectEvent("pong");
});

Deno.test("a JSON hello can name the first room", async () => {
  await using chat = await startServer();
  await using bot = await LineClient.connect(chat.port);
  await bot.sendJson({ type: "hello", nick: "bot", room: "#ops" });
  await bot.expectEvent("join", (e) => e.room === "#ops");
  assert.ok(chat.server.rooms.has("#ops"));
  assert.ok(!chat.server.rooms.has("#lobby"));
});

Deno.test("close() says goodbye to everyone and leaves no connection", async () => {
  const chat = await startServer();
  const alice = await LineClient.text(chat.port, "alice");
  const bot = await LineClient.json(chat.port, "bot");
  const lurker = await LineClient.connect(chat.port);
  await lurker.expect(/Choose a nickname/);
  await chat.server.close();
  await alice.expect("*** Disconnected (shutdown): Server shutting down");
  await bot.expectEvent("bye", (e) => e.reason === "Server shutting down");
  await Promise.all([alice.closed(), bot.closed(), lurker.closed()]);
  assert.equal(chat.server.sessions.size, 0);
  await Promise.all([alice.close(), bot.close(), lurker.close()]);
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: chat.port }),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("replies keep their place behind messages accepted before them", async () => {
  await using chat = await startServer();
  await using bot = await LineClient.json(chat.port, "bot");
  const lines = [
    { type: "message", text: "first" },
    { type: "ping", token: "after-first" },
    { type: "who", ref: "after-ping" },
  ].map((request) => JSON.stringify(request)).join("\n") + "\n";
  await bot.sendBytes(new TextEncoder().encode(lines));
  const echo = await bot.expectEvent("message");
  assert.equal(echo.text, "first");
  const next = await bot.expect((line) => line.startsWith("{"));
  assert.deepEqual(JSON.parse(next), { type: "pong", token: "after-first" });
  const who = await bot.expectEvent("who");
  assert.equal(who.ref, "after-ping");
});
