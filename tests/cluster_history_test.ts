/**
 * Cluster mode's room history in Redis streams, and gap-free resume: real
 * `redis-server` processes and two or three tern nodes on loopback. Left out
 * with one line when redis-server is missing, as tests/cluster_test.ts says.
 */

import assert from "node:assert/strict";
import { createClient } from "npm:redis@5.12.1";
import { LineClient, startServer, type TestServer } from "./helpers.ts";
import {
  clusterTests,
  type RedisOptions,
  type RedisServer,
  startRedis,
} from "./redis_server.ts";
import type { ServerEvent } from "../protocol.ts";
import {
  BACK_NOTICE,
  DEGRADED_NOTICE,
  missedNotice,
  roomNewestKey,
  roomStreamKey,
  STORE_AND_PUBLISH_SCRIPT,
} from "../server/cluster/room_streams.ts";
import { MESSAGE_ID_KEY, ROOMS_CHANNEL } from "../server/cluster/redis_node.ts";
import { encodeRelay } from "../server/cluster/relay.ts";
import type { Limits } from "../server/limits.ts";

await clusterTests(registerTests);

type Message = ServerEvent & { type: "message" };

/** A Redis and the nodes started on it, closed together. */
interface Cluster extends AsyncDisposable {
  redis: RedisServer;
  nodes: TestServer[];
  /** Starts one more node on the same Redis. */
  node(
    options?: { operatorPassword?: string },
    limits?: Partial<Limits>,
  ): Promise<TestServer>;
}

async function startCluster(
  nodes: number,
  redisOptions: RedisOptions = {},
): Promise<Cluster> {
  const redis = await startRedis(redisOptions);
  const cluster: Cluster = {
    redis,
    nodes: [],
    async node(options = {}, limits = {}) {
      const node = await startServer(limits, { redis: redis.url, ...options });
      cluster.nodes.push(node);
      return node;
    },
    async [Symbol.asyncDispose]() {
      for (const node of cluster.nodes) await node.server.close();
      await redis[Symbol.asyncDispose]();
    },
  };
  try {
    for (let i = 0; i < nodes; i++) await cluster.node();
  } catch (error) {
    await cluster[Symbol.asyncDispose]();
    throw error;
  }
  return cluster;
}

/** Sends `text` and waits for the sender's confirmation (its id). */
async function say(client: LineClient, text: string): Promise<number> {
  const ref = crypto.randomUUID();
  await client.sendJson({ type: "message", text, ref });
  const reply = await client.expect((line) => line.includes(ref));
  const event = JSON.parse(reply) as ServerEvent;
  assert.equal(event.type, "message", reply);
  return (event as Message).id;
}

/** Every room message a client has received so far. */
function receivedMessages(client: LineClient): Message[] {
  return client.received
    .filter((text) => text.startsWith("{"))
    .map((text) => JSON.parse(text) as ServerEvent)
    .filter((event): event is Message => event.type === "message");
}

/** Whether `client` was told the chat was degraded, and then that it is back. */
function toldDegradedThenBack(client: LineClient): boolean {
  const degraded = client.received.findIndex((l) =>
    l.includes(DEGRADED_NOTICE)
  );
  const back = client.received.findLastIndex((l) => l.includes(BACK_NOTICE));
  return degraded !== -1 && back > degraded;
}

/** The room messages a client got, up to a ping's answer. */
async function messagesUntilPong(client: LineClient): Promise<Message[]> {
  return (await client.linesUntilPong(true))
    .map((text) => JSON.parse(text) as ServerEvent)
    .filter((event): event is Message => event.type === "message");
}

/** Logs in and returns the join replay's messages. */
async function joinWithReplay(
  port: number,
  nick: string,
): Promise<{ client: LineClient; replay: string[] }> {
  const client = await LineClient.connect(port);
  await client.sendJson({ type: "hello", nick });
  await client.expectEvent("welcome");
  const history = await client.expectEvent("history");
  await client.expectEvent("who");
  return { client, replay: history.messages.map((m) => m.text) };
}

/** A plain Redis client of the test's own, for what a node would not do. */
async function redisClient(url: string) {
  const client = createClient({ url, RESP: 2 });
  client.on("error", () => {});
  await client.connect();
  return client;
}

function registerTests(): void {
  Deno.test("cluster history: a node shows what was said on another, before it started too", async () => {
    await using cluster = await startCluster(1);
    const a = cluster.nodes[0]!;
    await using ana = await LineClient.json(a.port, "ana");
    const ids: number[] = [];
    for (let i = 1; i <= 5; i++) ids.push(await say(ana, `early ${i}`));
    const b = await cluster.node();
    const { client: bob, replay } = await joinWithReplay(b.port, "bob");
    await using _bob = bob;
    assert.deepEqual(replay, [1, 2, 3, 4, 5].map((i) => `early ${i}`));
    // Paging back by id on the other node.
    await bob.sendJson({ type: "history", before: ids[3], limit: 2 });
    const page = await bob.expectEvent("history");
    assert.deepEqual(page.messages.map((m) => m.text), ["early 2", "early 3"]);
    assert.equal(page.more, true);
    // Nothing of the room went into either node's own database.
    for (const node of cluster.nodes) {
      assert.equal(
        node.server.hub.history.roomMessages("#lobby", 10).length,
        0,
      );
    }
  });

  Deno.test("cluster history: a join replay never repeats what then arrives live", async () => {
    await using cluster = await startCluster(2);
    const [a, b] = cluster.nodes as [TestServer, TestServer];
    await using ana = await LineClient.json(a.port, "ana");
    // Sent while bob's join is read from Redis: each text once, in order,
    // in the replay or live after it.
    const sending = (async () => {
      for (let i = 0; i < 30; i++) await say(ana, `m${i}`);
    })();
    const { client: bob, replay } = await joinWithReplay(b.port, "bob");
    await using _bob = bob;
    await sending;
    await ana.sendJson({ type: "message", text: "last" });
    await bob.expectEvent("message", (m) => m.text === "last");
    const live = receivedMessages(bob).map((m) => m.text);
    const all = [...replay, ...live];
    const expected = [...Array.from({ length: 30 }, (_, i) => `m${i}`), "last"];
    assert.deepEqual(all, expected.slice(expected.indexOf(all[0]!)));
  });

  Deno.test("cluster history: a subscription cut off is caught up: every message once, in order", async () => {
    await using cluster = await startCluster(2);
    const [a, b] = cluster.nodes as [TestServer, TestServer];
    await using ana = await LineClient.json(a.port, "ana");
    await using bob = await LineClient.json(b.port, "bob");
    const admin = await redisClient(cluster.redis.url);
    try {
      const sent: string[] = [];
      // A round whose messages all beat the resubscription proves nothing
      // about catch-up; a few rounds make one that does all but certain.
      for (let round = 0; round < 3; round++) {
        // As Redis does to a subscriber past client-output-buffer-limit.
        await admin.sendCommand(["CLIENT", "KILL", "TYPE", "pubsub"]);
        const texts = Array.from({ length: 5 }, (_, i) => `r${round}-${i}`);
        for (const text of texts) {
          await ana.sendJson({ type: "message", text, ref: text });
        }
        sent.push(...texts);
        // The sender's confirmations come back too, once each.
        for (const text of texts) {
          await ana.expect((l) => l.includes(`"ref":"${text}"`));
        }
        await bob.expectEvent("message", (m) => m.text === texts.at(-1));
        if (b.server.cluster!.caughtUpMessages > 0) break;
      }
      assert.ok(b.server.cluster!.caughtUpMessages > 0, "a catch-up ran");
      assert.deepEqual(await messagesUntilPong(bob), []);
      const got = receivedMessages(bob);
      assert.deepEqual(got.map((m) => m.text), sent);
      const ids = got.map((m) => m.id);
      for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!);
      // No confirmation twice.
      assert.deepEqual(await messagesUntilPong(ana), []);
      // Told plainly, both ways, and nothing said to be missed.
      assert.ok(toldDegradedThenBack(bob), bob.received.join("\n"));
      assert.ok(!bob.received.some((l) => l.includes("were missed")));
    } finally {
      admin.destroy();
    }
  });

  Deno.test("cluster history: Redis restarts (append-only file) around messages; the listener gets each once, in order", async () => {
    await using cluster = await startCluster(2, { appendOnly: true });
    const [a, b] = cluster.nodes as [TestServer, TestServer];
    await using ana = await LineClient.json(a.port, "ana");
    await using bob = await LineClient.json(b.port, "bob");
    const accepted: string[] = [];
    for (let i = 0; i < 5; i++) {
      await say(ana, `before ${i}`);
      accepted.push(`before ${i}`);
    }
    await bob.expectEvent("message", (m) => m.text === "before 4");
    await cluster.redis.stop();
    // Refused plainly while Redis is gone, never half-sent.
    await ana.sendJson({ type: "message", text: "during", ref: "d" });
    const refusal = await ana.expectEvent("error", (e) => e.ref === "d");
    assert.equal(refusal.code, "unavailable");
    await bob.expectEvent("notice", (n) => n.text === DEGRADED_NOTICE);
    await cluster.redis.restart();
    // Sent as soon as ana's node is back, maybe before bob's has
    // resubscribed: bob's node then reads them from the stream.
    await a.server.cluster!.whenReady();
    for (let i = 0; i < 5; i++) {
      await say(ana, `after ${i}`);
      accepted.push(`after ${i}`);
    }
    await bob.expectEvent("message", (m) => m.text === "after 4");
    await bob.waitFor(() => toldDegradedThenBack(bob), "the back notice");
    assert.deepEqual(await messagesUntilPong(bob), []);
    const got = receivedMessages(bob);
    assert.deepEqual(got.map((m) => m.text), accepted);
    const ids = got.map((m) => m.id);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!);
    assert.ok(!bob.received.some((l) => l.includes("were missed")));
    // The append-only file kept the history: a node started now shows it.
    const c = await cluster.node();
    const { client: cid, replay } = await joinWithReplay(c.port, "cid");
    await using _cid = cid;
    assert.deepEqual(replay, accepted);
  });

  Deno.test("cluster history: a node that Redis cuts for falling behind catches up: every message once, in order", async () => {
    await using cluster = await startCluster(1);
    const b = cluster.nodes[0]!;
    await using bob = await LineClient.json(b.port, "bob");
    const admin = await redisClient(cluster.redis.url);
    try {
      // A subscriber more than 256 KiB behind is cut at once.
      await admin.configSet(
        "client-output-buffer-limit",
        "pubsub 256kb 128kb 1",
      );
    } finally {
      admin.destroy();
    }
    const count = 3000;
    const flood = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        "--allow-read",
        new URL("./redis_flood.ts", import.meta.url).pathname,
        cluster.redis.url,
        String(count),
        "2000",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // The fault itself, not a wait for an event: this process, and the node
    // in it, stops reading while about 6 MB are published to it.
    const stalledUntil = Date.now() + 5000;
    while (Date.now() < stalledUntil) {
      // Busy: no timer, no I/O, as a node stuck in a long computation.
    }
    const done = await flood.output();
    assert.equal(done.code, 0, new TextDecoder().decode(done.stderr));
    await bob.expectEvent(
      "message",
      (m) => m.text.startsWith(`f${count - 1} `),
      30_000,
    );
    assert.ok(b.server.cluster!.caughtUpMessages > 0, "Redis cut the node");
    assert.deepEqual(await messagesUntilPong(bob), []);
    const got = receivedMessages(bob).map((m) => m.text.split(" ")[0]);
    assert.deepEqual(got, Array.from({ length: count }, (_, i) => `f${i}`));
  });

  Deno.test("cluster history: an outage longer than a room's stream cap is told, and the rest still arrives in order", async () => {
    await using cluster = await startCluster(0);
    const admin = await redisClient(cluster.redis.url);
    try {
      // Trimming with MAXLEN ~ drops whole nodes of this many entries.
      await admin.configSet("stream-node-max-entries", "10");
      const b = await cluster.node({}, { clusterHistoryMax: 5 });
      await using bob = await LineClient.json(b.port, "bob");
      await admin.sendCommand(["CLIENT", "KILL", "TYPE", "pubsub"]);
      // 50 messages from a node elsewhere, issued at once (one pipeline),
      // long before bob's node can resubscribe (50 ms at the soonest).
      await Promise.all(
        Array.from(
          { length: 50 },
          (_, i) =>
            admin.eval(STORE_AND_PUBLISH_SCRIPT, {
              keys: [
                MESSAGE_ID_KEY,
                roomStreamKey("#lobby"),
                roomNewestKey("#lobby"),
              ],
              arguments: [
                ROOMS_CHANNEL,
                encodeRelay("elsewhere", i, {
                  type: "message",
                  id: 0,
                  ts: 1,
                  room: "#lobby",
                  from: "zed",
                  text: `z${i}`,
                }),
                "5",
              ],
            }),
        ),
      );
      await bob.expectEvent(
        "notice",
        (n) => n.text === missedNotice("#lobby", 5),
      );
      await bob.expectEvent("message", (m) => m.text === "z49");
      const got = receivedMessages(bob).map((m) => Number(m.text.slice(1)));
      assert.ok(got.length >= 5 && got.length < 50, `${got}`);
      assert.deepEqual(
        got,
        Array.from({ length: got.length }, (_, i) => 50 - got.length + i),
      );
    } finally {
      admin.destroy();
    }
  });

  Deno.test("cluster history: a Redis that forgot the script refuses one send, then takes the next", async () => {
    await using cluster = await startCluster(2);
    const [a, b] = cluster.nodes as [TestServer, TestServer];
    await using ana = await LineClient.json(a.port, "ana");
    await using bob = await LineClient.json(b.port, "bob");
    const admin = await redisClient(cluster.redis.url);
    try {
      await admin.sendCommand(["SCRIPT", "FLUSH"]);
    } finally {
      admin.destroy();
    }
    await ana.sendJson({ type: "message", text: "lost?", ref: "x" });
    const refusal = await ana.expectEvent("error", (e) => e.ref === "x");
    assert.equal(refusal.code, "unavailable");
    await say(ana, "again");
    await bob.expectEvent("message", (m) => m.text === "again");
    assert.ok(!receivedMessages(bob).some((m) => m.text === "lost?"));
  });

  Deno.test("cluster history: an id counter behind a room's stream is raised past it, never refused", async () => {
    await using cluster = await startCluster(2);
    const [a, b] = cluster.nodes as [TestServer, TestServer];
    await using ana = await LineClient.json(a.port, "ana");
    await using bob = await LineClient.json(b.port, "bob");
    const first = await say(ana, "one");
    await say(ana, "two");
    const admin = await redisClient(cluster.redis.url);
    try {
      await admin.set(MESSAGE_ID_KEY, "1"); // as if Redis lost the counter only
    } finally {
      admin.destroy();
    }
    const third = await say(ana, "three");
    assert.ok(third > first + 1, `${third}`);
    await bob.expectEvent("message", (m) => m.text === "three");
    assert.deepEqual(receivedMessages(bob).map((m) => m.text), [
      "one",
      "two",
      "three",
    ]);
  });

  Deno.test("cluster history: export-history --redis prints a room's stream", async () => {
    await using cluster = await startCluster(1);
    const a = cluster.nodes[0]!;
    await using ana = await LineClient.json(a.port, "ana");
    for (let i = 0; i < 3; i++) await say(ana, `kept ${i}`);
    await ana.sendJson({ type: "action", text: "waves" });
    await ana.expectEvent("action");
    const run = async (...extra: string[]) => {
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-read",
          "--allow-net=127.0.0.1",
          "--allow-env",
          new URL("../server/store/export_history.ts", import.meta.url)
            .pathname,
          "--redis",
          cluster.redis.url,
          "--room",
          "#LOBBY",
          ...extra,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(output.stderr);
      assert.equal(output.code, 0, stderr);
      return new TextDecoder().decode(output.stdout).trim().split("\n")
        .map((text) => JSON.parse(text) as { type: string; text: string });
    };
    const all = await run();
    assert.deepEqual(all.map((m) => [m.type, m.text]), [
      ["message", "kept 0"],
      ["message", "kept 1"],
      ["message", "kept 2"],
      ["action", "waves"],
    ]);
    assert.deepEqual((await run("--limit", "2")).map((m) => m.text), [
      "kept 2",
      "waves",
    ]);
  });

  Deno.test("cluster history: a Redis without persistence is reported to operators", async () => {
    await using bare = await startCluster(0);
    const node = await bare.node({ operatorPassword: "sesame" });
    await using op = await LineClient.json(node.port, "op");
    await op.sendJson({ type: "oper", password: "sesame" });
    await op.expectEvent("notice", (n) => n.text.includes("now an operator"));
    const warning = await op.expectEvent("notice");
    assert.match(warning.text, /Redis keeps nothing on disk/);
    await using durable = await startCluster(0, { appendOnly: true });
    const kept = await durable.node({ operatorPassword: "sesame" });
    await using op2 = await LineClient.json(kept.port, "op2");
    await op2.sendJson({ type: "oper", password: "sesame" });
    await op2.expectEvent("notice", (n) => n.text.includes("now an operator"));
    const after = await op2.linesUntilPong(true);
    assert.ok(!after.some((l) => l.includes("Warning")), after.join("\n"));
  });

  Deno.test("cluster history: a Redis that hides CONFIG is said to be unchecked, and the node runs", async () => {
    await using cluster = await startCluster(0, { hideConfig: true });
    const node = await cluster.node({ operatorPassword: "sesame" });
    await using op = await LineClient.json(node.port, "op");
    await op.sendJson({ type: "oper", password: "sesame" });
    await op.expectEvent("notice", (n) => n.text.includes("now an operator"));
    const warning = await op.expectEvent("notice");
    assert.match(warning.text, /persistence not checked \(CONFIG GET refused/);
    assert.equal(await say(op, "still here") > 0, true);
  });

  Deno.test("cluster history: with Redis gone a join says its history cannot be shown", async () => {
    await using cluster = await startCluster(1);
    const a = cluster.nodes[0]!;
    await using ana = await LineClient.json(a.port, "ana");
    await say(ana, "said before");
    await cluster.redis.stop();
    await ana.sendJson({ type: "join", room: "#lobby2" });
    const refusal = await ana.expectEvent("error");
    assert.equal(refusal.code, "unavailable");
    assert.match(refusal.message, /^History not shown: The chat is degraded/);
    // The rest of the welcome still comes: the member list.
    await ana.expectEvent("who", (w) => w.room === "#lobby2");
    await ana.sendJson({ type: "history", ref: "h" });
    const page = await ana.expectEvent("error", (e) => e.ref === "h");
    assert.equal(page.code, "unavailable");
  });
}
