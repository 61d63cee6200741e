/**
 * Text mode on a node of a cluster: a room line that comes back from Redis
 * is tagged `[#room]` or not by the room current when this node accepts it
 * for delivery, the same rule as a line said on this node (de42555): every
 * line before a switch's "Now talking" is tagged as the room current before
 * it, every line after as the new one, however the lines and the switches
 * interleave, in a small room and in a big one, from this node's people
 * and the other node's.
 */

import assert from "node:assert/strict";
import { LineClient } from "./helpers.ts";
import { clusterTests } from "./redis_server.ts";
import { startCluster } from "./cluster_checks.ts";
import {
  notKnownInRoom,
  SEND_UNCONFIRMED,
} from "../server/cluster/redis_node.ts";

await clusterTests(registerTests);

/** Joins `client` (text mode) to `room` and waits for its member list. */
async function join(client: LineClient, room: string): Promise<void> {
  await client.send(`/join ${room}`);
  await client.expect(new RegExp(`^\\*\\*\\* ${room} (\\(\\d+\\):|has )`));
}

/** Logs in as `nick` in text mode, in a small room or a big one. */
async function textLogin(port: number, nick: string): Promise<LineClient> {
  const client = await LineClient.connect(port);
  await client.send(nick);
  await client.expect(`*** ${nick} joined #lobby`);
  await client.expect(/^\*\*\* #lobby (\(\d+\):|has )/);
  return client;
}

function registerTests(): void {
  for (const bigRoomMembers of [0, 2]) {
    const kind = bigRoomMembers === 0 ? "small" : "big";
    Deno.test(`cluster text mode: lines from Redis are tagged by the room current when they are delivered, in step with /switch (${kind} rooms)`, async () => {
      await using cluster = await startCluster({ bigRoomMembers });
      await using alice = await textLogin(cluster.a.port, "alice");
      await join(alice, "#dev");
      // Speakers in #dev on both nodes, and in #lobby on the other.
      await using bob = await textLogin(cluster.b.port, "bob");
      await join(bob, "#dev");
      await using carol = await textLogin(cluster.a.port, "carol");
      await join(carol, "#dev");
      await using dave = await textLogin(cluster.b.port, "dave");
      const rooms: Record<string, string> = {
        bob: "#dev",
        carol: "#dev",
        dave: "#lobby",
      };
      const perSpeaker = 30;
      const switches = 12;
      const speak = async (client: LineClient, nick: string) => {
        for (let i = 0; i < perSpeaker; i++) {
          await client.send(`${nick} ${i}`);
        }
      };
      const flip = async () => {
        for (let i = 0; i < switches; i++) {
          await alice.send(`/switch ${i % 2 === 0 ? "#lobby" : "#dev"}`);
        }
      };
      await Promise.all([
        speak(bob, "bob"),
        speak(carol, "carol"),
        speak(dave, "dave"),
        flip(),
      ]);
      const last = (nick: string) => `${nick} ${perSpeaker - 1}`;
      await alice.waitFor(
        (lines) =>
          ["bob", "carol", "dave"].every((nick) =>
            lines.some((line) => line.endsWith(`> ${last(nick)}`))
          ) &&
          lines.filter((line) => line.startsWith("*** Now talking")).length ===
            switches,
        "every line and every switch",
      );
      let current = "#dev";
      let checked = 0;
      for (const line of alice.received) {
        const switched = /^\*\*\* Now talking in (#\w+)$/.exec(line);
        if (switched !== null) current = switched[1]!;
        const said = /^(?:\[(#\w+)\] )?<(\w+)> (\w+) \d+$/.exec(line);
        if (said === null || rooms[said[2]!] === undefined) continue;
        const [, tag, nick] = said;
        const room = rooms[nick!]!;
        assert.equal(
          tag,
          room === current ? undefined : room,
          `"${line}" while ${current} was current`,
        );
        checked++;
      }
      assert.equal(checked, 3 * perSpeaker);
    });
  }

  Deno.test("cluster text mode: a line told not confirmed is said to be delivered, once, when Redis answers in the end", async () => {
    await using cluster = await startCluster({ redisTimeoutMs: 300 });
    await using ana = await textLogin(cluster.a.port, "ana");
    await using bob = await textLogin(cluster.b.port, "bob");
    await ana.expect("*** bob joined #lobby");
    cluster.redis.freeze();
    try {
      await ana.send("hello?");
      await ana.expect(`*** Error: ${SEND_UNCONFIRMED}`);
    } finally {
      cluster.redis.thaw();
    }
    const arrived = await bob.expect("<ana> hello?");
    assert.ok(arrived);
    const told = await ana.expect(
      /^\*\*\* Your message in #lobby was delivered after all \(id \d+\)/,
    );
    assert.match(told, /: the cluster's store \(Redis\) answered late$/);
    const after = await ana.linesUntilPong();
    assert.ok(
      !after.some((line) => line.includes("delivered after all")),
      `told once: ${JSON.stringify(after)}`,
    );
  });

  Deno.test("cluster text mode: a line told not confirmed whose copy never comes is said, once, to be not known", async () => {
    await using cluster = await startCluster({ redisTimeoutMs: 100 });
    await using ana = await textLogin(cluster.a.port, "ana");
    cluster.redis.freeze();
    await ana.send("hello?");
    await ana.expect(`*** Error: ${SEND_UNCONFIRMED}`);
    // Redis dies with it unanswered: its copy can never come back.
    await cluster.redis.crash();
    await ana.expect(`*** Error: ${notKnownInRoom("#lobby")}`);
    const after = await ana.linesUntilPong();
    assert.ok(
      !after.some((line) => line.includes("Not known")),
      `told once: ${JSON.stringify(after)}`,
    );
  });
}
