/**
 * Moderation and name holes over real sockets: look-alike nicknames and room
 * names (Unicode's confusables), invisible messages, stacked accents, what a
 * mute covers (operators too), rename and join/part churn, and bans that parse strictly and
 * can never leave the ban list broken.
 */

import assert from "node:assert/strict";
import { LineClient, startServer } from "./helpers.ts";

Deno.test("a look-alike of a taken nickname is refused, multi-letter ones too", async () => {
  await using chat = await startServer();
  await using _mallory = await LineClient.text(chat.port, "mallory");
  await using _wendy = await LineClient.text(chat.port, "wendy");
  for (const nick of ["rnallory", "vvendy", "rnaIlory", "\u0461endy"]) {
    await using eve = await LineClient.connect(chat.port);
    await eve.send(nick);
    await eve.expect(/^\*\*\* Error: Nickname .* is taken/);
  }
});

Deno.test("a room name that looks like an open room is that room", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  await alice.send("/join #dev");
  await alice.expect("*** alice joined #dev");
  await bob.send("/join #d\u0435v"); // Cyrillic е
  await bob.expect("*** bob joined #dev");
  await alice.expect("*** bob joined #dev");
  await bob.send("/rooms");
  const listing = await bob.expect(/#dev/);
  assert.doesNotMatch(listing, /#d\u0435v/);
  await bob.send("hello");
  await alice.expect("<bob> hello");
});

Deno.test("a message of invisible characters only is refused, not relayed blank", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  for (
    const text of ["\u200b\u200b", "\u2060\ufe0f", "\u3164", "\u2800 \u200d"]
  ) {
    await alice.send(text);
    await alice.expect(
      "*** Error: Message is empty: it holds only invisible characters",
    );
    await alice.send(`/msg bob ${text}`);
    await alice.expect(
      "*** Error: Message is empty: it holds only invisible characters",
    );
  }
  await alice.send("visible");
  const next = await bob.expect(/^<alice>/);
  assert.equal(next, "<alice> visible");
});

Deno.test("a nickname of one letter and a pile of combining marks is refused", async () => {
  await using chat = await startServer();
  await using eve = await LineClient.connect(chat.port);
  await eve.send("a" + "\u0301".repeat(31));
  await eve.expect(/^\*\*\* Error: Nickname stacks more than 4 accents/);
  await eve.send("zoe\u0301");
  await eve.expect("*** zoé joined #lobby");
});

/** A server with an operator logged in, and a text client `bob`. */
async function withOperator(
  limits: Parameters<typeof startServer>[0] = {},
) {
  // Listening on :: lets clients arrive from two addresses: 127.0.0.1 (as
  // ::ffff:127.0.0.1) and ::1, so one can ban the other.
  const chat = await startServer(limits, {
    operatorPassword: "op-pw",
    hostname: "::",
  });
  const op = await LineClient.text(chat.port, "op");
  await op.send("/oper op-pw");
  await op.expect("*** You are now an operator");
  return { chat, op };
}

Deno.test("a mute covers away reasons, renames and quit reasons", async () => {
  const { chat, op } = await withOperator();
  await using _chat = chat;
  await using _op = op;
  const bob = await LineClient.text(chat.port, "bob");
  await op.send("/mute bob");
  await bob.expect("*** You have been muted by op");
  await bob.send("/away buy cheap pills at spam.example");
  await bob.expect(/You are muted: you are away, but your reason is not shown/);
  await op.expect("*** bob is away");
  await bob.send("/nick buy-pills-here");
  await bob.expect("*** Error: You are muted: you cannot change nickname");
  await op.send("/who");
  const who = await op.expect(/^\*\*\* #lobby \(\d+\):/);
  assert.doesNotMatch(who, /spam|pills/);
  await bob.send("/quit visit spam.example now");
  await op.expect("*** bob left #lobby (quit)");
  const seen = await op.linesUntilPong();
  assert.ok(
    !seen.some((line) => /spam|pills/.test(line)),
    seen.join("\n"),
  );
  await bob.closed();
});

Deno.test("a muted operator cannot set the topic or the message of the day, and kicks without a reason", async () => {
  const { chat, op } = await withOperator();
  await using _chat = chat;
  await using _op = op;
  await using mod = await LineClient.text(chat.port, "mod");
  await mod.send("/oper op-pw");
  await mod.expect("*** You are now an operator");
  await using carl = await LineClient.text(chat.port, "carl");
  await op.send("/mute mod");
  await mod.expect("*** You have been muted by op");
  await mod.send("/topic buy cheap pills");
  await mod.expect("*** Error: You are muted: you cannot set the topic");
  await mod.send("/motd buy cheap pills");
  await mod.expect(
    "*** Error: You are muted: you cannot set the message of the day",
  );
  await mod.send("/me sells pills");
  await mod.expect("*** Error: You are muted");
  // Reading them is not speaking.
  await mod.send("/topic");
  await mod.expect("*** #lobby has no topic");
  await mod.send("/kick carl buy cheap pills");
  await mod.expect("*** You are muted: your reason is not shown");
  await mod.expect("*** Kicked carl");
  await carl.closed();
  const seen = await op.linesUntilPong();
  assert.ok(seen.some((line) => /carl/.test(line)), seen.join("\n"));
  assert.ok(!seen.some((line) => /pills/.test(line)), seen.join("\n"));
  await op.send("/topic");
  await op.expect("*** #lobby has no topic");
});

Deno.test("nickname changes are limited to a few a minute", async () => {
  await using chat = await startServer({ maxNickChanges: 3 });
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  for (let i = 1; i <= 3; i++) {
    await bob.send(`/nick bob${"_".repeat(i)}`);
    await alice.expect(/is now known as bob_*$/);
  }
  await bob.send("/nick robert");
  await bob.expect(
    "*** Error: Too many nickname changes: at most 3 a minute; wait a little",
  );
  const seen = await alice.linesUntilPong();
  assert.ok(!seen.some((line) => line.includes("robert")), seen.join("\n"));
});

Deno.test("join and part churn is limited", async () => {
  await using chat = await startServer({ maxJoins: 4, maxRoomsPerUser: 2 });
  await using alice = await LineClient.text(chat.port, "alice");
  await using bob = await LineClient.text(chat.port, "bob");
  await alice.send("/join #x");
  await alice.expect("*** alice joined #x");
  for (let i = 0; i < 2; i++) {
    await bob.send("/join #x");
    await bob.expect("*** bob joined #x");
    await bob.send("/part");
    await bob.expect("*** Now talking in #lobby");
    await alice.expect("*** bob left #x");
  }
  await alice.linesUntilPong();
  await bob.send("/join #x");
  await bob.expect(
    "*** Error: Too many joins and parts: at most 4 a minute; wait a little",
  );
  const seen = await alice.linesUntilPong();
  assert.ok(!seen.some((line) => line.includes("bob")), seen.join("\n"));
});

Deno.test("/ban parses addresses strictly and bounds durations", async () => {
  const { chat, op } = await withOperator();
  await using _chat = chat;
  await using _op = op;
  for (const bad of ["127.0.0.02", "127.0.0.256", "1.2.3", "::g", "1:2:3"]) {
    await op.send(`/ban ${bad}`);
    await op.expect(
      `*** Error: "${bad}" is not an IP address (like 203.0.113.7 or 2001:db8::7)`,
    );
  }
  await using bob = await LineClient.connect(chat.port, true, "::1");
  await bob.send("bob");
  await op.expect("*** bob joined #lobby");
  await op.send("/ban bob 100000000d");
  await op.expect(
    /^\*\*\* Error: Duration "100000000d" is longer than the longest ban, 365 days/,
  );
  await op.send("/bans");
  await op.expect("*** Bans (0)");
  // The address is still welcome: nothing was half-banned.
  await using carol = await LineClient.connect(chat.port, true, "::1");
  await carol.send("carol");
  await carol.expect("*** carol joined #lobby");
  await op.send("/ban 203.0.113.007");
  await op.expect(/is not an IP address/);
  // An IPv6 address is banned with its /64 (--ipv6-prefix).
  await op.send("/ban 2001:DB8:0:0::7 1h");
  await op.expect(/^\*\*\* Banned 2001:db8::\/64 \(until/);
  await op.send("/bans");
  await op.expect(/^\*\*\* Bans \(1\): 2001:db8::\/64/);
  await bob.send("still here");
  await carol.expect("<bob> still here");
});

Deno.test("/history of a look-alike room name is the open room's history", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.json(chat.port, "alice");
  await alice.sendJson({ type: "join", room: "#dev" });
  await alice.expectEvent("who", (e) => e.room === "#dev");
  await alice.sendJson({ type: "message", room: "#dev", text: "in dev" });
  await alice.expectEvent("message", (e) => e.text === "in dev");
  await alice.sendJson({ type: "history", room: "#d\u0435v", ref: "h" });
  const page = await alice.expectEvent("history", (e) => e.ref === "h");
  assert.equal(page.room, "#dev");
  assert.deepEqual(page.messages.map((m) => m.text), ["in dev"]);
});

Deno.test("joining every room one may be in at once is not churn", async () => {
  await using chat = await startServer({ maxJoins: 2, maxRoomsPerUser: 8 });
  await using bob = await LineClient.json(chat.port, "bob");
  for (let i = 1; i < 8; i++) {
    await bob.sendJson({ type: "join", room: `#r${i}`, ref: `j${i}` });
  }
  await bob.expectEvent("who", (e) => e.room === "#r7");
  await bob.linesUntilPong(true);
  assert.ok(
    !bob.received.some((line) => line.includes("rate_limited")),
    bob.received.join("\n"),
  );
});

Deno.test("a new name mixing Latin with look-alike letters is refused even when the real one is away", async () => {
  await using chat = await startServer();
  await using eve = await LineClient.connect(chat.port);
  await eve.send("\u0430lice"); // Cyrillic а, and nobody called alice is here
  await eve.expect(
    '*** Error: Nickname mixes Latin letters with "\u0430" (U+0430), a letter of another script that looks Latin; choose another',
  );
  await eve.send("\u0414\u043c\u0438\u0442\u0440\u0438\u0439"); // Дмитрий: one script
  await eve.expect(
    "*** \u0414\u043c\u0438\u0442\u0440\u0438\u0439 joined #lobby",
  );
  await eve.send("/join #d\u0435v"); // no #dev is open
  await eve.expect(
    /^\*\*\* Error: Room name mixes Latin letters with "\u0435"/,
  );
  await eve.send("/nick p\u0430ul");
  await eve.expect(/^\*\*\* Error: Nickname mixes Latin letters/);
  await eve.send("/join #\u0434\u0435\u0432"); // #дев: one script, allowed
  await eve.expect(
    "*** \u0414\u043c\u0438\u0442\u0440\u0438\u0439 joined #\u0434\u0435\u0432",
  );
});

Deno.test("an operator cannot kick or mute themselves", async () => {
  const { chat, op } = await withOperator();
  await using _chat = chat;
  await using _op = op;
  await op.send("/kick op testing");
  await op.expect("*** Error: You cannot kick yourself; /quit leaves the chat");
  await op.send("/mute OP");
  await op.expect("*** Error: You cannot mute yourself");
  // Still here, still an operator, not muted.
  await op.send("still talking");
  await op.send("/kick nobody");
  await op.expect("*** Error: Nobody is called nobody");
  const seen = await op.linesUntilPong();
  assert.ok(
    !seen.some((line) => /muted|Disconnected/.test(line)),
    seen.join("\n"),
  );
});

Deno.test("a mistyped /ban duration is refused, never read as a permanent ban's reason", async () => {
  const { chat, op } = await withOperator();
  await using _chat = chat;
  await using _op = op;
  await using bob = await LineClient.connect(chat.port, true, "::1");
  await bob.send("bob");
  await op.expect("*** bob joined #lobby");
  // An operator who means 90 minutes, an hour or 30 minutes and types it
  // another way must not lock bob out for good.
  for (const typo of ["1.5h", "1H", "30", "90min", "-1m", "0s", "2w"]) {
    await op.send(`/ban bob ${typo} spamming`);
    const refusal = await op.expect(/^\*\*\* Error: /);
    assert.match(refusal, /like 30s, 10m, 12h or 7d/, typo);
  }
  await op.send("/bans");
  await op.expect("*** Bans (0)");
  await bob.send("still here");
  await op.expect("<bob> still here");
  // A reason that merely starts with a number is a reason.
  await op.send("/ban 203.0.113.7 2nd warning");
  await op.expect(
    "*** Banned 203.0.113.7 (permanent, 2nd warning); 0 disconnected",
  );
});

Deno.test("a ban says on which day it ends: to the operator, the banned and a returning one", async () => {
  const { chat, op } = await withOperator();
  await using _chat = chat;
  await using _op = op;
  await using bob = await LineClient.connect(chat.port, true, "::1");
  await bob.send("bob");
  await op.expect("*** bob joined #lobby");
  const before = Date.now();
  await op.send("/ban bob 2d spam");
  const until = (line: string) => {
    const day = line.match(/until (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) UTC/);
    assert.ok(day, line);
    const ms = Date.parse(`${day[1]}T${day[2]}Z`);
    // Two days from now, not "07:54:10" that reads as today.
    assert.ok(Math.abs(ms - (before + 2 * 86_400_000)) < 60_000, line);
  };
  until(await bob.expect(/^\*\*\* Disconnected \(banned\): /));
  until(await op.expect(/^\*\*\* Banned ::1 /));
  await using again = await LineClient.connect(chat.port, true, "::1");
  until(await again.expect(/^\*\*\* Disconnected \(banned\): /));
  await again.closed();
  await op.send("/bans");
  until(await op.expect(/^\*\*\* Bans \(1\): /));
});
