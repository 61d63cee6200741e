/**
 * A burst of room messages written straight into Redis, as another node
 * would (the store-and-publish script), for the cluster test of a node that
 * falls behind: run as its own process, so the burst arrives while the test
 * process (and the node in it) is stalled.
 *
 *   deno run --allow-net=127.0.0.1 --allow-read tests/redis_flood.ts URL COUNT BYTES
 *
 * @module
 */

import { createClient } from "npm:redis@5.12.1";
import {
  roomNewestKey,
  roomStreamKey,
  STORE_AND_PUBLISH_SCRIPT,
} from "../server/cluster/room_streams.ts";
import { MESSAGE_ID_KEY, ROOMS_CHANNEL } from "../server/cluster/redis_node.ts";
import { encodeRelay } from "../server/cluster/relay.ts";

/** Scripts sent before waiting for their answers. */
const BATCH = 100;

if (import.meta.main) {
  const [url, count, bytes] = Deno.args;
  const client = createClient({ url: url!, RESP: 2 });
  await client.connect();
  const padding = "x".repeat(Number(bytes));
  for (let sent = 0; sent < Number(count);) {
    const batch: Promise<unknown>[] = [];
    for (let i = 0; i < BATCH && sent < Number(count); i++, sent++) {
      batch.push(client.eval(STORE_AND_PUBLISH_SCRIPT, {
        keys: [
          MESSAGE_ID_KEY,
          roomStreamKey("#lobby"),
          roomNewestKey("#lobby"),
        ],
        arguments: [
          ROOMS_CHANNEL,
          encodeRelay("flood", sent, {
            type: "message",
            id: 0,
            ts: 1,
            room: "#lobby",
            from: "flood",
            text: `f${sent} ${padding}`,
          }),
          "100000",
        ],
      }));
    }
    await Promise.all(batch);
  }
  client.destroy();
}
