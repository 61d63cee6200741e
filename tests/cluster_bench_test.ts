/**
 * The cluster benchmark, run tiny through its command line: tern alone and
 * three nodes on one redis-server, clients spread over the nodes and ten
 * rooms. Checks the results file has every figure the tables and
 * BENCHMARKS.md quote, that every message reached every reader in order,
 * and that the run left no Redis directory behind. Without redis-server
 * the test is left out as the other cluster tests are (tests/cluster_test.ts).
 */

import assert from "node:assert/strict";
import { clusterTests } from "./redis_server.ts";

const REPO = new URL("..", import.meta.url).pathname;

/** The bench's Redis temporary directories in `parent`. */
async function redisDirs(parent: string): Promise<Set<string>> {
  const names = new Set<string>();
  for await (const entry of Deno.readDir(parent)) {
    if (entry.name.startsWith("tern-bench-redis-")) names.add(entry.name);
  }
  return names;
}

await clusterTests(() => {
  Deno.test("bench: the cluster scenario measures tern alone and 3 nodes on one Redis", async () => {
    const out = await Deno.makeTempDir({ prefix: "tern-cluster-bench-" });
    try {
      // The run's temporary directories go in one this test owns, so what
      // other processes do in the shared one cannot change what is checked.
      const temp = `${out}/tmp`;
      await Deno.mkdir(temp);
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          `${REPO}bench/run.ts`,
          "--scenarios",
          "cluster",
          "--targets",
          "tern",
          "--duration",
          "0.5",
          "--settle",
          "0",
          "--drain",
          "10",
          "--cluster-clients",
          "24",
          "--cluster-senders",
          "10",
          "--cluster-rate",
          "10",
          "--cluster-nodes",
          "single,3",
          "--cluster-rooms",
          "10",
          "--out",
          `${out}/results.json`,
        ],
        env: { TMPDIR: temp },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(output.stdout);
      const errors = new TextDecoder().decode(output.stderr);
      assert.equal(output.code, 0, `${text}\n${errors}`);
      assert.match(text, /single, 10 rooms +3 nodes, 10 rooms/);
      assert.match(text, /cross-node latency p99 \(ms\)/);

      const results = JSON.parse(
        await Deno.readTextFile(`${out}/results.json`),
      );
      assert.match(results.versions.redis, /Redis server/);
      const cluster = results.scenarios.cluster;
      assert.deepEqual(cluster.errors, {});
      const metrics = cluster.runs.tern[0].metrics;
      for (const setup of ["single/10r", "3n/10r"]) {
        const m = (name: string) => metrics[`${setup}/${name}`];
        assert.equal(m("clients"), 24, setup);
        assert.ok(m("sent") > 0, `${setup}: messages sent`);
        assert.equal(m("deliveryRatio"), 1, `${setup}: all delivered`);
        assert.equal(m("outOfOrder"), 0, `${setup}: in order`);
        assert.equal(m("disconnected"), 0, setup);
        // Counted in 10 ms clock ticks, which so short a run may not reach.
        const cpu = m("serverUsPerDelivery");
        assert.ok(typeof cpu === "number" && cpu >= 0, `${setup}: tern CPU`);
      }
      const three = (name: string) => metrics[`3n/10r/${name}`];
      const single = (name: string) => metrics[`single/10r/${name}`];
      // Readers on other nodes than the sender got messages, and were timed.
      assert.ok(three("crossDeliveries") > 0);
      assert.ok(three("crossP99Ms") > 0);
      assert.ok(three("redisCpuS") > 0, "Redis's own CPU was read");
      assert.ok(three("redisUsPerMessage") > 0);
      assert.equal(single("crossP99Ms"), null, "one server: nothing crosses");
      assert.equal(single("redisCpuS"), null, "one server: no Redis");
      assert.deepEqual(await redisDirs(temp), new Set(), "no Redis files left");
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  });
});
