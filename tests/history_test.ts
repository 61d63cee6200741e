/**
 * History and accounts on disk: the store itself, schema migration from a
 * version-1 file, history across a server restart, paging, retention,
 * accounts (register, identify, drop), private messages that wait for an
 * offline account, and the export tool. Each test gets its own temporary
 * database file and asserts what is on disk.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { exportRoom } from "../server/store/export_history.ts";
import { HistoryStore, SCHEMA_VERSION } from "../server/store/history_store.ts";
import type { RoomMessage } from "../protocol.ts";
import { ChatServer } from "../server.ts";
import { LineClient, startServer } from "./helpers.ts";

/** A temporary directory for one test's database, removed afterwards. */
function temporaryDatabase(): { path: string } & Disposable {
  const dir = Deno.makeTempDirSync({ prefix: "tern-history-" });
  return {
    path: `${dir}/chat.db`,
    [Symbol.dispose]: () => Deno.removeSync(dir, { recursive: true }),
  };
}

const message = (
  id: number,
  room: string,
  text: string,
  ts = id,
): RoomMessage => ({
  type: "message",
  id,
  ts,
  room,
  from: "alice",
  text,
});

/** A row from node:sqlite (null prototype) as a plain object. */
const plain = (row: unknown) => ({ ...(row as Record<string, unknown>) });

/** Fast hashing for tests; the default is deliberately slow. */
const FAST_KDF = { passwordIterations: 1000 };

Deno.test("HistoryStore commits queued writes together and pages back by id", () => {
  using db = temporaryDatabase();
  const store = new HistoryStore(db.path);
  try {
    for (let id = 1; id <= 5; id++) {
      store.queueRoomMessage(message(id, "#lobby", `m${id}`));
    }
    store.queueRoomMessage(message(6, "#Dev", "elsewhere"));
    assert.equal(store.queued, 6);
    assert.deepEqual(
      store.roomMessages("#lobby", 10),
      [],
      "nothing visible before the commit",
    );
    store.commit();
    assert.equal(store.queued, 0);
    assert.deepEqual(store.roomMessages("#lobby", 2).map((m) => m.text), [
      "m4",
      "m5",
    ]);
    assert.deepEqual(store.roomMessages("#lobby", 2, 4).map((m) => m.text), [
      "m2",
      "m3",
    ]);
    assert.deepEqual(store.roomMessages("#dev", 5).map((m) => m.room), [
      "#Dev",
    ]);
    assert.equal(store.lastMessageId(), 6);
  } finally {
    store.close();
  }
  const reopened = new HistoryStore(db.path);
  try {
    assert.equal(reopened.lastMessageId(), 6, "ids continue after a restart");
  } finally {
    reopened.close();
  }
});

Deno.test("HistoryStore writes a large batch in several statements, in order", () => {
  using db = temporaryDatabase();
  const store = new HistoryStore(db.path);
  try {
    for (let id = 1; id <= 75; id++) {
      store.queueRoomMessage(message(id, id % 3 ? "#a" : "#b", `m${id}`));
      if (id === 40) {
        store.queueTopic("#a", { topic: "mid", by: "op", ts: 0 }, 1000);
      }
    }
    store.commit();
    const a = store.roomMessages("#a", 100).map((m) => m.id);
    const b = store.roomMessages("#b", 100).map((m) => m.id);
    assert.equal(a.length + b.length, 75);
    assert.deepEqual([...a].sort((x, y) => x - y), a, "oldest first");
    assert.deepEqual(b, Array.from({ length: 25 }, (_, i) => (i + 1) * 3));
    assert.equal(store.topic("#a")?.topic, "mid");
  } finally {
    store.close();
  }
});

Deno.test("HistoryStore prunes by age and by count per room, keeping topics", () => {
  using db = temporaryDatabase();
  const store = new HistoryStore(db.path);
  try {
    for (let id = 1; id <= 10; id++) {
      store.queueRoomMessage(
        message(id, id % 2 ? "#a" : "#b", `m${id}`, id * 1000),
      );
    }
    store.queueTopic("#a", { topic: "kept", by: "op", ts: 0 }, 11);
    store.commit();
    assert.equal(
      store.prune(10_500, { historyMaxAgeMs: 5_000, historyMaxPerRoom: 0 }),
      5,
      "ids 1-5 are older than 5 s",
    );
    assert.equal(
      store.prune(10_500, { historyMaxAgeMs: 0, historyMaxPerRoom: 2 }),
      1,
      "#a keeps 7 and 9; #b keeps 8 and 10",
    );
    assert.deepEqual(store.roomMessages("#a", 10).map((m) => m.id), [7, 9]);
    assert.deepEqual(store.roomMessages("#b", 10).map((m) => m.id), [8, 10]);
    assert.equal(store.topic("#a")?.topic, "kept");
  } finally {
    store.close();
  }
});

Deno.test("a version-1 database is upgraded in place and keeps its history", () => {
  using db = temporaryDatabase();
  const old = new DatabaseSync(db.path);
  old.exec(
    Deno.readTextFileSync(
      new URL("./fixtures/history-v1.sql", import.meta.url),
    ),
  );
  old.close();
  const store = new HistoryStore(db.path);
  try {
    assert.equal(store.schemaVersion, SCHEMA_VERSION);
    assert.deepEqual(
      store.roomMessages("#lobby", 10).map((m) => [m.type, m.from, m.text]),
      [["message", "alice", "hello from an old server"], [
        "action",
        "bob",
        "waves",
      ]],
    );
    assert.equal(store.topic("#dev")?.topic, "release day");
    assert.equal(store.lastMessageId(), 4);
    assert.equal(
      store.accounts.find("alice"),
      undefined,
      "the accounts table exists",
    );
  } finally {
    store.close();
  }
  const check = new DatabaseSync(db.path, { readOnly: true });
  try {
    assert.deepEqual(plain(check.prepare("PRAGMA integrity_check").get()), {
      integrity_check: "ok",
    });
  } finally {
    check.close();
  }
});

Deno.test("a database from a newer server is refused with a clear error", () => {
  using db = temporaryDatabase();
  const newer = new DatabaseSync(db.path);
  newer.exec("PRAGMA user_version = 99");
  newer.close();
  assert.throws(
    () => new HistoryStore(db.path),
    /schema version 99; this server knows up to/,
  );
});

Deno.test("history survives a restart: replay on join, /history paging, topics", async () => {
  using db = temporaryDatabase();
  {
    await using chat = await startServer({}, {
      database: db.path,
      operatorPassword: "op",
    });
    await using alice = await LineClient.text(chat.port, "alice");
    for (let i = 1; i <= 30; i++) await alice.send(`before restart ${i}`);
    await alice.send("/oper op");
    await alice.send("/topic kept across restarts");
    await alice.expect(
      "*** Topic for #lobby: kept across restarts (set by alice)",
    );
  }
  await using chat = await startServer({ historyLength: 5 }, {
    database: db.path,
  });
  await using bob = await LineClient.text(chat.port, "bob");
  assert.ok(
    bob.received.includes(
      "*** Topic for #lobby: kept across restarts (set by alice)",
    ),
  );
  const replay = bob.received.filter((line) => line.includes("<alice>"));
  assert.equal(replay.length, 5);
  assert.match(replay[4]!, /<alice> before restart 30$/);
  await bob.send("/history 3");
  await bob.expect(/^\*\*\* History of #lobby: 3 messages, the latest, /);
  await bob.expect(/<alice> before restart 28$/);
  await bob.expect(/^\*\*\* Older messages: \/history #lobby before \d+$/);
  await using bot = await LineClient.json(chat.port, "bot");
  await bot.sendJson({ type: "history", limit: 10, ref: "h1" });
  const page = await bot.expectEvent("history", (e) => e.ref === "h1");
  assert.equal(page.messages.length, 10);
  assert.equal(page.messages.at(-1)!.text, "before restart 30");
  await bot.sendJson({
    type: "history",
    limit: 10,
    before: page.messages[0]!.id,
    ref: "h2",
  });
  const older = await bot.expectEvent("history", (e) => e.ref === "h2");
  assert.deepEqual(
    older.messages.map((m) => m.text),
    Array.from({ length: 10 }, (_, i) => `before restart ${i + 11}`),
  );
  await bot.sendJson({ type: "message", text: "after restart" });
  const echo = await bot.expectEvent(
    "message",
    (e) => e.text === "after restart",
  );
  assert.ok(
    echo.id > page.messages.at(-1)!.id,
    "ids continue past the stored ones",
  );
});

Deno.test("retention flags prune old history when the server starts", async () => {
  using db = temporaryDatabase();
  {
    await using chat = await startServer({}, { database: db.path });
    await using alice = await LineClient.text(chat.port, "alice");
    for (let i = 1; i <= 10; i++) await alice.send(`m${i}`);
    await alice.linesUntilPong();
  }
  {
    await using _chat = await startServer({ historyMaxPerRoom: 4 }, {
      database: db.path,
    });
  }
  const left = exportRoom(db.path, "#lobby").map((m) => m.text);
  assert.deepEqual(left, ["m7", "m8", "m9", "m10"]);
});

Deno.test("accounts: register, then identify on a later connection; others are kept out", async () => {
  using db = temporaryDatabase();
  await using chat = await startServer(FAST_KDF, { database: db.path });
  {
    await using alice = await LineClient.text(chat.port, "alice");
    await alice.send("/register short");
    await alice.expect(/^\*\*\* Error: Choose a password of at least 8/);
    await alice.send("/register correct horse");
    await alice.expect(/^\*\*\* Nickname alice is now registered to you/);
    await alice.send("/quit");
    await alice.closed();
  }
  const reader = new DatabaseSync(db.path, { readOnly: true });
  const row = reader.prepare(
    "SELECT nick, length(salt) AS salt, length(hash) AS hash, iterations FROM accounts",
  ).all().map(plain);
  reader.close();
  assert.deepEqual(row, [{
    nick: "alice",
    salt: 16,
    hash: 32,
    iterations: 1000,
  }]);
  const onDisk = await Deno.readFile(db.path);
  assert.ok(
    !new TextDecoder("latin1").decode(onDisk).includes("correct horse"),
  );

  await using again = await LineClient.connect(chat.port);
  await again.send("Alice");
  await again.expect(
    /^\*\*\* Nickname alice is registered\. Send \/identify PASSWORD/,
  );
  await again.send("/identify wrong password");
  await again.expect(
    "*** Error: Wrong nickname password: 2 tries left before the connection is closed",
  );
  await again.send("/identify correct horse");
  await again.expect("*** alice joined #lobby");

  await using imposter = await LineClient.connect(chat.port);
  await imposter.send("\u0430lice");
  await imposter.expect(
    /looks like the registered nickname alice; choose another/,
  );
  await imposter.send("mallory");
  await imposter.expect("*** mallory joined #lobby");
  await imposter.send("/nick ALICE");
  await imposter.expect(
    /^\*\*\* Error: Nickname ALICE is taken|^\*\*\* Error: Nickname alice is registered/,
  );

  await using bot = await LineClient.connect(chat.port);
  await bot.sendJson({ type: "hello", nick: "alice" });
  assert.equal((await bot.expectEvent("error")).code, "nick_registered");
  // Identifying takes the nickname over from the stale connection.
  await bot.sendJson({
    type: "hello",
    nick: "alice",
    identify: "correct horse",
  });
  await bot.expectEvent("welcome", (e) => e.nick === "alice");
  await again.expect(/^\*\*\* Disconnected \(\w+\): /);
});

Deno.test("accounts: /drop releases a nickname; operators may drop any", async () => {
  using db = temporaryDatabase();
  await using chat = await startServer(FAST_KDF, {
    database: db.path,
    operatorPassword: "op",
  });
  await using alice = await LineClient.text(chat.port, "alice");
  await alice.send("/register password1");
  await alice.expect(/now registered to you/);
  await using bob = await LineClient.text(chat.port, "bob");
  await bob.send("/register password2");
  await bob.expect(/now registered to you/);
  await alice.send("/drop bob");
  await alice.expect("*** Error: Only its owner or an operator may drop bob");
  await alice.send("/drop");
  await alice.expect("*** Nickname alice is no longer registered");
  await alice.send("/oper op");
  await alice.send("/drop bob");
  await alice.expect("*** Nickname bob is no longer registered");
  const reader = new DatabaseSync(db.path, { readOnly: true });
  const accounts = plain(
    reader.prepare("SELECT count(*) AS n FROM accounts").get(),
  );
  reader.close();
  assert.deepEqual(accounts, { n: 0 });
});

Deno.test("private messages to an offline account wait, then arrive with their time", async () => {
  using db = temporaryDatabase();
  await using chat = await startServer(FAST_KDF, { database: db.path });
  {
    await using bob = await LineClient.text(chat.port, "bob");
    await bob.send("/register bobs password");
    await bob.expect(/now registered/);
  }
  await using alice = await LineClient.json(chat.port, "alice");
  await alice.sendJson({ type: "private", to: "bob", text: "are you there?" });
  const sent = await alice.expectEvent("private");
  await alice.expectEvent("notice", (e) => e.text.includes("bob is offline"));
  await alice.sendJson({ type: "private", to: "nobody", text: "?" });
  assert.equal((await alice.expectEvent("error")).code, "no_such_nick");

  await using bob = await LineClient.connect(chat.port);
  await bob.sendJson({ type: "hello", nick: "bob", identify: "bobs password" });
  const waited = await bob.expectEvent("private");
  assert.deepEqual(waited, sent, "delivered as sent, original id and time");
  await bob.sendJson({ type: "history", with: "alice", ref: "c" });
  const conversation = await bob.expectEvent("conversation");
  assert.deepEqual(conversation.messages.map((m) => m.text), [
    "are you there?",
  ]);
  await alice.sendJson({ type: "history", with: "bob" });
  assert.equal((await alice.expectEvent("error")).code, "not_permitted");
  await bob.close();
  // Delivered once: a later identify does not repeat it.
  await using bob2 = await LineClient.connect(chat.port);
  await bob2.sendJson({
    type: "hello",
    nick: "bob",
    identify: "bobs password",
  });
  await bob2.expectEvent("who");
  const after = await bob2.linesUntilPong(true);
  assert.ok(!after.some((line) => line.includes("are you there?")));
});

Deno.test("nobody receives a room message before it is in the history", async () => {
  using db = temporaryDatabase();
  const server = new ChatServer({
    hostname: "127.0.0.1",
    port: 0,
    database: db.path,
    limits: { floodRate: 0 },
  });
  const port = (await server.start()).plain!.port;
  try {
    await using reader = await LineClient.json(port, "reader");
    await using sender = await LineClient.text(port, "sender");
    const check = new DatabaseSync(db.path, { readOnly: true });
    try {
      for (let i = 0; i < 50; i++) {
        await sender.send(`message ${i}`);
        const event = await reader.expectEvent("message");
        const row = check.prepare("SELECT text FROM messages WHERE id = ?").get(
          event.id,
        );
        assert.deepEqual(
          plain(row),
          { text: `message ${i}` },
          "on disk by the time it arrived",
        );
      }
    } finally {
      check.close();
    }
  } finally {
    await server.close();
  }
});

Deno.test("exportRoom reads a room's history read-only, oldest first", () => {
  using db = temporaryDatabase();
  const store = new HistoryStore(db.path);
  store.queueRoomMessage(message(1, "#lobby", "first"));
  store.queueTopic("#lobby", { topic: "hi", by: "op", ts: 2 }, 2);
  store.queueRoomMessage({ ...message(3, "#lobby", "third"), type: "action" });
  store.queueRoomMessage(message(4, "#other", "not this"));
  store.close();
  assert.deepEqual(exportRoom(db.path, "#LOBBY"), [
    {
      id: 1,
      ts: 1,
      room: "#lobby",
      type: "message",
      from: "alice",
      text: "first",
    },
    { id: 2, ts: 2, room: "#lobby", type: "topic", from: "op", text: "hi" },
    {
      id: 3,
      ts: 3,
      room: "#lobby",
      type: "action",
      from: "alice",
      text: "third",
    },
  ]);
  assert.deepEqual(exportRoom(db.path, "#lobby", 1).map((m) => m.id), [3]);
});
