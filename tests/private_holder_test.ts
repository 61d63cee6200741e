/**
 * A private message follows the person, not the string: when the holder of
 * an unregistered nickname leaves and someone else takes it, the first
 * message a correspondent sends to that name is refused with a warning,
 * and only a second one reaches the newcomer.
 */

import assert from "node:assert/strict";
import { LineClient, startServer } from "./helpers.ts";

Deno.test("private message: a new holder of the name is announced before anything reaches them", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.json(chat.port, "alice");
  {
    await using bob = await LineClient.json(chat.port, "bob");
    await alice.sendJson({ type: "private", to: "bob", text: "hi bob" });
    await bob.expectEvent("private", (e) => e.text === "hi bob");
    await bob.sendJson({ type: "quit" });
    await bob.closed();
  }
  await using eve = await LineClient.json(chat.port, "bob");
  await alice.sendJson({
    type: "private",
    to: "bob",
    text: "the secret",
    ref: "p1",
  });
  const refused = await alice.expectEvent("error");
  assert.equal(refused.code, "holder_changed");
  assert.equal(refused.ref, "p1");
  assert.match(
    refused.message,
    /^Not sent: bob is now someone else \(another connection has held the nickname since \d{4}-\d\d-\d\d \d\d:\d\d UTC\); send again to write to the new bob$/,
  );
  // Sending again is a choice made knowing: it goes through.
  await alice.sendJson({ type: "private", to: "bob", text: "who are you?" });
  await alice.expectEvent("private", (e) => e.text === "who are you?");
  const first = await eve.expectEvent("private");
  assert.equal(first.text, "who are you?", "the refused one never arrived");
});

Deno.test("private message: the warning also protects whoever was written to, and speaks text", async () => {
  await using chat = await startServer();
  await using bob = await LineClient.text(chat.port, "bob");
  {
    await using carol = await LineClient.json(chat.port, "carol");
    await carol.sendJson({ type: "private", to: "bob", text: "ping" });
    await bob.expect("*carol -> bob* ping");
    await carol.sendJson({ type: "quit" });
    await carol.closed();
  }
  await using mallory = await LineClient.json(chat.port, "carol");
  await bob.send("/msg carol pong");
  await bob.expect(
    /^\*\*\* Error: Not sent: carol is now someone else .*send again to write to the new carol$/,
  );
  await bob.send("/msg carol pong again");
  const got = await mallory.expectEvent("private");
  assert.equal(got.text, "pong again");
});

/** A database file in a directory removed at the end of a `using` block. */
function temporaryDatabase(): { path: string } & Disposable {
  const dir = Deno.makeTempDirSync({ prefix: "tern-holder-" });
  return {
    path: `${dir}/chat.db`,
    [Symbol.dispose]: () => Deno.removeSync(dir, { recursive: true }),
  };
}

Deno.test("private message: a registered nickname back on a new connection is the same person", async () => {
  using db = temporaryDatabase();
  await using chat = await startServer({ passwordIterations: 1000 }, {
    database: db.path,
  });
  await using alice = await LineClient.json(chat.port, "alice");
  {
    await using bob = await LineClient.json(chat.port, "bob");
    await bob.sendJson({ type: "register", password: "bobs password" });
    await bob.expectEvent("notice", (e) => e.text.includes("registered"));
    await alice.sendJson({ type: "private", to: "bob", text: "one" });
    await bob.expectEvent("private", (e) => e.text === "one");
    await bob.sendJson({ type: "quit" });
    await bob.closed();
  }
  await using bob = await LineClient.connect(chat.port);
  await bob.sendJson({ type: "hello", nick: "bob", identify: "bobs password" });
  await bob.expectEvent("welcome");
  await alice.sendJson({ type: "private", to: "bob", text: "two" });
  await bob.expectEvent("private", (e) => e.text === "two");
});
