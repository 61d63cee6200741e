/**
 * Cluster mode's accounts and waiting messages: two tern nodes on loopback
 * sharing one real `redis-server` started by the test. An account
 * registered on one node identifies on the other, a message left on one is
 * delivered once on the other, ids and quotas hold across both. Without
 * redis-server these tests are left out with one line (as in
 * cluster_test.ts); CI sets TERN_CLUSTER_TESTS=required.
 */

import assert from "node:assert/strict";
import { createClient } from "npm:redis@5.12.1";
import { LineClient, type TestServer, within } from "./helpers.ts";
import { clusterTests } from "./redis_server.ts";
import { type Cluster, startCluster as startPair } from "./cluster_checks.ts";
import type { Limits } from "../server/limits.ts";
import {
  RedisTimeout,
  STORE_SILENT,
  UNDO_GIVEN_UP,
} from "../server/cluster/redis_timeout.ts";

await clusterTests(registerTests);

/** Cheap hashing: these tests are about where accounts live, not the KDF. */
const FAST_KDF = { passwordIterations: 1000 };

/** Two nodes on one Redis, with cheap hashing. */
function startCluster(limits: Partial<Limits> = {}): Promise<Cluster> {
  return startPair({ ...FAST_KDF, ...limits });
}

/** Logs in as `nick` on `port` and registers it with `password`. */
async function registered(
  port: number,
  nick: string,
  password: string,
): Promise<LineClient> {
  const client = await LineClient.json(port, nick);
  await client.sendJson({ type: "register", password });
  await client.expectEvent("notice", (e) => e.text.includes("now registered"));
  return client;
}

/**
 * Closes `client` and waits until its node has let its nickname go (the
 * node then holds at most `others` connections).
 */
async function leave(
  client: LineClient,
  node: TestServer,
  others = 0,
): Promise<void> {
  await client.close();
  await within(node.server.connectionsAtMost(others), "the client to leave");
  await node.server.cluster!.settled();
}

/** Accounts' ids as Redis holds them, by nickname (lower case). */
async function accountIds(
  url: string,
  nicks: readonly string[],
): Promise<number[]> {
  const client = createClient({ url, RESP: 2 });
  await client.connect();
  try {
    return await Promise.all(nicks.map(async (nick) => {
      const id = await client.hGet(`tern:account:${nick}`, "id");
      assert.ok(id !== null, `${nick} is registered`);
      return Number(id);
    }));
  } finally {
    await client.close();
  }
}

/** The reply to a hello that identifies: its welcome or its error. */
async function identifyReply(
  port: number,
  nick: string,
  identify: string,
): Promise<{ client: LineClient; reply: string }> {
  const client = await LineClient.connect(port);
  await client.sendJson({ type: "hello", nick, identify });
  const reply = await client.expect((line) =>
    line.includes('"type":"welcome"') || line.includes('"type":"error"')
  );
  return { client, reply };
}

function registerTests(): void {
  Deno.test("cluster accounts: registered on one node, identified on the other; a wrong password refused", async () => {
    await using cluster = await startCluster();
    await leave(
      await registered(cluster.a.port, "alice", "alices password"),
      cluster.a,
    );
    // Without the password, node b asks for it.
    await using bare = await LineClient.connect(cluster.b.port);
    await bare.sendJson({ type: "hello", nick: "Alice" });
    assert.equal((await bare.expectEvent("error")).code, "nick_registered");
    const wrong = await identifyReply(cluster.b.port, "alice", "guess");
    await using _wrong = wrong.client;
    assert.match(wrong.reply, /"code":"bad_password"/);
    const right = await identifyReply(
      cluster.b.port,
      "alice",
      "alices password",
    );
    await using _right = right.client;
    assert.match(right.reply, /"type":"welcome".*"nick":"alice"/);
  });

  Deno.test("cluster accounts: a password changed on one node is the one the other node checks", async () => {
    await using cluster = await startCluster();
    const alice = await registered(cluster.a.port, "alice", "old password");
    await alice.sendJson({ type: "setpass", password: "new password" });
    await alice.expectEvent("notice", (e) => e.text.includes("is changed"));
    await leave(alice, cluster.a);
    const old = await identifyReply(cluster.b.port, "alice", "old password");
    await using _old = old.client;
    assert.match(old.reply, /"code":"bad_password"/);
    const fresh = await identifyReply(cluster.b.port, "alice", "new password");
    await using _fresh = fresh.client;
    assert.match(fresh.reply, /"type":"welcome"/);
  });

  Deno.test("cluster accounts: /identify once logged in on the other node, and a registered name held on every node", async () => {
    await using cluster = await startCluster();
    await leave(
      await registered(cluster.a.port, "alice", "alices password"),
      cluster.a,
    );
    await using mallory = await LineClient.json(cluster.b.port, "mallory");
    await mallory.sendJson({ type: "nick", nick: "ALICE" });
    assert.equal((await mallory.expectEvent("error")).code, "nick_registered");
    await using lookalike = await LineClient.connect(cluster.b.port);
    await lookalike.sendJson({ type: "hello", nick: "\u0430lice" });
    const refusal = await lookalike.expectEvent("error");
    assert.equal(refusal.code, "nick_taken");
    assert.match(refusal.message, /looks like the registered nickname alice/);
    await using guest = await LineClient.json(cluster.b.port, "guest");
    await guest.sendJson({
      type: "identify",
      nick: "alice",
      password: "alices password",
    });
    await guest.expectEvent("nick", (e) => e.old === "guest");
    await guest.expectEvent("notice", (e) => e.text.includes("identified"));
  });

  Deno.test("cluster accounts: a message to a registered nickname reaches its owner online on another node under another name", async () => {
    await using cluster = await startCluster();
    await using bob = await registered(cluster.b.port, "bob", "bobs password");
    await using carol = await LineClient.json(cluster.a.port, "carol");
    await bob.expectEvent("join", (e) => e.nick === "carol");
    await bob.sendJson({ type: "nick", nick: "robert" });
    // Node a has heard of the rename once carol is told of it.
    await carol.expectEvent("nick", (e) => e.nick === "robert");
    await carol.sendJson({
      type: "private",
      to: "bob",
      text: "are you there?",
      ref: "p1",
    });
    const got = await bob.expectEvent("private");
    assert.equal(got.text, "are you there?");
    assert.equal(got.to, "robert");
    const sent = await carol.expectEvent("private");
    assert.equal(sent.ref, "p1");
    const lines = await carol.linesUntilPong(true);
    assert.ok(
      !lines.some((line) => line.includes("offline")),
      lines.join("\n"),
    );
  });

  Deno.test("cluster accounts: a waiting message left on one node is delivered once on the other", async () => {
    await using cluster = await startCluster();
    await leave(
      await registered(cluster.b.port, "bob", "bobs password"),
      cluster.b,
    );
    await using carol = await LineClient.json(cluster.a.port, "carol");
    await using dan = await LineClient.json(cluster.b.port, "dan");
    await dan.sendJson({ type: "message", text: "from node b" });
    const said = await carol.expectEvent("message");
    await carol.sendJson({
      type: "private",
      to: "bob",
      text: "are you there?",
      ref: "p1",
    });
    const sent = await carol.expectEvent("private");
    assert.equal(sent.ref, "p1");
    // Its id comes from the cluster's counter, after node b's message.
    assert.ok(sent.id > said.id, `${sent.id} > ${said.id}`);
    await carol.expectEvent("notice", (e) => e.text.includes("bob is offline"));
    await carol.sendJson({ type: "private", to: "nobody", text: "?" });
    assert.equal((await carol.expectEvent("error")).code, "no_such_nick");

    const first = await identifyReply(cluster.b.port, "bob", "bobs password");
    await using bob = first.client;
    const waited = await bob.expectEvent("private");
    const { ref: _, ...asSent } = sent;
    assert.deepEqual(waited, asSent, "as sent: original id and time");
    await bob.linesUntilPong(true);
    await leave(bob, cluster.b, 1); // dan stays
    // Node b marked it delivered before it read the inbox again; node a,
    // asked after, finds it gone too.
    for (const node of [cluster.b, cluster.a]) {
      const again = await identifyReply(node.port, "bob", "bobs password");
      await using client = again.client;
      assert.match(again.reply, /"type":"welcome"/);
      const after = await client.linesUntilPong(true);
      assert.ok(!after.some((line) => line.includes("are you there?")));
      await leave(client, node, 1); // carol or dan stays
    }
  });

  Deno.test("cluster accounts: two nodes registering at once get distinct ids", async () => {
    await using cluster = await startCluster({ maxRegistrations: 100 });
    // Two at once per node: each node hashes at most HASHES_PER_ADDRESS
    // passwords for one address at a time, and every client here is
    // 127.0.0.1.
    const rounds = 5;
    const nicks: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const batch = ["a0", "a1", "b0", "b1"].map((tag) => `user${round}${tag}`);
      nicks.push(...batch);
      const clients = await Promise.all(
        batch.map((nick, i) =>
          LineClient.json((i < 2 ? cluster.a : cluster.b).port, nick)
        ),
      );
      try {
        // Every registration sent before any answer is read.
        await Promise.all(
          clients.map((client) =>
            client.sendJson({ type: "register", password: "same password" })
          ),
        );
        for (const client of clients) {
          await client.expectEvent(
            "notice",
            (e) => e.text.includes("now registered"),
          );
        }
      } finally {
        await Promise.all(clients.map((client) => client.close()));
      }
    }
    const ids = await accountIds(cluster.redis.url, nicks);
    assert.equal(new Set(ids).size, nicks.length, `ids ${ids}`);
  });

  Deno.test("cluster accounts: the registration and inbox quotas count on every node", async () => {
    await using cluster = await startCluster({
      maxRegistrations: 2,
      maxInboxMessages: 2,
    });
    await leave(
      await registered(cluster.a.port, "dave", "daves pass"),
      cluster.a,
    );
    await leave(
      await registered(cluster.b.port, "erin", "erins pass"),
      cluster.b,
    );
    // Node a has counted one registration from this address; the cluster two.
    await using third = await LineClient.json(cluster.a.port, "frank");
    await third.sendJson({ type: "register", password: "franks pass" });
    assert.equal((await third.expectEvent("error")).code, "rate_limited");

    await using onA = await LineClient.json(cluster.a.port, "gus");
    await using onB = await LineClient.json(cluster.b.port, "hal");
    for (const sender of [onA, onB]) {
      await sender.sendJson({ type: "private", to: "dave", text: "hi" });
      await sender.expectEvent("private");
    }
    await onA.sendJson({ type: "private", to: "dave", text: "one more" });
    const full = await onA.expectEvent("error");
    assert.equal(full.code, "full");
    assert.match(full.message, /inbox is full/);
  });

  Deno.test("cluster accounts: with Redis gone, registering and identifying are refused plainly", async () => {
    await using cluster = await startCluster();
    await leave(
      await registered(cluster.a.port, "alice", "alices password"),
      cluster.a,
    );
    await using ivan = await LineClient.json(cluster.a.port, "ivan");
    await using judy = await LineClient.json(cluster.b.port, "judy");
    await cluster.redis.stop();
    await ivan.sendJson({ type: "register", password: "ivans pass", ref: "r" });
    const refused = await ivan.expectEvent("error");
    assert.equal(refused.code, "unavailable");
    assert.equal(refused.ref, "r");
    await judy.sendJson({
      type: "identify",
      nick: "alice",
      password: "alices password",
    });
    assert.equal((await judy.expectEvent("error")).code, "unavailable");
    await judy.sendJson({ type: "private", to: "alice", text: "later" });
    assert.equal((await judy.expectEvent("error")).code, "unavailable");
    // Both nodes still answer.
    for (const client of [ivan, judy]) await client.linesUntilPong(true);
  });

  Deno.test("cluster accounts: with Redis frozen, account requests are refused plainly in --redis-timeout, everyone else still answered, and nothing happens once it thaws", async () => {
    await using cluster = await startCluster({ redisTimeoutMs: 300 });
    await leave(
      await registered(cluster.a.port, "alice", "alices password"),
      cluster.a,
    );
    const bob = await registered(cluster.a.port, "bob", "bobs password");
    await using ivan = await LineClient.json(cluster.a.port, "ivan");
    await using judy = await LineClient.json(cluster.b.port, "judy");
    cluster.redis.freeze();
    try {
      await ivan.sendJson({ type: "register", password: "ivans pass" });
      const refused = await ivan.expectEvent("error");
      assert.equal(refused.code, "unavailable");
      assert.equal(refused.message, STORE_SILENT);
      await judy.sendJson({
        type: "identify",
        nick: "alice",
        password: "alices password",
      });
      assert.equal((await judy.expectEvent("error")).message, STORE_SILENT);
      await judy.sendJson({ type: "private", to: "alice", text: "later" });
      assert.equal((await judy.expectEvent("error")).code, "unavailable");
      // Sent to Redis, then timed out: undone once Redis runs it.
      await bob.sendJson({ type: "setpass", password: "bobs new pass" });
      assert.equal((await bob.expectEvent("error")).message, STORE_SILENT);
      // Nobody waits on the frozen Redis for what needs none of it.
      for (const client of [ivan, judy, bob]) await client.linesUntilPong(true);
    } finally {
      cluster.redis.thaw();
    }
    // Anything after the undo on that connection is answered after it.
    await within(cluster.a.server.hub.accounts.find("bob"), "Redis to answer");
    await leave(bob, cluster.a, 1);
    const fresh = await identifyReply(cluster.b.port, "bob", "bobs new pass");
    await using _fresh = fresh.client;
    assert.match(fresh.reply, /"code":"bad_password"/);
    const old = await identifyReply(cluster.b.port, "bob", "bobs password");
    await using _old = old.client;
    assert.match(old.reply, /"type":"welcome"/);
  });

  Deno.test("cluster accounts: a registration or waiting message that Redis takes after its timeout is undone", async () => {
    await using cluster = await startCluster({ redisTimeoutMs: 300 });
    const hub = cluster.a.server.hub;
    const now = hub.now();
    cluster.redis.freeze();
    try {
      await assert.rejects(
        hub.accounts.create({
          nick: "Zed",
          salt: new Uint8Array([1, 2, 3]),
          hash: new Uint8Array([4, 5, 6]),
          iterations: 1000,
          created: now,
        }, { address: "127.0.0.1", max: 3, windowMs: 3_600_000 }),
        RedisTimeout,
      );
      await assert.rejects(
        hub.sharedInbox!.leave(
          { type: "private", ts: now, from: "ann", to: "Zed", text: "hi" },
          7,
          "127.0.0.1",
          { maxInbox: 10, maxPerAddress: 10, expiryMs: 60_000 },
        ),
        RedisTimeout,
      );
    } finally {
      cluster.redis.thaw();
    }
    assert.equal(
      await within(hub.accounts.find("zed"), "Redis to answer"),
      undefined,
    );
    const client = createClient({ url: cluster.redis.url, RESP: 2 });
    await client.connect();
    try {
      // Both ran (the counters moved), and both were taken back.
      assert.ok(Number(await client.get("tern:account-id")) >= 1);
      assert.deepEqual(
        await client.keys("tern:account*"),
        ["tern:account-id"],
      );
      assert.equal(await client.zCard("tern:inbox:7"), 0);
      assert.equal(await client.zCard("tern:waiting-from:127.0.0.1"), 0);
      assert.equal(await client.zCard("tern:registrations:127.0.0.1"), 0);
    } finally {
      await client.close();
    }
  });

  Deno.test("cluster accounts: an undo whose link drops is sent again once Redis is back", async () => {
    await using cluster = await startCluster({ redisTimeoutMs: 500 });
    const hub = cluster.a.server.hub;
    cluster.redis.freeze();
    let timedOut: unknown;
    try {
      timedOut = await hub.accounts.create({
        nick: "Zed",
        salt: new Uint8Array([1, 2, 3]),
        hash: new Uint8Array([4, 5, 6]),
        iterations: 1000,
        created: hub.now(),
      }, { address: "127.0.0.1", max: 3, windowMs: 3_600_000 })
        .catch((error: unknown) => error);
    } finally {
      // The registration and its undo wait on Redis's socket; Redis dies
      // with both, and comes back.
      await cluster.redis.crash();
    }
    assert.ok(timedOut instanceof RedisTimeout);
    await cluster.redis.restart();
    assert.equal(await within(timedOut.undone!, "the undo"), true);
  });

  Deno.test("cluster accounts: a password change whose undo is lost with Redis is said to be maybe in force", async () => {
    await using cluster = await startCluster({ redisTimeoutMs: 300 });
    await using bea = await registered(cluster.a.port, "bea", "beas password");
    cluster.redis.freeze();
    await bea.sendJson({ type: "setpass", password: "beas new pass" });
    assert.equal((await bea.expectEvent("error")).message, STORE_SILENT);
    // The change and its undo wait on Redis's socket; Redis dies with both.
    await cluster.redis.crash();
    const told = await bea.expectEvent("notice", (e) => e.text.includes("may"));
    assert.equal(
      told.text,
      `Your new password for bea may have been stored after all: ${UNDO_GIVEN_UP}; the old password or the new one may be the one in force`,
    );
  });
}
