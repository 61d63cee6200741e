/**
 * Checks the cluster test files share: a hello's first reply, and "every
 * member on every node saw the same messages in one order".
 */

import assert from "node:assert/strict";
import type { LineClient } from "./helpers.ts";
import type { ServerEvent } from "../protocol.ts";

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
