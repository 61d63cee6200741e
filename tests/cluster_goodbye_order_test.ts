/**
 * On a node of a cluster a room message's confirmation comes back from
 * Redis, a round trip after it was sent: a goodbye the server gives its
 * sender meanwhile (a kick, flood control's cut) waits for it, and the
 * sender, no longer in the room, still gets its copy with its `ref`.
 */

import assert from "node:assert/strict";
import { LineClient } from "./helpers.ts";
import { oneWrite, refOf } from "./reply_order.ts";
import { clusterTests } from "./redis_server.ts";
import { startCluster } from "./cluster_checks.ts";

await clusterTests(registerClusterTests);

/** The types (with refs) of the JSON lines from `start` on. */
function typesFrom(client: LineClient, start: number): string[] {
  return client.received.slice(start).map((line) => {
    const ref = refOf(line);
    return `${JSON.parse(line).type}${ref === undefined ? "" : `:${ref}`}`;
  });
}

function registerClusterTests(): void {
  Deno.test("cluster: a kick while the target's message is on its way to Redis comes after the message's confirmation", async () => {
    await using cluster = await startCluster({}, { operatorPassword: "op-pw" });
    await using op = await LineClient.json(cluster.a.port, "op");
    await op.sendJson({ type: "oper", password: "op-pw", ref: "o" });
    await op.expect(/"ref":"o"/);
    await using bob = await LineClient.json(cluster.b.port, "bob");
    await using alice = await LineClient.json(cluster.a.port, "alice");
    const start = alice.received.length;
    await Promise.all([
      alice.sendBytes(
        oneWrite({ type: "message", text: "last words", ref: "said" }),
      ),
      op.sendBytes(oneWrite({ type: "kick", nick: "alice" })),
    ]);
    await alice.closed();
    const accepted = (await bob.linesUntilPong(true)).some((line) =>
      line.includes("last words")
    );
    // If the kick was read first, nothing was accepted and nothing is owed.
    assert.deepEqual(
      typesFrom(alice, start),
      accepted ? ["message:said", "bye"] : ["bye"],
    );
    assert.equal(JSON.parse(alice.received.at(-1)!).code, "kicked");
  });

  Deno.test("cluster: flood control's cut in the read that sent messages comes after their confirmations from Redis", async () => {
    await using cluster = await startCluster({
      floodRate: 10,
      floodBurst: 10,
      floodDisconnectMs: 150,
    });
    await using bob = await LineClient.json(cluster.b.port, "bob");
    await using alice = await LineClient.json(cluster.a.port, "alice");
    // Past the cut-off: 12 lines at once, the last two paced (200 ms).
    await alice.sendBytes(oneWrite(
      ...Array.from({ length: 12 }, (_, i) => ({
        type: "message",
        text: `flood ${i + 1}`,
        ref: `f${i + 1}`,
      })),
    ));
    await alice.expect(/"ref":"f12"/);
    // Two lines' budget refills (a wait on the clock is the point), within
    // the spell of pacing, which ends after a second without waiting.
    await new Promise((resolve) => setTimeout(resolve, 250));
    const start = alice.received.length;
    await alice.sendBytes(oneWrite(
      { type: "message", text: "last words", ref: "said" },
      { type: "message", text: "and these", ref: "said2" },
      { type: "message", text: "one too many", ref: "cut" },
    ));
    await alice.closed();
    assert.deepEqual(typesFrom(alice, start), [
      "message:said",
      "message:said2",
      "bye",
    ]);
    assert.equal(JSON.parse(alice.received.at(-1)!).code, "flood");
    await bob.expectEvent("message", (event) => event.text === "and these");
  });

  for (const bigRoomMembers of [0, 1]) {
    Deno.test(`cluster: a node that stops while a message is on its way to Redis confirms it before its goodbye (big rooms from ${bigRoomMembers})`, async () => {
      await using cluster = await startCluster({ bigRoomMembers });
      await using bob = await LineClient.json(cluster.b.port, "bob");
      await using alice = await LineClient.json(cluster.a.port, "alice");
      // The node is told to stop (SIGTERM, say) just as it has sent alice's
      // message to Redis.
      const server = cluster.a.server;
      const feed = server.hub.feed;
      const publish = feed.publish.bind(feed);
      let stopped: Promise<void> | null = null;
      feed.publish = (room, message, sender, ref) => {
        publish(room, message, sender, ref);
        stopped ??= server.close();
      };
      const start = alice.received.length;
      await alice.sendBytes(
        oneWrite({ type: "message", text: "last words", ref: "said" }),
      );
      await alice.closed();
      assert.deepEqual(typesFrom(alice, start), ["message:said", "bye"]);
      assert.equal(JSON.parse(alice.received.at(-1)!).code, "shutdown");
      await stopped;
      await bob.expectEvent("message", (event) => event.text === "last words");
    });
  }
}
