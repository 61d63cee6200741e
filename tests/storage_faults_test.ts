/**
 * The history database failing: at start (missing directory, not a database,
 * a newer schema, read-only, damaged, already in use), and while running (a
 * lock held by another program, a full disk). Each must be said plainly to
 * whoever it affects, and none may stop or stall the server.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { ChatServer } from "../server.ts";
import { HistoryStore } from "../server/store/history_store.ts";
import { StoreOpenError } from "../server/store/open_database.ts";
import { Logger } from "../server/log.ts";
import { LineClient } from "./helpers.ts";
import { runServerToExit, ServerProcess } from "./server_process.ts";

/** A fresh directory, removed at the end of a `using` block. */
function temporaryDirectory(): { path: string } & Disposable {
  const path = Deno.makeTempDirSync({ prefix: "tern-storage-" });
  return {
    path,
    [Symbol.dispose]: () => Deno.removeSync(path, { recursive: true }),
  };
}

/** A database with `count` room messages in it, closed. */
function databaseWithMessages(path: string, count: number): void {
  const store = new HistoryStore(path);
  for (let id = 1; id <= count; id++) {
    store.queueRoomMessage({
      type: "message",
      id,
      ts: id,
      room: "#lobby",
      from: "alice",
      text: `${"x".repeat(100)} ${id}`,
    });
  }
  store.commit();
  store.close();
}

/** Whether a file can be created in `path`. */
function writable(path: string): boolean {
  try {
    Deno.writeTextFileSync(`${path}/probe`, "");
    Deno.removeSync(`${path}/probe`);
    return true;
  } catch {
    return false;
  }
}

/**
 * A directory nobody may write: mode 0555, or, where permission bits do not
 * stop this process (root), a read-only tmpfs mounted on it.
 */
async function readOnlyDirectory(path: string): Promise<() => Promise<void>> {
  await Deno.chmod(path, 0o555);
  if (!writable(path)) return () => Deno.chmod(path, 0o755);
  await Deno.chmod(path, 0o755);
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", "ro,size=64k", "tern-ro", path],
  }).output();
  assert.equal(mount.code, 0, new TextDecoder().decode(mount.stderr));
  assert.ok(!writable(path), "the read-only mount holds");
  return async () => {
    await new Deno.Command("umount", { args: [path] }).output();
  };
}

/** A file that is not a database, a newer one, a damaged one, a directory. */
function brokenDatabases(
  dir: string,
): { notDatabase: string; newer: string; damaged: string; readOnly: string } {
  const notDatabase = `${dir}/notes.txt`;
  Deno.writeTextFileSync(notDatabase, "these are my notes, not a database\n");
  const newer = `${dir}/newer.db`;
  const handle = new DatabaseSync(newer);
  handle.exec("PRAGMA user_version = 99");
  handle.close();
  const damaged = `${dir}/damaged.db`;
  databaseWithMessages(damaged, 300);
  // Overwrites part of the messages table's root page: the file still
  // opens, and simple queries still work, until one reads that page.
  const probe = new DatabaseSync(damaged, { readOnly: true });
  const { rootpage } = probe.prepare(
    "SELECT rootpage FROM sqlite_master WHERE name = 'messages'",
  ).get() as { rootpage: number };
  probe.close();
  const file = Deno.openSync(damaged, { read: true, write: true });
  file.seekSync(4096 * (rootpage - 1) + 12, Deno.SeekMode.Start);
  file.writeSync(new Uint8Array(300).fill(0xa5));
  file.close();
  const readOnly = `${dir}/read-only`;
  Deno.mkdirSync(readOnly);
  return { notDatabase, newer, damaged, readOnly };
}

/** Server flags for a run that should stop at the database. */
function args(db: string): string[] {
  return ["--port", "0", "--db", db];
}

Deno.test("a database that cannot be opened is one line naming the file, and exit 1", async () => {
  using dir = temporaryDirectory();
  const { notDatabase, newer, damaged, readOnly } = brokenDatabases(dir.path);
  const restore = await readOnlyDirectory(readOnly);
  try {
    const cases: Array<[string, RegExp]> = [
      [
        `${dir.path}/missing/chat.db`,
        /the directory .*\/missing does not exist$/,
      ],
      [notDatabase, /is not an SQLite database/],
      [newer, /schema version 99; this server knows up to \d+/],
      [`${readOnly}/chat.db`, /read-only$/],
      [damaged, /the file is damaged \(quick_check: .+\); restore it/],
    ];
    const runs = await Promise.all(
      cases.map(([path]) => runServerToExit(args(path))),
    );
    for (const [i, [path, reason]] of cases.entries()) {
      const { code, stdout, stderr } = runs[i]!;
      assert.equal(code, 1, `${path}: exit code`);
      assert.deepEqual(stdout, [], `${path}: nothing on stdout`);
      assert.equal(stderr.length, 1, `${path}: one line, got ${stderr}`);
      assert.ok(
        stderr[0]!.startsWith(
          `server: cannot open the history database ${path}: `,
        ),
        stderr[0],
      );
      assert.match(stderr[0]!, reason);
    }
  } finally {
    await restore();
  }
});

Deno.test("a second server on the same database is refused; the first keeps every write", async () => {
  using dir = temporaryDirectory();
  const path = `${dir.path}/chat.db`;
  await using first = new ServerProcess([...args(path), "--flood-rate", "0"]);
  const port = await first.port();
  const second = await runServerToExit(args(path));
  assert.equal(second.code, 1);
  assert.equal(second.stderr.length, 1, second.stderr.join("\n"));
  assert.match(
    second.stderr[0]!,
    new RegExp(
      `^server: cannot open the history database ${path}: another process \\(pid ${first.child.pid}\\) is using it`,
    ),
  );
  // The first is untouched: it still stores what it delivers.
  await using alice = await LineClient.text(port, "alice");
  await using bob = await LineClient.text(port, "bob");
  for (let i = 0; i < 20; i++) await alice.send(`kept ${i}`);
  await bob.expect("<alice> kept 19");
  first.kill("SIGTERM");
  assert.equal(await first.exit(), 0);
  const check = new DatabaseSync(path, { readOnly: true });
  try {
    const row = check.prepare(
      "SELECT count(*) AS n FROM messages WHERE text LIKE 'kept %'",
    ).get() as { n: number };
    assert.equal(row.n, 20);
  } finally {
    check.close();
  }
});

Deno.test("in-process: a second store on an open database throws StoreOpenError", () => {
  using dir = temporaryDirectory();
  const path = `${dir.path}/chat.db`;
  const store = new HistoryStore(path);
  try {
    assert.throws(
      () => new HistoryStore(path),
      (error: unknown) =>
        error instanceof StoreOpenError &&
        error.message.includes(`(pid ${Deno.pid}) is using it`),
    );
  } finally {
    store.close();
  }
  // Closing released the lock.
  new HistoryStore(path).close();
});

/** A logger whose lines a test can read. */
function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return {
    logger: new Logger("info", "text", (line) => lines.push(line)),
    lines,
  };
}

Deno.test("a lock held by another program refuses messages at once, never stalls, and storing resumes", async () => {
  using dir = temporaryDirectory();
  const path = `${dir.path}/chat.db`;
  const { logger, lines } = capturingLogger();
  const server = new ChatServer({
    hostname: "127.0.0.1",
    port: 0,
    database: path,
    logger,
    limits: { floodRate: 0, maxPerAddress: 0, closeGraceMs: 500 },
  });
  const port = (await server.start()).plain!.port;
  const other = new DatabaseSync(path);
  try {
    await using alice = await LineClient.text(port, "alice");
    await using bob = await LineClient.text(port, "bob");
    other.exec("BEGIN IMMEDIATE");
    other.exec(
      "INSERT INTO messages (room_key, room, kind, sender, text, ts) VALUES ('#x', '#x', 'message', 'x', 'x', 0)",
    );
    const started = performance.now();
    await alice.send("while the lock is held");
    await alice.expect(
      /^\*\*\* Error: Not sent: the server could not store your message \(its database is held by another program\); nobody received it/,
    );
    // The server answered without waiting out a busy timeout.
    assert.ok(performance.now() - started < 1000, "refused at once");
    const bobSaw = await bob.linesUntilPong();
    assert.ok(!bobSaw.some((line) => line.includes("while the lock is held")));
    assert.ok(
      lines.some((line) =>
        /history_write_failed error=.*database is locked/.test(line)
      ),
      lines.join("\n"),
    );
    other.exec("ROLLBACK");
    await alice.send("after the lock is gone");
    await bob.expect("<alice> after the lock is gone");
    assert.ok(lines.some((line) => /history_write_resumed/.test(line)));
  } finally {
    other.close();
    await server.close();
  }
  const check = new DatabaseSync(path, { readOnly: true });
  try {
    const texts = (check.prepare("SELECT text FROM messages").all() as Array<
      { text: string }
    >).map((row) => row.text);
    assert.deepEqual(texts, ["after the lock is gone"]);
  } finally {
    check.close();
  }
});

/** A server on a file database, and a way to hold its write lock. */
async function lockableServer(dir: string, limits = {}) {
  const path = `${dir}/chat.db`;
  const server = new ChatServer({
    hostname: "127.0.0.1",
    port: 0,
    database: path,
    operatorPassword: "op-secret",
    logger: capturingLogger().logger,
    limits: {
      floodRate: 0,
      maxPerAddress: 0,
      closeGraceMs: 500,
      passwordIterations: 1000,
      ...limits,
    },
  });
  const port = (await server.start()).plain!.port;
  const other = new DatabaseSync(path);
  return {
    server,
    port,
    hold: () => other.exec("BEGIN IMMEDIATE"),
    release: () => other.exec("ROLLBACK"),
    async [Symbol.asyncDispose]() {
      if (other.isTransaction) other.exec("ROLLBACK");
      other.close();
      await server.close();
    },
  };
}

Deno.test("a topic the database cannot store is refused to the operator, shown to nobody, and the old one stays", async () => {
  using dir = temporaryDirectory();
  await using chat = await lockableServer(dir.path);
  await using op = await LineClient.text(chat.port, "op");
  await using bob = await LineClient.text(chat.port, "bob");
  await op.send("/oper op-secret");
  await op.expect("*** You are now an operator");
  await op.send("/topic kept");
  await bob.expect("*** Topic for #lobby: kept (set by op)");
  chat.hold();
  await op.send("/topic lost in the lock");
  // Before, everyone was shown it while the database kept the old one, so
  // a restart brought back a topic nobody had seen replaced.
  await op.expect(
    /^\*\*\* Error: Topic not set: the server could not store it \(its database is held by another program\); try again later$/,
  );
  const bobSaw = await bob.linesUntilPong();
  assert.ok(
    !bobSaw.some((line) => line.includes("lost in the lock")),
    bobSaw.join("\n"),
  );
  await bob.send("/topic");
  await bob.expect("*** Topic for #lobby: kept (set by op)");
  chat.release();
  await op.send("/topic stored");
  await bob.expect("*** Topic for #lobby: stored (set by op)");
  assert.equal(chat.server.hub.history.topic("#lobby")?.topic, "stored");
});

Deno.test("account changes the database cannot store are refused in words about the database, not the cluster", async () => {
  using dir = temporaryDirectory();
  await using chat = await lockableServer(dir.path);
  await using ann = await LineClient.text(chat.port, "ann");
  await using bob = await LineClient.text(chat.port, "bob");
  await ann.send("/register ann-password");
  await ann.expect(/^\*\*\* Nickname ann is now registered/);
  chat.hold();
  // Before: "The chat is degraded: this server cannot reach the others",
  // on a server that has no others.
  const refused =
    /^\*\*\* Error: Not done: the server could not store it \(its database is held by another program\); try again later$/;
  await bob.send("/register bob-password");
  await bob.expect(refused);
  await ann.send("/setpass new-password");
  await ann.expect(refused);
  await ann.send("/drop");
  await ann.expect(refused);
  chat.release();
  await bob.send("/register bob-password");
  await bob.expect(/^\*\*\* Nickname bob is now registered/);
});

Deno.test("message ids handed out while the database refused their reservation never come again after a restart", async () => {
  using dir = temporaryDirectory();
  const seen: number[] = [];
  {
    await using chat = await lockableServer(dir.path);
    await using ann = await LineClient.json(chat.port, "ann");
    chat.hold();
    // The first id of a block is reserved in the database before use; the
    // lock refuses that (and the message).
    await ann.sendJson({ type: "message", text: "refused", ref: "r" });
    await ann.expectEvent("error", (event) => event.code === "not_stored");
    chat.release();
    for (const text of ["one", "two"]) {
      await ann.sendJson({ type: "message", text });
      const event = await ann.expectEvent("message", (e) => e.text === text);
      seen.push(event.id);
    }
  }
  // Every stored message is pruned (as --history-days does to a quiet
  // server), so only the recorded high-water mark remembers the ids.
  const db = new DatabaseSync(`${dir.path}/chat.db`);
  db.exec("DELETE FROM messages");
  db.close();
  await using chat = await lockableServer(dir.path);
  await using ann = await LineClient.json(chat.port, "ann");
  await ann.sendJson({ type: "message", text: "after the restart" });
  const next = await ann.expectEvent(
    "message",
    (event) => event.text === "after the restart",
  );
  // Before, the failed reservation was taken as made: the mark was never
  // written, and ids started again from 1, repeating ones clients hold.
  assert.ok(
    next.id > Math.max(...seen),
    `id ${next.id} after ${seen.join(", ")}`,
  );
});

Deno.test("a full database refuses each message to its sender, logs the cause once, and resumes when room returns", async () => {
  using dir = temporaryDirectory();
  const path = `${dir.path}/chat.db`;
  const { logger, lines } = capturingLogger();
  const server = new ChatServer({
    hostname: "127.0.0.1",
    port: 0,
    database: path,
    logger,
    limits: {
      floodRate: 0,
      maxPerAddress: 0,
      closeGraceMs: 500,
      historyMaxBytes: 256 * 1024,
    },
  });
  const port = (await server.start()).plain!.port;
  try {
    await using alice = await LineClient.json(port, "alice");
    await using bob = await LineClient.text(port, "bob");
    // Fill it: every message is either delivered (to both) or refused to
    // alice; nothing is delivered that was not stored.
    let delivered = 0;
    let refused = 0;
    for (let i = 0; i < 200 && refused < 5; i++) {
      await alice.sendJson({
        type: "message",
        text: `${i} ${"y".repeat(2000)}`,
        ref: `m${i}`,
      });
      const reply = await alice.expect((line) =>
        line.includes(`"ref":"m${i}"`) ||
        line.startsWith(`{"type":"message"`) && line.includes(`"text":"${i} `)
      );
      if (reply.includes('"type":"error"')) {
        refused++;
        assert.match(reply, /"code":"not_stored"/);
        assert.match(reply, /its disk is full/);
      } else {
        delivered++;
        await bob.expect((line) => line.startsWith(`<alice> ${i} `));
      }
    }
    assert.ok(delivered > 5, `some stored first (${delivered})`);
    assert.equal(refused, 5);
    const bobSaw = await bob.linesUntilPong();
    assert.deepEqual(bobSaw.filter((line) => line.startsWith("<alice>")), []);
    const failures = lines.filter((line) =>
      line.includes("history_write_failed")
    );
    assert.equal(failures.length, 1, "the cause is logged once per outage");
    assert.match(failures[0]!, /database or disk is full/);
    // Room returns (pruning frees pages); the next message is stored.
    server.hub.history.prune(Date.now(), {
      historyMaxAgeMs: 0,
      historyMaxPerRoom: 2,
    });
    await alice.sendJson({ type: "message", text: "room again", ref: "last" });
    await alice.expectEvent("message", (event) => event.text === "room again");
    await bob.expect("<alice> room again");
    assert.ok(
      lines.some((line) => /history_write_resumed .*refused=5/.test(line)),
    );
    const stored = server.hub.history.roomMessages("#lobby", 1000);
    assert.equal(stored.at(-1)?.text, "room again");
  } finally {
    await server.close();
  }
});

/** Whether this process runs as root (`Deno.uid` would need --allow-sys). */
function runningAsRoot(): boolean {
  try {
    const id = new Deno.Command("id", { args: ["-u"] }).outputSync();
    return new TextDecoder().decode(id.stdout).trim() === "0";
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "a real full disk: messages are refused to their sender, none delivered unstored, and storing resumes when space returns",
  // Mounting a small tmpfs needs root; CI runs as root, so this runs there.
  // Without root, the size-capped database above drives the same path.
  ignore: !runningAsRoot(),
  fn: async () => {
    using dir = temporaryDirectory();
    const mount = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=1m", "tern-full", dir.path],
    }).output();
    assert.equal(mount.code, 0, new TextDecoder().decode(mount.stderr));
    try {
      const path = `${dir.path}/chat.db`;
      await using server = new ServerProcess([
        ...args(path),
        "--flood-rate",
        "0",
      ]);
      const port = await server.port();
      await using alice = await LineClient.text(port, "alice");
      await using bob = await LineClient.text(port, "bob");
      // Fill the disk, leaving the database nowhere to grow.
      const filler = `${dir.path}/filler`;
      const file = await Deno.open(filler, { write: true, create: true });
      try {
        const block = new Uint8Array(4096);
        while (true) await file.write(block);
      } catch (error) {
        assert.match(String(error), /No space left/);
      } finally {
        file.close();
      }
      let delivered = 0;
      let refused = 0;
      for (let i = 0; i < 400 && refused === 0; i++) {
        await alice.send(`${i} ${"z".repeat(1000)}`);
        const barrier = await alice.linesUntilPong();
        if (barrier.some((line) => line.includes("Not sent:"))) {
          refused++;
          assert.ok(
            barrier.some((line) => line.includes("its disk is full")),
            barrier.join("\n"),
          );
        } else {
          delivered++;
          await bob.expect((line) => line.startsWith(`<alice> ${i} `));
        }
      }
      assert.equal(refused, 1, "the disk filled up");
      const bobSaw = await bob.linesUntilPong();
      assert.deepEqual(bobSaw.filter((line) => line.startsWith("<alice>")), []);
      await server.stderr!.expect(
        /ERROR history_write_failed error=.*database or disk is full/,
      );
      // Space returns: storing resumes.
      await Deno.remove(filler);
      await alice.send("space again");
      await bob.expect("<alice> space again");
      await server.stderr!.expect(/WARN history_write_resumed /);
      server.kill("SIGTERM");
      assert.equal(await server.exit(), 0);
      const check = new DatabaseSync(path, { readOnly: true });
      try {
        const row = check.prepare("SELECT count(*) AS n FROM messages")
          .get() as {
            n: number;
          };
        assert.equal(row.n, delivered + 1, "stored exactly what was delivered");
      } finally {
        check.close();
      }
    } finally {
      await new Deno.Command("umount", { args: ["-l", dir.path] }).output();
    }
  },
});
