/**
 * Replies in request order on a node of a cluster, where a room message's
 * confirmation comes back from Redis: a command sent right after a message,
 * in the same write, is answered after the message's confirmation.
 */

import assert from "node:assert/strict";
import { LineClient } from "./helpers.ts";
import { inOneWrite, refOf } from "./reply_order.ts";
import { clusterTests } from "./redis_server.ts";
import { startCluster } from "./cluster_checks.ts";

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
}
