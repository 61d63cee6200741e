/**
 * Cluster mode, people and rooms across nodes: presence (joins, leaves,
 * renames, away), `/who` and `/rooms` over every node, private messages to
 * someone on another node, topics, mutes, bans, kicks, and a node killed
 * with SIGKILL leaving every room within the documented time. Real
 * `redis-server` and real tern nodes on loopback (one a child process, so it
 * can be killed). Without redis-server these are left out as in
 * cluster_test.ts.
 */

import assert from "node:assert/strict";
import { createClient } from "npm:redis@5.12.1";
import {
  LineClient,
  startServer,
  type TestServer,
  WAIT_MS,
  within,
} from "./helpers.ts";
import { clusterTests, startRedis } from "./redis_server.ts";
import { Logger } from "../server/log.ts";
import { hereSentence } from "../server/commands/login.ts";
import { DEGRADED_NOTICE } from "../server/cluster/room_streams.ts";
import { type Cluster, startCluster } from "./cluster_checks.ts";
import { ServerProcess } from "./server_process.ts";
import {
  holderSilent,
  PRIVATE_UNCONFIRMED,
} from "../server/commands/private_across.ts";
import { startRedisProxy } from "./redis_proxy.ts";

await clusterTests(registerPresenceTests);

/** A node started after Redis restarted empty, and cat logged in there. */
interface LateNode extends AsyncDisposable {
  server: TestServer;
  cat: LineClient;
}

/**
 * Restarts the cluster's Redis empty (no persistence), waits for both nodes
 * to have reconnected and put back what they hold, then starts a third node
 * and logs cat in there: what it sees came from Redis alone.
 */
async function afterEmptyRestart(cluster: Cluster): Promise<LateNode> {
  await cluster.redis.stop();
  await cluster.redis.restart();
  for (const node of [cluster.a, cluster.b]) {
    await node.server.cluster!.whenReady();
    await node.server.cluster!.settled();
  }
  const server = await startServer({}, { redis: cluster.redis.url });
  const cat = await LineClient.connect(server.port);
  await cat.sendJson({ type: "hello", nick: "cat" });
  return {
    server,
    cat,
    async [Symbol.asyncDispose]() {
      await cat.close();
      await server[Symbol.asyncDispose]();
    },
  };
}

function registerPresenceTests(): void {
  Deno.test("cluster presence: joins, leaves, renames and away are seen on the other node", async () => {
    await using cluster = await startCluster();
    await using ana = await LineClient.json(cluster.a.port, "ana");
    await using bob = await LineClient.json(cluster.b.port, "bob");
    // bob's join reached ana's node.
    await ana.expectEvent(
      "join",
      (e) => e.nick === "bob" && e.room === "#lobby",
    );
    await ana.sendJson({ type: "join", room: "#dev" });
    await ana.expectEvent("who", (e) => e.room === "#dev");
    // One node's news arrives in order: once bob sees ana's away, his node
    // has heard of her join to #dev before it.
    await ana.sendJson({ type: "away" });
    await bob.expectEvent("away", (e) => e.nick === "ana");
    await ana.sendJson({ type: "back" });
    await bob.expectEvent("back", (e) => e.nick === "ana");
    await bob.sendJson({ type: "join", room: "#dev" });
    await ana.expectEvent("join", (e) => e.nick === "bob" && e.room === "#dev");
    // bob's welcome to #dev lists ana, on the other node.
    const who = await bob.expectEvent("who", (e) => e.room === "#dev");
    assert.deepEqual(who.members.map((m) => m.nick), ["ana", "bob"]);
    await bob.sendJson({ type: "away", reason: "lunch" });
    const away = await ana.expectEvent("away", (e) => e.nick === "bob");
    assert.equal(away.reason, "lunch");
    await bob.sendJson({ type: "back" });
    await ana.expectEvent("back", (e) => e.nick === "bob");
    await bob.sendJson({ type: "nick", nick: "bobby" });
    const renamed = await ana.expectEvent("nick", (e) => e.old === "bob");
    assert.equal(renamed.nick, "bobby");
    await bob.sendJson({ type: "part", room: "#dev" });
    const part = await ana.expectEvent("leave", (e) => e.room === "#dev");
    assert.deepEqual([part.nick, part.reason], ["bobby", "part"]);
    await bob.sendJson({ type: "quit", reason: "bye" });
    const quit = await ana.expectEvent("leave", (e) => e.room === "#lobby");
    assert.deepEqual([quit.nick, quit.reason, quit.message], [
      "bobby",
      "quit",
      "bye",
    ]);
  });

  Deno.test("cluster presence: /who and /rooms count every node, away and operators shown", async () => {
    await using cluster = await startCluster();
    await using ana = await LineClient.json(cluster.a.port, "ana");
    await using bob = await LineClient.json(cluster.b.port, "bob");
    await using cat = await LineClient.json(cluster.b.port, "cat");
    await ana.expectEvent("join", (e) => e.nick === "cat");
    await bob.sendJson({ type: "join", room: "#far" });
    await bob.expectEvent("who", (e) => e.room === "#far");
    // One node's news arrives in order: once cat's away is seen on ana's
    // node, so is bob's join before it.
    await cat.sendJson({ type: "away", reason: "" });
    await ana.expectEvent("away", (e) => e.nick === "cat");
    // Paged as on one node: two a page, the cursor a nickname.
    await ana.sendJson({ type: "who", limit: 2 });
    const first = await ana.expectEvent("who");
    assert.deepEqual(first.members, [{ nick: "ana" }, { nick: "bob" }]);
    assert.deepEqual([first.count, first.next], [3, "bob"]);
    await ana.sendJson({ type: "who", after: "bob" });
    const rest = await ana.expectEvent("who");
    assert.deepEqual(rest.members, [{ nick: "cat", away: "" }]);
    // A room whose only member is on the other node.
    await ana.sendJson({ type: "who", room: "#FAR" });
    const far = await ana.expectEvent("who");
    assert.deepEqual([far.room, far.members], ["#far", [{ nick: "bob" }]]);
    await ana.sendJson({ type: "rooms" });
    const rooms = await ana.expectEvent("rooms");
    assert.deepEqual(
      rooms.rooms.map((r) => [r.name, r.members]),
      [["#lobby", 3], ["#far", 1]],
    );
  });

  Deno.test("cluster presence: the greeting counts the people on every node", async () => {
    await using cluster = await startCluster();
    await using ana = await LineClient.json(cluster.a.port, "ana");
    await using bob = await LineClient.json(cluster.b.port, "bob");
    await using _bea = await LineClient.json(cluster.b.port, "bea");
    // Each node has heard of the other's people: one node's news arrives
    // in order, so ana's away comes after her login on bob's node.
    await ana.expectEvent("join", (e) => e.nick === "bea");
    await ana.sendJson({ type: "away", reason: "" });
    await bob.expectEvent("away", (e) => e.nick === "ana");
    for (const node of [cluster.a, cluster.b]) {
      await using late = await LineClient.connect(node.port);
      await late.expect(`*** Welcome to tern. ${hereSentence(3)}`);
    }
  });

  Deno.test("cluster presence: with Redis gone the greeting says the count is not known", async () => {
    await using cluster = await startCluster();
    await using ana = await LineClient.json(cluster.a.port, "ana");
    await using _bob = await LineClient.json(cluster.b.port, "bob");
    await ana.expectEvent("join", (e) => e.nick === "bob");
    await cluster.redis.stop();
    await ana.expectEvent("notice", (e) => e.text === DEGRADED_NOTICE);
    await using late = await LineClient.connect(cluster.a.port);
    await late.expect(`*** Welcome to tern. ${hereSentence(null)}`);
  });

  Deno.test("cluster presence: with Redis frozen the greeting says the count is not known once a heartbeat goes unanswered", async () => {
    await using redis = await startRedis();
    let heartbeatFailed: () => void = () => {};
    const failed = new Promise<void>((resolve) => heartbeatFailed = resolve);
    const logger = new Logger("warn", "text", (line) => {
      if (line.includes("cluster_heartbeat_failed")) heartbeatFailed();
    });
    const limits = { redisTimeoutMs: 300, nodeTimeoutMs: 1500 };
    await using a = await startServer(limits, { redis: redis.url, logger });
    await using b = await startServer(limits, { redis: redis.url });
    await using ana = await LineClient.json(a.port, "ana");
    await using _bob = await LineClient.json(b.port, "bob");
    await ana.expectEvent("join", (e) => e.nick === "bob");
    redis.freeze();
    try {
      await within(failed, "a heartbeat to go unanswered");
      await using late = await LineClient.connect(a.port);
      await late.expect(`*** Welcome to tern. ${hereSentence(null)}`);
    } finally {
      redis.thaw();
    }
  });

  Deno.test("cluster presence: a private message reaches someone on the other node", async () => {
    await using cluster = await startCluster();
    await using ana = await LineClient.json(cluster.a.port, "ana");
    await using bob = await LineClient.json(cluster.b.port, "bob");
    await ana.expectEvent("join", (e) => e.nick === "bob");
    await ana.sendJson({
      type: "private",
      to: "BOB",
      text: "hi bob",
      ref: "p1",
    });
    const copy = await ana.expectEvent("private");
    assert.deepEqual([copy.to, copy.text, copy.ref], ["bob", "hi bob", "p1"]);
    const got = await bob.expectEvent("private");
    assert.deepEqual([got.from, got.to, got.text, got.id], [
      "ana",
      "bob",
      "hi bob",
      copy.id,
    ]);
    // The same errors and notes as on one node.
    await ana.sendJson({ type: "private", to: "nobody", text: "x", ref: "p2" });
    const missing = await ana.expectEvent("error");
    assert.deepEqual([missing.code, missing.ref], ["no_such_nick", "p2"]);
    await bob.sendJson({ type: "away", reason: "gone fishing" });
    await ana.expectEvent("away", (e) => e.nick === "bob");
    await ana.sendJson({ type: "private", to: "bob", text: "still?" });
    const note = await ana.expectEvent("notice");
    assert.equal(note.text, "bob is away: gone fishing");
    await bob.expectEvent("private", (e) => e.text === "still?");
  });

  Deno.test("cluster presence: topics, mutes, bans and kicks set on one node hold on the other", async () => {
    // Listening on ::, clients arrive from 127.0.0.1 and from ::1, so the
    // operator (on ::1) can ban the other address.
    await using cluster = await startCluster({}, {
      hostname: "::",
      operatorPassword: "op-pw",
    });
    await using op = await LineClient.connect(cluster.a.port, true, "::1");
    await op.sendJson({ type: "hello", nick: "op" });
    await op.expectEvent("who");
    await using bob = await LineClient.json(cluster.b.port, "bob");
    await op.expectEvent("join", (e) => e.nick === "bob");
    await op.sendJson({ type: "oper", password: "op-pw" });
    await op.expectEvent("notice", (e) => e.text === "You are now an operator");
    // In order after the role: once bob sees op back, his node knows it.
    await op.sendJson({ type: "away" });
    await op.sendJson({ type: "back" });
    await bob.expectEvent("back", (e) => e.nick === "op");
    // The operator role shows in /who on the other node.
    await bob.sendJson({ type: "who" });
    const listed = await bob.expectEvent("who");
    assert.deepEqual(listed.members, [{ nick: "bob" }, {
      nick: "op",
      op: true,
    }]);
    await op.sendJson({ type: "motd", text: "be kind" });
    await op.sendJson({ type: "topic", text: "cluster talk" });
    const topic = await bob.expectEvent("topic");
    assert.deepEqual([topic.topic, topic.by], ["cluster talk", "op"]);
    // A newcomer on the other node is shown both (the message of the day
    // was set first, so it arrived there first).
    await using cat = await LineClient.connect(cluster.b.port);
    await cat.sendJson({ type: "hello", nick: "cat" });
    assert.deepEqual((await cat.expectEvent("motd")).lines, ["be kind"]);
    const shown = await cat.expectEvent("topic");
    assert.equal(shown.topic, "cluster talk");
    await op.sendJson({ type: "mute", nick: "bob" });
    await bob.expectEvent("notice", (e) => e.text.includes("muted by op"));
    await bob.sendJson({ type: "message", text: "can I?" });
    assert.equal((await bob.expectEvent("error")).code, "muted");
    await op.sendJson({ type: "unmute", nick: "bob" });
    await bob.expectEvent("notice", (e) => e.text.includes("unmuted by op"));
    await op.sendJson({ type: "kick", nick: "cat", reason: "test" });
    const bye = await cat.expectEvent("bye");
    assert.equal(bye.code, "kicked");
    const left = await op.expectEvent("leave", (e) => e.nick === "cat");
    assert.equal(left.reason, "kicked");
    await op.sendJson({ type: "ban", target: "bob", duration: "1m" });
    // Counted on every node: bob is on the other one.
    const told = await op.expectEvent(
      "notice",
      (e) => e.text.startsWith("Banned"),
    );
    assert.match(told.text, /; 1 disconnected$/);
    assert.equal((await bob.expectEvent("bye")).code, "banned");
    await op.expectEvent("leave", (e) => e.nick === "bob");
    // The ban holds at the other node's door too, and is lifted there.
    await using again = await LineClient.connect(cluster.b.port);
    await again.expect(
      /^\*\*\* Disconnected \(banned\): You are banned until/,
    );
    await again.closed();
    await using dan = await LineClient.connect(cluster.b.port, true, "::1");
    await dan.sendJson({ type: "hello", nick: "dan" });
    await dan.expectEvent("who");
    await op.sendJson({ type: "unban", target: "bob" });
    await op.expectEvent("notice", (e) => e.text.startsWith("Unbanned"));
    // In order after the unban: once dan sees this topic, his node has it.
    await op.sendJson({ type: "topic", text: "open again" });
    await dan.expectEvent("topic", (e) => e.topic === "open again");
    // Welcomed again on the other node: the unban holds there.
    await using _back = await LineClient.json(cluster.b.port, "bob");
  });

  Deno.test("cluster presence: a node killed with SIGKILL leaves every room on the two others and frees its names", async () => {
    const timeout = 2;
    await using cluster = await startCluster({ nodeTimeoutMs: timeout * 1000 });
    await using doomed = new ServerProcess([
      "--port",
      "0",
      "--redis",
      cluster.redis.url,
      "--node-timeout",
      String(timeout),
    ]);
    const port = await doomed.port();
    await using ana = await LineClient.json(cluster.a.port, "ana");
    await using bea = await LineClient.json(cluster.b.port, "bea");
    const bob = await LineClient.json(port, "bob");
    await bea.expectEvent(
      "join",
      (e) => e.nick === "bob" && e.room === "#lobby",
    );
    await bob.sendJson({ type: "join", room: "#dev" });
    await bea.sendJson({ type: "join", room: "#dev" });
    await bea.expectEvent("who", (e) => e.room === "#dev");
    await ana.expectEvent("join", (e) => e.nick === "bob");
    const killedAt = Date.now();
    doomed.kill("SIGKILL");
    await doomed.child.status;
    // Within the node timeout and a third, plus room for a loaded machine.
    const bound = timeout * 1000 * 4 / 3 + 3000;
    for (const client of [ana, bea]) {
      const left = await client.expectEvent(
        "leave",
        (e) => e.nick === "bob",
        bound,
      );
      assert.deepEqual([left.reason, left.message], [
        "lost",
        "their server stopped answering",
      ]);
    }
    const took = Date.now() - killedAt;
    assert.ok(took < bound, `${took} ms`);
    // Told once, though bea shared two rooms with him.
    await bea.linesUntilPong(true);
    const leaves = bea.received.filter((line) =>
      line.includes('"leave"') && line.includes('"bob"')
    );
    assert.equal(leaves.length, 1, leaves.join("\n"));
    for (const [client, room] of [[ana, "#lobby"], [bea, "#dev"]] as const) {
      await client.sendJson({ type: "who", room });
      const who = await client.expectEvent("who");
      assert.ok(!who.members.some((m) => m.nick === "bob"), room);
    }
    // bob's name is free at once, on either surviving node.
    await using _again = await LineClient.json(cluster.b.port, "bob");
    await bob.close();
  });

  Deno.test("cluster presence: after Redis restarts empty, nodes re-assert who is where", async () => {
    await using cluster = await startCluster();
    await using ana = await LineClient.json(cluster.a.port, "ana");
    await using _bob = await LineClient.json(cluster.b.port, "bob");
    await ana.expectEvent("join", (e) => e.nick === "bob");
    // A node started after Redis restarts empty reads everyone from it again.
    await using late = await afterEmptyRestart(cluster);
    const { cat } = late;
    const who = await cat.expectEvent("who");
    assert.deepEqual(who.members.map((m) => m.nick), ["ana", "bob", "cat"]);
    // And the nodes that were there kept each other: nobody left.
    await ana.expectEvent("join", (e) => e.nick === "cat");
    await ana.sendJson({ type: "who" });
    const seen = await ana.expectEvent("who");
    assert.deepEqual(seen.members.map((m) => m.nick), ["ana", "bob", "cat"]);
    await ana.linesUntilPong(true);
    const leaves = ana.received.filter((line) => line.includes('"leave"'));
    assert.deepEqual(leaves, []);
  });

  Deno.test("cluster presence: after Redis restarts empty, nodes put back the topics, mutes, bans and message of the day they hold", async () => {
    await using cluster = await startCluster({}, { operatorPassword: "op-pw" });
    await using op = await LineClient.json(cluster.a.port, "op");
    await using bob = await LineClient.json(cluster.b.port, "bob");
    await op.expectEvent("join", (e) => e.nick === "bob");
    await op.sendJson({ type: "oper", password: "op-pw" });
    await op.expectEvent("notice", (e) => e.text === "You are now an operator");
    await op.sendJson({ type: "motd", text: "be kind" });
    await op.sendJson({ type: "ban", target: "192.0.2.7", reason: "spam" });
    await op.sendJson({ type: "mute", nick: "bob" });
    await bob.expectEvent("notice", (e) => e.text.includes("muted by op"));
    await op.sendJson({ type: "topic", text: "kept topic" });
    // Sent last: once bob sees it, both nodes hold everything above.
    await bob.expectEvent("topic", (e) => e.topic === "kept topic");
    // A node started after Redis restarts empty reads them from it again.
    await using late = await afterEmptyRestart(cluster);
    const { server: c, cat } = late;
    assert.deepEqual((await cat.expectEvent("motd")).lines, ["be kind"]);
    assert.equal((await cat.expectEvent("topic")).topic, "kept topic");
    const hub = c.server.hub;
    assert.equal(hub.bans.find("192.0.2.7", hub.now())?.reason, "spam");
    assert.ok(hub.mutedNicks.has("bob"), "bob is still muted");
  });

  Deno.test("cluster presence: --max-rooms counts the rooms of every node, and a room with members only elsewhere is not a new one", async () => {
    await using cluster = await startCluster({ maxRooms: 2 });
    await using ana = await LineClient.json(cluster.a.port, "ana");
    await using bob = await LineClient.json(cluster.b.port, "bob");
    await ana.expectEvent("join", (e) => e.nick === "bob");
    await bob.sendJson({ type: "join", room: "#b" });
    await bob.expectEvent("who", (e) => e.room === "#b");
    // In order after the join: once ana sees bob away, her node knows #b.
    await bob.sendJson({ type: "away" });
    await ana.expectEvent("away", (e) => e.nick === "bob");
    await ana.sendJson({ type: "join", room: "#c", ref: "c" });
    const refused = await ana.expectEvent("error", (e) => e.ref === "c");
    assert.equal(
      refused.message,
      "No new rooms can be made: there are already 2",
    );
    await ana.sendJson({ type: "join", room: "#b" });
    const who = await ana.expectEvent("who", (e) => e.room === "#b");
    assert.deepEqual(who.members.map((m) => m.nick), ["ana", "bob"]);
  });

  Deno.test("cluster presence: the big-room policy counts every node's members", async () => {
    await using cluster = await startCluster({ bigRoomMembers: 3 });
    await using ana = await LineClient.json(cluster.a.port, "ana");
    await using _ada = await LineClient.json(cluster.a.port, "ada");
    await ana.expectEvent("join", (e) => e.nick === "ada");
    // The third member, on the other node, makes #lobby big: no notice, and
    // the newcomer gets the count over both nodes instead of the list.
    await using bob = await LineClient.connect(cluster.b.port);
    await bob.sendJson({ type: "hello", nick: "bob" });
    const members = await bob.expectEvent("members");
    assert.equal(members.count, 3);
    // ana and ada, on the other node, are told the room is now big: from
    // here on they hear of no arrivals, so a list of theirs would go stale.
    await ana.expectEvent("members", (e) => e.count === 3);
    await _ada.expectEvent("members", (e) => e.count === 3);
    // In order after bob's join: once ana sees him away, she would have
    // seen his join.
    await bob.sendJson({ type: "away" });
    await ana.expectEvent("away", (e) => e.nick === "bob");
    const joins = ana.received.filter((line) =>
      line.includes('"join"') && line.includes('"bob"')
    );
    assert.deepEqual(joins, []);
    await ana.sendJson({ type: "rooms" });
    const rooms = await ana.expectEvent("rooms");
    assert.deepEqual(rooms.rooms.map((r) => [r.name, r.members]), [[
      "#lobby",
      3,
    ]]);
  });

  Deno.test("cluster presence: a big room's count follows arrivals on the other node", async () => {
    await using cluster = await startCluster({
      bigRoomMembers: 2,
      bigRoomCountMs: 200,
    });
    await using ana = await LineClient.json(cluster.a.port, "ana");
    await using _bob = await LineClient.json(cluster.b.port, "bob");
    await ana.expectEvent("members", (e) => e.count === 2);
    // Nobody announces cy, on the other node; ana's node sends the count.
    await using _cy = await LineClient.json(cluster.b.port, "cy");
    const count = await ana.expectEvent("count", (e) => e.count === 3);
    assert.equal(count.room, "#lobby");
    // A person at nc beside ana reads nothing of it, and still talks.
    await using tex = await LineClient.text(cluster.a.port, "tex");
    await ana.expectEvent("count", (e) => e.count === 4);
    assert.deepEqual(await tex.linesUntilPong(), []);
  });

  Deno.test("cluster presence: with Redis gone a private message across nodes is refused plainly", async () => {
    await using cluster = await startCluster();
    await using ana = await LineClient.json(cluster.a.port, "ana");
    await using _bob = await LineClient.json(cluster.b.port, "bob");
    await ana.expectEvent("join", (e) => e.nick === "bob");
    await cluster.redis.stop();
    await ana.sendJson({ type: "private", to: "bob", text: "hi?", ref: "p" });
    const refusal = await ana.expectEvent("error");
    assert.deepEqual([refusal.code, refusal.ref], ["unavailable", "p"]);
    // The node keeps what it knew: /who still lists bob.
    await ana.sendJson({ type: "who" });
    const who = await ana.expectEvent("who");
    assert.deepEqual(who.members.map((m) => m.nick), ["ana", "bob"]);
  });

  Deno.test("cluster presence: with Redis frozen a private message across nodes is told unconfirmed in --redis-timeout, then arrives once it thaws and is confirmed", async () => {
    await using cluster = await startCluster({ redisTimeoutMs: 300 });
    await using ana = await LineClient.json(cluster.a.port, "ana");
    await using bob = await LineClient.json(cluster.b.port, "bob");
    await ana.expectEvent("join", (e) => e.nick === "bob");
    cluster.redis.freeze();
    try {
      await ana.sendJson({ type: "private", to: "bob", text: "hi?", ref: "p" });
      const unconfirmed = await ana.expectEvent("error");
      assert.deepEqual([unconfirmed.ref, unconfirmed.message], [
        "p",
        PRIVATE_UNCONFIRMED,
      ]);
    } finally {
      cluster.redis.thaw();
    }
    const arrived = await bob.expectEvent("private");
    assert.equal(arrived.text, "hi?");
    // Its sender, told it was not confirmed, gets its confirmation late.
    const confirmed = await ana.expectEvent("private", (e) => e.ref === "p");
    assert.equal(confirmed.id, arrived.id);
  });

  /**
   * Two nodes, ana on a and bob on b, b's subscription held open with
   * nothing reaching it (Redis counts it as listening, as it does a node
   * that hangs), and ana's private message "hi?" to bob sent with ref "p".
   */
  async function privateToHungNode() {
    const stack = new AsyncDisposableStack();
    try {
      const redis = stack.use(await startRedis());
      const a = stack.use(
        await startServer({ redisTimeoutMs: 300 }, { redis: redis.url }),
      );
      const proxy = stack.use(startRedisProxy(redis.port));
      const b = stack.use(
        await startServer({ redisTimeoutMs: 300 }, { redis: proxy.url }),
      );
      const ana = stack.use(await LineClient.json(a.port, "ana"));
      const bob = stack.use(await LineClient.json(b.port, "bob"));
      await ana.expectEvent("join", (e) => e.nick === "bob");
      proxy.holdSubscribers();
      await ana.sendJson({ type: "private", to: "bob", text: "hi?", ref: "p" });
      return {
        a,
        b,
        proxy,
        ana,
        bob,
        [Symbol.asyncDispose]: () => stack.disposeAsync(),
      };
    } catch (error) {
      await stack.disposeAsync();
      throw error;
    }
  }

  Deno.test("cluster presence: a private message to someone whose server hangs is said to be unconfirmed, then confirmed once it answers", async () => {
    await using hung = await privateToHungNode();
    const { ana, bob, proxy } = hung;
    const unconfirmed = await ana.expectEvent("error", (e) => e.ref === "p");
    assert.deepEqual([unconfirmed.code, unconfirmed.message], [
      "unavailable",
      holderSilent("bob"),
    ]);
    proxy.release();
    const arrived = await bob.expectEvent("private");
    const confirmed = await ana.expectEvent("private", (e) => e.ref === "p");
    assert.equal(confirmed.id, arrived.id);
  });

  Deno.test("cluster presence: a private message to someone whose server hangs and then goes is said not to have been sent", async () => {
    await using hung = await privateToHungNode();
    const { ana, b } = hung;
    await ana.expectEvent("error", (e) => e.ref === "p");
    // Node b goes before it reads it: node a hears it gone.
    await b.server.close();
    const lost = await ana.expectEvent(
      "error",
      (e) => e.ref === "p" && e.message.startsWith("Not sent after all"),
    );
    assert.equal(lost.code, "unavailable");
  });

  for (const registered of [false, true]) {
    const what = registered
      ? "waits for them, as if they were offline"
      : "is said to be for nobody";
    Deno.test(`cluster presence: a private message that reaches its recipient's node after they left ${what}`, async () => {
      const limits = { redisTimeoutMs: 300, passwordIterations: 1000 };
      await using redis = await startRedis();
      await using a = await startServer(limits, { redis: redis.url });
      await using proxy = startRedisProxy(redis.port);
      await using b = await startServer(limits, { redis: proxy.url });
      await using ana = await LineClient.json(a.port, "ana");
      const bob = await LineClient.json(b.port, "bob");
      if (registered) {
        await bob.sendJson({ type: "register", password: "bobs password" });
        await bob.expectEvent("notice", (e) => e.text.includes("registered"));
      }
      await ana.expectEvent("join", (e) => e.nick === "bob");
      // Node b hears Redis but what it sends waits: bob leaves, and his
      // name is not let go yet, nor his leave told.
      proxy.holdCommands();
      await bob.close();
      await within(b.server.connectionsAtMost(0), "bob to leave");
      await ana.sendJson({ type: "private", to: "bob", text: "hi?", ref: "p" });
      // Its receipt waits on node b's held link.
      const unconfirmed = await ana.expectEvent("error", (e) => e.ref === "p");
      assert.equal(unconfirmed.message, holderSilent("bob"));
      proxy.release();
      if (!registered) {
        const told = await ana.expectEvent("error", (e) => e.ref === "p");
        assert.deepEqual([told.code, told.message], [
          "no_such_nick",
          "Nobody is called bob",
        ]);
        return;
      }
      const kept = await ana.expectEvent("private", (e) => e.ref === "p");
      await ana.expectEvent("notice", (e) => e.text.includes("bob is offline"));
      await b.server.cluster!.settled();
      await using again = await LineClient.connect(a.port);
      await again.sendJson({
        type: "hello",
        nick: "bob",
        identify: "bobs password",
      });
      const waited = await again.expectEvent("private");
      assert.deepEqual([waited.text, waited.id], ["hi?", kept.id]);
    });
  }

  Deno.test("cluster presence: a private message reaches someone whose claim Redis forgot before their node claims it again", async () => {
    await using cluster = await startCluster();
    await using ana = await LineClient.json(cluster.a.port, "ana");
    await using bob = await LineClient.json(cluster.b.port, "bob");
    await ana.expectEvent("join", (e) => e.nick === "bob");
    // As after Redis restarted empty: bob is connected, his claim gone.
    const redis = createClient({ url: cluster.redis.url, RESP: 2 });
    await redis.connect();
    try {
      assert.equal(await redis.del(await redis.keys("tern:nick:*bob")), 2);
    } finally {
      await redis.close();
    }
    await ana.sendJson({ type: "private", to: "bob", text: "still there?" });
    assert.equal((await bob.expectEvent("private")).text, "still there?");
    assert.equal((await ana.expectEvent("private")).text, "still there?");
  });

  Deno.test("cluster presence: a private message to someone whose server is cut off is refused plainly, not lost", async () => {
    await using redis = await startRedis();
    await using a = await startServer({}, { redis: redis.url });
    await using proxy = startRedisProxy(redis.port);
    await using b = await startServer({}, { redis: proxy.url });
    await using ana = await LineClient.json(a.port, "ana");
    await using bob = await LineClient.json(b.port, "bob");
    await ana.expectEvent("join", (e) => e.nick === "bob");
    proxy.cut();
    await bob.expectEvent("notice", (e) => e.text === DEGRADED_NOTICE);
    await ana.sendJson({ type: "private", to: "bob", text: "hi?", ref: "p" });
    const refused = await ana.expectEvent("error", (e) => e.ref === "p");
    assert.equal(refused.code, "unavailable");
    assert.equal(
      refused.message,
      "Not sent: the server bob is connected to is out of reach right now; try again in a moment",
    );
    proxy.restore();
    await b.server.cluster!.whenReady();
  });

  Deno.test("cluster presence: who left while Redis was away is told once it is back", async () => {
    // Heartbeats every second: a read missed while the subscription was
    // renewed is done again on the next one.
    await using cluster = await startCluster({ nodeTimeoutMs: 3000 });
    await using ana = await LineClient.json(cluster.a.port, "ana");
    const bob = await LineClient.json(cluster.b.port, "bob");
    await ana.expectEvent("join", (e) => e.nick === "bob");
    await cluster.redis.stop();
    await bob.sendJson({ type: "quit" });
    await bob.closed();
    await bob.close();
    await cluster.redis.restart();
    // bob's node re-asserts its people without him; ana's reads them again.
    const left = await ana.expectEvent(
      "leave",
      (e) => e.nick === "bob",
      WAIT_MS * 2,
    );
    assert.equal(left.reason, "quit");
    await ana.sendJson({ type: "who" });
    assert.deepEqual((await ana.expectEvent("who")).members, [{ nick: "ana" }]);
  });
}
