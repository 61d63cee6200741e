/**
 * Identity is an account, not a string: private history and waiting
 * messages belong to an account id that is never reused, quotas bound what
 * one address can leave waiting, message ids never repeat across pruning and
 * restarts, and password guessing is throttled without starving anyone else.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  HistoryStore,
  migrate,
  SCHEMA_VERSION,
} from "../server/store/history_store.ts";
import type { PrivateMessage } from "../protocol.ts";
import { LineClient, startServer } from "./helpers.ts";

/** A temporary directory for one test's database, removed afterwards. */
function temporaryDatabase(): { path: string } & Disposable {
  const dir = Deno.makeTempDirSync({ prefix: "tern-identity-" });
  return {
    path: `${dir}/chat.db`,
    [Symbol.dispose]: () => Deno.removeSync(dir, { recursive: true }),
  };
}

/** Fast hashing for tests; the default is deliberately slow. */
const FAST_KDF = { passwordIterations: 1000 };

/** Logs in over JSON with a registered nickname. */
async function identified(
  port: number,
  nick: string,
  password: string,
): Promise<LineClient> {
  const client = await LineClient.connect(port);
  await client.sendJson({ type: "hello", nick, identify: password });
  await client.expectEvent("welcome");
  await client.expectEvent("who");
  return client;
}

/** Registers `nick` from a fresh connection, then leaves. */
async function register(
  port: number,
  nick: string,
  password: string,
): Promise<void> {
  await using client = await LineClient.json(port, nick);
  await client.sendJson({ type: "register", password });
  await client.expectEvent("notice", (e) => e.text.includes("registered"));
}

Deno.test("a later holder of an unregistered nickname cannot read its private history", async () => {
  using db = temporaryDatabase();
  await using chat = await startServer(FAST_KDF, { database: db.path });
  await register(chat.port, "bob", "bobs password");
  await using bob = await identified(chat.port, "bob", "bobs password");
  {
    // carol is not registered; her talk with bob is stored for bob only.
    await using carol = await LineClient.json(chat.port, "carol");
    await carol.sendJson({ type: "private", to: "bob", text: "secret plan" });
    await bob.expectEvent("private", (m) => m.text === "secret plan");
    await bob.sendJson({ type: "private", to: "carol", text: "noted" });
    await carol.expectEvent("private", (m) => m.text === "noted");
  }
  await chat.server.connectionsAtMost(1);
  // Someone else takes the name carol, registers it, and asks.
  await using mallory = await LineClient.json(chat.port, "carol");
  await mallory.sendJson({ type: "register", password: "mallorys pass" });
  await mallory.expectEvent("notice", (e) => e.text.includes("registered"));
  await mallory.sendJson({ type: "history", with: "bob" });
  const seen = await mallory.expectEvent("conversation");
  assert.deepEqual(seen.messages, [], "nothing of the first carol's talk");
  // bob still has his side, marked as with the carol before, not mallory.
  await bob.sendJson({ type: "history", with: "carol" });
  const his = await bob.expectEvent("conversation");
  assert.deepEqual(his.messages.map((m) => m.text), ["secret plan", "noted"]);
  assert.ok(his.messages.every((m) => m.earlier === true), JSON.stringify(his));
});

Deno.test("/history @NICK tells the talk with an earlier holder of NICK from the talk with its holder now", async () => {
  using db = temporaryDatabase();
  await using chat = await startServer(FAST_KDF, { database: db.path });
  await using alice = await LineClient.text(chat.port, "alice");
  await alice.send("/register alices password");
  await alice.expect(/now registered/);
  {
    await using carol = await LineClient.json(chat.port, "carol");
    await carol.sendJson({ type: "private", to: "alice", text: "first" });
    await alice.expect("*carol -> alice* first");
    await alice.send("/msg carol reply");
    await carol.expectEvent("private", (m) => m.text === "reply");
  }
  await chat.server.connectionsAtMost(1);
  await using mallory = await LineClient.json(chat.port, "carol");
  await mallory.sendJson({ type: "register", password: "mallorys pass" });
  await mallory.expectEvent("notice", (e) => e.text.includes("registered"));
  await mallory.sendJson({ type: "private", to: "alice", text: "second" });
  await alice.expect("*carol -> alice* second");
  await alice.send("/history @carol");
  await alice.expect(/^\*\*\* History of private messages with carol: 3 /);
  const lines = (await alice.linesUntilPong())
    .filter((line) => line.startsWith("["))
    .map((line) => line.replace(/^\[[\d:]+\] /, ""));
  assert.deepEqual(lines, [
    "*carol (earlier holder) -> alice* first",
    "*alice -> carol (earlier holder)* reply",
    "*carol -> alice* second",
  ]);
});

Deno.test("after /drop, the next owner of the name gets neither history nor waiting messages", async () => {
  using db = temporaryDatabase();
  await using chat = await startServer(FAST_KDF, { database: db.path });
  await register(chat.port, "alice", "alices password");
  await using bob = await LineClient.json(chat.port, "bob");
  {
    await using alice = await identified(
      chat.port,
      "alice",
      "alices password",
    );
    await bob.sendJson({ type: "private", to: "alice", text: "seen live" });
    await alice.expectEvent("private", (m) => m.text === "seen live");
  }
  await bob.sendJson({ type: "private", to: "alice", text: "while away" });
  await bob.expectEvent("notice", (e) => e.text.includes("offline"));
  {
    await using alice = await identified(
      chat.port,
      "alice",
      "alices password",
    );
    await alice.expectEvent("private", (m) => m.text === "while away");
    await bob.sendJson({ type: "private", to: "alice", text: "one more" });
    await alice.expectEvent("private", (m) => m.text === "one more");
  }
  await bob.sendJson({ type: "private", to: "alice", text: "never read" });
  await bob.expectEvent("notice", (e) => e.text.includes("offline"));
  {
    await using alice = await identified(
      chat.port,
      "alice",
      "alices password",
    );
    await alice.expectEvent("private", (m) => m.text === "never read");
    await bob.sendJson({ type: "private", to: "alice", text: "left waiting" });
    await alice.expectEvent("private", (m) => m.text === "left waiting");
    await alice.sendJson({ type: "drop" });
    await alice.expectEvent("notice", (e) => e.text.includes("no longer"));
  }
  await chat.server.connectionsAtMost(1);
  await register(chat.port, "alice", "someone else");
  await using next = await identified(chat.port, "alice", "someone else");
  await next.sendJson({ type: "history", with: "bob" });
  const seen = await next.expectEvent("conversation");
  assert.deepEqual(seen.messages, []);
  const lines = await next.linesUntilPong(true);
  assert.ok(!lines.some((line) => line.includes('"private"')), lines.join());
});

Deno.test("waiting messages for a dropped account are not handed to its successor", async () => {
  using db = temporaryDatabase();
  await using chat = await startServer(FAST_KDF, {
    database: db.path,
    operatorPassword: "op",
  });
  await register(chat.port, "dave", "daves password");
  await using bob = await LineClient.json(chat.port, "bob");
  await bob.sendJson({
    type: "private",
    to: "dave",
    text: "for the real dave",
  });
  await bob.expectEvent("notice", (e) => e.text.includes("offline"));
  await bob.sendJson({ type: "oper", password: "op" });
  await bob.expectEvent("notice", (e) => e.text.includes("operator"));
  await bob.sendJson({ type: "drop", nick: "dave" });
  await bob.expectEvent("notice", (e) => e.text.includes("no longer"));
  await register(chat.port, "dave", "impostor pass");
  await using impostor = await identified(chat.port, "dave", "impostor pass");
  const lines = await impostor.linesUntilPong(true);
  assert.ok(!lines.some((line) => line.includes("real dave")), lines.join());
});

Deno.test("a full inbox and an address with too much waiting get a clear error", async () => {
  using db = temporaryDatabase();
  await using chat = await startServer({
    ...FAST_KDF,
    maxInboxMessages: 3,
    maxWaitingPerAddress: 5,
  }, { database: db.path });
  await register(chat.port, "erin", "erins password");
  await register(chat.port, "frank", "franks password");
  await using bob = await LineClient.json(chat.port, "bob");
  for (let i = 1; i <= 3; i++) {
    await bob.sendJson({ type: "private", to: "erin", text: `m${i}` });
  }
  await bob.sendJson({ type: "private", to: "erin", text: "m4", ref: "r4" });
  const full = await bob.expectEvent("error", (e) => e.ref === "r4");
  assert.equal(full.code, "full");
  assert.match(full.message, /erin is offline and their inbox is full \(3/);
  await bob.sendJson({ type: "private", to: "frank", text: "f1" });
  await bob.sendJson({ type: "private", to: "frank", text: "f2" });
  await bob.sendJson({ type: "private", to: "frank", text: "f3", ref: "r6" });
  const quota = await bob.expectEvent("error", (e) => e.ref === "r6");
  assert.match(quota.message, /You already have 5 messages waiting/);
  // Reading frees the inbox.
  {
    await using erin = await identified(chat.port, "erin", "erins password");
    for (let i = 1; i <= 3; i++) {
      await erin.expectEvent("private", (m) => m.text === `m${i}`);
    }
  }
  await bob.sendJson({ type: "private", to: "erin", text: "m5", ref: "r7" });
  await bob.expectEvent("notice", (e) => e.text.includes("erin is offline"));
});

Deno.test("waiting messages expire", () => {
  const store = new HistoryStore(":memory:");
  try {
    const id = store.accounts.create({
      nick: "gina",
      salt: new Uint8Array(16),
      hash: new Uint8Array(32),
      iterations: 1,
      created: 0,
    });
    const waiting = (n: number, ts: number): PrivateMessage => ({
      type: "private",
      id: n,
      ts,
      from: "bob",
      to: "gina",
      text: `t${ts}`,
    });
    const parties = { from: null, to: id, pending: true, address: "10.0.0.1" };
    store.queuePrivate(waiting(1, 1_000), parties);
    store.queuePrivate(waiting(2, 5_000), parties);
    store.commit();
    assert.equal(store.inboxSize(id, 2_000), 1, "one expired");
    assert.equal(store.waitingFromAddress("10.0.0.1", 0), 2);
    assert.deepEqual(store.pendingFor(id, 2_000).map((m) => m.id), [2]);
    store.markDelivered([2]);
    assert.equal(
      store.inboxSize(id, 2_000),
      0,
      "delivered",
    );
  } finally {
    store.close();
  }
});

Deno.test("message ids never repeat after pruning and two restarts", async () => {
  using db = temporaryDatabase();
  let last = 0;
  {
    await using chat = await startServer({}, { database: db.path });
    await using alice = await LineClient.json(chat.port, "alice");
    for (let i = 0; i < 3; i++) {
      await alice.sendJson({ type: "message", text: `m${i}` });
      last = (await alice.expectEvent("message")).id;
    }
    // A private message between unregistered people takes an id but is
    // never stored.
    await alice.sendJson({ type: "private", to: "alice", text: "to myself" });
    last = (await alice.expectEvent("private")).id;
  }
  {
    const store = new HistoryStore(db.path);
    try {
      assert.ok(
        store.prune(Date.now() + 1_000, {
          historyMaxAgeMs: 1,
          historyMaxPerRoom: 0,
        }) >= 3,
        "all pruned",
      );
    } finally {
      store.close();
    }
  }
  for (let restart = 0; restart < 2; restart++) {
    await using _chat = await startServer({}, { database: db.path });
  }
  await using chat = await startServer({}, { database: db.path });
  await using alice = await LineClient.json(chat.port, "alice");
  await alice.sendJson({ type: "message", text: "after restarts" });
  const next = await alice.expectEvent("message");
  assert.ok(next.id > last, `new id ${next.id} after ${last}`);
});

Deno.test("a version-3 database is upgraded: accounts get ids, history stays with its owner", () => {
  using db = temporaryDatabase();
  const old = new DatabaseSync(db.path);
  migrate(old, 3);
  const insertAccount = old.prepare(
    `INSERT INTO accounts VALUES (?, ?, ?, x'00', x'00', 1, ?)`,
  );
  insertAccount.run("alice", "alice", "alice", 2_000);
  insertAccount.run("bob", "bob", "bob", 500);
  const insertPrivate = old.prepare(
    `INSERT INTO private_messages VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  // To an earlier alice (before this account existed), then to this one.
  insertPrivate.run(
    1,
    "bob",
    "bob",
    "alice",
    "alice",
    "to old alice",
    1_000,
    1,
  );
  insertPrivate.run(
    2,
    "bob",
    "bob",
    "alice",
    "alice",
    "to new alice",
    3_000,
    1,
  );
  insertPrivate.run(
    3,
    "alice",
    "alice",
    "bob",
    "bob",
    "from new alice",
    4_000,
    0,
  );
  old.close();
  const store = new HistoryStore(db.path);
  try {
    assert.equal(store.schemaVersion, SCHEMA_VERSION);
    const alice = store.accounts.find("alice")!;
    const bob = store.accounts.find("bob")!;
    assert.notEqual(alice.id, bob.id);
    assert.deepEqual(
      store.conversation(alice.id, "bob", bob.id, 10).map((m) => m.text),
      ["to new alice", "from new alice"],
    );
    // bob keeps his talk with the alice before, marked as with an earlier
    // holder of the name, not shown as with the alice of now.
    assert.deepEqual(
      store.conversation(bob.id, "alice", alice.id, 10)
        .map((m) => [m.text, m.earlier ?? false]),
      [
        ["to old alice", true],
        ["to new alice", false],
        ["from new alice", false],
      ],
    );
    assert.deepEqual(
      store.pendingFor(alice.id).map((m) => m.text),
      ["to new alice"],
    );
    assert.equal(store.lastMessageId(), 3);
    // Ids are never reused: a dropped account's id is not given again.
    store.accounts.delete("alice");
    const again = store.accounts.create({ ...alice, created: 9_000 });
    assert.ok(again > alice.id && again > bob.id);
  } finally {
    store.close();
  }
});

Deno.test("wrong account passwords: growing delays per account and per address", async () => {
  await using chat = await startServer({
    ...FAST_KDF,
    loginFailures: 2,
    loginDelayMs: 60_000,
    maxPasswordAttempts: 100,
  });
  await register(chat.port, "hank", "hanks password");
  await register(chat.port, "ivy", "ivys password");
  await using guesser = await LineClient.json(chat.port, "guesser");
  for (const guess of ["guess one", "guess two"]) {
    await guesser.sendJson({ type: "identify", nick: "hank", password: guess });
    assert.equal((await guesser.expectEvent("error")).code, "bad_password");
  }
  // Now even the right password is not checked until the delay is over.
  await guesser.sendJson({
    type: "identify",
    nick: "hank",
    password: "hanks password",
  });
  const held = await guesser.expectEvent("error");
  assert.equal(held.code, "rate_limited");
  assert.match(held.message, /^Too many wrong passwords: try again in 60 s$/);
  // The address is held too, for every account...
  await guesser.sendJson({ type: "identify", nick: "ivy", password: "x" });
  assert.equal((await guesser.expectEvent("error")).code, "rate_limited");
  // ...and the account from every connection on that address.
  await using again = await LineClient.connect(chat.port);
  await again.sendJson({
    type: "hello",
    nick: "hank",
    identify: "hanks password",
  });
  assert.equal((await again.expectEvent("error")).code, "rate_limited");
});

Deno.test("wrong operator and server passwords are throttled the same way", async () => {
  await using chat = await startServer({
    loginFailures: 2,
    loginDelayMs: 60_000,
    maxPasswordAttempts: 100,
  }, { operatorPassword: "op-pw" });
  await using guesser = await LineClient.text(chat.port, "guesser");
  for (const [guess, left] of [["a", 99], ["b", 98]] as const) {
    await guesser.send(`/oper ${guess}`);
    await guesser.expect(
      `*** Error: Wrong operator password: ${left} tries left before the connection is closed`,
    );
  }
  await guesser.send("/oper op-pw");
  await guesser.expect(
    "*** Error: Too many wrong passwords: try again in 60 s",
  );
  await guesser.send("/oper op-pw");
  await guesser.expect(/^\*\*\* Error: Too many wrong passwords/);
  const lines = await guesser.linesUntilPong();
  assert.ok(!lines.some((line) => line.includes("now an operator")));
});

Deno.test("the server password is throttled by address", async () => {
  await using chat = await startServer({
    loginFailures: 1,
    loginDelayMs: 60_000,
    maxPasswordAttempts: 100,
  }, { password: "server-pw" });
  await using guesser = await LineClient.connect(chat.port);
  await guesser.send("wrong");
  await guesser.expect(
    "*** Error: Wrong server password: 99 tries left before the connection is closed",
  );
  await guesser.send("server-pw");
  await guesser.expect(/^\*\*\* Error: Too many wrong passwords/);
});

Deno.test("one address may register only a few nicknames an hour", async () => {
  await using chat = await startServer({ ...FAST_KDF, maxRegistrations: 2 });
  await using client = await LineClient.json(chat.port, "nick1");
  for (let i = 1; i <= 3; i++) {
    if (i > 1) {
      await client.sendJson({ type: "nick", nick: `nick${i}` });
      await client.expectEvent("nick", (e) => e.nick === `nick${i}`);
    }
    await client.sendJson({
      type: "register",
      password: "a password",
      ref: `r${i}`,
    });
    if (i <= 2) {
      await client.expectEvent("notice", (e) => e.text.includes("registered"));
    } else {
      const refused = await client.expectEvent("error", (e) => e.ref === "r3");
      assert.equal(refused.code, "rate_limited");
      assert.match(refused.message, /registered 2 nicknames in the last hour/);
    }
  }
});

Deno.test("new connections from one address are rate limited", async () => {
  await using chat = await startServer(
    { connectBurst: 3, connectRate: 0.01 },
    { throttleLoopback: true },
  );
  const clients: LineClient[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const client = await LineClient.connect(chat.port);
      clients.push(client);
      await client.expect(/^\*\*\* Welcome/);
    }
    await using refused = await LineClient.connect(chat.port);
    await refused.expect(
      "*** Disconnected (full): Too many new connections from your address; wait a few seconds",
    );
    await refused.closed();
  } finally {
    for (const client of clients) await client.close();
  }
});

Deno.test("bad_password says which password was wrong or missing, so a form asks for the right one", async () => {
  await using chat = await startServer(FAST_KDF, { password: "letmein" });
  {
    await using owner = await LineClient.connect(chat.port);
    await owner.sendJson({ type: "hello", nick: "kim", password: "letmein" });
    await owner.expectEvent("welcome");
    await owner.sendJson({ type: "register", password: "kims password" });
    await owner.expectEvent("notice", (event) => /egistered/.test(event.text));
  }
  await using client = await LineClient.connect(chat.port);
  const answer = async (hello: Record<string, string>) => {
    await client.sendJson({ type: "hello", nick: "kim", ...hello });
    const error = await client.expectEvent("error");
    return [error.code, error.password];
  };
  assert.deepEqual(await answer({}), ["bad_password", "server"]);
  assert.deepEqual(await answer({ password: "nope" }), [
    "bad_password",
    "server",
  ]);
  assert.deepEqual(await answer({ password: "letmein" }), [
    "nick_registered",
    undefined,
  ]);
  assert.deepEqual(await answer({ identify: "not kims" }), [
    "bad_password",
    "nickname",
  ]);
});

Deno.test("a private message to a registered nickname reaches its owner online under another name, not their inbox", async () => {
  await using chat = await startServer(FAST_KDF);
  await register(chat.port, "alice", "alices password");
  await using alice = await identified(chat.port, "alice", "alices password");
  await alice.sendJson({ type: "nick", nick: "ally" });
  await alice.expectEvent("nick", (e) => e.nick === "ally");
  await using bob = await LineClient.json(chat.port, "bob");
  await bob.sendJson({
    type: "private",
    to: "alice",
    text: "are you there",
    ref: "1",
  });
  // alice is online: she gets it now, and bob is not told she is offline.
  const got = await alice.expectEvent(
    "private",
    (m) => m.text === "are you there",
  );
  assert.equal(got.from, "bob");
  assert.equal(got.to, "ally");
  const copy = await bob.expectEvent(
    "private",
    (m) => m.text === "are you there",
  );
  assert.equal(copy.to, "ally");
  assert.equal(copy.ref, "1");
  const lines = await bob.linesUntilPong(true);
  assert.ok(!lines.some((line) => line.includes("offline")), lines.join("\n"));
  // Nothing was left waiting for her next login either.
  await alice.sendJson({ type: "quit" });
  await alice.expectEvent("bye");
  await chat.server.connectionsAtMost(1);
  await using again = await identified(chat.port, "alice", "alices password");
  const after = await again.linesUntilPong(true);
  assert.ok(
    !after.some((line) => line.includes("are you there")),
    after.join("\n"),
  );
});

Deno.test("a hello that identifies to a nickname nobody registered is told the password was not used", async () => {
  // A bot that puts its password in every hello, as PROTOCOL.md asks, must
  // learn when its nickname is no longer registered (an operator dropped
  // it): otherwise it runs unprotected, believing it is identified.
  await using chat = await startServer(FAST_KDF);
  await using bot = await LineClient.connect(chat.port);
  await bot.sendJson({ type: "hello", nick: "bot", identify: "its password" });
  await bot.expectEvent("welcome");
  const told = await bot.expectEvent(
    "notice",
    (e) => e.text.includes("not registered"),
  );
  assert.match(told.text, /"register"/);
  await using plain = await LineClient.connect(chat.port);
  await plain.sendJson({ type: "hello", nick: "plain" });
  await plain.expectEvent("welcome");
  const lines = await plain.linesUntilPong(true);
  assert.ok(!lines.some((line) => line.includes("not registered")));
});
