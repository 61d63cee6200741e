/**
 * Pub/sub or stream readers for a cluster's live delivery, measured: one
 * writer stores each message in a stream with tern's own Lua script (INCR,
 * XADD, the room's newest id), and N "nodes" learn of it either from the
 * script's PUBLISH (each node one subscriber connection: tern's way) or by reading the
 * stream with a blocking XREAD loop (each node one blocking connection).
 * Prints, per transport and node count, the delivery latency (write to
 * read, p50/p99/max) and Redis's CPU per message and per delivery.
 *
 *   deno run -A bench/redis_transport.ts [--messages 10000] [--rate 2000]
 *     [--nodes 1,3,6] [--send text|sha] [--json FILE]
 *
 * `--send sha` sends the scripts by their SHA1 (`EVALSHA`, what tern does),
 * `text` (the default, what the first recorded runs did) sends their text
 * with every message (`EVAL`).
 *
 * Everything but Redis runs in this one process, so its own CPU is not
 * reported; Redis's is read from /proc (thread run times).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createClient } from "npm:redis@5.12.1";
import { startRedis } from "./redis.ts";
import { readThreadsCpu } from "./procstat.ts";
import { Histogram, markdownTable } from "./stats.ts";
import { STORE_AND_PUBLISH_SCRIPT } from "../server/cluster/room_streams.ts";

type Client = ReturnType<typeof createClient>;

/** How the nodes learn of a message. */
type Transport = "pubsub" | "xread";

/** tern's own script: stores a message in its room's stream and publishes it. */
const STORE_AND_PUBLISH = STORE_AND_PUBLISH_SCRIPT;

/** The same without the PUBLISH: stream readers find the message themselves. */
const STORE_ONLY: string = STORE_AND_PUBLISH_SCRIPT.replace(
  /redis\.call\('PUBLISH'[^\n]*\n/,
  "",
);

/** Entries one XREAD may return (a reader far behind catches up in pages). */
const XREAD_COUNT = 500;

/** How long one XREAD blocks before asking again. */
const XREAD_BLOCK_MS = 1000;

/** Messages sent per tick of the writer's clock. */
const TICK_MS = 10;

/** Padding that makes a message about the size of a chat line's relay. */
const PADDING = "x".repeat(120);

/** One run's figures. */
interface Result {
  transport: Transport;
  nodes: number;
  messages: number;
  deliveries: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  redisCpuUsPerMessage: number;
  redisCpuUsPerDelivery: number;
}

/** Microseconds since this process started (one clock for all clients). */
const nowUs = () => Math.round(performance.now() * 1000);

async function connect(url: string): Promise<Client> {
  const client = createClient({ url, RESP: 2 });
  client.on("error", (error: unknown) => console.error(String(error)));
  await client.connect();
  return client;
}

/**
 * A node learning of messages; resolves once it has `count`, recording each
 * one's latency.
 */
async function startReader(
  url: string,
  transport: Transport,
  run: string,
  count: number,
  latency: Histogram,
): Promise<{ done: Promise<void>; close: () => Promise<void> }> {
  const client = await connect(url);
  let seen = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => finish = resolve);
  const take = (text: string) => {
    const sent = Number(text.slice(0, text.indexOf(" ")));
    latency.record(nowUs() - sent);
    if (++seen === count) finish();
  };
  if (transport === "pubsub") {
    await client.subscribe(`${run}:channel`, (line: string) => {
      take(line.slice(line.indexOf(" ") + 1));
    });
    return {
      done,
      close: async () => {
        await client.unsubscribe();
        client.destroy();
      },
    };
  }
  let stopped = false;
  const loop = (async () => {
    let last = "0";
    while (!stopped && seen < count) {
      const reply = await client.xRead({ key: `${run}:log`, id: last }, {
        BLOCK: XREAD_BLOCK_MS,
        COUNT: XREAD_COUNT,
      }) as
        | Array<
          { messages: Array<{ id: string; message: Record<string, string> }> }
        >
        | null;
      for (const stream of reply ?? []) {
        for (const entry of stream.messages) {
          last = entry.id;
          take(entry.message.r!);
        }
      }
    }
  })();
  return {
    done,
    close: async () => {
      stopped = true;
      await loop;
      client.destroy();
    },
  };
}

/** Sends `messages` at `rate` per second through `transport`. */
async function runOnce(
  url: string,
  redisPid: number,
  transport: Transport,
  nodes: number,
  messages: number,
  rate: number,
  bySha: boolean,
): Promise<Result> {
  const run = `bench:${crypto.randomUUID().slice(0, 8)}`;
  const latency = new Histogram();
  const readers = await Promise.all(
    Array.from(
      { length: nodes },
      () => startReader(url, transport, run, messages, latency),
    ),
  );
  const writer = await connect(url);
  const script = transport === "pubsub" ? STORE_AND_PUBLISH : STORE_ONLY;
  const sha = await writer.scriptLoad(script);
  const cpuBefore = readThreadsCpu(redisPid) ?? 0;
  const perTick = Math.max(1, Math.round(rate * TICK_MS / 1000));
  let sent = 0;
  const writes: Promise<unknown>[] = [];
  const started = performance.now();
  while (sent < messages) {
    // Paced by the clock, not by replies: a backlog shows as latency.
    const due = Math.min(
      messages,
      Math.floor((performance.now() - started) / 1000 * rate) + perTick,
    );
    for (; sent < due; sent++) {
      const call = {
        keys: [`${run}:id`, `${run}:log`, `${run}:newest`],
        // tern's default --redis-history-max.
        arguments: [`${run}:channel`, `${nowUs()} ${PADDING}`, "10000"],
      };
      writes.push(
        bySha ? writer.evalSha(sha, call) : writer.eval(script, call),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  }
  await Promise.all(writes);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      Promise.all(readers.map((reader) => reader.done)),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${transport} x${nodes}: readers fell short`)),
          messages / rate * 1000 + 30_000,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  const cpuUs = ((readThreadsCpu(redisPid) ?? 0) - cpuBefore) * 1e6;
  for (const reader of readers) await reader.close();
  await writer.del([`${run}:id`, `${run}:log`, `${run}:newest`]);
  writer.destroy();
  return {
    transport,
    nodes,
    messages,
    deliveries: latency.count,
    p50Us: latency.quantile(0.5),
    p99Us: latency.quantile(0.99),
    maxUs: latency.max,
    redisCpuUsPerMessage: cpuUs / messages,
    redisCpuUsPerDelivery: cpuUs / latency.count,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      messages: { type: "string", default: "10000" },
      rate: { type: "string", default: "2000" },
      nodes: { type: "string", default: "1,3,6" },
      send: { type: "string", default: "text" },
      json: { type: "string" },
    },
  });
  const messages = Number(values.messages);
  const rate = Number(values.rate);
  const nodeCounts = values.nodes.split(",").map(Number);
  const redis = await startRedis();
  const results: Result[] = [];
  try {
    for (const nodes of nodeCounts) {
      for (const transport of ["pubsub", "xread"] as const) {
        const result = await runOnce(
          redis.url,
          redis.process.pid,
          transport,
          nodes,
          messages,
          rate,
          values.send === "sha",
        );
        results.push(result);
        console.error(`${transport} x${nodes}: done`);
      }
    }
  } finally {
    await redis.stop();
  }
  const ms = (us: number) => (us / 1000).toFixed(2);
  console.log(markdownTable(
    [
      "transport",
      "nodes",
      "deliveries",
      "p50 ms",
      "p99 ms",
      "max ms",
      "Redis CPU µs/message",
      "Redis CPU µs/delivery",
    ],
    results.map((r) => [
      r.transport === "pubsub" ? "PUBLISH + SUBSCRIBE" : "XREAD BLOCK",
      String(r.nodes),
      String(r.deliveries),
      ms(r.p50Us),
      ms(r.p99Us),
      ms(r.maxUs),
      r.redisCpuUsPerMessage.toFixed(1),
      r.redisCpuUsPerDelivery.toFixed(1),
    ]),
  ));
  if (values.json !== undefined) {
    await Deno.writeTextFile(
      values.json,
      JSON.stringify({ messages, rate, send: values.send, results }, null, 2) +
        "\n",
    );
  }
}

if (import.meta.main) await main();
