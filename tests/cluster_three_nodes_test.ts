/**
 * Three tern nodes as the README starts them: three `server.ts` processes
 * (the permissions of `deno task start`, `--redis`, `--port 0`) on one real
 * `redis-server`. Without redis-server these tests are left out as the other
 * cluster tests are (tests/cluster_test.ts); CI requires them.
 */

import assert from "node:assert/strict";
import { LineClient } from "./helpers.ts";
import { clusterTests, startRedis } from "./redis_server.ts";
import { ServerProcess } from "./server_process.ts";
import { assertOneOrder, helloReply } from "./cluster_checks.ts";

await clusterTests(registerThreeNodeTests);

/** Three node processes on one Redis, stopped cleanly together. */
interface ThreeNodes extends AsyncDisposable {
  ports: number[];
}

async function startThreeNodes(): Promise<ThreeNodes> {
  const redis = await startRedis();
  const nodes: ServerProcess[] = [];
  const stop = async () => {
    // SIGTERM, so each node lets its nicknames go and closes its Redis link.
    for (const node of nodes) node.kill("SIGTERM");
    for (const node of nodes) await node.exit();
    for (const node of nodes) await node[Symbol.asyncDispose]();
    await redis[Symbol.asyncDispose]();
  };
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(new ServerProcess(["--redis", redis.url, "--port", "0"]));
    }
    const ports = await Promise.all(nodes.map((node) => node.port()));
    return { ports, [Symbol.asyncDispose]: stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function registerThreeNodeTests(): void {
  Deno.test("cluster, 3 nodes: a message sent on each node reaches every member on all three, in one order", async () => {
    await using cluster = await startThreeNodes();
    // Two members on each node; the first of each pair sends.
    const clients: LineClient[] = [];
    try {
      for (const [node, port] of cluster.ports.entries()) {
        for (const role of ["s", "r"]) {
          clients.push(await LineClient.json(port, `${role}${node}`));
        }
      }
      const senders = clients.filter((_, i) => i % 2 === 0);
      const perSender = 20;
      await assertOneOrder(
        senders.map((client, node) => ({ client, nick: `s${node}` })),
        clients,
        perSender,
      );
    } finally {
      for (const client of clients) await client.close();
    }
  });

  Deno.test("cluster, 3 nodes: all three claiming one nickname at once, exactly one wins", async () => {
    await using cluster = await startThreeNodes();
    const rounds = 10;
    for (let round = 0; round < rounds; round++) {
      const claimants = await Promise.all(
        cluster.ports.map((port) => LineClient.connect(port)),
      );
      try {
        // Each pair the same name by case or by looks (vv reads as w).
        const names = [`willow${round}`, `Willow${round}`, `vvillow${round}`];
        const replies = await Promise.all(
          claimants.map((client, i) => helloReply(client, names[i]!)),
        );
        const welcomes = replies.filter((event) => event.type === "welcome");
        assert.equal(welcomes.length, 1, JSON.stringify(replies));
        const codes = replies.filter((event) => event.type === "error")
          .map((event) => event.type === "error" && event.code);
        assert.deepEqual(codes, ["nick_taken", "nick_taken"]);
      } finally {
        for (const client of claimants) await client.close();
      }
    }
  });

  Deno.test("cluster, 3 nodes: a name held on one node blocks its case and look-alike variants on the others", async () => {
    await using cluster = await startThreeNodes();
    const [first, second, third] = cluster.ports as [number, number, number];
    await using _holder = await LineClient.json(first, "willow");
    // WILLOW's look-alike key reads its I as l: only the case key catches it.
    for (
      const [port, name] of [[second, "WILLOW"], [third, "vvillow"]] as const
    ) {
      await using other = await LineClient.connect(port);
      const reply = await helloReply(other, name);
      assert.equal(reply.type === "error" && reply.code, "nick_taken", name);
    }
  });
}
