/**
 * Moderation and name holes over real sockets: look-alike nicknames and room
 * names (Unicode's confusables), invisible messages, stacked accents, what a
 * mute covers, rename and join/part churn, and bans that parse strictly and
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
