/**
 * Replies in request order on a node of a cluster, where a room message's
 * confirmation comes back from Redis: a command sent right after a message,
 * in the same write, is answered after the message's confirmation.
 */

import assert from "node:assert/strict";
import { LineClient, startServer } from "./helpers.ts";
import { inOneWrite, oneWrite, refOf } from "./reply_order.ts";
import { clusterTests, startRedis } from "./redis_server.ts";
import { startCluster } from "./cluster_checks.ts";
import { startRedisProxy } from "./redis_proxy.ts";
import { SEND_UNCONFIRMED } from "../server/cluster/redis_node.ts";
import { SILENT_NOTICE } from "../server/cluster/room_streams.ts";

await clusterTests(registerClusterTests);

function registerClusterTests(): void {
  Deno.test("cluster: a command sent with a message is answered after the message comes back from Redis", async () => {
    await using cluster = await startCluster();
    await using ana = await LineClient.json(cluster.a.port, "ana");
    await using bob = await LineClient.json(cluster.b.port, "bob");
    const message = { type: "message", text: "hi" };
    for (
      const request of [
        { type: "help" },
        { type: "topic" },
        { type: "motd" },
        { type: "switch", room: "#lobby" },
        { type: "away", reason: "lunch" },
        { type: "back" },
        { type: "ping" },
        { type: "who" },
        { type: "message", room: "#elsewhere", text: "refused" },
        { type: "frobnicate" },
      ]
    ) {
      const lines = await inOneWrite(ana, message, request);
      assert.equal(
        refOf(lines[0]!),
        "said",
        `${request.type} overtook the confirmation:\n${lines.join("\n")}`,
      );
    }
    const heard = await bob.linesUntilPong(true);
    assert.equal(
      heard.filter((line) => line.includes('"text":"hi"')).length,
      10,
      "the other node heard each message",
    );
  });

  Deno.test("cluster: a message and a part in one write: the confirmation comes, then the leave", async () => {
    await using cluster = await startCluster();
    await using ana = await LineClient.json(cluster.a.port, "ana");
    await ana.sendJson({ type: "join", room: "#dev" });
    await ana.expectEvent("who", (event) => event.room === "#dev");
    const lines = await inOneWrite(
      ana,
      { type: "message", room: "#dev", text: "leaving" },
      { type: "part", room: "#dev" },
    );
    assert.deepEqual(
      lines.map((line) => [JSON.parse(line).type, refOf(line)]),
      [["message", "said"], ["leave", "asked"]],
    );
  });

  Deno.test("cluster: a message whose copy does not come back holds the sender's answers one --redis-timeout, then is said to be unconfirmed", async () => {
    const timeoutMs = 600;
    await using redis = await startRedis();
    await using proxy = startRedisProxy(redis.port);
    // Node a reaches Redis through the relay, so its subscription can
    // stall while Redis goes on answering its commands.
    await using a = await startServer({ redisTimeoutMs: timeoutMs }, {
      redis: proxy.url,
    });
    await using b = await startServer({ redisTimeoutMs: timeoutMs }, {
      redis: redis.url,
    });
    await using ana = await LineClient.json(a.port, "ana");
    await using bob = await LineClient.json(b.port, "bob");
    await ana.expectEvent("join", (event) => event.nick === "bob");
    proxy.holdSubscribers();
    const start = ana.received.length;
    const sent = performance.now();
    await ana.sendBytes(oneWrite(
      { type: "message", text: "lost on the way back", ref: "said" },
      { type: "ping", token: "after", ref: "asked" },
    ));
    // Stored: the other node has it.
    assert.equal(
      (await bob.expectEvent("message")).text,
      "lost on the way back",
    );
    const pong = await ana.expectEvent("pong");
    const waited = performance.now() - sent;
    const mine = ana.received.slice(start).filter((line) => refOf(line));
    assert.deepEqual(
      mine.map((line) => [JSON.parse(line).type, refOf(line)]),
      [["error", "said"], ["pong", "asked"]],
      "told unconfirmed, in its place, then the next answer",
    );
    assert.equal(JSON.parse(mine[0]!).message, SEND_UNCONFIRMED);
    assert.equal(pong.token, "after");
    assert.ok(
      waited < 1.5 * timeoutMs,
      `the answer waited ${
        Math.round(waited)
      } ms, more than one --redis-timeout (${timeoutMs} ms)`,
    );
    assert.ok(
      !ana.received.slice(start).some((line) => line.includes(SILENT_NOTICE)),
      "Redis answered the send: the chat is not said to be degraded",
    );
    proxy.release();
    // The copy comes back in the end: the sender's confirmation, late.
    const confirmed = await ana.expectEvent("message", (m) => m.ref === "said");
    assert.equal(confirmed.text, "lost on the way back");
    assert.equal(a.server.cluster!.pendingSends, 0);
  });
}
