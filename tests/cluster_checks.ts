/**
 * What the cluster test files share: a Redis with two nodes on it, a hello's
 * first reply, and "every member on every node saw the same messages in one
 * order".
 */

import assert from "node:assert/strict";
import { type LineClient, startServer, type TestServer } from "./helpers.ts";
import { type RedisServer, startRedis } from "./redis_server.ts";
import type { ServerEvent } from "../protocol.ts";
import type { Limits } from "../server/limits.ts";
import type { ServerOptions } from "../server.ts";

/** A Redis and two nodes on it, closed together. */
export interface Cluster extends AsyncDisposable {
  redis: RedisServer;
  a: TestServer;
  b: TestServer;
}

/**
 * Starts a Redis and two nodes on it with `limits` and `options`; whatever
 * started is stopped again if the rest cannot start.
 */
export async function startCluster(
  limits: Partial<Limits> = {},
  options: ServerOptions = {},
): Promise<Cluster> {
  const redis = await startRedis();
  const started: TestServer[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      started.push(await startServer(limits, { ...options, redis: redis.url }));
    }
  } catch (error) {
    for (const node of started) await node.server.close();
    await redis[Symbol.asyncDispose]();
    throw error;
  }
  const [a, b] = started as [TestServer, TestServer];
  return {
    redis,
    a,
    b,
    async [Symbol.asyncDispose]() {
      await a.server.close();
      await b.server.close();
      await redis[Symbol.asyncDispose]();
    },
  };
}

/** The first reply to a hello: its welcome, or the error refusing it. */
export async function helloReply(
  client: LineClient,
  nick: string,
): Promise<ServerEvent> {
  await client.sendJson({ type: "hello", nick });
  const line = await client.expect((text) =>
    text.includes('"type":"welcome"') || text.includes('"type":"error"')
  );
  return JSON.parse(line) as ServerEvent;
}

/**
 * Has every sender send `perSender` messages at once (so the nodes'
 * messages interleave in Redis), then asserts every reader saw them all in
 * the same order, ids strictly increasing, each sender's own in the order
 * it sent them.
 */
export async function assertOneOrder(
  senders: ReadonlyArray<{ client: LineClient; nick: string }>,
  readers: readonly LineClient[],
  perSender: number,
): Promise<void> {
  await Promise.all(senders.map(async ({ client }, s) => {
    for (let i = 0; i < perSender; i++) {
      await client.sendJson({ type: "message", text: `${s}-${i}` });
    }
  }));
  const seen: Array<Array<[number, string, string]>> = [];
  for (const reader of readers) {
    const lines: Array<[number, string, string]> = [];
    for (let i = 0; i < senders.length * perSender; i++) {
      const event = await reader.expectEvent("message");
      lines.push([event.id, event.from, event.text]);
    }
    seen.push(lines);
  }
  for (const lines of seen.slice(1)) assert.deepEqual(lines, seen[0]);
  const ids = seen[0]!.map(([id]) => id);
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!);
  for (const [s, { nick }] of senders.entries()) {
    assert.deepEqual(
      seen[0]!.filter(([, from]) => from === nick).map(([, , text]) => text),
      Array.from({ length: perSender }, (_, i) => `${s}-${i}`),
    );
  }
}
