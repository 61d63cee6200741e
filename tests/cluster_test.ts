/**
 * Cluster mode (`--redis`): two tern nodes on loopback sharing one real
 * `redis-server` started by the test. Without redis-server installed these
 * tests are left out with one line saying so; CI installs it (.ci/run) and
 * sets TERN_CLUSTER_TESTS=required, so there they cannot be left out.
 */

import assert from "node:assert/strict";
import { LineClient, startServer, within } from "./helpers.ts";
import { clusterTests, startRedis } from "./redis_server.ts";
import { startRedisProxy } from "./redis_proxy.ts";
import { assertOneOrder, helloReply, startCluster } from "./cluster_checks.ts";
import { ClusterStartError } from "../server.ts";
import { Logger } from "../server/log.ts";
import { claimAcrossCluster } from "../server/nicknames.ts";
import {
  nickLostNotice,
  notKnownInRoom,
  SEND_LINK_LOST,
  SEND_UNCONFIRMED,
} from "../server/cluster/redis_node.ts";
import {
  BACK_NOTICE,
  DEGRADED_NOTICE,
  SILENT_NOTICE,
} from "../server/cluster/room_streams.ts";

await clusterTests(registerClusterTests);

function registerClusterTests(): void {
  Deno.test("cluster: room messages from two nodes reach every member in one order", async () => {
    await using cluster = await startCluster();
    await using ana = await LineClient.json(cluster.a.port, "ana");
    await using ada = await LineClient.json(cluster.a.port, "ada");
    await using bob = await LineClient.json(cluster.b.port, "bob");
    await using bea = await LineClient.json(cluster.b.port, "bea");
    const perSender = 25;
    await assertOneOrder(
      [{ client: ana, nick: "ana" }, { client: bob, nick: "bob" }],
      [ana, ada, bob, bea],
      perSender,
    );
  });

  Deno.test("cluster: two nodes claiming one nickname at once, exactly one wins", async () => {
    await using cluster = await startCluster();
    const rounds = 10;
    for (let round = 0; round < rounds; round++) {
      await using onA = await LineClient.connect(cluster.a.port);
      await using onB = await LineClient.connect(cluster.b.port);
      // Differing in case (and so the same name to the cluster).
      const replies = await Promise.all([
        helloReply(onA, `racer${round}`),
        helloReply(onB, `RACER${round}`),
      ]);
      const welcomes = replies.filter((event) => event.type === "welcome");
      assert.equal(welcomes.length, 1, JSON.stringify(replies));
      const refusal = replies.find((event) => event.type === "error");
      assert.equal(refusal?.type === "error" && refusal.code, "nick_taken");
    }
  });

  Deno.test("cluster: a nickname is free on every node once its holder leaves", async () => {
    await using cluster = await startCluster();
    const ana = await LineClient.json(cluster.a.port, "ana");
    await using bob = await LineClient.json(cluster.b.port, "bob");
    await bob.sendJson({ type: "nick", nick: "Ana" });
    const taken = await bob.expectEvent("error");
    assert.equal(taken.code, "nick_taken");
    await ana.close();
    await cluster.a.server.connectionsAtMost(0);
    await cluster.a.server.cluster!.settled();
    await bob.sendJson({ type: "nick", nick: "Ana" });
    await bob.expectEvent("nick", (event) => event.nick === "Ana");
    // bob's old name went with the rename.
    await using other = await LineClient.connect(cluster.a.port);
    assert.equal((await helloReply(other, "bob")).type, "welcome");
  });

  Deno.test("cluster: a private message to a name that changed hands on another node is held back once", async () => {
    await using cluster = await startCluster();
    await using ana = await LineClient.json(cluster.a.port, "ana");
    {
      await using bob = await LineClient.json(cluster.b.port, "bob");
      await ana.expectEvent("join", (e) => e.nick === "bob");
      await ana.sendJson({ type: "private", to: "bob", text: "hi" });
      await bob.expectEvent("private", (e) => e.text === "hi");
      await bob.sendJson({ type: "quit" });
      await bob.closed();
    }
    await ana.expectEvent("leave", (e) => e.nick === "bob");
    await cluster.b.server.connectionsAtMost(0);
    await cluster.b.server.cluster!.settled();
    await using eve = await LineClient.json(cluster.b.port, "bob");
    await ana.expectEvent("join", (e) => e.nick === "bob");
    await ana.sendJson({ type: "private", to: "bob", text: "x", ref: "r" });
    const refused = await ana.expectEvent("error");
    assert.equal(refused.code, "holder_changed");
    assert.equal(refused.ref, "r");
    await ana.sendJson({ type: "private", to: "bob", text: "hello?" });
    assert.equal((await eve.expectEvent("private")).text, "hello?");

    // eve, written to from node a, is protected the same way.
    await ana.sendJson({ type: "quit" });
    await ana.closed();
    await eve.expectEvent("leave", (e) => e.nick === "ana");
    await cluster.a.server.connectionsAtMost(0);
    await cluster.a.server.cluster!.settled();
    await using other = await LineClient.json(cluster.a.port, "ana");
    await eve.expectEvent("join", (e) => e.nick === "ana");
    await eve.sendJson({ type: "private", to: "ana", text: "y" });
    assert.equal((await eve.expectEvent("error")).code, "holder_changed");
    await eve.sendJson({ type: "private", to: "ana", text: "hi ana" });
    assert.equal((await other.expectEvent("private")).text, "hi ana");
  });

  Deno.test("cluster: with Redis gone a send is refused plainly, not lost", async () => {
    await using cluster = await startCluster();
    await using ana = await LineClient.json(cluster.a.port, "ana");
    await cluster.redis.stop();
    await ana.sendJson({ type: "message", text: "hello?", ref: "m1" });
    const refusal = await ana.expectEvent("error");
    assert.equal(refusal.code, "unavailable");
    assert.equal(refusal.ref, "m1");
    await using late = await LineClient.connect(cluster.b.port);
    const reply = await helloReply(late, "late");
    assert.equal(reply.type === "error" && reply.code, "unavailable");
  });

  Deno.test("cluster: after Redis restarts empty, messages flow again with ids still increasing", async () => {
    await using cluster = await startCluster();
    await using ana = await LineClient.json(cluster.a.port, "ana");
    await using bob = await LineClient.json(cluster.b.port, "bob");
    await ana.sendJson({ type: "message", text: "before" });
    const before = await bob.expectEvent("message");
    await cluster.redis.stop();
    await cluster.redis.restart(); // no persistence: Redis starts empty
    await cluster.a.server.cluster!.whenReady();
    await cluster.b.server.cluster!.whenReady();
    await ana.sendJson({ type: "message", text: "after" });
    const after = await bob.expectEvent("message");
    assert.equal(after.text, "after");
    assert.ok(after.id > before.id, `${after.id} > ${before.id}`);
    await bob.sendJson({ type: "message", text: "reply" });
    const reply = await ana.expectEvent("message", (m) => m.text === "reply");
    assert.ok(reply.id > after.id);
  });

  Deno.test("cluster: with Redis frozen a send is told unconfirmed and a login refused, in --redis-timeout; thawed, the send arrives once, confirmed", async () => {
    await using cluster = await startCluster({ redisTimeoutMs: 300 });
    await using ana = await LineClient.json(cluster.a.port, "ana");
    await using bob = await LineClient.json(cluster.b.port, "bob");
    await using late = await LineClient.connect(cluster.b.port);
    cluster.redis.freeze();
    try {
      await ana.sendJson({ type: "message", text: "hello?", ref: "m1" });
      // Everyone here is told, then the sender.
      await ana.expectEvent("notice", (e) => e.text === SILENT_NOTICE);
      const unconfirmed = await ana.expectEvent("error");
      assert.equal(unconfirmed.ref, "m1");
      assert.equal(unconfirmed.message, SEND_UNCONFIRMED);
      const reply = await helloReply(late, "late");
      assert.equal(reply.type === "error" && reply.code, "unavailable");
      // Nobody waits on the frozen Redis for what needs none of it.
      await bob.linesUntilPong(true);
      await ana.linesUntilPong(true);
    } finally {
      cluster.redis.thaw();
    }
    const arrived = await bob.expectEvent("message");
    assert.equal(arrived.text, "hello?");
    const confirmed = await ana.expectEvent("message");
    assert.equal(confirmed.ref, "m1");
    assert.equal(confirmed.id, arrived.id);
    await ana.sendJson({ type: "message", text: "again", ref: "m2" });
    await ana.waitFor(
      (lines) =>
        lines.some((line) => line.includes(BACK_NOTICE)) &&
        lines.some((line) => line.includes('"ref":"m2"')),
      "the next send confirmed, and the chat said to be back",
    );
    assert.equal(
      (await bob.expectEvent("message")).text,
      "again",
      "the first arrived once",
    );
    assert.equal(cluster.a.server.cluster!.pendingSends, 0);
  });

  Deno.test("cluster: a link to Redis that flaps tells each user once that the chat is degraded, and once that it is back after --degraded-hold", async () => {
    const holdMs = 1500;
    await using redis = await startRedis();
    await using proxy = startRedisProxy(redis.port);
    // Each time the node finds its link down, whether or not it says so.
    let noticed: () => void = () => {};
    const logger = new Logger("warn", "text", (line) => {
      if (line.includes("cluster_degraded")) noticed();
    });
    await using node = await startServer({ degradedHoldMs: holdMs }, {
      redis: proxy.url,
      logger,
    });
    await using ana = await LineClient.json(node.port, "ana");
    const count = (text: string) =>
      ana.received.filter((line) => line.includes(text)).length;
    const flaps = 3;
    let back = 0;
    for (let flap = 0; flap < flaps; flap++) {
      const down = new Promise<void>((resolve) => noticed = resolve);
      proxy.cut();
      await within(down, "the node to find its link down");
      proxy.restore();
      await node.server.cluster!.whenReady();
      if (flap === 0) back = performance.now();
    }
    await ana.expectEvent("notice", (e) => e.text === BACK_NOTICE);
    const waited = performance.now() - back;
    assert.ok(waited >= holdMs, `back told after ${Math.round(waited)} ms`);
    await ana.linesUntilPong(true);
    assert.deepEqual([count(DEGRADED_NOTICE), count(BACK_NOTICE)], [1, 1]);
  });

  Deno.test("cluster: a send on the wire when Redis dies is said to be unconfirmed, not refused", async () => {
    await using redis = await startRedis();
    await using proxy = startRedisProxy(redis.port);
    await using node = await startServer({ redisTimeoutMs: 2000 }, {
      redis: proxy.url,
    });
    await using ana = await LineClient.json(node.port, "ana");
    redis.freeze();
    const onTheWire = proxy.passed("in flight");
    await ana.sendJson({ type: "message", text: "in flight", ref: "m1" });
    // Written to Redis's socket, unanswered; then Redis dies with it.
    await onTheWire;
    await redis.crash();
    const told = await ana.expectEvent("error", (e) => e.ref === "m1");
    assert.equal(told.code, "unavailable");
    assert.equal(told.message, SEND_LINK_LOST);
    // Refused outright once the node knows Redis is gone.
    await ana.sendJson({ type: "message", text: "later", ref: "m2" });
    const refused = await ana.expectEvent("error", (e) => e.ref === "m2");
    assert.match(refused.message, /^Not sent: /);
  });

  Deno.test("cluster: a send told unconfirmed whose copy never comes is said, on its ref, to be not known", async () => {
    await using redis = await startRedis();
    await using node = await startServer({ redisTimeoutMs: 100 }, {
      redis: redis.url,
    });
    await using ana = await LineClient.json(node.port, "ana");
    redis.freeze();
    await ana.sendJson({ type: "message", text: "hello?", ref: "m1" });
    const unconfirmed = await ana.expectEvent(
      "error",
      (e) => e.message === SEND_UNCONFIRMED,
    );
    assert.equal(unconfirmed.ref, "m1");
    // Redis dies with it unanswered: its copy can never come back.
    await redis.crash();
    const last = await ana.expectEvent(
      "error",
      (e) => e.message.startsWith("Not known"),
    );
    assert.deepEqual([last.code, last.ref, last.message], [
      "unavailable",
      "m1",
      notKnownInRoom("#lobby", "requests"),
    ]);
    assert.equal(node.server.cluster!.pendingSends, 0);
    const after = await ana.linesUntilPong(true);
    assert.ok(
      !after.some((line) => line.includes("Not known")),
      `told once: ${JSON.stringify(after)}`,
    );
  });

  Deno.test("cluster: a nickname claim whose undo is lost with Redis is told to its claimant", async () => {
    await using cluster = await startCluster({ redisTimeoutMs: 300 });
    await using ana = await LineClient.json(cluster.a.port, "ana");
    const hub = cluster.a.server.hub;
    const session = hub.nicks.find("ana")!;
    cluster.redis.freeze();
    // What /nick and a login do once the accounts have been read.
    assert.equal(
      await claimAcrossCluster(hub, session, "zed", "active"),
      "silent",
    );
    // The claim and its release wait on Redis's socket; it dies with both.
    await cluster.redis.crash();
    const told = await ana.expectEvent("notice", (e) => e.text.includes("zed"));
    assert.match(
      told.text,
      /^Your claim on the nickname zed may be held after all: .*; zed may show as taken, to you too, until this server reaches Redis again \(at most 15 s\)$/,
    );
  });

  Deno.test("cluster: a nickname let go while Redis is away is free as soon as it is back", async () => {
    await using redis = await startRedis({ appendOnly: true });
    await using a = await startServer({}, { redis: redis.url });
    await using b = await startServer({}, { redis: redis.url });
    const ana = await LineClient.json(a.port, "ana");
    await redis.stop(); // kept on disk: ana's claim comes back with Redis
    await ana.close();
    await a.server.connectionsAtMost(0);
    await redis.restart();
    await a.server.cluster!.whenReady();
    await b.server.cluster!.whenReady();
    await a.server.cluster!.settled();
    await using again = await LineClient.connect(b.port);
    const reply = await helloReply(again, "ana");
    assert.equal(reply.type, "welcome", JSON.stringify(reply));
  });

  Deno.test("cluster: after Redis restarts empty, the nodes claim their names back at once", async () => {
    await using cluster = await startCluster();
    await using _ana = await LineClient.json(cluster.a.port, "ana");
    await cluster.redis.stop();
    await cluster.redis.restart(); // no persistence: the claims are gone
    for (const node of [cluster.a, cluster.b]) {
      await node.server.cluster!.whenReady();
      await node.server.cluster!.settled();
    }
    await using other = await LineClient.connect(cluster.b.port);
    const reply = await helloReply(other, "ana");
    assert.equal(reply.type === "error" && reply.code, "nick_taken");
  });

  Deno.test("cluster: a name taken on another node while this one was cut off is told to its holder here", async () => {
    await using redis = await startRedis();
    await using proxy = startRedisProxy(redis.port);
    await using a = await startServer({}, { redis: proxy.url });
    await using b = await startServer({}, { redis: redis.url });
    await using ana = await LineClient.json(a.port, "ana");
    proxy.cut();
    await redis.stop();
    await redis.restart(); // empty: ana's claim is gone, and a cannot say
    await b.server.cluster!.whenReady();
    await using other = await LineClient.connect(b.port);
    const welcome = await helloReply(other, "ana");
    assert.equal(welcome.type, "welcome", JSON.stringify(welcome));
    proxy.restore();
    const told = await ana.expectEvent("notice", (e) => e.text.includes("ana"));
    assert.equal(told.text, nickLostNotice("ana", "requests"));
  });

  Deno.test("cluster: with Redis frozen a join says its history cannot be shown, and a node stops, not waiting on Redis for ever", async () => {
    await using cluster = await startCluster({ redisTimeoutMs: 300 });
    await using ana = await LineClient.json(cluster.a.port, "ana");
    // Something said, so a join has history to read.
    await ana.sendJson({ type: "message", text: "before" });
    await ana.expectEvent("message");
    cluster.redis.freeze();
    try {
      await ana.sendJson({ type: "join", room: "#frozen" });
      const refusal = await ana.expectEvent("error");
      assert.match(refusal.message, /^History not shown: /);
      await ana.expectEvent("who", (w) => w.room === "#frozen");
      await within(cluster.a.server.close(), "node a to stop", 4000);
    } finally {
      cluster.redis.thaw();
    }
  });

  Deno.test("cluster: a node started against a frozen Redis gives up within --redis-timeout, saying so", async () => {
    await using redis = await startRedis();
    redis.freeze();
    try {
      const started = startServer({ redisTimeoutMs: 300 }, {
        redis: redis.url,
      });
      await assert.rejects(
        within(started, "the start to give up", 4000),
        (error: unknown) =>
          error instanceof ClusterStartError &&
          /cannot reach Redis at .*: Redis did not answer within 0\.3 s/.test(
            error.message,
          ),
      );
    } finally {
      redis.thaw();
    }
  });
}
